"""POSIX timers: timer_create, timer_settime, timer_gettime, timer_getoverrun, timer_delete.

Counterpart: kernel/time/posix-timers.c (with the hrtimer-based clocks). A timer is a
kernel timer (the scheduler's add_timer) on CLOCK_MONOTONIC; a CLOCK_REALTIME absolute
expiry is converted once, when the timer is set. On expiry it queues its signal
(SIGEV_SIGNAL to the process, SIGEV_THREAD_ID to one thread, nothing for SIGEV_NONE)
with si_code SI_TIMER, si_timerid, si_overrun and si_value; while that signal is still
pending, further expiries count as overruns instead of queueing again.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from sysgate.argtypes import OUT, Arg, ClockId, UserPtr, struct_in, struct_out
from sysgate.errors import KernelError
from sysgate.kernel.itimer import proc_timers
from sysgate.kernel.sched import TaskState
from sysgate.kernel.signal import SigInfo, send_signal
from sysgate.kernel.sys_time import clock_now
from sysgate.mm.uaccess import copy_from_user, copy_to_user
from sysgate.syscall import Support, syscall
from sysgate.uapi import signal as ls
from sysgate.uapi import time as lt
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD, SIGEV_THREAD_ID = 0, 1, 2, 4
SIGEVENT = struct.Struct("<QiiI44x")  # sigev_value, sigev_signo, sigev_notify, _tid (64 bytes)
ITIMERSPEC = struct.Struct("<qqqq")  # it_interval {sec, nsec}, it_value {sec, nsec}
_TIMER_CLOCKS = {lt.CLOCK_REALTIME, lt.CLOCK_MONOTONIC, lt.CLOCK_BOOTTIME, lt.CLOCK_TAI}
NSEC = 1_000_000_000

SigeventIn = Annotated[int, struct_in("struct sigevent __user *", "sigevent")]
TimerIdOut = Annotated[int, UserPtr("timer_t __user *", show="timer_id", direction=OUT)]
TimerT = Annotated[int, Arg("timer_t", 32, True)]
TimerFlags = Annotated[int, Arg("int", 32, True, show="timer_flags")]
ItimerspecIn = Annotated[int, struct_in("const struct __kernel_itimerspec __user *", "itimerspec")]
ItimerspecOut = Annotated[int, struct_out("struct __kernel_itimerspec __user *", "itimerspec")]


@dataclass(slots=True)
class KTimer:
    """struct k_itimer."""

    id: int
    clock: int
    notify: int
    signo: int
    value: int  # sigev_value
    target_tid: int  # SIGEV_THREAD_ID's thread
    expires: int = 0  # CLOCK_MONOTONIC ns; 0 = disarmed
    interval: int = 0
    overrun: int = 0  # expiries while the signal was pending
    overrun_last: int = 0  # what timer_getoverrun reports (at the last delivery)
    queued: SigInfo | None = None
    handle: Any = None


def _timer(t: Task, timer_id: int) -> KTimer:
    k = proc_timers(t.group).posix.get(timer_id)
    if not isinstance(k, KTimer):
        raise KernelError(Errno.EINVAL)
    return k


def _timer_siginfo(k: KTimer) -> SigInfo:
    raw = bytearray(128)
    struct.pack_into("<iiiiiiQ", raw, 0, k.signo, 0, ls.SI_TIMER, 0, k.id, k.overrun_last, k.value)
    return SigInfo(k.signo, ls.SI_TIMER, raw=bytes(raw))


@syscall(support=Support.PARTIAL, note="CPU-time clocks and the *_ALARM clocks are refused (EINVAL)")
def sys_timer_create(t: Task, which_clock: ClockId, timer_event_spec: SigeventIn, created_timer_id: TimerIdOut) -> int:
    """create a POSIX per-process timer"""
    timers = proc_timers(t.group)
    if timer_event_spec:
        value, signo, notify, tid = SIGEVENT.unpack(copy_from_user(t.mm, timer_event_spec, SIGEVENT.size))
    else:
        value, signo, notify, tid = timers.next_id, ls.SIGALRM, SIGEV_SIGNAL, 0
    if which_clock not in _TIMER_CLOCKS:
        raise KernelError(Errno.EINVAL)
    if notify == SIGEV_SIGNAL | SIGEV_THREAD_ID:
        target = t.kernel.tasks.get(tid)
        if target is None or target.group is not t.group:
            raise KernelError(Errno.EINVAL)
    if notify in (SIGEV_SIGNAL, SIGEV_THREAD, SIGEV_SIGNAL | SIGEV_THREAD_ID):
        if not 0 < signo <= ls.SIGRTMAX:
            raise KernelError(Errno.EINVAL)
    elif notify != SIGEV_NONE:
        raise KernelError(Errno.EINVAL)
    k = KTimer(timers.next_id, which_clock, notify, signo, value if timer_event_spec else timers.next_id, tid)
    copy_to_user(t.mm, created_timer_id, k.id.to_bytes(4, "little", signed=True))
    timers.posix[k.id] = k
    timers.next_id += 1
    return 0


def _fire(t: Task, k: KTimer) -> None:
    """posix_timer_fn: queue the signal (or count an overrun), then re-arm."""
    g = t.group
    k.handle = None
    if k.interval:
        k.expires += k.interval
        now = time.monotonic_ns()
        if k.expires <= now:
            missed = (now - k.expires) // k.interval + 1
            k.overrun += missed
            k.expires += missed * k.interval
        k.handle = t.kernel.sched.add_timer(k.expires, lambda: _fire(t, k))
    else:
        k.expires = 0
    if k.notify == SIGEV_NONE or g.group_exiting:
        return
    pending_infos = [i for q in (g.shared_info, *(x.pending_info for x in g.threads)) for i in q.get(k.signo, [])]
    if k.queued is not None and any(i is k.queued for i in pending_infos):
        k.overrun += 1
        return
    k.overrun_last, k.overrun = k.overrun, 0
    info = _timer_siginfo(k)
    k.queued = info
    if k.notify & SIGEV_THREAD_ID:
        target = t.kernel.tasks.get(k.target_tid)
        if target is not None and target.state is not TaskState.DEAD:
            send_signal(target, k.signo, ls.SI_TIMER, info=info)
        return
    live = next((x for x in g.threads if x.state is not TaskState.DEAD), None)
    if live is not None:
        send_signal(live, k.signo, ls.SI_TIMER, info=info, group=True)


def _spec(k: KTimer, now: int) -> bytes:
    left = max(k.expires - now, 1) if k.expires else 0
    return ITIMERSPEC.pack(k.interval // NSEC, k.interval % NSEC, left // NSEC, left % NSEC)


@syscall()
def sys_timer_settime(t: Task, timer_id: TimerT, flags: TimerFlags, new_setting: ItimerspecIn,
                      old_setting: ItimerspecOut) -> int:
    """arm/disarm state of per-process timer"""
    if not new_setting:
        raise KernelError(Errno.EINVAL)
    isec, insec, vsec, vnsec = ITIMERSPEC.unpack(copy_from_user(t.mm, new_setting, ITIMERSPEC.size))
    if not (0 <= insec < NSEC and 0 <= vnsec < NSEC and isec >= 0 and vsec >= 0):
        raise KernelError(Errno.EINVAL)
    k = _timer(t, timer_id)
    now = time.monotonic_ns()
    old = _spec(k, now)
    if k.handle is not None:
        k.handle.cancel()
        k.handle = None
    value = vsec * NSEC + vnsec
    k.interval = isec * NSEC + insec
    k.overrun = 0
    if value:
        if flags & lt.TIMER_ABSTIME:
            value -= clock_now(t, k.clock)
        k.expires = now + max(value, 0)
        k.handle = t.kernel.sched.add_timer(k.expires, lambda: _fire(t, k))
    else:
        k.expires = 0
    if old_setting:
        copy_to_user(t.mm, old_setting, old)
    return 0


@syscall()
def sys_timer_gettime(t: Task, timer_id: TimerT, setting: ItimerspecOut) -> int:
    """fetch state of per-process timer"""
    k = _timer(t, timer_id)
    copy_to_user(t.mm, setting, _spec(k, time.monotonic_ns()))
    return 0


@syscall()
def sys_timer_getoverrun(t: Task, timer_id: TimerT) -> int:
    """get overrun count for a per-process timer"""
    return _timer(t, timer_id).overrun_last


@syscall()
def sys_timer_delete(t: Task, timer_id: TimerT) -> int:
    """delete a POSIX per-process timer"""
    k = _timer(t, timer_id)
    if k.handle is not None:
        k.handle.cancel()
    del proc_timers(t.group).posix[timer_id]
    return 0
