"""The x86-64 `syscall` entry: pt_regs, dispatch, return.

Counterpart: arch/x86/entry/entry_64.S (entry_SYSCALL_64) and arch/x86/entry/common.c
(do_syscall_64). The CPU has already read [rax, rdi, rsi, rdx, r10, r8, r9, rip,
rflags] in one batch; this function is everything between the trap and SYSRET:

- pt_regs: the frame becomes the task's PtRegs, with ax preset to -ENOSYS;
- the number is the low 32 bits of rax, taken as an int (`movslq %eax, %rsi`); a
  number outside the table (negative, x32, too large) gets -ENOSYS;
- the handler's KernelError becomes -errno;
- a handler that blocks (sysgate.kernel.wait) leaves the task at its `syscall`, to be
  run again when woken: the CPU writes nothing and stops, and the scheduler switches;
- on the way out, pending signals and task switches are the run loop's: the CPU stops
  (exit_to_user_mode_loop).

The CPU writes the result to rax and sets rcx and r11 as SYSRET leaves them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sysgate.cpu.base import SyscallEntry
from sysgate.errors import KernelError
from sysgate.kernel.wait import Blocked
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.kernel import Kernel
    from sysgate.kernel.task import Task

_ENOSYS = -Errno.ENOSYS


def make_entry(kernel: Kernel) -> SyscallEntry:
    """entry_SYSCALL_64 for `kernel`: a closure over its table, so a call does no lookups."""
    stubs = kernel.table64.stubs  # the list is updated in place when the table changes
    exit_work = kernel.exit_to_user_mode
    park = make_park(kernel)

    def entry_SYSCALL_64(frame: list[int]) -> int:
        t = kernel.current
        regs = t.regs
        regs.frame = frame
        regs.ax = _ENOSYS
        nr = frame[0] & 0xFFFFFFFF
        if nr < len(stubs):
            try:
                ax = stubs[nr](t, frame)
            except KernelError as exc:
                ax = -exc.errno
            except Blocked:
                return park(t, frame)
            if t._call_state is not None:
                t._call_state = None
        else:
            ax = _ENOSYS
        regs.ax = ax
        if t.sigpending or kernel.resched:
            exit_work(t)
        return regs.ax

    return entry_SYSCALL_64


def make_park(kernel: Kernel) -> Callable[[Task, list[int]], int]:
    """What the entry does when a handler blocked: the task sleeps at its `syscall`
    instruction, with rax still the system call number, and the CPU stops."""

    def park(t: Task, frame: list[int]) -> int:
        cpu = kernel.cpu
        assert cpu is not None
        kernel.sched.sleep(t)
        cpu.skip_sysret = True
        cpu.set_pc_in_syscall(frame[7])
        kernel.resched = False
        cpu.stop()
        return 0

    return park
