"""Resource limits, usage and priorities traced as strace 6.1 prints them (strings checked
against the host's strace on static C programs calling syscall(2) directly)."""

from __future__ import annotations

import struct

import pytest

from sysgate.trace.decoders.resource import sprint_rlim64
from sysgate.uapi import resource as lr
from tests.conftest import USER_BUF
from tests.unit.trace.conftest import line, traced

NEW = USER_BUF + 0x100
OLD = USER_BUF + 0x200
RU = USER_BUF + 0x400
INF = lr.RLIM64_INFINITY



def put_rlimit(task, cur: int, top: int, addr: int = NEW) -> int:
    task.mm.write(addr, struct.pack("<QQ", cur, top))
    return addr


@pytest.mark.parametrize(("style", "lim", "want"), [
    ("abbrev", 1024, "1024"),
    ("abbrev", 1025, "1025"),
    ("abbrev", 2048, "2*1024"),
    ("abbrev", 8 << 20, "8192*1024"),
    ("abbrev", INF, "RLIM64_INFINITY"),
    ("abbrev", 0, "0"),
    ("verbose", 2048, "2048 /* 2*1024 */"),
    ("verbose", INF, "18446744073709551615 /* RLIM64_INFINITY */"),
    ("verbose", 1000, "1000"),
    ("raw", 2048, "2048"),
    ("raw", INF, "18446744073709551615"),
])
def test_sprint_rlim64(style, lim, want):
    assert sprint_rlim64(style, lim) == want


def test_setrlimit_then_getrlimit(task):
    put_rlimit(task, 4096, INF)
    assert traced(task, "setrlimit", lr.RLIMIT_CORE, NEW) == line(
        "setrlimit(RLIMIT_CORE, {rlim_cur=4*1024, rlim_max=RLIM64_INFINITY})", "0")
    assert traced(task, "getrlimit", lr.RLIMIT_CORE, OLD) == line(
        "getrlimit(RLIMIT_CORE, {rlim_cur=4*1024, rlim_max=RLIM64_INFINITY})", "0")


def test_setrlimit_shows_the_rejected_limit(task):
    put_rlimit(task, 2048, 1024)
    assert traced(task, "setrlimit", lr.RLIMIT_CORE, NEW) == line(
        "setrlimit(RLIMIT_CORE, {rlim_cur=2*1024, rlim_max=1024})", "-1 EINVAL (Invalid argument)")
    assert traced(task, "setrlimit", lr.RLIMIT_CORE, 1) == line(
        "setrlimit(RLIMIT_CORE, 0x1)", "-1 EFAULT (Bad address)")


def test_getrlimit_failures(task):
    assert traced(task, "getrlimit", 99, OLD) == line(
        f"getrlimit(0x63 /* RLIMIT_??? */, {OLD:#x})", "-1 EINVAL (Invalid argument)")
    assert traced(task, "getrlimit", lr.RLIMIT_CORE, 1) == line(
        "getrlimit(RLIMIT_CORE, 0x1)", "-1 EFAULT (Bad address)")


def test_prlimit64_new_at_entry_old_at_exit(task):
    put_rlimit(task, 8 << 20, INF)
    traced(task, "prlimit64", 0, lr.RLIMIT_STACK, NEW, 0)
    put_rlimit(task, 4096, INF)
    assert traced(task, "prlimit64", task.pid, lr.RLIMIT_STACK, NEW, OLD) == line(
        f"prlimit64({task.pid}, RLIMIT_STACK, {{rlim_cur=4*1024, rlim_max=RLIM64_INFINITY}}, "
        "{rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY})", "0")
    assert traced(task, "prlimit64", 0, lr.RLIMIT_STACK, 0, OLD) == line(
        "prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=4*1024, rlim_max=RLIM64_INFINITY})", "0")
    assert traced(task, "prlimit64", 0, 16, NEW, OLD) == line(
        f"prlimit64(0, 0x10 /* RLIMIT_??? */, {{rlim_cur=4*1024, rlim_max=RLIM64_INFINITY}}, {OLD:#x})",
        "-1 EINVAL (Invalid argument)")


@pytest.mark.parametrize(("options", "want"), [
    (("-X", "verbose"), "prlimit64(0, 0x3 /* RLIMIT_STACK */, NULL, {rlim_cur=4096 /* 4*1024 */, "
                        "rlim_max=18446744073709551615 /* RLIM64_INFINITY */})"),
    (("-X", "raw"), "prlimit64(0, 0x3, NULL, {rlim_cur=4096, rlim_max=18446744073709551615})"),
])
def test_prlimit64_xlat_styles(task, options, want):
    put_rlimit(task, 4096, INF)
    traced(task, "prlimit64", 0, lr.RLIMIT_STACK, NEW, 0)
    assert traced(task, "prlimit64", 0, lr.RLIMIT_STACK, 0, OLD, options=options) == line(want, "0")


def _rusage(task) -> tuple[int, ...]:
    return struct.unpack("<18q", task.mm.read(RU, 144))


def test_getrusage_shows_the_times_then_dots(task):
    out = traced(task, "getrusage", lr.RUSAGE_SELF, RU)
    f = _rusage(task)
    assert out == line(f"getrusage(RUSAGE_SELF, {{ru_utime={{tv_sec={f[0]}, tv_usec={f[1]}}}, "
                       f"ru_stime={{tv_sec={f[2]}, tv_usec={f[3]}}}, ...}})", "0")


def test_getrusage_verbose_shows_every_counter(task):
    out = traced(task, "getrusage", lr.RUSAGE_THREAD, RU, options=("-v",))
    f = _rusage(task)
    names = ("maxrss ixrss idrss isrss minflt majflt nswap inblock oublock msgsnd msgrcv nsignals nvcsw "
             "nivcsw").split()
    counters = ", ".join(f"ru_{n}={v}" for n, v in zip(names, f[4:], strict=True))
    assert out == line(f"getrusage(RUSAGE_THREAD, {{ru_utime={{tv_sec={f[0]}, tv_usec={f[1]}}}, "
                       f"ru_stime={{tv_sec={f[2]}, tv_usec={f[3]}}}, {counters}}})", "0")


def test_getrusage_children(task):
    zero = "ru_utime={tv_sec=0, tv_usec=0}, ru_stime={tv_sec=0, tv_usec=0}"
    assert traced(task, "getrusage", lr.RUSAGE_CHILDREN, RU) == line(
        f"getrusage(RUSAGE_CHILDREN, {{{zero}, ...}})", "0")
    assert traced(task, "getrusage", lr.RUSAGE_CHILDREN, RU, options=("-X", "verbose")) == line(
        f"getrusage(0xffffffff /* RUSAGE_CHILDREN */, {{{zero}, ...}})", "0")


def test_getrusage_failures(task):
    assert traced(task, "getrusage", 5, RU) == line(
        f"getrusage(0x5 /* RUSAGE_??? */, {RU:#x})", "-1 EINVAL (Invalid argument)")
    assert traced(task, "getrusage", lr.RUSAGE_BOTH, RU) == line(
        f"getrusage(RUSAGE_BOTH, {RU:#x})", "-1 EINVAL (Invalid argument)")
    assert traced(task, "getrusage", lr.RUSAGE_SELF, 1) == line(
        "getrusage(RUSAGE_SELF, 0x1)", "-1 EFAULT (Bad address)")


def test_getpriority_setpriority(task):
    assert traced(task, "setpriority", lr.PRIO_PROCESS, 0, 5) == line("setpriority(PRIO_PROCESS, 0, 5)", "0")
    assert traced(task, "getpriority", lr.PRIO_PROCESS, 0) == line("getpriority(PRIO_PROCESS, 0)", "15")
    assert traced(task, "getpriority", lr.PRIO_PGRP, 0, options=("-X", "verbose")) == line(
        "getpriority(0x1 /* PRIO_PGRP */, 0)", "15")
    assert traced(task, "setpriority", 7, 0, -5) == line(
        "setpriority(0x7 /* PRIO_??? */, 0, -5)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "getpriority", lr.PRIO_USER, 0, options=("-X", "raw")) == line("getpriority(0x2, 0)", "15")
