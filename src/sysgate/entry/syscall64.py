"""The x86-64 `syscall` entry: pt_regs, dispatch, return.

Counterpart: arch/x86/entry/entry_64.S (entry_SYSCALL_64) and arch/x86/entry/common.c
(do_syscall_64). The CPU has already read [rax, rdi, rsi, rdx, r10, r8, r9, rip,
rflags] in one batch; this function is everything between the trap and SYSRET:

- pt_regs: the frame becomes the task's PtRegs, with ax preset to -ENOSYS;
- the number is the low 32 bits of rax, taken as an int (`movslq %eax, %rsi`); a
  number outside the table (negative, x32, too large) gets -ENOSYS;
- the handler's KernelError becomes -errno;
- on the way out, pending signals are acted on (exit_to_user_mode_loop).

The CPU writes the result to rax and sets rcx and r11 as SYSRET leaves them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sysgate.cpu.base import SyscallEntry
from sysgate.errors import KernelError
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.kernel import Kernel

_ENOSYS = -Errno.ENOSYS


def make_entry(kernel: Kernel) -> SyscallEntry:
    """entry_SYSCALL_64 for `kernel`: a closure over its table, so a call does no lookups."""
    stubs = kernel.table64.stubs  # the list is updated in place when the table changes
    exit_work = kernel.exit_to_user_mode

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
        else:
            ax = _ENOSYS
        regs.ax = ax
        if t.sigpending:
            exit_work(t)
        return regs.ax

    return entry_SYSCALL_64
