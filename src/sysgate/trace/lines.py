"""Where trace lines go and how each begins: -o, -A, -ff, and strace's printleader.

Counterpart: strace's strace.c (strace_fopen, strace_popen, printleader, tabto,
line_ended). A line is begun (the leader and a call's arguments known at entry) and
finished later; a stream remembers which task's line is open so another task's line
can cut it ("<unfinished ...>"), as strace does with -f.

The leader is, in strace's order: the pid (`[pid  N] ` when several processes share
the output, `N     ` in a -f -o file), the time of day (-t, -tt, -ttt), the time since
the previous line (-r; `(+ ...)` after -t), the system-call number (-n) and the
instruction pointer (-i).
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from sysgate.errors import SysgateError

if TYPE_CHECKING:
    from sysgate.kernel.kernel import Kernel
    from sysgate.kernel.task import Task
    from sysgate.trace.options import TraceOptions


@dataclass(slots=True)
class Stream:
    """One output file and the line open on it."""

    f: TextIO
    owned: bool
    proc: subprocess.Popen[str] | None = None
    open_tid: int | None = None  # whose line is unfinished (strace's printing_tcp with curcol != 0)
    col: int = 0  # characters written on the open line
    sep: bool = False  # the open line owes ", " before what its call prints at exit


class Output:
    """The trace's destinations: stderr, -o FILE (-A appends), -o '|cmd', or FILE.PID with -ff."""

    def __init__(self, opts: TraceOptions, out: TextIO | None) -> None:
        self.opts = opts
        self.shared: Stream | None = None
        self.separate: dict[int, Stream] = {}
        if out is not None:
            self.shared = Stream(out, False)
        elif opts.output is None:
            self.shared = Stream(sys.stderr, False)
        elif opts.output[:1] in ("|", "!"):
            proc = subprocess.Popen(opts.output[1:], shell=True, stdin=subprocess.PIPE, text=True)  # noqa: S602
            assert isinstance(proc.stdin, io.TextIOWrapper)
            self.shared = Stream(proc.stdin, True, proc)
        elif not opts.output_separately:
            self.shared = Stream(self._open(opts.output), True)

    def _open(self, path: str) -> TextIO:
        try:
            return open(path, "a" if self.opts.append else "w")
        except OSError as exc:
            raise SysgateError(f"trace: Can't fopen '{path}': {exc.strerror}", 1) from None

    def stream(self, tid: int) -> Stream:
        """The stream a task's lines go to (with -ff, FILE.TID: strace's tcb is a thread)."""
        if self.shared is not None:
            return self.shared
        s = self.separate.get(tid)
        if s is None:
            assert self.opts.output is not None
            s = self.separate[tid] = Stream(self._open(f"{self.opts.output}.{tid}"), True)
        return s

    def streams(self) -> list[Stream]:
        return ([self.shared] if self.shared is not None else []) + list(self.separate.values())

    def summary_stream(self) -> Stream:
        """Where -c/-C's table goes (never FILE.PID: -ff and -c exclude each other)."""
        return self.shared if self.shared is not None else Stream(sys.stderr, False)

    def close(self) -> None:
        for s in self.streams():
            try:
                s.f.flush()
            except (BrokenPipeError, ValueError):
                pass
            if s.owned:
                try:
                    s.f.close()
                except BrokenPipeError:
                    pass
            if s.proc is not None:
                s.proc.wait()
        self.separate.clear()


class Leader:
    """printleader: what comes before every line."""

    def __init__(self, kernel: Kernel, opts: TraceOptions, nprocs: Callable[[], int] | None = None) -> None:
        self.kernel = kernel
        self.opts = opts
        self.last_rel_ns: int | None = None
        self.nprocs = nprocs or (lambda: 1)  # strace's nprocs: the tasks it traces

    def __call__(self, task: Task, nr: int | None, ip: int | None) -> str:
        opts = self.opts
        out = ""
        nprocs = self.nprocs()
        pid_prefix = opts.output is not None and opts.follow and not opts.output_separately
        if pid_prefix:
            out += f"{task.tid:<5d} "
        elif nprocs > 1 and opts.output is None:
            out += f"[pid {task.tid:5d}] "
        if opts.time_format is not None:
            now = time.clock_gettime_ns(time.CLOCK_REALTIME)
            secs = now // 10**9
            stamp = time.strftime("%H:%M:%S", time.localtime(secs)) if opts.time_format == "%T" else str(secs)
            scale, width = opts.time_scale
            out += f"{stamp}.{(now % 10**9) // scale:0{width}d} " if width else f"{stamp} "
        if opts.relative is not None:
            now = time.monotonic_ns()
            delta = 0 if self.last_rel_ns is None else now - self.last_rel_ns
            self.last_rel_ns = now
            scale, width = opts.relative
            text = f"{delta // 10**9:6d}" + (f".{(delta % 10**9) // scale:0{width}d}" if width else "")
            out += f"(+{text}) " if opts.time_format is not None else f"{text} "
        if opts.numbers:
            wide = None if nr is None else (nr - (1 << 32) if nr & 0x80000000 else nr) & 0xFFFFFFFFFFFFFFFF
            out += "[???] " if wide is None or wide == 0xFFFFFFFFFFFFFFFF else f"[{wide:4d}] "
        if opts.ip:
            out += "[????????????????] " if ip is None else f"[{ip & 0xFFFFFFFFFFFFFFFF:016x}] "
        return out
