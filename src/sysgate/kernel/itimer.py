"""Interval timers: alarm, setitimer, getitimer.

Counterpart: kernel/time/itimer.c. ITIMER_REAL is a kernel timer (the scheduler's
add_timer) that sends SIGALRM to the process and re-arms itself with the interval.
The process's timers live in ThreadGroup.timers (a ProcTimers), shared by its threads
and not inherited across fork (Linux clears them in the child).
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from sysgate.argtypes import Arg, UInt, struct_in, struct_out
from sysgate.errors import KernelError
from sysgate.kernel.signal import send_signal
from sysgate.mm.uaccess import copy_from_user, copy_to_user
from sysgate.syscall import Support, syscall
from sysgate.uapi import signal as ls
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task, ThreadGroup

ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF = 0, 1, 2
ITIMERVAL = struct.Struct("<qqqq")  # it_interval {tv_sec, tv_usec}, it_value {tv_sec, tv_usec}
NSEC_PER_USEC = 1000
NSEC_PER_SEC = 1_000_000_000

ItimervalIn = Annotated[int, struct_in("struct __kernel_old_itimerval __user *", "itimerval")]
ItimervalOut = Annotated[int, struct_out("struct __kernel_old_itimerval __user *", "itimerval")]
Which = Annotated[int, Arg("int", 32, True, show="itimer_which")]


@dataclass(slots=True)
class RealTimer:
    """One interval timer: its expiry (CLOCK_MONOTONIC ns, 0 = disarmed) and interval."""

    expires: int = 0
    interval: int = 0
    handle: Any = None  # the scheduler's Timer while armed


@dataclass(slots=True)
class ProcTimers:
    """A process's timers (the itimer fields of signal_struct, and its POSIX timers)."""

    itimers: list[RealTimer] = field(default_factory=lambda: [RealTimer(), RealTimer(), RealTimer()])
    posix: dict[int, Any] = field(default_factory=dict)  # timer id -> posix_timers.KTimer
    next_id: int = 0


def proc_timers(g: ThreadGroup) -> ProcTimers:
    if not isinstance(g.timers, ProcTimers):
        g.timers = ProcTimers()
    return g.timers


def _target(g: ThreadGroup) -> Task | None:
    from sysgate.kernel.sched import TaskState

    return next((x for x in g.threads if x.state is not TaskState.DEAD), None)


def _arm(t: Task, g: ThreadGroup, timer: RealTimer) -> None:
    sched = t.kernel.sched

    def fire() -> None:  # it_real_fn: SIGALRM to the process, then the next period
        target = _target(g)
        timer.handle = None
        if target is None or g.group_exiting:
            timer.expires = 0
            return
        if timer.interval:
            timer.expires += timer.interval
            now = time.monotonic_ns()
            if timer.expires <= now:  # missed periods are not made up (hrtimer_forward)
                timer.expires = now + timer.interval - (now - timer.expires) % timer.interval
            timer.handle = sched.add_timer(timer.expires, fire)
        else:
            timer.expires = 0
        send_signal(target, ls.SIGALRM, ls.SI_KERNEL, group=True)

    timer.handle = sched.add_timer(timer.expires, fire)


def _get(timer: RealTimer, now: int) -> tuple[int, int]:
    """(remaining, interval) in ns; an expired timer that has not fired yet shows 1 µs,
    as Linux's itimer_get_remtime shows a timer that is about to fire."""
    if not timer.expires:
        return 0, timer.interval
    left = timer.expires - now
    return (left if left > 0 else NSEC_PER_USEC), timer.interval


def do_setitimer(t: Task, which: int, value: int, interval: int) -> tuple[int, int]:
    """Arm (value > 0) or disarm an interval timer; returns the old (value, interval)."""
    timers = proc_timers(t.group)
    if which not in (ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF):
        raise KernelError(Errno.EINVAL)
    timer = timers.itimers[which]
    now = time.monotonic_ns()
    old = _get(timer, now)
    if timer.handle is not None:
        timer.handle.cancel()
        timer.handle = None
    timer.expires = now + value if value else 0
    timer.interval = interval
    if which == ITIMER_REAL and value:
        _arm(t, t.group, timer)
    return old


def _timeval_ns(sec: int, usec: int) -> int:
    if sec < 0 or not 0 <= usec < 1_000_000:
        raise KernelError(Errno.EINVAL)
    return sec * NSEC_PER_SEC + usec * NSEC_PER_USEC


def _pack(value: int, interval: int) -> bytes:
    def tv(ns: int) -> tuple[int, int]:
        usec = (ns + NSEC_PER_USEC - 1) // NSEC_PER_USEC  # rounded up, as ns_to_timeval of a remainder
        return usec // 1_000_000, usec % 1_000_000

    return ITIMERVAL.pack(*tv(interval), *tv(value))


@syscall(support=Support.PARTIAL, note="ITIMER_VIRTUAL and ITIMER_PROF are kept and reported but never expire")
def sys_setitimer(t: Task, which: Which, value: ItimervalIn, ovalue: ItimervalOut) -> int:
    """set value of an interval timer"""
    if value:
        isec, iusec, vsec, vusec = ITIMERVAL.unpack(copy_from_user(t.mm, value, ITIMERVAL.size))
        new_interval, new_value = _timeval_ns(isec, iusec), _timeval_ns(vsec, vusec)
    else:
        new_interval = new_value = 0  # a NULL value disarms (Linux's old behaviour, kept)
    old = do_setitimer(t, which, new_value, new_interval)
    if ovalue:
        copy_to_user(t.mm, ovalue, _pack(*old))
    return 0


@syscall(support=Support.PARTIAL, note="ITIMER_VIRTUAL and ITIMER_PROF are kept and reported but never expire")
def sys_getitimer(t: Task, which: Which, value: ItimervalOut) -> int:
    """get value of an interval timer"""
    if which not in (ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF):
        raise KernelError(Errno.EINVAL)
    timer = proc_timers(t.group).itimers[which]
    copy_to_user(t.mm, value, _pack(*_get(timer, time.monotonic_ns())))
    return 0


@syscall()
def sys_alarm(t: Task, seconds: UInt) -> int:
    """set an alarm clock for delivery of a signal"""
    old, _ = do_setitimer(t, ITIMER_REAL, seconds * NSEC_PER_SEC, 0)
    # alarm_setitimer: whole seconds, rounded to nearest, and never 0 for a pending alarm.
    secs = (old + NSEC_PER_SEC // 2) // NSEC_PER_SEC
    if old and not secs:
        secs = 1
    return secs
