"""Clock and time calls traced as strace 6.1 prints them (strings checked against the
host's strace on static C programs calling syscall(2) directly)."""

from __future__ import annotations

import re
import struct
from datetime import datetime

import pytest

from sysgate.syscall import REGISTRY
from sysgate.trace.decoders.time import print_clock_t, sprinttime
from sysgate.trace.options import parse
from sysgate.trace.printers import PRINTERS, Ctx
from sysgate.uapi import time as lt
from tests.conftest import UNMAPPED, USER_BUF
from tests.unit.trace.conftest import line, traced

TS = USER_BUF + 0x100
OUT = USER_BUF + 0x200


def put_timespec(task, addr: int, sec: int, nsec: int) -> int:
    task.mm.write(addr, struct.pack("<qq", sec, nsec))
    return addr


def timespec_at(task, addr: int) -> str:
    sec, nsec = struct.unpack("<qq", task.mm.read(addr, 16))
    return f"{{tv_sec={sec}, tv_nsec={nsec}}}"



def iso(sec: int) -> str:
    """The date strace's sprinttime gives, computed independently of the decoder."""
    return datetime.fromtimestamp(sec).astimezone().strftime("%Y-%m-%dT%H:%M:%S%z")


# -- clock ids --------------------------------------------------------------------------------


def test_clock_gettime_prints_the_time_written(task):
    out = traced(task, "clock_gettime", lt.CLOCK_MONOTONIC, OUT)
    assert out == line(f"clock_gettime(CLOCK_MONOTONIC, {timespec_at(task, OUT)})", "0")


@pytest.mark.parametrize(("clock", "options", "shown"), [
    (lt.CLOCK_REALTIME, (), "CLOCK_REALTIME"),
    (lt.CLOCK_BOOTTIME, (), "CLOCK_BOOTTIME"),
    (lt.CLOCK_REALTIME, ("-X", "verbose"), "0 /* CLOCK_REALTIME */"),
    (lt.CLOCK_MONOTONIC, ("-X", "verbose"), "0x1 /* CLOCK_MONOTONIC */"),
    (lt.CLOCK_MONOTONIC, ("-X", "raw"), "0x1"),
    (-6, (), "0xfffffffa /* CLOCK_??? */"),  # a CPU clock: strace 6.1 (Debian) leaves it undecoded
    (-2, ("-X", "raw"), "0xfffffffe"),
])
def test_clock_names(task, clock, options, shown):
    out = traced(task, "clock_gettime", clock, OUT, options=options)
    assert out == line(f"clock_gettime({shown}, {timespec_at(task, OUT)})", "0")


def test_clock_gettime_failures_print_the_address(task):
    assert traced(task, "clock_gettime", lt.CLOCK_REALTIME, 1) == line(
        "clock_gettime(CLOCK_REALTIME, 0x1)", "-1 EFAULT (Bad address)")
    assert traced(task, "clock_gettime", 77, OUT) == line(
        f"clock_gettime(0x4d /* CLOCK_??? */, {OUT:#x})", "-1 EINVAL (Invalid argument)")


def test_clock_getres(task):
    assert traced(task, "clock_getres", lt.CLOCK_MONOTONIC_COARSE, OUT) == line(
        "clock_getres(CLOCK_MONOTONIC_COARSE, {tv_sec=0, tv_nsec=4000000})", "0")
    assert traced(task, "clock_getres", lt.CLOCK_BOOTTIME, 0) == line("clock_getres(CLOCK_BOOTTIME, NULL)", "0")


# -- gettimeofday, time, times ------------------------------------------------------------------


def test_gettimeofday(task):
    out = traced(task, "gettimeofday", OUT, OUT + 0x40)
    sec, usec = struct.unpack("<qq", task.mm.read(OUT, 16))
    assert out == line(f"gettimeofday({{tv_sec={sec}, tv_usec={usec}}}, {{tz_minuteswest=0, tz_dsttime=0}})", "0")
    assert traced(task, "gettimeofday", 0, 8) == line("gettimeofday(NULL, 0x8)", "-1 EFAULT (Bad address)")


def test_time_shows_the_date_of_the_result(task):
    out = traced(task, "time", 0)
    m = re.fullmatch(r"time\(NULL\) +(\d+) \((.*)\)\n", out.replace("= ", ""))
    assert m is not None, out
    assert out == line("time(NULL)", f"{m.group(1)} ({iso(int(m.group(1)))})")


def test_time_stores_through_tloc(task):
    out = traced(task, "time", OUT)
    (now,) = struct.unpack("<q", task.mm.read(OUT, 8))
    assert out == line(f"time([{now} /* {iso(now)} */])", f"{now} ({iso(now)})")
    assert traced(task, "time", 1) == line("time(0x1)", "-1 EFAULT (Bad address)")


def test_sprinttime_leaves_out_the_epoch():
    assert sprinttime(0) is None
    assert sprinttime(86400) == iso(86400)


def test_times(task):
    out = traced(task, "times", OUT)
    utime, stime, cutime, cstime = struct.unpack("<4q", task.mm.read(OUT, 32))
    assert (stime, cutime, cstime) == (0, 0, 0)
    shown = f"{utime} /* {utime // 100}.{utime % 100:02d} s */" if utime else "0"
    result = out.rsplit("= ", 1)[1].strip()
    assert out == line(f"times({{tms_utime={shown}, tms_stime=0, tms_cutime=0, tms_cstime=0}})", result)
    assert int(result) > 0
    assert traced(task, "times", 0).startswith("times(NULL)   ")


@pytest.mark.parametrize(("style", "ticks", "want"), [
    ("abbrev", 11, "11 /* 0.11 s */"),
    ("abbrev", 250, "250 /* 2.50 s */"),
    ("abbrev", 123456, "123456 /* 1234.56 s */"),
    ("verbose", 7, "7 /* 0.07 s */"),
    ("raw", 11, "11"),
    ("abbrev", 0, "0"),
])
def test_print_clock_t(style, ticks, want):
    assert print_clock_t(style, ticks) == want


# -- sleeping -------------------------------------------------------------------------------------


def test_nanosleep(task):
    put_timespec(task, TS, 0, 0)  # no wait (a longer sleep blocks: kernel/wait.py)
    assert traced(task, "nanosleep", TS, OUT) == line(f"nanosleep({{tv_sec=0, tv_nsec=0}}, {OUT:#x})", "0")
    assert traced(task, "nanosleep", TS, 0) == line("nanosleep({tv_sec=0, tv_nsec=0}, NULL)", "0")


def test_nanosleep_failures(task):
    put_timespec(task, TS, 0, 2_000_000_000)
    assert traced(task, "nanosleep", TS, OUT) == line(
        f"nanosleep({{tv_sec=0, tv_nsec=2000000000}}, {OUT:#x})", "-1 EINVAL (Invalid argument)")
    assert traced(task, "nanosleep", 0, OUT) == line(f"nanosleep(NULL, {OUT:#x})", "-1 EFAULT (Bad address)")
    assert traced(task, "nanosleep", UNMAPPED, 0) == line(f"nanosleep({UNMAPPED:#x}, NULL)",
                                                         "-1 EFAULT (Bad address)")


@pytest.mark.parametrize(("clock", "flags", "options", "shown"), [
    (lt.CLOCK_MONOTONIC, 0, (), "CLOCK_MONOTONIC, 0"),
    (lt.CLOCK_REALTIME, lt.TIMER_ABSTIME, (), "CLOCK_REALTIME, TIMER_ABSTIME"),
    (lt.CLOCK_REALTIME, 6, (), "CLOCK_REALTIME, 0x6 /* TIMER_??? */"),
    (lt.CLOCK_REALTIME, 3, (), "CLOCK_REALTIME, TIMER_ABSTIME|0x2"),
    (lt.CLOCK_REALTIME, lt.TIMER_ABSTIME, ("-X", "verbose"), "0 /* CLOCK_REALTIME */, 0x1 /* TIMER_ABSTIME */"),
    (lt.CLOCK_REALTIME, lt.TIMER_ABSTIME, ("-X", "raw"), "0, 0x1"),
])
def test_clock_nanosleep(task, clock, flags, options, shown):
    put_timespec(task, TS, 0, 1000)
    assert traced(task, "clock_nanosleep", clock, flags, TS, 0, options=options) == line(
        f"clock_nanosleep({shown}, {{tv_sec=0, tv_nsec=1000}}, NULL)", "0")


def test_clock_nanosleep_failure_keeps_the_request(task):
    put_timespec(task, TS, 0, 1000)
    assert traced(task, "clock_nanosleep", lt.CLOCK_THREAD_CPUTIME_ID, 2, TS, OUT) == line(
        f"clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0x2 /* TIMER_??? */, {{tv_sec=0, tv_nsec=1000}}, {OUT:#x})",
        "-1 EOPNOTSUPP (Operation not supported)")


def _exit_ctx(task, symbol: str, args: list[int], ret: int) -> Ctx:
    opts, _ = parse(["prog"], {}, {})
    return Ctx(task, opts, REGISTRY[symbol], args, exiting=True, ret=ret)


def test_remaining_time_is_shown_only_after_an_interrupted_relative_sleep(task):
    """The kernel writes rem only when a signal interrupts the sleep (ERESTART_RESTARTBLOCK
    on the way out); after TIMER_ABSTIME, or any other result, strace prints the address."""
    put_timespec(task, OUT, 0, 600)
    spec = REGISTRY["sys_nanosleep"]
    rem = spec.params[1]
    show = PRINTERS[rem.arg.show]
    assert show(_exit_ctx(task, "sys_nanosleep", [TS, OUT], -516), OUT, rem) == "{tv_sec=0, tv_nsec=600}"
    assert show(_exit_ctx(task, "sys_nanosleep", [TS, OUT], 0), OUT, rem) == f"{OUT:#x}"
    assert show(_exit_ctx(task, "sys_nanosleep", [TS, OUT], -4), OUT, rem) == f"{OUT:#x}"
    cspec = REGISTRY["sys_clock_nanosleep"]
    crem = cspec.params[3]
    args = [lt.CLOCK_REALTIME, 0, TS, OUT]
    assert show(_exit_ctx(task, "sys_clock_nanosleep", args, -516), OUT, crem) == "{tv_sec=0, tv_nsec=600}"
    args[1] = lt.TIMER_ABSTIME
    assert show(_exit_ctx(task, "sys_clock_nanosleep", args, -516), OUT, crem) == f"{OUT:#x}"
