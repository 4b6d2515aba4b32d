"""Scheduling queries: sched_yield, sched_getaffinity, sched_setaffinity, getcpu,
getpriority, setpriority.

Counterpart: kernel/sched/core.c, kernel/sys.c (getpriority) and kernel/sys.c (getcpu).
sysgate runs every guest task on one emulated CPU, so the machine has one CPU (CPU 0,
node 0) and affinity masks contain only it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import IN, OUT, Arg, Int, PidT, UInt, UserPtr
from sysgate.errors import KernelError
from sysgate.mm.uaccess import copy_from_user, copy_to_user, put_user_u32
from sysgate.syscall import syscall
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

MaskOut = Annotated[int, UserPtr("unsigned long __user *", show="cpumask", direction=OUT, size="len")]
MaskIn = Annotated[int, UserPtr("unsigned long __user *", show="cpumask", direction=IN, size="len")]
UIntOut = Annotated[int, UserPtr("unsigned int __user *", show="printnum_uint", direction=OUT)]
CacheArg = Annotated[int, UserPtr("struct getcpu_cache __user *", show="ptr", direction=OUT)]
PrioWhich = Annotated[int, Arg("int", 32, True, show="prio_which")]

NR_CPU_IDS = 1
CPUMASK_SIZE = 8  # cpumask_size(): one unsigned long covers nr_cpu_ids
PRIO_PROCESS, PRIO_PGRP, PRIO_USER = 0, 1, 2


def _task(t: Task, pid: int) -> Task:
    if pid == 0:
        return t
    found = t.kernel.task_by_pid(pid)
    if found is None or pid < 0:
        raise KernelError(Errno.ESRCH)
    return found


@syscall()
def sys_sched_yield(t: Task) -> int:
    """yield the processor

    The caller goes to the back of the run queue when another task is runnable."""
    if t.kernel.sched.runqueue:
        t.kernel.reschedule(yield_cpu=True)
    return 0


@syscall()
def sys_sched_getaffinity(t: Task, pid: PidT, len: UInt, user_mask_ptr: MaskOut) -> int:  # noqa: A002
    """get a thread's CPU affinity mask"""
    if (len * 8) & 0xFFFFFFFF < NR_CPU_IDS or len & 7:  # len * BITS_PER_BYTE wraps as an unsigned int
        raise KernelError(Errno.EINVAL)
    _task(t, pid)
    size = min(len, CPUMASK_SIZE)
    copy_to_user(t.mm, user_mask_ptr, (1).to_bytes(size, "little"))
    return size


@syscall()
def sys_sched_setaffinity(t: Task, pid: PidT, len: UInt, user_mask_ptr: MaskIn) -> int:  # noqa: A002
    """set a thread's CPU affinity mask"""
    data = copy_from_user(t.mm, user_mask_ptr, min(len, CPUMASK_SIZE)) if len else b""
    _task(t, pid)
    if not int.from_bytes(data, "little") & 1:
        raise KernelError(Errno.EINVAL)
    return 0


@syscall()
def sys_getcpu(t: Task, cpup: UIntOut, nodep: UIntOut, unused: CacheArg) -> int:
    """determine CPU and NUMA node on which the calling thread is running"""
    if cpup:
        put_user_u32(t.mm, cpup, 0)
    if nodep:
        put_user_u32(t.mm, nodep, 0)
    return 0


def _who(t: Task, which: int, who: int) -> list[Task]:
    if which not in (PRIO_PROCESS, PRIO_PGRP, PRIO_USER):
        raise KernelError(Errno.EINVAL)
    tasks = list(t.kernel.tasks.values())
    if which == PRIO_PROCESS:
        found = [x for x in tasks if x.tid == (who or t.tid)]
    elif which == PRIO_PGRP:
        found = [x for x in tasks if x.group.pgid == (who or t.group.pgid)]
    else:
        found = [x for x in tasks if x.cred.uid == (who or t.cred.uid)]
    if not found:
        raise KernelError(Errno.ESRCH)
    return found


@syscall()
def sys_getpriority(t: Task, which: PrioWhich, who: Int) -> int:
    """get program scheduling priority"""
    return max(20 - x.nice for x in _who(t, which, who))


@syscall()
def sys_setpriority(t: Task, which: PrioWhich, who: Int, niceval: Int) -> int:
    """set program scheduling priority"""
    niceval = min(max(niceval, -20), 19)
    for x in _who(t, which, who):
        if niceval < x.nice and not t.cred.capable():
            raise KernelError(Errno.EACCES)
        x.nice = niceval
    return 0
