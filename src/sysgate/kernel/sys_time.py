"""Clocks and sleeping: clock_gettime, clock_getres, gettimeofday, time, times,
nanosleep, clock_nanosleep (interruptible, with restart_syscall).

Counterpart: kernel/time/posix-timers.c, posix-stubs.c, time.c, hrtimer.c and
posix-cpu-timers.c. The wall and monotonic clocks are the host's (translated by
name); the CPU-time clocks of the calling process count the sysgate process, that is
the guest's work plus its emulation.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

from sysgate.arch.x86_64.structs import TIMESPEC, TIMEZONE, TMS, pack_timespec, pack_timeval
from sysgate.argtypes import OUT, Arg, ClockId, UserPtr, struct_in, struct_out
from sysgate.errors import KernelError
from sysgate.kernel.wait import block, signal_pending
from sysgate.mm.uaccess import copy_from_user, copy_to_user, put_user_s64
from sysgate.syscall import Support, syscall
from sysgate.uapi import time as lt
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

TimespecOut = Annotated[int, struct_out("struct __kernel_timespec __user *", "timespec")]
TimespecIn = Annotated[int, struct_in("const struct __kernel_timespec __user *", "timespec")]
TimevalOut = Annotated[int, struct_out("struct __kernel_old_timeval __user *", "timeval")]
TimezoneOut = Annotated[int, struct_out("struct timezone __user *", "timezone")]
TimeOut = Annotated[int, UserPtr("__kernel_old_time_t __user *", show="time_t", direction=OUT)]
TmsOut = Annotated[int, struct_out("struct tms __user *", "tms")]
RemainOut = Annotated[int, UserPtr("struct __kernel_timespec __user *", show="timespec_rem", direction=OUT,
                                   struct="timespec")]
"""The remaining time of an interrupted sleep (strace shows it only then)."""
ClockFlags = Annotated[int, Arg("int", 32, True, show="clock_flags")]

_HOST = {
    lt.CLOCK_REALTIME: time.CLOCK_REALTIME,
    lt.CLOCK_MONOTONIC: time.CLOCK_MONOTONIC,
    lt.CLOCK_PROCESS_CPUTIME_ID: time.CLOCK_PROCESS_CPUTIME_ID,
    lt.CLOCK_THREAD_CPUTIME_ID: time.CLOCK_PROCESS_CPUTIME_ID,
    lt.CLOCK_MONOTONIC_RAW: getattr(time, "CLOCK_MONOTONIC_RAW", time.CLOCK_MONOTONIC),
    lt.CLOCK_REALTIME_COARSE: time.CLOCK_REALTIME,
    lt.CLOCK_MONOTONIC_COARSE: time.CLOCK_MONOTONIC,
    lt.CLOCK_BOOTTIME: getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC),
    lt.CLOCK_REALTIME_ALARM: time.CLOCK_REALTIME,
    lt.CLOCK_BOOTTIME_ALARM: getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC),
    lt.CLOCK_TAI: getattr(time, "CLOCK_TAI", time.CLOCK_REALTIME),
}
_COARSE = {lt.CLOCK_REALTIME_COARSE, lt.CLOCK_MONOTONIC_COARSE}
_NO_NSLEEP = {lt.CLOCK_THREAD_CPUTIME_ID, lt.CLOCK_MONOTONIC_RAW, lt.CLOCK_REALTIME_COARSE,
              lt.CLOCK_MONOTONIC_COARSE}
"""Clocks whose k_clock has no nsleep: clock_nanosleep gives EOPNOTSUPP before reading rqtp."""
CLOCKFD = 3
"""include/linux/posix-timers.h: a negative id with (id & 7) == CLOCKFD names a dynamic
(fd) clock, which has no nsleep either."""
TICK_NSEC = 4_000_000
"""One jiffy at Debian's HZ=250: the resolution of the coarse clocks."""
CPUCLOCK_SCHED = 2


def _cpu_clock(t: Task, clock: int) -> int:
    """A negative clockid names a CPU clock (posix-cpu-timers.c); EINVAL unless it is ours."""
    pid = ~(clock >> 3) if clock < 0 else 0
    kind = clock & 3
    if kind == 3 or (pid and pid not in (t.pid, t.tid)):
        raise KernelError(Errno.EINVAL)
    return time.CLOCK_PROCESS_CPUTIME_ID


def clock_now(t: Task, clock: int) -> int:
    """The time of `clock` in nanoseconds, or EINVAL for an invalid clock."""
    host = _HOST.get(clock) if clock >= 0 else _cpu_clock(t, clock)
    if host is None:
        raise KernelError(Errno.EINVAL)
    ns = time.clock_gettime_ns(host)
    if clock in _COARSE:
        ns -= ns % TICK_NSEC
    return ns


def get_timespec(t: Task, addr: int) -> tuple[int, int]:
    return TIMESPEC.unpack(copy_from_user(t.mm, addr, TIMESPEC.size))


def timespec_valid(sec: int, nsec: int) -> bool:
    return sec >= 0 and 0 <= nsec < lt.NSEC_PER_SEC


@syscall()
def sys_clock_gettime(t: Task, which_clock: ClockId, tp: TimespecOut) -> int:
    """retrieve the time of the specified clock"""
    copy_to_user(t.mm, tp, pack_timespec(clock_now(t, which_clock)))
    return 0


@syscall()
def sys_clock_getres(t: Task, which_clock: ClockId, tp: TimespecOut) -> int:
    """find the resolution (precision) of the specified clock"""
    clock_now(t, which_clock)  # validates the clock
    # posix_cpu_clock_getres: a CPU clock ticks in jiffies unless it is the scheduler's.
    coarse = which_clock in _COARSE or (which_clock < 0 and which_clock & 3 != CPUCLOCK_SCHED)
    if tp:
        copy_to_user(t.mm, tp, pack_timespec(TICK_NSEC if coarse else 1))
    return 0


@syscall()
def sys_gettimeofday(t: Task, tv: TimevalOut, tz: TimezoneOut) -> int:
    """get time"""
    if tv:
        copy_to_user(t.mm, tv, pack_timeval(time.time_ns()))
    if tz:
        copy_to_user(t.mm, tz, TIMEZONE.pack(0, 0))
    return 0


@syscall(ret="time")
def sys_time(t: Task, tloc: TimeOut) -> int:
    """get time in seconds"""
    now = time.time_ns() // lt.NSEC_PER_SEC
    if tloc:
        put_user_s64(t.mm, tloc, now)
    return now


@syscall(support=Support.PARTIAL,
         note="CPU times are those of the sysgate process; children's times are zero")
def sys_times(t: Task, tbuf: TmsOut) -> int:
    """get process times"""
    if tbuf:
        ticks = int(time.process_time() * 100)
        copy_to_user(t.mm, tbuf, TMS.pack(ticks, 0, 0, 0))
    # jiffies since boot in clock ticks, from INITIAL_JIFFIES as Linux counts them (HZ=250).
    boot = time.clock_gettime_ns(_HOST[lt.CLOCK_BOOTTIME])
    return (((1 << 32) - 300 * 250) * 100 // 250 + boot * 100 // lt.NSEC_PER_SEC) & ((1 << 64) - 1)


def do_nanosleep(t: Task, clock: int, expires: int, rmtp: int, absolute: bool) -> int:
    """Sleep until `expires` on `clock` (hrtimer_nanosleep, do_nanosleep).

    A signal ends the sleep with -ERESTART_RESTARTBLOCK after the remaining time is
    written to `rmtp`, and restart_syscall then sleeps on to the same expiry (an absolute
    sleep simply restarts: -ERESTARTNOHAND). The sleep itself is a wait with a deadline
    (sysgate.kernel.wait), so other tasks run meanwhile."""
    now = clock_now(t, clock)
    if now >= expires:
        return 0
    if signal_pending(t):
        if absolute:
            raise KernelError(Errno.ERESTARTNOHAND)
        if rmtp:
            copy_to_user(t.mm, rmtp, pack_timespec(expires - now))
        t.restart_block = lambda tt: do_nanosleep(tt, clock, expires, rmtp, False)
        raise KernelError(Errno.ERESTART_RESTARTBLOCK)
    block(t, deadline=time.monotonic_ns() + (expires - now), restart=Errno.ERESTART_RESTARTBLOCK)


@syscall()
def sys_nanosleep(t: Task, rqtp: TimespecIn, rmtp: RemainOut) -> int:
    """high-resolution sleep"""
    st = t.call_state()
    if "expires" not in st.data:
        sec, nsec = get_timespec(t, rqtp)
        if not timespec_valid(sec, nsec):
            raise KernelError(Errno.EINVAL)
        t.restart_block = None
        st.data["expires"] = clock_now(t, lt.CLOCK_MONOTONIC) + sec * lt.NSEC_PER_SEC + nsec
    return do_nanosleep(t, lt.CLOCK_MONOTONIC, st.data["expires"], rmtp, False)


@syscall()
def sys_clock_nanosleep(t: Task, which_clock: ClockId, flags: ClockFlags, rqtp: TimespecIn,
                        rmtp: RemainOut) -> int:
    """high-resolution sleep with specifiable clock"""
    st = t.call_state()
    absolute = bool(flags & lt.TIMER_ABSTIME)
    if "expires" not in st.data:
        st.data["expires"] = _clock_nanosleep_expiry(t, which_clock, flags, rqtp)
        t.restart_block = None
    return do_nanosleep(t, which_clock, st.data["expires"], 0 if absolute else rmtp, absolute)


def _clock_nanosleep_expiry(t: Task, which_clock: int, flags: int, rqtp: int) -> int:
    if which_clock >= 0 and which_clock not in _HOST:
        raise KernelError(Errno.EINVAL)
    if which_clock in _NO_NSLEEP or (which_clock < 0 and which_clock & 7 == CLOCKFD):
        raise KernelError(Errno.EOPNOTSUPP)
    sec, nsec = get_timespec(t, rqtp)
    if not timespec_valid(sec, nsec):
        raise KernelError(Errno.EINVAL)
    if which_clock < 0:
        # posix_cpu_nsleep, after the timespec: the caller's own thread clock is refused
        # (CPUCLOCK_PERTHREAD with pid 0 or its tid), then the clock is looked up.
        if which_clock & 4 and ~(which_clock >> 3) in (0, t.tid):
            raise KernelError(Errno.EINVAL)
        _cpu_clock(t, which_clock)
    if which_clock in (lt.CLOCK_REALTIME_ALARM, lt.CLOCK_BOOTTIME_ALARM) and not t.cred.capable():
        raise KernelError(Errno.EPERM)
    target = sec * lt.NSEC_PER_SEC + nsec
    if not flags & lt.TIMER_ABSTIME:
        target += clock_now(t, which_clock)
    return target
