"""The tracer: strace's output, made at the system-call entry instead of through ptrace.

Counterpart: strace's syscall.c (syscall_entering_trace, syscall_exiting_trace,
print_err_ret), strace.c (printleader, tabto, the exit and signal lines) and
delay.c. Each traced call becomes one line, `name(args) = result`, with the result at
column 40 (-a); arguments come from the declaration's printers, those the kernel writes
printed at exit. The line is written when the call returns; if another task prints in
between (with -f), the first part is flushed with "<unfinished ...>" and the rest
follows as "<... name resumed>", as strace does.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

import sysgate.trace.decoders  # noqa: F401  (registers the printers)
from sysgate.errors import GuestFault
from sysgate.trace.hooks import SyscallCall
from sysgate.trace.inject import InjectSpec
from sysgate.trace.options import TraceOptions, syscall_set
from sysgate.trace.printers import RET_PRINTERS, Ctx, prints_on_exit, render
from sysgate.trace.quote import printstr_nul
from sysgate.trace.summary import Summary
from sysgate.trace.sysent import SYSENT
from sysgate.uapi.errno import MAX_ERRNO, Errno
from sysgate.uapi.signal import signame

if TYPE_CHECKING:
    from sysgate.kernel.kernel import ExitStatus, Kernel
    from sysgate.kernel.signal import SigInfo
    from sysgate.kernel.task import Task

_ALL_STATUSES = frozenset({"successful", "failed", "unfinished", "unavailable", "detached"})
_RESTART = {
    Errno.ERESTARTSYS: "? ERESTARTSYS (To be restarted if SA_RESTART is set)",
    Errno.ERESTARTNOINTR: "? ERESTARTNOINTR (To be restarted)",
    Errno.ERESTARTNOHAND: "? ERESTARTNOHAND (To be restarted if no handler)",
    Errno.ERESTART_RESTARTBLOCK: "? ERESTART_RESTARTBLOCK (Interrupted by signal)",
}


@dataclass(slots=True)
class Pending:
    """A call between entry and exit: its rendered arguments, None for those printed at exit."""

    call: SyscallCall
    ctx: Ctx
    parts: list[str | None]
    deferred: list[int] = field(default_factory=list)  # indexes printed at exit
    leader: str = ""
    shown: int = 0  # how many parts went out at entry
    started: bool = False  # the entry part was written
    cut: bool = False  # another line came between: the end follows "<... name resumed>"


class Tracer:
    """One trace: options, the output, and the per-task lines in progress."""

    def __init__(self, kernel: Kernel, opts: TraceOptions, out: TextIO | None = None) -> None:
        self.kernel = kernel
        self.opts = opts
        self.out: TextIO = out if out is not None else (
            open(opts.output, "w") if opts.output else sys.stderr
        )
        self._owns_out = out is None and opts.output is not None
        table = kernel.table64
        self.name_of = {nr: slot.name for nr, slot in table.slots.items()}
        known = set(table.slots) | set(SYSENT)
        self.traced = opts.traced
        for spec in opts.inject:
            spec.numbers = syscall_set(spec.expr, self.name_of, known)
        self.summary = Summary()
        self.pending: dict[int, Pending] = {}
        self.open_tid: int | None = None  # the task whose line is unfinished on the output
        self.col = 0
        self.last_time = time.time()

    # -- system calls ----------------------------------------------------------------------

    def wants(self, nr: int) -> bool:
        return self.traced is None or nr in self.traced

    def _inject(self, call: SyscallCall) -> InjectSpec | None:
        for spec in self.opts.inject:
            if call.nr in spec.numbers and spec.due(call.task.pid, call.nr):
                return spec
        return None

    def enter(self, call: SyscallCall) -> None:
        spec = self._inject(call)
        if spec is not None:
            call.state["inject"] = spec
            if spec.delay_enter_ns:
                time.sleep(spec.delay_enter_ns / 1e9)
                call.delayed = True
            if spec.tampers and call.answer is None:
                call.answer = -spec.error if spec.error else spec.retval
                call.injected = True
        if not self.wants(call.nr) or not self.opts.prints_calls:
            return
        ctx = Ctx(call.task, self.opts, call.spec, call.decoded)
        pending = Pending(call, ctx, [])
        pending.leader = self._leader(call.task)
        spec_ = call.spec
        if spec_ is not None:
            for i, p in enumerate(spec_.params):
                if prints_on_exit(p):
                    pending.parts.append(None)
                    pending.deferred.append(i)
                else:
                    pending.parts.append(render(ctx, p, call.decoded[i]))
        else:
            nargs = SYSENT[call.nr][0] if call.nr in SYSENT else 6
            pending.parts = [f"{a:#x}" for a in call.frame[1 : 1 + nargs]]
        self.pending[call.task.tid] = pending
        if self.buffered:
            return  # -z/-Z: the line is kept until the result says whether to print it
        k = 0
        while k < len(pending.parts) and pending.parts[k] is not None:
            k += 1
        known = ", ".join(p for p in pending.parts[:k] if p is not None)
        head = f"{pending.leader}{call.name}({known}" + (", " if known and k < len(pending.parts) else "")
        self._begin(call.task.tid, head)
        pending.shown, pending.started = k, True

    @property
    def buffered(self) -> bool:
        return self.opts.statuses != _ALL_STATUSES or self.opts.json

    def exit(self, call: SyscallCall) -> None:
        spec = call.state.get("inject")
        if isinstance(spec, InjectSpec):
            if spec.delay_exit_ns:
                time.sleep(spec.delay_exit_ns / 1e9)
                call.delayed = True
            if spec.signal:
                from sysgate.kernel.signal import send_signal

                send_signal(call.task, spec.signal, 0x80)  # SI_KERNEL, as strace's injection
        result = call.result if call.result is not None else -Errno.ENOSYS
        failed = -MAX_ERRNO <= result < 0
        noreturn = call.slot is not None and call.slot.noreturn
        if self.wants(call.nr) and (self.opts.summary or self.opts.summary_too) and not noreturn:
            self.summary.add(call.nr, call.name, call.duration_ns, failed)  # count.c: calls that return
        pending = self.pending.pop(call.task.tid, None)
        if pending is None:
            return
        status = "failed" if failed else "successful"
        if status not in self.opts.statuses:
            return
        ctx = pending.ctx
        ctx.exiting, ctx.ret = True, result
        for i in pending.deferred:
            assert call.spec is not None
            pending.parts[i] = render(ctx, call.spec.params[i], call.decoded[i])
        rest = self._args_text(pending) + ")"
        tail = self._result(call, ctx, result)
        if self.opts.syscall_times:
            tail += f" <{call.duration_ns // 10**9}.{(call.duration_ns // 1000) % 10**6:06d}>"
        tid = call.task.tid
        if pending.started and self.open_tid == tid:
            self._continue(rest, tail)
        elif pending.started:
            self._begin(tid, self._leader(call.task) + f"<... {call.name} resumed>")
            self._continue(rest, tail)
        else:
            self._begin(tid, f"{pending.leader}{call.name}(")
            self._continue(rest, tail)
        if self.opts.json:
            self._json(call, pending, result)

    def _args_text(self, pending: Pending) -> str:
        return ", ".join(p for p in pending.parts[pending.shown :] if p is not None)

    def _result(self, call: SyscallCall, ctx: Ctx, result: int) -> str:
        slot = call.slot
        if slot is not None and slot.noreturn:
            return "?"
        injected = (" (INJECTED)" if call.injected else "") + (" (DELAYED)" if call.delayed else "")
        if -MAX_ERRNO <= result < 0:
            errno = -result
            if errno in _RESTART:
                return _RESTART[Errno(errno)] + injected
            try:
                e = Errno(errno)
                return f"-1 {e.name} ({e.message}){injected}"
            except ValueError:
                return f"-1 {errno} (Unknown error {errno}){injected}"
        kind = call.spec.ret if call.spec is not None else "dec"
        fn = RET_PRINTERS.get(kind) or RET_PRINTERS["dec"]
        return fn(ctx, result) + injected

    # -- the output: lines begun at entry, finished at exit ---------------------------------

    def _begin(self, tid: int, text: str) -> None:
        """Start a line; a line another task left open is cut first (printleader)."""
        self._cut_open_line(tid)
        self.open_tid, self.col = tid, len(text)
        if not self.opts.json:
            self.out.write(text)

    def _continue(self, text: str, result: str) -> None:
        """Finish the open line: the arguments printed at exit, then the result at -a's column."""
        line = text
        col = self.col + len(line)
        pad = " " * (self.opts.column - col) if col < self.opts.column else " "
        if not self.opts.json:
            self.out.write(line + pad + "= " + result + "\n")
            self.out.flush()
        self.open_tid, self.col = None, 0

    def _cut_open_line(self, tid: int) -> None:
        open_tid = self.open_tid
        if open_tid is None or open_tid == tid:
            return
        if not self.opts.json:
            self.out.write(" <unfinished ...>\n")
        pending = self.pending.get(open_tid)
        if pending is not None:
            pending.cut = True
        self.open_tid, self.col = None, 0

    def _leader(self, task: Task) -> str:
        out = ""
        if self.opts.follow and len(self.kernel.tasks) > 1:
            out += f"[pid {task.tid:5d}] "
        if self.opts.timestamps or self.opts.relative:
            now = time.time()
            if self.opts.relative:
                delta = now - self.last_time
                out += f"{int(delta):6d}.{int((delta % 1) * 1e6):06d} "
            elif self.opts.timestamps == 1:
                out += time.strftime("%H:%M:%S ", time.localtime(now))
            elif self.opts.timestamps == 2:
                out += time.strftime("%H:%M:%S", time.localtime(now)) + f".{int((now % 1) * 1e6):06d} "
            else:
                out += f"{int(now)}.{int((now % 1) * 1e6):06d} "
            self.last_time = now
        return out

    def _write(self, task: Task, line: str) -> None:
        """A whole line that is not a system call's (signals, exits, the first execve)."""
        self._cut_open_line(-1)
        if not self.opts.json:
            self.out.write(line + "\n")
            self.out.flush()

    def _json(self, call: SyscallCall, pending: Pending, result: int) -> None:
        failed = -MAX_ERRNO <= result < 0
        record = {
            "pid": call.task.pid, "tid": call.task.tid, "nr": call.nr, "syscall": call.name,
            "args": dict(call.args.items()) if call.spec is not None else list(call.frame[1:7]),
            "text": [p for p in pending.parts if p is not None],
            "result": None if call.slot is not None and call.slot.noreturn else result,
            "errno": Errno(-result).name if failed and -result in Errno._value2member_map_ else None,
            "injected": call.injected, "duration_ns": call.duration_ns,
        }
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()

    # -- the lines that are not system calls ---------------------------------------------------

    def execve(self, task: Task, filename: bytes, argv: list[bytes], envc: int, envp_addr: int,
               error: int = 0, duration_ns: int = 0) -> None:
        """The first line: the execve that started the program, as strace sees its child's."""
        if not self.wants(59):
            return
        if self.opts.summary or self.opts.summary_too:
            self.summary.add(59, "execve", duration_ns, error != 0)
        if not self.opts.prints_calls:
            return
        limit, x = self.opts.string_limit, self.opts.xflag
        items = [_quoted(a, limit, x) for a in argv[:limit]]
        more = ", ..." if len(argv) > limit else ""
        name = _quoted(filename, 4096, x)
        head = f'execve({name}, [{", ".join(items)}{more}], {envp_addr:#x} /* {envc} vars */)'
        head = head.ljust(self.opts.column) if len(head) < self.opts.column else head + " "
        if error:
            e = Errno(error)
            tail = f"= -1 {e.name} ({e.message})"
        else:
            tail = "= 0"
        if self.opts.syscall_times:
            tail += f" <{duration_ns // 10**9}.{(duration_ns // 1000) % 10**6:06d}>"
        self._write(task, self._leader(task) + head + tail)

    def signal(self, task: Task, info: SigInfo) -> None:
        """--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=NULL} ---"""
        if self.opts.quiet >= 3 or not self.opts.prints_calls:
            return
        from sysgate.trace.siginfo import format_siginfo

        self._write(task, self._leader(task) + f"--- {signame(info.signo)} {format_siginfo(info)} ---")

    def exited(self, task: Task, status: ExitStatus) -> None:
        if self.opts.quiet >= 2 or not self.opts.prints_calls:
            return
        if status.signal is not None:
            self._write(task, self._leader(task) + f"+++ killed by {signame(status.signal)} +++")
        else:
            self._write(task, self._leader(task) + f"+++ exited with {status.code} +++")

    def finish(self) -> None:
        if self.opts.summary or self.opts.summary_too:
            self.out.write(self.summary.render(self.opts.sort_by))
        self.out.flush()
        if self._owns_out:
            self.out.close()


def _quoted(value: bytes, limit: int, xflag: int) -> str:
    """A string sysgate holds (not in guest memory), as printstr_nul prints one."""
    data = value + b"\0"

    def read(addr: int, n: int) -> bytes:
        return data[addr - 1 : addr - 1 + n]

    return printstr_nul(read, 1, limit, xflag)


def read_guest(task: Task, addr: int, size: int) -> bytes | None:
    try:
        return task.mm.read(addr, size)
    except GuestFault:
        return None

