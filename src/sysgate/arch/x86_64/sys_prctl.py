"""arch_prctl: the x86-64 thread state user space may set (FS and GS bases).

Counterpart: arch/x86/kernel/process_64.c (do_arch_prctl_64) and process.c
(do_arch_prctl_common).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sysgate.argtypes import Int, ULong
from sysgate.errors import KernelError
from sysgate.mm.mm import TASK_SIZE_MAX
from sysgate.mm.uaccess import put_user_u64
from sysgate.syscall import Support, syscall
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

ARCH_SET_GS = 0x1001
ARCH_SET_FS = 0x1002
ARCH_GET_FS = 0x1003
ARCH_GET_GS = 0x1004
ARCH_GET_CPUID = 0x1011
ARCH_SET_CPUID = 0x1012
ARCH_GET_XCOMP_SUPP = 0x1021
ARCH_GET_XCOMP_PERM = 0x1022
ARCH_REQ_XCOMP_PERM = 0x1023
XFEATURES = 0x3  # x87 | SSE: what the emulated CPU saves
XFEATURE_MAX = 19
"""arch/x86/include/asm/fpu/types.h in Linux 6.12: one past XFEATURE_XTILE_DATA."""


@syscall(support=Support.PARTIAL,
         note="FS/GS bases, ARCH_GET_CPUID, ARCH_GET_XCOMP_SUPP/PERM; CPUID faulting, "
         "shadow stacks and LAM are not available (as on a CPU without them)")
def sys_arch_prctl(t: Task, option: Int, arg2: ULong) -> int:
    """set architecture-specific thread state"""
    cpu = t.kernel.cpu
    if option in (ARCH_SET_FS, ARCH_SET_GS):
        if arg2 >= TASK_SIZE_MAX:
            raise KernelError(Errno.EPERM)
        reg = "fs_base" if option == ARCH_SET_FS else "gs_base"
        setattr(t, reg, arg2)
        if cpu is not None:
            cpu.set_regs({reg: arg2})
        return 0
    if option in (ARCH_GET_FS, ARCH_GET_GS):
        reg = "fs_base" if option == ARCH_GET_FS else "gs_base"
        value = cpu.get_reg(reg) if cpu is not None else getattr(t, reg)
        put_user_u64(t.mm, arg2, value)
        return 0
    if option == ARCH_GET_CPUID:
        return 1
    if option == ARCH_SET_CPUID:
        raise KernelError(Errno.ENODEV)
    if option in (ARCH_GET_XCOMP_SUPP, ARCH_GET_XCOMP_PERM):
        put_user_u64(t.mm, arg2, XFEATURES)
        return 0
    if option == ARCH_REQ_XCOMP_PERM:
        # xstate_request_perm: EINVAL past XFEATURE_MAX; otherwise only a feature that needs
        # permission (XTILE_DATA, AMX) may be requested, and this CPU has none.
        if arg2 >= XFEATURE_MAX:
            raise KernelError(Errno.EINVAL)
        raise KernelError(Errno.EOPNOTSUPP)
    raise KernelError(Errno.EINVAL)
