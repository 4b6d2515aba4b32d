"""The trace lines that are not a guest's system call, and --trace-format=json records.

Counterpart: strace's view of its child's first execve (decode_execve in execve.c,
printed at the call's exit) and strace.c's print_stopped (`--- SIGSEGV {...} ---`),
print_exited (`+++ exited with 0 +++`) and print_signalled (`+++ killed by SIGSEGV +++`).
sysgate starts the program itself, so the first execve is reported from what it was
given (the name, argv, envp) rather than read from the caller's memory.

JSON records (one object a line) carry a "type": "syscall" (pid, tid, nr, syscall,
args, text, line, result, errno, injected, duration_ns), "signal" (signal, siginfo),
"exit" (code) or "killed" (signal); with -C the last one is "summary" (rows: syscall,
calls, errors, time_ns, min_ns, max_ns, in -S order).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from sysgate.errors import GuestFault
from sysgate.trace.quote import quote_bytes
from sysgate.uapi.errno import Errno
from sysgate.uapi.signal import signame

if TYPE_CHECKING:
    from sysgate.kernel.kernel import ExitStatus
    from sysgate.kernel.signal import SigInfo
    from sysgate.kernel.task import Task
    from sysgate.trace.hooks import SyscallCall
    from sysgate.trace.strace import Pending, Tracer

NR_EXECVE = 59


class Events:
    """Writes the execve, signal and exit lines (and every JSON record) of one Tracer."""

    def __init__(self, tracer: Tracer) -> None:
        self.tr = tracer
        self.opts = tracer.opts

    def execve(self, task: Task, filename: bytes, argv: list[bytes], envp: list[bytes], error: int,
               duration_ns: int, cpu_ns: int, ip: int | None, sp: int) -> None:
        """The first line: `execve("PROG", ["PROG", ...], 0x7ffd... /* N vars */) = 0`."""
        tr, opts = self.tr, self.opts
        tr.last_nr[task.tid] = NR_EXECVE
        if not tr.wants(NR_EXECVE):
            return
        if opts.counts:
            tr.summary.add(NR_EXECVE, "execve", duration_ns if opts.wall_time else cpu_ns, error != 0)
        status = "failed" if error else "successful"
        if not opts.prints_calls or status not in opts.statuses:
            return
        view = tr._view(NR_EXECVE)
        if NR_EXECVE in opts.raw:
            args = [_chex(a) for a in self._raw_args(task, sp)]
        else:
            args = [quote_bytes(filename, opts.xflag), self._argv(argv, abbrev=not view.verbose)]
            envp_addr = sp + 8 * (len(argv) + 2) if sp else 0
            if not view.structs:  # -e verbose=!execve: printargv and printargc print addresses only
                args[1:] = [_chex(sp + 8 if sp else 0), _chex(envp_addr)]
            elif not view.verbose:
                args.append(f"{envp_addr:#x} /* {len(envp)} var{'' if len(envp) == 1 else 's'} */")
            else:
                args.append(self._argv(envp, abbrev=False))
        head = tr.leader_of(task, NR_EXECVE, ip) + f"execve({', '.join(args)})"
        result = f"-1 {Errno(error).name} ({Errno(error).message})" if error else "0"
        if opts.syscall_times is not None:
            scale, width = opts.syscall_times
            result += f" <{duration_ns // 10**9}" + (f".{(duration_ns % 10**9) // scale:0{width}d}" if width
                                                    else "") + ">"
        if opts.json:
            self.record({"type": "syscall", "pid": task.pid, "tid": task.tid, "nr": NR_EXECVE, "syscall": "execve",
                         "args": {"filename": filename.decode("utf-8", "surrogateescape")}, "text": args,
                         "line": f"execve({', '.join(args)}) = {result}", "result": -error if error else 0,
                         "errno": Errno(error).name if error else None, "injected": False,
                         "duration_ns": duration_ns}, task)
            return
        tr.whole_line(task, head + " " * max(1, opts.column - len(head)) + "= " + result)
        if opts.stack and not error and ip is not None:  # -k: where the new program starts
            from sysgate.trace.unwind import stack_at

            self._stack(task, stack_at(task, ip, queued=True))

    def _argv(self, items: list[bytes], abbrev: bool) -> str:
        """printargv: the strings, cut at -s entries unless -v."""
        limit = self.opts.string_limit
        shown = items[:limit] if abbrev else items
        texts = [self._str(a) for a in shown]
        if abbrev and len(items) > limit:
            texts.append("...")
        return "[" + ", ".join(texts) + "]"

    def _str(self, value: bytes) -> str:
        limit = self.opts.string_limit
        if len(value) > limit:
            return quote_bytes(value[:limit], self.opts.xflag) + "..."
        return quote_bytes(value, self.opts.xflag)

    @staticmethod
    def _raw_args(task: Task, sp: int) -> list[int]:
        """-e raw=execve: the addresses of the name, argv and envp as the new stack holds them."""
        if not sp:
            return [0, 0, 0]
        try:
            argc = int.from_bytes(task.mm.read(sp, 8), "little")
            argv0 = int.from_bytes(task.mm.read(sp + 8, 8), "little")
        except GuestFault:
            return [0, 0, 0]
        return [argv0, sp + 8, sp + 8 * (argc + 2)]

    def signal(self, task: Task, si: SigInfo) -> None:
        """--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=NULL} ---"""
        from sysgate.trace.siginfo import format_siginfo

        opts = self.opts
        if not opts.prints_calls or si.signo not in opts.signals:
            return
        text = format_siginfo(si, opts.xlat_style)
        if opts.json:
            self.record({"type": "signal", "pid": task.pid, "tid": task.tid, "signal": signame(si.signo),
                         "siginfo": text}, task)
            return
        call = self.tr.in_syscall.get(task.tid)
        if call is not None:
            ip: int | None = call.frame[7] + 2
        else:
            cpu = task.kernel.cpu
            ip = cpu.get_reg("rip") if cpu is not None else None
        leader = self.tr.leader_of(task, self.tr.last_nr.get(task.tid), ip)
        self.tr.whole_line(task, leader + f"--- {signame(si.signo)} {text} ---")
        if opts.stack:  # -k: where the signal found the task (in a call, or the faulting instruction)
            from sysgate.trace.unwind import capture_stack, stack_at

            self._stack(task, capture_stack(task) if call is not None else
                        stack_at(task, ip) if ip is not None else [])

    def _stack(self, task: Task, lines: list[str]) -> None:
        if lines:
            f = self.tr.output.stream(task.tid).f
            f.write("".join(f"{line}\n" for line in lines))
            f.flush()

    def exited(self, task: Task, st: ExitStatus) -> None:
        """+++ exited with 0 +++ (not with -qq), +++ killed by SIGSEGV +++ (not with -e signal=!SIGSEGV)."""
        opts = self.opts
        if not opts.prints_calls:
            return
        if st.signal is not None:
            if st.signal not in opts.signals:
                return
            line = f"+++ killed by {signame(st.signal)} +++"
            record: dict[str, object] = {"type": "killed", "signal": signame(st.signal)}
        else:
            if "exit" in opts.quiet:
                return
            line = f"+++ exited with {st.code or 0} +++"
            record = {"type": "exit", "code": st.code or 0}
        if opts.json:
            self.record({**record, "pid": task.pid, "tid": task.tid}, task)
            return
        leader = self.tr.leader_of(task, self.tr.last_nr.get(task.tid), None)
        self.tr.whole_line(task, leader + line)
        self._stack(task, self.tr.exit_stacks.pop(task.tid, []))

    def json_call(self, call: SyscallCall, pending: Pending, result: int, failed: bool) -> None:
        text = [p for p in pending.parts if p is not None]
        noreturn = call.slot is not None and call.slot.noreturn
        errno = -result if failed else None
        shown = "?" if noreturn else str(result)
        if errno is not None:
            from sysgate.trace.strace import err_text

            shown = err_text(errno)
        self.record({
            "type": "syscall", "pid": call.task.pid, "tid": call.task.tid, "nr": call.nr, "syscall": call.name,
            "args": dict(call.args.items()) if call.spec is not None else list(call.frame[1:7]),
            "text": text, "line": f"{call.name}({', '.join(text)}) = {shown}",
            "result": None if noreturn else result,
            "errno": (Errno(errno).name if errno in Errno._value2member_map_ else str(errno)) if errno else None,
            "injected": call.injected, "duration_ns": call.duration_ns,
        }, call.task)

    def record(self, obj: dict[str, object], task: Task) -> None:
        s = self.tr.output.stream(task.tid)
        s.f.write(json.dumps(obj) + "\n")
        s.f.flush()

    @staticmethod
    def warn(message: str) -> None:
        """A message strace prints on its own stderr, not in the trace."""
        sys.stderr.write(f"sysgate: trace: {message}\n")


def _chex(value: int) -> str:
    return f"{value:#x}" if value else "0"
