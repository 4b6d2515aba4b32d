"""The tracer: strace's output, made at the system-call entry instead of through ptrace.

Counterpart: strace's syscall.c (syscall_entering_trace, syscall_exiting_trace,
print_err_ret, print_injected_note), strace.c (the exit and signal lines) and count.c.
Each traced call becomes one line, `name(args) = result`, with the result at column 40
(-a); arguments come from the declaration's printers, those the kernel writes printed
at exit. A call is begun at entry and finished at exit; if another task's line comes in
between (with -f), the first part is cut with "<unfinished ...>" and the rest follows
as "<... name resumed>", as strace does. With -z/-Z/-e status= (strace's memstream) and
with --trace-format=json the whole line is kept until the result decides.

The first line, the execve that started the program, and the `+++ exited` / `+++ killed`
/ `--- SIGNAL` lines are in sysgate.trace.events.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

import sysgate.trace.decoders  # noqa: F401  (registers the printers)
from sysgate.argtypes import UserPtr
from sysgate.errors import GuestFault
from sysgate.trace.dumpio import dumpio
from sysgate.trace.events import Events
from sysgate.trace.hooks import SyscallCall
from sysgate.trace.inject import Injector, InjectSpec, Poke, nargs, poke_memory
from sysgate.trace.lines import Leader, Output, Stream
from sysgate.trace.options import TraceOptions
from sysgate.trace.printers import (
    RET_PRINTERS,
    WHOLE_CALL,
    Ctx,
    addr,
    exit_separator,
    known_at_entry,
    prints_on_exit,
    render,
)
from sysgate.trace.summary import Summary
from sysgate.trace.sysent import SYSENT
from sysgate.trace.tasks import Procs
from sysgate.uapi.errno import MAX_ERRNO, Errno

if TYPE_CHECKING:
    from sysgate.kernel.kernel import ExitStatus, Kernel
    from sysgate.kernel.signal import SigInfo
    from sysgate.kernel.task import Task

_RESTART = {
    Errno.ERESTARTSYS: "? ERESTARTSYS (To be restarted if SA_RESTART is set)",
    Errno.ERESTARTNOINTR: "? ERESTARTNOINTR (To be restarted)",
    Errno.ERESTARTNOHAND: "? ERESTARTNOHAND (To be restarted if no handler)",
    Errno.ERESTART_RESTARTBLOCK: "? ERESTART_RESTARTBLOCK (Interrupted by signal)",
}
_KERNEL_ERRNOS = {517: "EPROBE_DEFER", 518: "EOPENSTALE", 521: "EBADHANDLE", 522: "ENOTSYNC", 523: "EBADCOOKIE",
                  524: "ENOTSUPP", 525: "ETOOSMALL", 526: "ESERVERFAULT", 527: "EBADTYPE", 528: "EJUKEBOX",
                  529: "EIOCBQUEUED", 530: "ERECALLCONFLICT"}
"""Kernel-internal errnos strace names (its errnoent) that sysgate's Errno does not."""


STRING_SHOWS = ("buf", "path", "str", "getcwd_buf", "random_buf")
"""Printers of strings: strace prints them with printstr/printpath, which -e verbose= does
not affect; every other pointer is read with umove_or_printaddr or print_array, which
print the address when the call is not verbose."""


def _is_string(show: str) -> bool:
    return show.removeprefix("exit:").split(":", 1)[0] in STRING_SHOWS


def chex(value: int) -> str:
    """C's printf("%#lx"): hex with 0x, except 0, which is plain "0" (strace's printargs)."""
    value &= 0xFFFFFFFFFFFFFFFF
    return f"{value:#x}" if value else "0"


def err_text(errno: int) -> str:
    """print_err_ret: `-1 ENOENT (No such file or directory)`, or `-1 (errno N)` for a nameless one."""
    if errno in _RESTART:
        return _RESTART[Errno(errno)]
    try:
        e = Errno(errno)
        return f"-1 {e.name} ({e.message})"
    except ValueError:
        if errno in _KERNEL_ERRNOS:
            return f"-1 {_KERNEL_ERRNOS[errno]} (Unknown error {errno})"
        return f"-1 (errno {errno})"


@dataclass(slots=True)
class Pending:
    """A call between entry and exit: its rendered arguments, None for those printed at exit."""

    call: SyscallCall
    ctx: Ctx
    parts: list[str | None]
    deferred: list[int] = field(default_factory=list)  # indexes printed at exit
    shown: int = 0  # how many parts went out at entry
    started: bool = False  # the entry part was written
    raw: bool = False  # -e raw=, or a number without a name: arguments and result in hex


class Tracer:
    """One trace: options, the output, and the per-task lines in progress."""

    def __init__(self, kernel: Kernel, opts: TraceOptions, out: TextIO | None = None) -> None:
        self.kernel = kernel
        self.opts = opts
        self.output = Output(opts, out)
        self.injector = Injector(opts.inject) if opts.inject else None
        self.summary = Summary(opts.overhead_ns)
        self.pending: dict[int, Pending] = {}
        self.in_syscall: dict[int, SyscallCall] = {}  # between entry and return to user mode (for -i)
        self.last_nr: dict[int, int] = {}  # each task's last system call (-n on other lines)
        self.exit_stacks: dict[int, list[str]] = {}  # -k: exit's stack, printed after "+++ exited"
        self.procs = Procs(self)
        self.leader_of = Leader(kernel, opts, self.procs.nprocs)
        self.events = Events(self)
        self.json = opts.json
        self.buffered = opts.statuses != frozenset(("successful", "failed", "unfinished", "unavailable",
                                                    "detached")) or opts.json
        self._views: dict[tuple[bool, bool], TraceOptions] = {}

    # -- which calls --------------------------------------------------------------------------

    def known(self, nr: int) -> bool:
        """Whether the call has a name (sysgate's table or strace's): only those are filtered."""
        return nr in self.kernel.table64.slots or nr in SYSENT

    def wants(self, nr: int) -> bool:
        """traced(tcp): a nameless number is always traced, as strace does."""
        return nr in self.opts.traced or not self.known(nr)

    def _view(self, nr: int) -> TraceOptions:
        key = (nr in self.opts.abbrev, nr in self.opts.verbose_set)
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = self.opts.for_call(*key)
        return view

    # -- entry ---------------------------------------------------------------------------------

    def enter(self, call: SyscallCall) -> None:
        """syscall_entering_trace: inject, then print what is known at entry."""
        t = call.task
        if not self.procs.follows(t):
            call.state["filtered"] = True  # a task strace does not trace (no -f)
            return
        self.last_nr[t.tid] = call.nr
        self.in_syscall[t.tid] = call
        if not self.wants(call.nr):
            call.state["filtered"] = True
            return
        if self.injector is not None and self.known(call.nr):
            spec = self.injector.due(t.tid, call.nr)
            if spec is not None:
                self._tamper_entering(call, spec)
        if not self.opts.prints_calls:
            return
        if self.opts.stack:
            from sysgate.trace.unwind import capture_stack

            call.state["stack"] = capture_stack(t)  # -k: unwound at entry, printed after the line
        opts = self._view(call.nr)
        ctx = Ctx(t, opts, call.spec, call.decoded)
        raw = call.nr in self.opts.raw or not self.known(call.nr)
        pending = Pending(call, ctx, [], raw=raw)
        if raw or call.spec is None:
            count = SYSENT[call.nr][0] if call.nr in SYSENT else (len(call.spec.params) if call.spec else 6)
            pending.parts = [chex(a) for a in call.frame[1 : 1 + count]]
        elif call.name in WHOLE_CALL:
            pending.parts = [WHOLE_CALL[call.name](ctx)]  # a call strace decodes from elsewhere
        else:
            assert call.spec is not None
            for i, p in enumerate(call.spec.params):
                if prints_on_exit(p) and (opts.structs or _is_string(p.arg.show) or not isinstance(p.arg, UserPtr)) \
                        and not known_at_entry(ctx, p, call.decoded[i]):
                    pending.parts.append(None)
                    pending.deferred.append(i)
                elif not opts.structs and isinstance(p.arg, UserPtr) and not _is_string(p.arg.show):
                    pending.parts.append(addr(call.decoded[i]))  # -e verbose=!NAME: no structures
                else:
                    pending.parts.append(render(ctx, p, call.decoded[i]))
        self.pending[t.tid] = pending
        if self.buffered:
            return  # the line is kept until the result says whether to print it
        # Printed now: the arguments before the first one printed at exit (a None among
        # them is an argument its printer leaves out, such as open's mode without O_CREAT).
        k = min(pending.deferred, default=len(pending.parts))
        known = ", ".join(p for p in pending.parts[:k] if p is not None)
        sep = bool(known and pending.deferred) and not (call.spec is not None and exit_separator(call.spec.params[k]))
        self.begin(t, self._leader(t, call) + f"{call.name}({known}", sep=sep)
        pending.shown, pending.started = k, True

    def _tamper_entering(self, call: SyscallCall, spec: InjectSpec) -> None:
        call.state["inject"] = spec
        if spec.signal:
            from sysgate.kernel.signal import send_signal

            send_signal(call.task, spec.signal, 0x80)  # SI_KERNEL: ptrace's way of injecting one
        if spec.tampers and call.answer is None:
            call.answer = spec.result
            call.injected = True
        if spec.poke_enter and self._poke(call, spec.poke_enter):
            call.state["poked"] = True
        if spec.delay_enter_ns is not None:
            time.sleep(spec.delay_enter_ns / 1e9)
            call.delayed = True

    def _poke(self, call: SyscallCall, pokes: list[Poke]) -> bool:
        """poke_tcb: write each payload where its argument points; whether any was written."""
        poked = False
        n = nargs(call.nr, len(call.spec.params) if call.spec is not None else None)
        for p in pokes:
            if p.arg_no > n:
                self.events.warn(f"poke_tcb: Failed to tamper with process {call.task.pid}: requested to tamper "
                                 f"with argument #{p.arg_no}, but system call '{call.name}' has only {n} arguments")
                continue
            if poke_memory(call.task.mm, call.frame[p.arg_no], p.data):
                poked = True
            else:
                self.events.warn(f"poke_tcb: Failed to tamper with process {call.task.pid}: couldn't poke")
        return poked

    # -- exit ----------------------------------------------------------------------------------

    def exit(self, call: SyscallCall) -> None:
        """syscall_exiting_trace: count, then finish (or drop) the line."""
        if call.state.get("filtered") or call.state.get("vanished"):
            return
        self._finish(call)

    def vanished(self, t: Task) -> None:
        """`t` ends inside its system call (exit, exit_group, or killed while blocked):
        the call's line ends with `= ?` (print_event_exit), before the `+++` line."""
        call = self.in_syscall.get(t.tid)
        if call is None or call.state.get("filtered") or call.state.get("vanished"):
            return
        call.state["vanished"] = True
        self._finish(call, vanished=True)

    def _finish(self, call: SyscallCall, vanished: bool = False) -> None:
        spec = call.state.get("inject")
        if isinstance(spec, InjectSpec):
            if spec.poke_exit and self._poke(call, spec.poke_exit):
                call.state["poked"] = True
            if spec.delay_exit_ns is not None:
                time.sleep(spec.delay_exit_ns / 1e9)
                call.delayed = True
        result = call.result if call.result is not None else -Errno.ENOSYS
        injected_ok = call.injected and isinstance(spec, InjectSpec) and spec.retval is not None
        failed = -MAX_ERRNO <= result < 0 and not injected_ok
        noreturn = vanished or (call.slot is not None and call.slot.noreturn)
        if self.opts.counts and not noreturn and call.slot is not None:
            took = call.duration_ns if self.opts.wall_time else call.cpu_ns
            self.summary.add(call.nr, call.name, took, failed)  # count.c: calls that return
        pending = self.pending.pop(call.task.tid, None)
        if pending is None:
            return
        status = "unfinished" if noreturn else "failed" if failed else "successful"
        if status not in self.opts.statuses:
            return  # the line was kept back (buffered): it is dropped
        ctx = pending.ctx
        ctx.exiting, ctx.ret = True, result
        if vanished and pending.deferred:
            # What the decoder would print on exiting never comes (print_event_exit).
            known = ", ".join(p for p in pending.parts[pending.shown : min(pending.deferred)] if p is not None)
            rest = (known + ", " if known else "") + " <unfinished ...>"
        else:
            if call.spec is not None:
                for i in pending.deferred:
                    pending.parts[i] = render(ctx, call.spec.params[i], call.decoded[i])
            rest = ", ".join(p for p in pending.parts[pending.shown :] if p is not None)
            if rest and pending.started and call.spec is not None and pending.deferred \
                    and exit_separator(call.spec.params[pending.shown]) \
                    and any(p is not None for p in pending.parts[: pending.shown]):
                rest = ", " + rest  # the decoder writes the separator with what it prints at exit
        if not pending.started:
            rest = f"{self._leader(call.task, call)}{call.name}(" + rest
        if noreturn:
            tail = "?"
        else:
            tail = self._result(call, pending, result, failed) + self._notes(call)
            if self.opts.syscall_times is not None:
                scale, width = self.opts.syscall_times
                d = call.duration_ns
                tail += f" <{d // 10**9}" + (f".{(d % 10**9) // scale:0{width}d}" if width else "") + ">"
        if self.json:
            self.events.json_call(call, pending, result, failed)
            return
        self.end_line(call.task, rest, tail, resumed=call.name if pending.started else None)
        out = self.output.stream(call.task.tid).f
        if not noreturn:
            dumpio(self, call, result, failed, out)
        stack = call.state.get("stack")
        if isinstance(stack, list):
            if noreturn:
                self.exit_stacks[call.task.tid] = stack  # strace prints it after "+++ exited"
            else:
                out.write("".join(f"{line}\n" for line in stack))

    def after_exit_work(self, call: SyscallCall) -> None:
        """The call is back in user mode: signal lines no longer report its address (-i)."""
        self.in_syscall.pop(call.task.tid, None)

    def _result(self, call: SyscallCall, pending: Pending, result: int, failed: bool) -> str:
        if failed:
            return err_text(-result)
        if pending.raw:
            return chex(result)
        kind = call.spec.ret if call.spec is not None else "dec"
        fn = RET_PRINTERS.get(kind) or RET_PRINTERS["dec"]
        return fn(pending.ctx, result)

    @staticmethod
    def _notes(call: SyscallCall) -> str:
        """print_injected_note."""
        poked = bool(call.state.get("poked"))
        note = " (INJECTED: args, retval)" if call.injected and poked else " (INJECTED: args)" if poked \
            else " (INJECTED)" if call.injected else ""
        return note + (" (DELAYED)" if call.delayed else "")

    # -- lines ---------------------------------------------------------------------------------

    def _leader(self, t: Task, call: SyscallCall) -> str:
        return self.leader_of(t, call.nr, call.frame[7] + 2)

    def begin(self, t: Task, text: str, sep: bool = False) -> None:
        """Start a line; a line another task left open is cut first (printleader).

        `sep`: an argument printed at exit follows those in `text`. Its ", " is written
        when something follows: the exit's text, or the cut " <unfinished ...>" (strace
        writes it at entry; its printer may yet leave the argument out).
        """
        s = self.output.stream(t.tid)
        self.cut(s, t.tid)
        s.open_tid, s.col, s.sep = t.tid, len(text), sep
        s.f.write(text)
        s.f.flush()

    def end_line(self, t: Task, text: str, result: str, resumed: str | None = None) -> None:
        """Finish `t`'s line: what is printed at exit and ")", then (tabto) the result at -a's column."""
        s = self.output.stream(t.tid)
        if resumed is not None and s.open_tid != t.tid:
            self.cut(s, t.tid)
            head = self.leader_of(t, self.last_nr.get(t.tid), None) + f"<... {resumed} resumed>"
            s.f.write(head)
            s.col = len(head)
        elif resumed is None:
            self.cut(s, t.tid)
            s.col = 0
        elif s.sep and text:
            text = ", " + text
        text += ")"
        col = s.col + len(text)
        s.f.write(text + " " * max(1, self.opts.column - col) + "= " + result + "\n")
        s.open_tid, s.col, s.sep = None, 0, False
        s.f.flush()

    def whole_line(self, t: Task, line: str) -> None:
        """A line that is not a system call's (signals, exits, the first execve)."""
        s = self.output.stream(t.tid)
        self.cut(s, -1)
        s.f.write(line + "\n")
        s.f.flush()

    def cut(self, s: Stream, tid: int) -> None:
        if s.open_tid is not None and s.open_tid != tid:
            s.f.write((", " if s.sep else "") + " <unfinished ...>\n")
            s.open_tid, s.col, s.sep = None, 0, False

    # -- the lines that are not system calls (sysgate.trace.events) -----------------------------

    def execve(self, task: Task, filename: bytes, argv: list[bytes], envp: list[bytes], error: int = 0,
               duration_ns: int = 0, cpu_ns: int = 0, ip: int | None = None, sp: int = 0) -> None:
        """The first line: the execve that started the program (`sp`: the new stack, 0 if none)."""
        self.procs.follows(task)
        self.events.execve(task, filename, argv, envp, error, duration_ns, cpu_ns, ip, sp)

    def signal(self, task: Task, info: SigInfo) -> None:
        """A signal the task dequeued (get_signal): its `--- SIG... ---` line."""
        if self.procs.follows(task):
            self.events.signal(task, info)

    def exited(self, task: Task, status: ExitStatus) -> None:
        """The first process ended (the kernel's report at the end of the run): its
        `+++ exited with N +++` or `+++ killed by SIG +++`, unless task_exited wrote it."""
        self.procs.run_ended(task, status)

    # -- the process table's events (Kernel.task_created, task_exited, task_execed) ------------

    def task_created(self, parent: Task, child: Task) -> None:
        """clone/fork/vfork made `child`: traced from now on with -f."""
        self.procs.created(parent, child)

    def task_exited(self, t: Task) -> None:
        """`t` has ended (do_exit): its open call ends `= ?`, then its `+++` line."""
        self.procs.exited(t)

    def task_execed(self, t: Task) -> None:
        """`t` runs a new program; a thread that exec'd has its process's pid now."""
        self.procs.execed(t)

    def finish(self) -> None:
        """The end of the run: -c/-C's table; the files are closed and the tracer detached
        (Kernel.trace traces the next run only)."""
        if self.opts.counts and self.summary.counts:
            s = self.output.summary_stream()
            if self.json:
                rows = [{"syscall": name, "calls": c.calls, "errors": c.errors, "time_ns": c.time_ns,
                         "min_ns": c.min_ns, "max_ns": c.max_ns} for name, c in self.summary.rows(self.opts.sort_by)]
                s.f.write(json.dumps({"type": "summary", "rows": rows}) + "\n")
            else:
                s.f.write(self.summary.render(self.opts.sort_by, self.opts.columns))
        self.output.close()
        if self.kernel.tracer is self:
            self.kernel.tracer = None


def read_guest(task: Task, addr_: int, size: int) -> bytes | None:
    try:
        return task.mm.read(addr_, size)
    except GuestFault:
        return None
