"""timerfd_create, timerfd_settime, timerfd_gettime: timers that notify through a file.

Counterpart: fs/timerfd.c. The timer is a kernel timer (kernel.sched.add_timer, on
CLOCK_MONOTONIC); an expiry adds a tick and wakes the readers. As in Linux the timer
fires once and a periodic one is moved forward (hrtimer_forward_now) when it is read or
its time is asked for, adding the intervals that passed as further ticks. A read returns
the ticks as a u64 and resets them, and waits while there are none.

CLOCK_REALTIME times are turned into CLOCK_MONOTONIC ones when the timer is set (a
later change of the host's wall clock does not move the timer, and
TFD_TIMER_CANCEL_ON_SET is accepted but never cancels: sysgate's guest cannot set the
clock). The alarm clocks need CAP_WAKE_ALARM (EPERM otherwise) and then behave as
their plain clocks; TFD_IOC_SET_TICKS is not implemented (ENOTTY).
"""

from __future__ import annotations

import struct
import time
from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import Arg, ClockId, IntFd, struct_in, struct_out
from sysgate.errors import KernelError
from sysgate.fs.anon_inodes import AnonFile
from sysgate.fs.file import PollWait
from sysgate.kernel.sched import Timer
from sysgate.kernel.wait import WaitQueue, block
from sysgate.mm.uaccess import copy_from_user, copy_to_user
from sysgate.syscall import syscall
from sysgate.uapi import poll as P
from sysgate.uapi import time as lt
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.kernel import Kernel
    from sysgate.kernel.task import Task

ITIMERSPEC = struct.Struct("<qqqq")
"""struct __kernel_itimerspec: it_interval, then it_value."""
NSEC_PER_SEC = 1_000_000_000
TfdCreateFlags = Annotated[int, Arg("int", 32, True, show="tfd_create_flags")]
TfdSetFlags = Annotated[int, Arg("int", 32, True, show="tfd_settime_flags")]
ItimerIn = Annotated[int, struct_in("const struct __kernel_itimerspec __user *", "itimerspec")]
ItimerOut = Annotated[int, struct_out("struct __kernel_itimerspec __user *", "itimerspec")]

_HOST_CLOCK = {
    lt.CLOCK_REALTIME: time.CLOCK_REALTIME,
    lt.CLOCK_MONOTONIC: time.CLOCK_MONOTONIC,
    lt.CLOCK_BOOTTIME: getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC),
    lt.CLOCK_REALTIME_ALARM: time.CLOCK_REALTIME,
    lt.CLOCK_BOOTTIME_ALARM: getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC),
}
_ALARM = {lt.CLOCK_REALTIME_ALARM, lt.CLOCK_BOOTTIME_ALARM}


class TimerFd(AnonFile):
    """struct timerfd_ctx and its file."""

    name = "timerfd"

    def __init__(self, kernel: Kernel, clockid: int, flags: int) -> None:
        super().__init__(flags)
        self.kernel = kernel
        self.clockid = clockid
        self.expires = 0  # CLOCK_MONOTONIC ns of the next expiry; 0: disarmed
        self.interval = 0
        self.ticks = 0
        self.expired = False
        self.timer: Timer | None = None
        self.wqh = WaitQueue()
        self.seq = 0
        self.settime_flags = 0

    def _arm(self, when: int) -> None:
        self.expires = when
        self.timer = self.kernel.sched.add_timer(when, self._fire)

    def _cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _fire(self) -> None:
        """timerfd_tmrproc: one more tick, and the readers wake."""
        self.timer = None
        self.expired = True
        self.ticks += 1
        self.seq += 1
        if self.wqh:
            self.wqh.wake_up()

    def _forward(self) -> None:
        """hrtimer_forward_now for a periodic timer that fired: the intervals that passed
        are ticks too, and the timer is set for the next one."""
        if self.expired and self.interval:
            now = time.monotonic_ns()
            overrun = 0
            if now >= self.expires:
                overrun = (now - self.expires) // self.interval + 1
            self.expired = False
            self.ticks += max(overrun, 1) - 1
            self._arm(self.expires + max(overrun, 1) * self.interval)

    def settime(self, flags: int, interval: int, value: int) -> tuple[int, int]:
        old = self.gettime()
        self._cancel()
        self.expired = False
        self.ticks = 0
        self.interval = interval
        self.settime_flags = flags
        self.expires = 0
        if value:
            if flags & P.TFD_TIMER_ABSTIME:
                now = time.clock_gettime_ns(_HOST_CLOCK[self.clockid])
                when = time.monotonic_ns() + (value - now)
            else:
                when = time.monotonic_ns() + value
            self._arm(when)
        return old

    def gettime(self) -> tuple[int, int]:
        """(interval, remaining) in ns, as timerfd_gettime reports them."""
        self._forward()
        remaining = max(0, self.expires - time.monotonic_ns()) if self.expires else 0
        return self.interval, remaining

    def do_read(self, t: Task, count: int, nonblock: bool) -> bytes:
        if count < 8:
            raise KernelError(Errno.EINVAL)
        if not self.ticks:
            if nonblock:
                raise KernelError(Errno.EAGAIN)
            block(t, queues=[self.wqh])
        self._forward()
        ticks, self.ticks = self.ticks, 0
        return ticks.to_bytes(8, "little")

    def poll(self, t: Task | None) -> int:
        return P.EPOLLIN if self.ticks else 0

    def poll_wait(self) -> PollWait:
        return [self.wqh], []

    def poll_seq(self) -> int:
        return self.seq

    def release(self) -> None:
        self._cancel()


def _timerfd(t: Task, ufd: int) -> TimerFd:
    f = t.files.get(ufd)
    if not isinstance(f, TimerFd):
        raise KernelError(Errno.EINVAL)
    return f


def _pack(interval: int, value: int) -> bytes:
    return ITIMERSPEC.pack(*divmod(interval, NSEC_PER_SEC), *divmod(value, NSEC_PER_SEC))


@syscall(ret="fd")
def sys_timerfd_create(t: Task, clockid: ClockId, flags: TfdCreateFlags) -> int:
    """create a timer that notifies via a file descriptor"""
    if flags & ~(P.TFD_CLOEXEC | P.TFD_NONBLOCK) or clockid not in _HOST_CLOCK:
        raise KernelError(Errno.EINVAL)
    if clockid in _ALARM and not t.cred.capable():
        raise KernelError(Errno.EPERM)
    fd = t.files.alloc_fd(0, t.group.nofile())
    return t.files.install(fd, TimerFd(t.kernel, clockid, flags), bool(flags & P.TFD_CLOEXEC))


@syscall()
def sys_timerfd_settime(t: Task, ufd: IntFd, flags: TfdSetFlags, utmr: ItimerIn, otmr: ItimerOut) -> int:
    """arm or disarm a timer that notifies via a file descriptor"""
    isec, insec, vsec, vnsec = ITIMERSPEC.unpack(copy_from_user(t.mm, utmr, ITIMERSPEC.size))
    if flags & ~(P.TFD_TIMER_ABSTIME | P.TFD_TIMER_CANCEL_ON_SET):
        raise KernelError(Errno.EINVAL)
    if min(isec, vsec) < 0 or not 0 <= insec < NSEC_PER_SEC or not 0 <= vnsec < NSEC_PER_SEC:
        raise KernelError(Errno.EINVAL)  # itimerspec64_valid
    f = _timerfd(t, ufd)
    if f.clockid in _ALARM and not t.cred.capable():
        raise KernelError(Errno.EPERM)
    old = f.settime(flags, isec * NSEC_PER_SEC + insec, vsec * NSEC_PER_SEC + vnsec)
    if otmr:
        copy_to_user(t.mm, otmr, _pack(*old))
    return 0


@syscall()
def sys_timerfd_gettime(t: Task, ufd: IntFd, otmr: ItimerOut) -> int:
    """get the time of a timer that notifies via a file descriptor"""
    f = _timerfd(t, ufd)
    copy_to_user(t.mm, otmr, _pack(*f.gettime()))
    return 0
