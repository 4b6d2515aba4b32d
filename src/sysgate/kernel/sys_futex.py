"""futex and the futex2 calls: fast user-space locking.

Counterpart: kernel/futex/syscalls.c (sys_futex, do_futex, futex_init_timeout and the
futex2 calls futex_waitv, futex_wake, futex_wait, futex_requeue). The handlers decode
and check their arguments in the kernel's order and call the operations of
sysgate.kernel.futex and sysgate.kernel.futex_pi.

A waiting call is run again each time its task wakes (sysgate.kernel.wait): what the
first run worked out (the deadline, the waiter in the hash) is kept in
`t.call_state().data`, so that a re-run neither reads the timeout again nor restarts a
relative one. FUTEX_WAIT and FUTEX_WAIT_BITSET with a timeout end with
-ERESTART_RESTARTBLOCK on a signal, as futex_wait sets up futex_wait_restart; the
restart resumes the wait until the same absolute time.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import IN, Arg, UserPtr
from sysgate.errors import KernelError
from sysgate.kernel import futex as fu
from sysgate.kernel import futex_pi as pi
from sysgate.kernel.sys_time import clock_now, get_timespec, timespec_valid
from sysgate.mm.uaccess import copy_from_user
from sysgate.syscall import Support, syscall
from sysgate.uapi import futex as fx
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
Waitv = Annotated[int, UserPtr("struct futex_waitv __user *", show="futex_waitv", direction=IN,
                               struct="futex_waitv")]
WaitvCount = Annotated[int, Arg("unsigned int", 32, show="udec")]
Flags2 = Annotated[int, Arg("unsigned int", 32, show="hex")]
Timespec64 = Annotated[int, UserPtr("struct __kernel_timespec __user *", show="struct", direction=IN,
                                    struct="timespec")]
ClockId = Annotated[int, Arg("clockid_t", 32, True, show="clockid")]
# strace 6.1 predates futex_wake, futex_wait and futex_requeue: it shows their registers.
RawPtr = Annotated[int, UserPtr("void __user *", show="printargs", direction=IN)]
RawULong = Annotated[int, Arg("unsigned long", show="printargs")]
RawUInt = Annotated[int, Arg("unsigned int", 32, show="printargs")]
RawInt = Annotated[int, Arg("int", 32, True, show="printargs")]
RawTimespec = Annotated[int, UserPtr("struct __kernel_timespec __user *", show="printargs", direction=IN)]
RawClockId = Annotated[int, Arg("clockid_t", 32, True, show="printargs")]
RawWaitv = Annotated[int, UserPtr("struct futex_waitv __user *", show="printargs", direction=IN)]

_HAS_TIMEOUT = frozenset({fx.FUTEX_WAIT, fx.FUTEX_LOCK_PI, fx.FUTEX_LOCK_PI2, fx.FUTEX_WAIT_BITSET,
                          fx.FUTEX_WAIT_REQUEUE_PI})
_WAITV = struct.Struct("<QQII")  # struct futex_waitv: val, uaddr, flags, __reserved


def _deadline(t: Task, cmd: int, op: int, utime: int) -> int | None:
    """futex_init_timeout: the timeout as a CLOCK_MONOTONIC deadline (a relative one for
    FUTEX_WAIT, else an absolute time on CLOCK_REALTIME with FUTEX_CLOCK_REALTIME or for
    FUTEX_LOCK_PI, on CLOCK_MONOTONIC otherwise)."""
    sec, nsec = get_timespec(t, utime)
    if not timespec_valid(sec, nsec):
        raise KernelError(Errno.EINVAL)
    ns = sec * lt.NSEC_PER_SEC + nsec
    if cmd == fx.FUTEX_WAIT:
        return clock_now(t, lt.CLOCK_MONOTONIC) + ns
    realtime = cmd == fx.FUTEX_LOCK_PI or bool(op & fx.FUTEX_CLOCK_REALTIME)
    return fu.abs_deadline(lt.CLOCK_REALTIME if realtime else lt.CLOCK_MONOTONIC, ns)


@syscall(support=Support.PARTIAL,
         note="every operation as Linux checks and performs it; PI futexes follow Linux's lock "
         "protocol (owner TID, FUTEX_WAITERS, FUTEX_OWNER_DIED, EDEADLK, EPERM, ESRCH) but "
         "inherit no priority (one CPU, no priorities), waiters are served in arrival order; "
         "a CLOCK_REALTIME deadline does not follow later changes of the wall clock")
def sys_futex(t: Task, uaddr: FutexPtr, op: FutexOp, val: FutexVal, utime: Timeout, uaddr2: FutexPtr2,
              val3: FutexVal3) -> int:
    """fast user-space locking"""
    cmd = op & fx.FUTEX_CMD_MASK
    st = t.call_state()
    if st.data:  # a re-run of a wait: its deadline was worked out by the first run
        deadline = st.deadline
    else:
        deadline = _deadline(t, cmd, op, utime) if utime and cmd in _HAS_TIMEOUT else None
    try:
        return do_futex(t, uaddr, op, val, deadline, uaddr2, utime & 0xFFFFFFFF, val3)
    except KernelError as exc:
        if exc.errno == Errno.ERESTART_RESTARTBLOCK:
            _set_restart(t, uaddr, op, val, deadline, val3)
        raise


def _set_restart(t: Task, uaddr: int, op: int, val: int, deadline: int | None, bitset: int) -> None:
    """futex_wait's restart_block: restart_syscall resumes the wait until the same time."""
    flags = fu.futex_to_flags(op)
    if op & fx.FUTEX_CMD_MASK == fx.FUTEX_WAIT:
        bitset = fx.FUTEX_BITSET_MATCH_ANY

    def restart(t2: Task) -> int:
        return fu.futex_wait(t2, uaddr, flags, val, deadline, bitset)  # then do_no_restart_syscall

    t.restart_block = restart


def do_futex(t: Task, uaddr: int, op: int, val: int, deadline: int | None, uaddr2: int, val2: int,
             val3: int) -> int:
    """do_futex: the operation, after FUTEX_CLOCK_REALTIME was checked against it."""
    flags = fu.futex_to_flags(op)
    cmd = op & fx.FUTEX_CMD_MASK
    if flags & fu.FLAGS_CLOCKRT and cmd not in (fx.FUTEX_WAIT_BITSET, fx.FUTEX_WAIT_REQUEUE_PI,
                                                  fx.FUTEX_LOCK_PI2):
        raise KernelError(Errno.ENOSYS)
    if cmd in (fx.FUTEX_WAIT, fx.FUTEX_WAIT_BITSET):
        bitset = fx.FUTEX_BITSET_MATCH_ANY if cmd == fx.FUTEX_WAIT else val3
        restart = Errno.ERESTART_RESTARTBLOCK if deadline is not None else Errno.ERESTARTSYS
        return fu.futex_wait(t, uaddr, flags, val, deadline, bitset, restart)
    if cmd in (fx.FUTEX_WAKE, fx.FUTEX_WAKE_BITSET):
        bitset = fx.FUTEX_BITSET_MATCH_ANY if cmd == fx.FUTEX_WAKE else val3
        return fu.futex_wake(t, uaddr, flags, fu.s32(val), bitset)
    if cmd == fx.FUTEX_REQUEUE:
        return fu.futex_requeue(t, uaddr, flags, uaddr2, flags, fu.s32(val), fu.s32(val2), None)
    if cmd == fx.FUTEX_CMP_REQUEUE:
        return fu.futex_requeue(t, uaddr, flags, uaddr2, flags, fu.s32(val), fu.s32(val2), val3)
    if cmd == fx.FUTEX_WAKE_OP:
        return fu.futex_wake_op(t, uaddr, flags, uaddr2, fu.s32(val), fu.s32(val2), val3)
    if cmd in (fx.FUTEX_LOCK_PI, fx.FUTEX_LOCK_PI2):
        return pi.futex_lock_pi(t, uaddr, flags, deadline, trylock=False)
    if cmd == fx.FUTEX_UNLOCK_PI:
        return pi.futex_unlock_pi(t, uaddr, flags)
    if cmd == fx.FUTEX_TRYLOCK_PI:
        return pi.futex_lock_pi(t, uaddr, flags, None, trylock=True)
    if cmd == fx.FUTEX_WAIT_REQUEUE_PI:
        return pi.futex_wait_requeue_pi(t, uaddr, flags, val, deadline, fx.FUTEX_BITSET_MATCH_ANY, uaddr2)
    if cmd == fx.FUTEX_CMP_REQUEUE_PI:
        return pi.futex_cmp_requeue_pi(t, uaddr, flags, uaddr2, fu.s32(val), fu.s32(val2), val3)
    raise KernelError(Errno.ENOSYS)


# -- futex2 ----------------------------------------------------------------------------------


def _futex2_deadline(t: Task, timeout: int, clockid: int) -> int | None:
    """futex2_setup_timeout: an absolute time on CLOCK_MONOTONIC or CLOCK_REALTIME."""
    if not timeout:
        return None
    if clockid not in (lt.CLOCK_REALTIME, lt.CLOCK_MONOTONIC):
        raise KernelError(Errno.EINVAL)
    sec, nsec = get_timespec(t, timeout)
    if not timespec_valid(sec, nsec):
        raise KernelError(Errno.EINVAL)
    return fu.abs_deadline(clockid, sec * lt.NSEC_PER_SEC + nsec)


def _parse_waitv(t: Task, uwaitv: int, nr: int) -> list[fu.WaitvEntry]:
    """futex_parse_waitv: EFAULT for an unreadable entry, EINVAL for bad flags, a reserved
    field set, a size other than 32 bits or a value that does not fit in it."""
    out = []
    for i in range(nr):
        val, uaddr, flags2, reserved = _WAITV.unpack(copy_from_user(t.mm, uwaitv + i * _WAITV.size, _WAITV.size))
        if flags2 & ~fu.FUTEX2_VALID_MASK or reserved:
            raise KernelError(Errno.EINVAL)
        flags = fu.futex2_to_flags(flags2)
        if flags & fu.FLAGS_SIZE_MASK != fu.FLAGS_SIZE_32 or val >> 32:
            raise KernelError(Errno.EINVAL)
        out.append(fu.WaitvEntry(val, uaddr, flags))
    return out


@syscall()
def sys_futex_waitv(t: Task, waiters: Waitv, nr_futexes: WaitvCount, flags: Flags2, timeout: Timespec64,
                    clockid: ClockId) -> int:
    """wait on a vector of futexes"""
    st = t.call_state()
    if "futex_qs" not in st.data:
        if flags:
            raise KernelError(Errno.EINVAL)
        if not nr_futexes or nr_futexes > fu.FUTEX_WAITV_MAX or not waiters:
            raise KernelError(Errno.EINVAL)
        deadline = _futex2_deadline(t, timeout, clockid)
        entries = _parse_waitv(t, waiters, nr_futexes)
        return fu.futex_wait_multiple(t, entries, deadline)
    return fu.futex_wait_multiple(t, [], st.deadline)


@syscall()
def sys_futex_wake(t: Task, uaddr: RawPtr, mask: RawULong, nr: RawInt, flags: RawUInt) -> int:
    """wake up to nr waiters of a futex"""
    fl = fu.futex2_flags(flags)
    if mask >> 32:
        raise KernelError(Errno.EINVAL)
    return fu.futex_wake(t, uaddr, fu.FLAGS_STRICT | fl, nr, mask)


@syscall()
def sys_futex_wait(t: Task, uaddr: RawPtr, val: RawULong, mask: RawULong, flags: RawUInt,
                   timeout: RawTimespec, clockid: RawClockId) -> int:
    """wait on a futex"""
    st = t.call_state()
    if "futex_q" in st.data:
        return fu.futex_wait(t, uaddr, 0, val, st.deadline, mask)
    fl = fu.futex2_flags(flags)
    if val >> 32 or mask >> 32:
        raise KernelError(Errno.EINVAL)
    deadline = _futex2_deadline(t, timeout, clockid)
    return fu.futex_wait(t, uaddr, fl, val, deadline, mask)


@syscall()
def sys_futex_requeue(t: Task, waiters: RawWaitv, flags: RawUInt, nr_wake: RawInt, nr_requeue: RawInt) -> int:
    """wake some waiters of a futex and requeue others onto a second one"""
    if flags or not waiters:
        raise KernelError(Errno.EINVAL)
    w = _parse_waitv(t, waiters, 2)
    if w[0].flags != w[1].flags:
        raise KernelError(Errno.EINVAL)
    return fu.futex_requeue(t, w[0].uaddr, w[0].flags, w[1].uaddr, w[1].flags, nr_wake, nr_requeue, w[0].val)
