"""futex: fast user-space locking, for a process with a single thread.

Counterpart: kernel/futex/syscalls.c, waitwake.c and core.c (get_futex_key). With one
task nothing else can wake a waiter: FUTEX_WAIT returns EAGAIN when the value differs,
ETIMEDOUT after its timeout, and a wait that nothing could ever end is reported as the
guest's deadlock instead of hanging sysgate.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import IN, Arg, UserPtr
from sysgate.errors import KernelError, SysgateError
from sysgate.kernel.sys_time import clock_now, get_timespec, timespec_valid
from sysgate.mm.mm import READ
from sysgate.mm.uaccess import access_ok, get_user_u32
from sysgate.syscall import Support, syscall
from sysgate.uapi import time as lt
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

# strace prints every argument of futex when the call is made (the words are read, and
# written only by the PI and wake-op operations): the pointers are declared IN for it.
FutexPtr = Annotated[int, UserPtr("u32 __user *", show="ptr", direction=IN)]
FutexPtr2 = Annotated[int, UserPtr("u32 __user *", show="futex_uaddr2", direction=IN)]
FutexOp = Annotated[int, Arg("int", 32, True, show="futex_op")]
FutexVal = Annotated[int, Arg("u32", 32, show="futex_val")]
FutexVal3 = Annotated[int, Arg("u32", 32, show="futex_val3")]
Timeout = Annotated[int, UserPtr("const struct __kernel_timespec __user *", show="futex_timeout", direction=IN,
                                 struct="timespec")]
"""The timeout, or for the requeue operations a number (val2)."""

FUTEX_WAIT = 0
FUTEX_WAKE = 1
FUTEX_LOCK_PI = 6
FUTEX_WAIT_BITSET = 9
FUTEX_WAKE_BITSET = 10
FUTEX_WAIT_REQUEUE_PI = 11
FUTEX_LOCK_PI2 = 13
FUTEX_PRIVATE_FLAG = 128
FUTEX_CLOCK_REALTIME = 256
FUTEX_CMD_MASK = ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
FUTEX_BITSET_MATCH_ANY = 0xFFFFFFFF
_HAS_TIMEOUT = {FUTEX_WAIT, FUTEX_LOCK_PI, FUTEX_LOCK_PI2, FUTEX_WAIT_BITSET, FUTEX_WAIT_REQUEUE_PI}


def futex_key(t: Task, uaddr: int, op: int) -> None:
    """get_futex_key: a u32-aligned user address; a shared key also needs the page."""
    if uaddr % 4:
        raise KernelError(Errno.EINVAL)
    if not access_ok(uaddr, 4):
        raise KernelError(Errno.EFAULT)
    # A process-private key is the address alone; a shared one pins the page
    # (get_user_pages_fast, read access being enough), so an unmapped address is EFAULT.
    if not op & FUTEX_PRIVATE_FLAG and t.mm.accessible(uaddr, 4, READ) < 4:
        raise KernelError(Errno.EFAULT)


@syscall(support=Support.PARTIAL,
         note="one thread per process so far: FUTEX_WAIT, FUTEX_WAKE and their _BITSET forms; "
         "the requeue, wake-op and PI operations give ENOSYS")
def sys_futex(t: Task, uaddr: FutexPtr, op: FutexOp, val: FutexVal, utime: Timeout, uaddr2: FutexPtr2,
              val3: FutexVal3) -> int:
    """fast user-space locking"""
    cmd = op & FUTEX_CMD_MASK
    deadline: tuple[int, int] | None = None
    if utime and cmd in _HAS_TIMEOUT:
        sec, nsec = get_timespec(t, utime)
        if not timespec_valid(sec, nsec):
            raise KernelError(Errno.EINVAL)
        ns = sec * lt.NSEC_PER_SEC + nsec
        if cmd == FUTEX_WAIT:
            deadline = (lt.CLOCK_MONOTONIC, clock_now(t, lt.CLOCK_MONOTONIC) + ns)
        else:
            deadline = (lt.CLOCK_REALTIME if op & FUTEX_CLOCK_REALTIME else lt.CLOCK_MONOTONIC, ns)
    if op & FUTEX_CLOCK_REALTIME and cmd not in (FUTEX_WAIT_BITSET, FUTEX_WAIT_REQUEUE_PI, FUTEX_LOCK_PI2):
        raise KernelError(Errno.ENOSYS)
    if cmd in (FUTEX_WAIT, FUTEX_WAIT_BITSET):
        bitset = FUTEX_BITSET_MATCH_ANY if cmd == FUTEX_WAIT else val3
        if not bitset:
            raise KernelError(Errno.EINVAL)
        futex_key(t, uaddr, op)
        if get_user_u32(t.mm, uaddr) != val:
            raise KernelError(Errno.EAGAIN)
        if deadline is None:
            raise SysgateError(
                "deadlock: the guest's only thread waits on a futex that nothing can wake "
                f"(futex at {uaddr:#x})"
            )
        clock, end = deadline
        while (left := end - clock_now(t, clock)) > 0:
            time.sleep(left / lt.NSEC_PER_SEC)
        raise KernelError(Errno.ETIMEDOUT)
    if cmd in (FUTEX_WAKE, FUTEX_WAKE_BITSET):
        if cmd == FUTEX_WAKE_BITSET and not val3:
            raise KernelError(Errno.EINVAL)
        futex_key(t, uaddr, op)
        return 0
    raise KernelError(Errno.ENOSYS)
