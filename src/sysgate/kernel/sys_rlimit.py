"""Resource limits and usage: prlimit64, getrlimit, setrlimit, getrusage.

Counterpart: kernel/sys.c (do_prlimit, getrusage). The limits live in the emulated
kernel (the guest's ThreadGroup) and are never applied to the host process; the ones
sysgate enforces itself are RLIMIT_NOFILE (fd allocation), RLIMIT_STACK (stack
growth) and RLIMIT_DATA (brk).
"""

from __future__ import annotations

import resource as host_resource
from typing import TYPE_CHECKING, Annotated

from sysgate.arch.x86_64.structs import RLIMIT, RUSAGE
from sysgate.argtypes import Arg, PidT, struct_in, struct_out
from sysgate.errors import KernelError
from sysgate.fs.fdtable import NR_OPEN
from sysgate.mm.uaccess import copy_from_user, copy_to_user
from sysgate.syscall import Support, syscall
from sysgate.uapi.errno import Errno
from sysgate.uapi.resource import (
    RLIM_NLIMITS,
    RLIMIT_NOFILE,
    RLIMIT_STACK,
    RUSAGE_CHILDREN,
    RUSAGE_SELF,
    RUSAGE_THREAD,
)

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

RlimitIn = Annotated[int, struct_in("const struct rlimit64 __user *", "rlimit64")]
RlimitOut = Annotated[int, struct_out("struct rlimit64 __user *", "rlimit64")]
RusageOut = Annotated[int, struct_out("struct rusage __user *", "rusage")]
Resource = Annotated[int, Arg("unsigned int", 32, show="rlimit_resource")]
RusageWho = Annotated[int, Arg("int", 32, True, show="rusage_who")]


def do_prlimit(t: Task, resource: int, new: tuple[int, int] | None) -> tuple[int, int]:
    """Read and optionally set one limit of t's process; returns the old value."""
    if resource >= RLIM_NLIMITS:
        raise KernelError(Errno.EINVAL)
    if new is not None:
        if new[0] > new[1]:
            raise KernelError(Errno.EINVAL)
        if resource == RLIMIT_NOFILE and new[1] > NR_OPEN:
            raise KernelError(Errno.EPERM)
    old = t.group.rlimits[resource]
    if new is not None:
        if new[1] > old[1] and not t.cred.capable():
            raise KernelError(Errno.EPERM)
        t.group.rlimits[resource] = new
        if resource == RLIMIT_STACK:
            t.mm.stack_limit = min(new[0], 1 << 62)
    return old


@syscall()
def sys_prlimit64(t: Task, pid: PidT, resource: Resource, new_rlim: RlimitIn, old_rlim: RlimitOut) -> int:
    """get/set resource limits"""
    new = RLIMIT.unpack(copy_from_user(t.mm, new_rlim, RLIMIT.size)) if new_rlim else None
    if pid and t.kernel.task_by_pid(pid) is None:
        raise KernelError(Errno.ESRCH)
    target = t.kernel.task_by_pid(pid) if pid else t
    assert target is not None
    old = do_prlimit(target, resource, new)
    if old_rlim:
        copy_to_user(t.mm, old_rlim, RLIMIT.pack(*old))
    return 0


@syscall()
def sys_getrlimit(t: Task, resource: Resource, rlim: RlimitOut) -> int:
    """get resource limits"""
    if resource >= RLIM_NLIMITS:
        raise KernelError(Errno.EINVAL)
    copy_to_user(t.mm, rlim, RLIMIT.pack(*do_prlimit(t, resource, None)))
    return 0


@syscall()
def sys_setrlimit(t: Task, resource: Resource, rlim: RlimitIn) -> int:
    """set resource limits"""
    new = RLIMIT.unpack(copy_from_user(t.mm, rlim, RLIMIT.size))
    do_prlimit(t, resource, new)
    return 0


def _tv(seconds: float) -> tuple[int, int]:
    us = int(seconds * 1_000_000)
    return us // 1_000_000, us % 1_000_000


@syscall(support=Support.PARTIAL,
         note="CPU times and the other counters are those of the sysgate process, emulation included; "
         "RUSAGE_CHILDREN reports zeros")
def sys_getrusage(t: Task, who: RusageWho, ru: RusageOut) -> int:
    """get resource usage"""
    if who not in (RUSAGE_SELF, RUSAGE_CHILDREN, RUSAGE_THREAD):
        raise KernelError(Errno.EINVAL)
    if who == RUSAGE_CHILDREN:
        copy_to_user(t.mm, ru, bytes(RUSAGE.size))
        return 0
    u = host_resource.getrusage(host_resource.RUSAGE_SELF)
    copy_to_user(t.mm, ru, RUSAGE.pack(
        *_tv(u.ru_utime), *_tv(u.ru_stime), u.ru_maxrss, u.ru_ixrss, u.ru_idrss, u.ru_isrss,
        u.ru_minflt, u.ru_majflt, u.ru_nswap, u.ru_inblock, u.ru_oublock, u.ru_msgsnd,
        u.ru_msgrcv, u.ru_nsignals, u.ru_nvcsw, u.ru_nivcsw,
    ))
    return 0
