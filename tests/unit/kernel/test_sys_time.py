"""Clocks and sleeping: clock_gettime, clock_getres, gettimeofday, time, times, nanosleep,
clock_nanosleep (kernel/time/posix-timers.c, posix-cpu-timers.c, time.c, hrtimer.c)."""

from __future__ import annotations

import struct
import time

import pytest

from sysgate.kernel.task import Task
from sysgate.kernel.wait import Blocked
from sysgate.uapi import time as lt
from sysgate.uapi.errno import Errno
from tests.conftest import EDGE, KERNEL_ADDR, RO_PAGE, UNMAPPED, USER_BUF, sys
from tests.unit.guestmem import peek, peek1, poke
from tests.unit.hostsys import addr, cbuf, host_sys, linux_only

TS = USER_BUF + 0x100
BAD = (KERNEL_ADDR, UNMAPPED, RO_PAGE)
HOST = {lt.CLOCK_REALTIME: time.CLOCK_REALTIME, lt.CLOCK_MONOTONIC: time.CLOCK_MONOTONIC,
        lt.CLOCK_BOOTTIME: time.CLOCK_BOOTTIME, lt.CLOCK_TAI: time.CLOCK_TAI}
# Clocks whose availability does not depend on the machine (the alarm clocks need an RTC).
PORTABLE_IDS = [c for c in range(-1, 16) if c not in (lt.CLOCK_REALTIME_ALARM, lt.CLOCK_BOOTTIME_ALARM)]
COARSE = (lt.CLOCK_REALTIME_COARSE, lt.CLOCK_MONOTONIC_COARSE)


def cpuclock(pid: int, thread: bool, which: int = 2) -> int:
    """make_process_cpuclock / make_thread_cpuclock (include/linux/posix-timers.h)."""
    return ((~pid) << 3) | (4 if thread else 0) | which


def ns(sec_nsec: tuple[int, ...]) -> int:
    return sec_nsec[0] * 1_000_000_000 + sec_nsec[1]


@pytest.mark.parametrize("clock", sorted(HOST))
def test_clock_gettime_follows_the_host_clock(task: Task, clock: int) -> None:
    before = time.clock_gettime_ns(HOST[clock])
    assert sys(task, "clock_gettime", clock, TS) == 0
    after = time.clock_gettime_ns(HOST[clock])
    sec, nsec = peek(task, TS, "qq")
    assert 0 <= nsec < 1_000_000_000
    assert before <= sec * 1_000_000_000 + nsec <= after


@pytest.mark.parametrize("clock", COARSE)
def test_coarse_clocks_tick_in_jiffies(task: Task, clock: int) -> None:
    assert sys(task, "clock_gettime", clock, TS) == 0
    assert ns(peek(task, TS, "qq")) % 4_000_000 == 0
    assert sys(task, "clock_getres", clock, TS) == 0
    assert peek(task, TS, "qq") == (0, 4_000_000)  # TICK_NSEC at HZ=250


@pytest.mark.parametrize("clock", [lt.CLOCK_REALTIME, lt.CLOCK_MONOTONIC, lt.CLOCK_PROCESS_CPUTIME_ID,
                                   lt.CLOCK_THREAD_CPUTIME_ID, lt.CLOCK_MONOTONIC_RAW, lt.CLOCK_BOOTTIME,
                                   lt.CLOCK_TAI])
def test_clock_getres_of_high_resolution_clocks(task: Task, clock: int) -> None:
    assert sys(task, "clock_getres", clock, TS) == 0
    assert peek(task, TS, "qq") == (0, 1)


@pytest.mark.parametrize("which, res", [(0, 4_000_000), (1, 4_000_000), (2, 1)])
@pytest.mark.parametrize("thread", [False, True])
def test_cpu_clock_resolution(task: Task, which: int, res: int, thread: bool) -> None:
    """posix_cpu_clock_getres: 1/HZ for the PROF and VIRT clocks, 1 ns for the SCHED one."""
    assert sys(task, "clock_getres", cpuclock(0, thread, which), TS) == 0
    assert peek(task, TS, "qq") == (0, res)


@linux_only
@pytest.mark.parametrize("clock", [*PORTABLE_IDS, cpuclock(0, False, 0), cpuclock(0, False, 1),
                                   cpuclock(0, True, 0), cpuclock(0, True, 2)])
@pytest.mark.parametrize("name", ["clock_gettime", "clock_getres"])
def test_which_clocks_exist_matches_host(task: Task, name: str, clock: int) -> None:
    buf = cbuf(16)
    host = host_sys(name, clock, addr(buf))
    assert (sys(task, name, clock, TS) == 0) == (host == 0), host
    jiffy_based = clock in COARSE or (clock < 0 and clock & 3 != 2)  # the host's HZ may differ
    if name == "clock_getres" and host == 0 and not jiffy_based:
        assert peek(task, TS, "qq") == struct.unpack("<qq", buf.raw[:16])


def test_cpu_clocks_of_this_process(task: Task) -> None:
    for clock in (cpuclock(0, False), cpuclock(0, True), cpuclock(task.pid, False), cpuclock(task.tid, True),
                  cpuclock(0, False, 0), cpuclock(0, False, 1)):
        assert sys(task, "clock_gettime", clock, TS) == 0, clock
        assert ns(peek(task, TS, "qq")) <= time.clock_gettime_ns(time.CLOCK_PROCESS_CPUTIME_ID)


def test_cpu_clock_errors(task: Task) -> None:
    assert sys(task, "clock_gettime", cpuclock(0x7FFFF0, False), TS) == -Errno.EINVAL  # no such process
    assert sys(task, "clock_gettime", cpuclock(0, False, 3), TS) == -Errno.EINVAL  # a CLOCKFD clock
    assert sys(task, "clock_gettime", cpuclock(0, True, 3), TS) == -Errno.EINVAL  # CPUCLOCK_MAX


@pytest.mark.parametrize("clock", [10, 12, 16, 0x7FFFFFFF])
def test_invalid_clocks(task: Task, clock: int) -> None:
    assert sys(task, "clock_gettime", clock, TS) == -Errno.EINVAL
    assert sys(task, "clock_gettime", clock, KERNEL_ADDR) == -Errno.EINVAL  # before the copy
    assert sys(task, "clock_getres", clock, TS) == -Errno.EINVAL
    assert sys(task, "clock_getres", clock, 0) == -Errno.EINVAL


@pytest.mark.parametrize("bad", BAD)
def test_clock_efault(task: Task, bad: int) -> None:
    assert sys(task, "clock_gettime", lt.CLOCK_MONOTONIC, bad) == -Errno.EFAULT
    assert sys(task, "clock_getres", lt.CLOCK_MONOTONIC, bad) == -Errno.EFAULT
    assert sys(task, "clock_gettime", lt.CLOCK_MONOTONIC, EDGE + 0x1000 - 8) == -Errno.EFAULT


def test_clock_getres_accepts_null(task: Task) -> None:
    assert sys(task, "clock_getres", lt.CLOCK_MONOTONIC, 0) == 0


def test_gettimeofday(task: Task) -> None:
    before = time.time_ns() // 1000
    poke(task, TS + 16, "ii", 5, 6)
    assert sys(task, "gettimeofday", TS, TS + 16) == 0
    after = time.time_ns() // 1000
    sec, usec = peek(task, TS, "qq")
    assert 0 <= usec < 1_000_000
    assert before <= sec * 1_000_000 + usec <= after
    assert peek(task, TS + 16, "ii") == (0, 0)  # sys_tz: never set
    assert sys(task, "gettimeofday", 0, 0) == 0


@pytest.mark.parametrize("bad", BAD)
def test_gettimeofday_efault(task: Task, bad: int) -> None:
    assert sys(task, "gettimeofday", bad, 0) == -Errno.EFAULT
    assert sys(task, "gettimeofday", 0, bad) == -Errno.EFAULT
    assert sys(task, "gettimeofday", TS, bad) == -Errno.EFAULT


def test_time(task: Task) -> None:
    before = int(time.time())
    now = sys(task, "time", 0)
    assert before <= now <= int(time.time())
    now = sys(task, "time", TS)
    assert peek1(task, TS, "q") == now


@pytest.mark.parametrize("bad", BAD)
def test_time_efault(task: Task, bad: int) -> None:
    assert sys(task, "time", bad) == -Errno.EFAULT


def test_times(task: Task) -> None:
    first = sys(task, "times", 0)
    task.mm.write(TS, b"\xff" * 32)
    second = sys(task, "times", TS)
    assert 0 <= second - first <= 100  # clock ticks (USER_HZ = 100) since the first call
    utime, stime, cutime, cstime = peek(task, TS, "qqqq")
    assert 0 <= utime <= time.process_time() * 100 + 1
    assert (stime, cutime, cstime) == (0, 0, 0)


@pytest.mark.parametrize("bad", BAD)
def test_times_efault(task: Task, bad: int) -> None:
    assert sys(task, "times", bad) == -Errno.EFAULT


def sleeping(task: Task, name: str, *args: int) -> int:
    """Run a call that may wait as the scheduler would: on Blocked, sleep to its deadline
    (kernel/wait.py) and run it again."""
    while True:
        try:
            return sys(task, name, *args)
        except Blocked:
            st = task.call_state()
            assert st.deadline is not None, "a sleep waits with a deadline"
            time.sleep(max(0, st.deadline - time.monotonic_ns()) / 1e9)
            st.timed_out = True


def test_nanosleep_sleeps(task: Task) -> None:
    poke(task, TS, "qq", 0, 2_000_000)
    start = time.monotonic_ns()
    assert sleeping(task, "nanosleep", TS, 0) == 0
    assert time.monotonic_ns() - start >= 2_000_000


def test_nanosleep_does_not_touch_rmtp_when_not_interrupted(task: Task) -> None:
    """rmtp is written only when a signal interrupts the sleep (hrtimer_nanosleep)."""
    poke(task, TS, "qq", 0, 1000)
    assert sys(task, "nanosleep", TS, KERNEL_ADDR) == 0


@pytest.mark.parametrize("sec, nsec", [(-1, 0), (0, -1), (0, 1_000_000_000), (-(1 << 63), 0)])
def test_nanosleep_invalid_timespec(task: Task, sec: int, nsec: int) -> None:
    poke(task, TS, "qq", sec, nsec)
    assert sys(task, "nanosleep", TS, 0) == -Errno.EINVAL
    assert sys(task, "clock_nanosleep", lt.CLOCK_MONOTONIC, 0, TS, 0) == -Errno.EINVAL


@pytest.mark.parametrize("bad", [KERNEL_ADDR, UNMAPPED, EDGE + 0x1000 - 8])
def test_nanosleep_efault(task: Task, bad: int) -> None:
    assert sys(task, "nanosleep", bad, 0) == -Errno.EFAULT
    assert sys(task, "clock_nanosleep", lt.CLOCK_MONOTONIC, 0, bad, 0) == -Errno.EFAULT


@pytest.mark.parametrize("clock", [lt.CLOCK_REALTIME, lt.CLOCK_MONOTONIC, lt.CLOCK_BOOTTIME, lt.CLOCK_TAI])
def test_clock_nanosleep_relative_and_absolute(task: Task, clock: int) -> None:
    poke(task, TS, "qq", 0, 1_000_000)
    start = time.monotonic_ns()
    assert sleeping(task, "clock_nanosleep", clock, 0, TS, KERNEL_ADDR) == 0
    assert time.monotonic_ns() - start >= 1_000_000
    poke(task, TS, "qq", 0, 0)  # long past
    assert sys(task, "clock_nanosleep", clock, lt.TIMER_ABSTIME, TS, 0) == 0
    assert sys(task, "clock_gettime", clock, TS) == 0
    sec, nsec = peek(task, TS, "qq")
    poke(task, TS, "qq", sec, nsec + 1_000_000 if nsec < 999_000_000 else nsec)
    assert sleeping(task, "clock_nanosleep", clock, lt.TIMER_ABSTIME, TS, 0) == 0
    assert sys(task, "clock_gettime", clock, TS + 16) == 0
    assert ns(peek(task, TS + 16, "qq")) >= ns(peek(task, TS, "qq"))


def test_clock_nanosleep_on_the_process_cpu_clock(task: Task) -> None:
    poke(task, TS, "qq", 0, 0)
    assert sys(task, "clock_nanosleep", lt.CLOCK_PROCESS_CPUTIME_ID, lt.TIMER_ABSTIME, TS, 0) == 0
    assert sys(task, "clock_nanosleep", lt.CLOCK_PROCESS_CPUTIME_ID, 0, TS, 0) == 0
    assert sys(task, "clock_nanosleep", cpuclock(0, False), 0, TS, 0) == 0


@pytest.mark.parametrize("clock, errno", [
    (10, Errno.EINVAL), (12, Errno.EINVAL), (0x7FFFFFFF, Errno.EINVAL), (cpuclock(0, False, 3), Errno.EOPNOTSUPP),
    (lt.CLOCK_MONOTONIC_RAW, Errno.EOPNOTSUPP), (lt.CLOCK_REALTIME_COARSE, Errno.EOPNOTSUPP),
    (lt.CLOCK_MONOTONIC_COARSE, Errno.EOPNOTSUPP),
    (lt.CLOCK_THREAD_CPUTIME_ID, Errno.EOPNOTSUPP),  # clock_thread has no nsleep
])
def test_clock_nanosleep_clock_errors_come_before_the_timespec(task: Task, clock: int, errno: Errno) -> None:
    assert sys(task, "clock_nanosleep", clock, 0, UNMAPPED, 0) == -errno


def test_clock_nanosleep_on_own_thread_clock(task: Task) -> None:
    """posix_cpu_nsleep refuses the caller's thread clock, after reading the timespec."""
    poke(task, TS, "qq", 0, 0)
    for clock in (cpuclock(0, True), cpuclock(task.tid, True)):
        assert sys(task, "clock_nanosleep", clock, 0, TS, 0) == -Errno.EINVAL
        assert sys(task, "clock_nanosleep", clock, 0, UNMAPPED, 0) == -Errno.EFAULT


@linux_only
@pytest.mark.parametrize("clock", [*PORTABLE_IDS, cpuclock(0, True), cpuclock(0, False), cpuclock(0, False, 3)])
@pytest.mark.parametrize("valid", [True, False])
def test_clock_nanosleep_errors_match_host(task: Task, clock: int, valid: bool) -> None:
    ts = cbuf(struct.pack("<qq", 0, 0))
    poke(task, TS, "qq", 0, 0)
    host = host_sys("clock_nanosleep", clock, lt.TIMER_ABSTIME, addr(ts) if valid else 0x10, 0)
    ours = sys(task, "clock_nanosleep", clock, lt.TIMER_ABSTIME, TS if valid else UNMAPPED, 0)
    assert ours == host


@linux_only
def test_nanosleep_errors_match_host(task: Task) -> None:
    for sec, nsec in [(0, 0), (-1, 0), (0, 1_000_000_000), (0, -1)]:
        ts = cbuf(struct.pack("<qq", sec, nsec))
        poke(task, TS, "qq", sec, nsec)
        assert sys(task, "nanosleep", TS, 0) == host_sys("nanosleep", addr(ts), 0)
    assert sys(task, "nanosleep", UNMAPPED, 0) == host_sys("nanosleep", 0x10, 0)


# -- interrupted sleeps (hrtimer_nanosleep, do_nanosleep) ------------------------------------


def _interrupt(task: Task) -> None:
    task.sigpending = True  # a signal arrived while the call waited


def test_nanosleep_interrupted_writes_rem_and_restarts_to_the_same_expiry(task: Task) -> None:
    poke(task, TS, "qq", 5, 0)
    with pytest.raises(Blocked):
        sys(task, "nanosleep", TS, TS + 16)
    _interrupt(task)
    assert sys(task, "nanosleep", TS, TS + 16) == -Errno.ERESTART_RESTARTBLOCK
    sec, nsec = peek(task, TS + 16, "qq")
    assert 4 <= sec <= 5 and 0 <= nsec < 1_000_000_000
    assert task.restart_block is not None
    task.sigpending = False
    with pytest.raises(Blocked):  # restart_syscall sleeps on
        sys(task, "restart_syscall")
    _interrupt(task)
    assert sys(task, "restart_syscall") == -Errno.ERESTART_RESTARTBLOCK
    assert ns(peek(task, TS + 16, "qq")) <= sec * 1_000_000_000 + nsec


def test_nanosleep_interrupted_rem_efault(task: Task) -> None:
    poke(task, TS, "qq", 5, 0)
    _interrupt(task)
    assert sys(task, "nanosleep", TS, KERNEL_ADDR) == -Errno.EFAULT


def test_absolute_clock_nanosleep_interrupted_restarts_without_rem(task: Task) -> None:
    assert sys(task, "clock_gettime", lt.CLOCK_MONOTONIC, TS) == 0
    sec, nsec = peek(task, TS, "qq")
    poke(task, TS, "qq", sec + 5, nsec)
    poke(task, TS + 16, "qq", 7, 7)
    _interrupt(task)
    assert sys(task, "clock_nanosleep", lt.CLOCK_MONOTONIC, lt.TIMER_ABSTIME, TS, TS + 16) == -Errno.ERESTARTNOHAND
    assert peek(task, TS + 16, "qq") == (7, 7)


def test_restart_syscall_without_a_restart_is_eintr(task: Task) -> None:
    assert sys(task, "restart_syscall") == -Errno.EINTR
