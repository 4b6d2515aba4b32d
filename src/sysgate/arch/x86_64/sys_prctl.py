"""arch_prctl: the x86-64 thread state user space may set (FS and GS bases).

Counterpart: arch/x86/kernel/process_64.c (do_arch_prctl_64) and process.c
(do_arch_prctl_common).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import Arg
from sysgate.errors import KernelError
from sysgate.mm.mm import TASK_SIZE_MAX
from sysgate.mm.uaccess import put_user_u64
from sysgate.syscall import Support, syscall
from sysgate.uapi.errno import Errno
from sysgate.vdso.vma import map_vdso_once

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
ARCH_GET_XCOMP_GUEST_PERM = 0x1024
ARCH_REQ_XCOMP_GUEST_PERM = 0x1025
ARCH_MAP_VDSO_X32 = 0x2001
ARCH_MAP_VDSO_32 = 0x2002
ARCH_MAP_VDSO_64 = 0x2003
ARCH_GET_UNTAG_MASK = 0x4001
ARCH_ENABLE_TAGGED_ADDR = 0x4002
ARCH_GET_MAX_TAG_BITS = 0x4003
ARCH_FORCE_TAGGED_SVA = 0x4004
ARCH_SHSTK_ENABLE = 0x5001
ARCH_SHSTK_DISABLE = 0x5002
ARCH_SHSTK_LOCK = 0x5003
ARCH_SHSTK_UNLOCK = 0x5004
ARCH_SHSTK_STATUS = 0x5005
ARCH_SHSTK_SHSTK = 1 << 0
ARCH_SHSTK_WRSS = 1 << 1
ArchOption = Annotated[int, Arg("int", 32, True, show="arch_prctl_option")]
ArchArg = Annotated[int, Arg("unsigned long", show="exit:arch_prctl_arg")]
"""An address the GET codes write through, or a value: strace prints it on return."""
XFEATURES = 0x3  # x87 | SSE: what the emulated CPU saves
XFEATURE_MAX = 19
"""arch/x86/include/asm/fpu/types.h in Linux 6.12: one past XFEATURE_XTILE_DATA."""


@syscall(support=Support.PARTIAL,
         note="as on a CPU without CPUID faulting, LAM, shadow stacks or AMX; "
         "ARCH_MAP_VDSO_32 and _X32 give EINVAL (there is only the 64-bit vDSO)", ret="arch_prctl")
def sys_arch_prctl(t: Task, option: ArchOption, arg2: ArchArg) -> int:
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
    if option in (ARCH_GET_XCOMP_SUPP, ARCH_GET_XCOMP_PERM, ARCH_GET_XCOMP_GUEST_PERM):
        put_user_u64(t.mm, arg2, XFEATURES)
        return 0
    if option in (ARCH_REQ_XCOMP_PERM, ARCH_REQ_XCOMP_GUEST_PERM):
        # xstate_request_perm: EINVAL past XFEATURE_MAX; otherwise only a feature that needs
        # permission (XTILE_DATA, AMX) may be requested, and this CPU has none.
        if arg2 >= XFEATURE_MAX:
            raise KernelError(Errno.EINVAL)
        raise KernelError(Errno.EOPNOTSUPP)
    if option == ARCH_MAP_VDSO_64:
        return map_vdso_once(t.mm, arg2)
    if ARCH_GET_UNTAG_MASK <= option <= ARCH_FORCE_TAGGED_SVA:
        return _lam(t, option, arg2)
    if ARCH_SHSTK_ENABLE <= option <= ARCH_SHSTK_STATUS:
        return _shstk(t, option, arg2)
    raise KernelError(Errno.EINVAL)


def _lam(t: Task, option: int, arg2: int) -> int:
    """Linear address masking (CONFIG_ADDRESS_MASKING) on a CPU without LAM."""
    if option == ARCH_GET_UNTAG_MASK:
        put_user_u64(t.mm, arg2, (1 << 64) - 1)  # nothing is masked
        return 0
    if option == ARCH_ENABLE_TAGGED_ADDR:
        raise KernelError(Errno.ENODEV)  # prctl_enable_tagged_addr without X86_FEATURE_LAM
    if option == ARCH_GET_MAX_TAG_BITS:
        put_user_u64(t.mm, arg2, 0)
        return 0
    return 0  # ARCH_FORCE_TAGGED_SVA only sets a flag


def _shstk(t: Task, option: int, features: int) -> int:
    """Shadow stacks (shstk_prctl) on a CPU without them: nothing is enabled or can be."""
    if option == ARCH_SHSTK_STATUS:
        put_user_u64(t.mm, features, 0)
        return 0
    if option == ARCH_SHSTK_LOCK:
        return 0
    if option == ARCH_SHSTK_UNLOCK:
        raise KernelError(Errno.EINVAL)  # only through ptrace
    if features & (features - 1):
        raise KernelError(Errno.EINVAL)  # one feature at a time
    if features & (ARCH_SHSTK_SHSTK | ARCH_SHSTK_WRSS):
        raise KernelError(Errno.EOPNOTSUPP)  # no X86_FEATURE_USER_SHSTK
    raise KernelError(Errno.EINVAL)
