"""The entry used while a tracer or hooks are attached: the second dispatch function.

Counterpart: the slow path of arch/x86/entry/common.c (syscall_enter_from_user_mode_work
and syscall_exit_work: ptrace and seccomp stops, tracepoints). The kernel swaps this in
instead of entry_SYSCALL_64 when something watches system calls, so the plain path pays
nothing for tracing. Around the same table lookup and handler call it runs the enter
hooks (which may rewrite arguments or answer the call), fault injection, the tracer's
entry, and on the way out the exit hooks and the tracer's exit.

Times: `duration_ns` is the wall-clock time from the entry (after the enter hooks) to
the handler's return, as strace's -T measures from the syscall-entry stop;
`cpu_ns` the CPU time sysgate's thread spent in the handler alone (-c's default).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sysgate.cpu.base import SyscallEntry
from sysgate.entry.syscall64 import make_park
from sysgate.errors import KernelError
from sysgate.kernel.wait import Blocked
from sysgate.trace.hooks import SyscallCall
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.kernel import Kernel
    from sysgate.kernel.task import Task

_ENOSYS = -Errno.ENOSYS


def make_traced_entry(kernel: Kernel) -> SyscallEntry:
    table = kernel.table64
    stubs = table.stubs
    hooks = kernel.hooks
    exit_work = kernel.exit_to_user_mode
    perf_ns = time.perf_counter_ns
    cpu_ns = time.thread_time_ns
    park = make_park(kernel)
    waiting: dict[Task, SyscallCall] = {}  # the calls of blocked tasks, entered once

    def entry_SYSCALL_64_traced(frame: list[int]) -> int:
        t = kernel.current
        regs = t.regs
        regs.frame = frame
        regs.ax = _ENOSYS
        nr = frame[0] & 0xFFFFFFFF
        tracer = kernel.tracer
        call = waiting.pop(t, None) if t._call_state is not None else None
        if call is None:  # a new call (not the re-run of one that blocked)
            slot = table.slots.get(nr)
            spec = slot.spec if slot is not None else None
            call = SyscallCall(t, nr, slot, frame, spec.decode(frame, table.word_bits) if spec is not None else [])
            if hooks:
                hooks.run(hooks.enter, call)
            call.start_ns = perf_ns()  # -T counts from the entry stop, as strace's etime: injected delays too
            if tracer is not None:
                tracer.enter(call)
        else:
            call.frame = frame
        cpu0 = cpu_ns()
        if call.answer is not None:
            ax = call.answer
        elif nr < len(stubs):
            try:
                ax = stubs[nr](t, frame)
            except KernelError as exc:
                ax = -exc.errno
            except Blocked:
                waiting[t] = call
                return park(t, frame)
            if t._call_state is not None:
                t._call_state = None
        else:
            ax = _ENOSYS
        call.cpu_ns = cpu_ns() - cpu0
        call.duration_ns = perf_ns() - call.start_ns
        call.result = ax
        if hooks:
            hooks.run(hooks.exit, call)
        if tracer is not None:
            tracer.exit(call)
        regs.ax = call.result
        if t.sigpending or kernel.resched:
            exit_work(t)
        if tracer is not None:
            tracer.after_exit_work(call)
        return regs.ax

    return entry_SYSCALL_64_traced
