"""Scheduling: sched_yield, sched_getaffinity, sched_setaffinity, getcpu, getpriority,
setpriority (kernel/sched/core.c, kernel/sys.c). sysgate's machine has one CPU."""

from __future__ import annotations

import pytest

from sysgate.kernel.sys_sched import PRIO_PGRP, PRIO_PROCESS, PRIO_USER
from sysgate.kernel.task import Task
from sysgate.uapi.errno import Errno
from tests.conftest import EDGE, KERNEL_ADDR, RO_PAGE, UNMAPPED, USER_BUF, sys
from tests.unit.guestmem import peek, peek1, poke
from tests.unit.hostsys import addr, cbuf, host_sys, linux_only

MASK = USER_BUF + 0x100
NO_SUCH_PID = 0x7FFFFFF0
BAD = (KERNEL_ADDR, UNMAPPED, RO_PAGE)


def test_sched_yield(task: Task) -> None:
    assert sys(task, "sched_yield") == 0


@pytest.mark.parametrize("size, copied", [(8, 8), (16, 8), (1024, 8)])
def test_getaffinity(task: Task, size: int, copied: int) -> None:
    task.mm.write(MASK, b"\xff" * 32)
    assert sys(task, "sched_getaffinity", 0, size, MASK) == copied
    assert peek1(task, MASK, "Q") == 1  # CPU 0 only
    assert task.mm.read(MASK + 8, 8) == b"\xff" * 8  # nothing past cpumask_size()
    assert sys(task, "sched_getaffinity", task.pid, size, MASK) == copied


@pytest.mark.parametrize("size", [0, 4, 7, 9, 0x20000000, 0xE0000000])
def test_getaffinity_bad_size(task: Task, size: int) -> None:
    """len * 8 (unsigned int arithmetic) must cover nr_cpu_ids, and len is whole longs."""
    assert sys(task, "sched_getaffinity", 0, size, MASK) == -Errno.EINVAL
    assert sys(task, "sched_getaffinity", NO_SUCH_PID, size, KERNEL_ADDR) == -Errno.EINVAL  # first


@linux_only
@pytest.mark.parametrize("size", [0, 4, 9, 0x20000000])
def test_getaffinity_bad_size_matches_host(task: Task, size: int) -> None:
    buf = cbuf(64)
    assert sys(task, "sched_getaffinity", 0, size, MASK) == host_sys("sched_getaffinity", 0, size, addr(buf))


def test_getaffinity_errors(task: Task) -> None:
    assert sys(task, "sched_getaffinity", NO_SUCH_PID, 8, MASK) == -Errno.ESRCH
    assert sys(task, "sched_getaffinity", -1, 8, MASK) == -Errno.ESRCH
    assert sys(task, "sched_getaffinity", NO_SUCH_PID, 8, KERNEL_ADDR) == -Errno.ESRCH  # before the copy
    for bad in (*BAD, EDGE + 0x1000 - 4):
        assert sys(task, "sched_getaffinity", 0, 8, bad) == -Errno.EFAULT


def test_setaffinity(task: Task) -> None:
    poke(task, MASK, "Q", 1)
    assert sys(task, "sched_setaffinity", 0, 8, MASK) == 0
    poke(task, MASK, "QQ", (1 << 64) - 1, (1 << 64) - 1)  # more CPUs than exist: the rest ignored
    assert sys(task, "sched_setaffinity", 0, 16, MASK) == 0
    poke(task, MASK, "B", 1)
    assert sys(task, "sched_setaffinity", task.pid, 1, MASK) == 0  # a short mask is zero-extended


def test_setaffinity_errors(task: Task) -> None:
    poke(task, MASK, "Q", 2)  # only CPU 1, which does not exist
    assert sys(task, "sched_setaffinity", 0, 8, MASK) == -Errno.EINVAL
    assert sys(task, "sched_setaffinity", 0, 0, MASK) == -Errno.EINVAL  # an empty mask
    poke(task, MASK, "Q", 1)
    assert sys(task, "sched_setaffinity", NO_SUCH_PID, 8, MASK) == -Errno.ESRCH
    assert sys(task, "sched_setaffinity", NO_SUCH_PID, 8, KERNEL_ADDR) == -Errno.EFAULT  # copy first
    for bad in (KERNEL_ADDR, UNMAPPED):
        assert sys(task, "sched_setaffinity", 0, 8, bad) == -Errno.EFAULT


def test_getcpu(task: Task) -> None:
    poke(task, USER_BUF, "II", 7, 7)
    assert sys(task, "getcpu", USER_BUF, USER_BUF + 4, 0) == 0
    assert peek(task, USER_BUF, "II") == (0, 0)
    assert sys(task, "getcpu", 0, 0, 0) == 0
    assert sys(task, "getcpu", USER_BUF, 0, KERNEL_ADDR) == 0  # `unused` is never touched


@pytest.mark.parametrize("bad", BAD)
def test_getcpu_efault(task: Task, bad: int) -> None:
    assert sys(task, "getcpu", bad, 0, 0) == -Errno.EFAULT
    assert sys(task, "getcpu", 0, bad, 0) == -Errno.EFAULT
    poke(task, USER_BUF, "I", 7)
    assert sys(task, "getcpu", USER_BUF, bad, 0) == -Errno.EFAULT
    assert peek1(task, USER_BUF, "I") == 0  # both are tried: err |= put_user(...)


@linux_only
def test_getcpu_unused_matches_host() -> None:
    cpu = cbuf(4)
    assert host_sys("getcpu", addr(cpu), 0, KERNEL_ADDR) == 0


def test_priority(task: Task) -> None:
    assert sys(task, "getpriority", PRIO_PROCESS, 0) == 20  # 20 - nice
    assert sys(task, "setpriority", PRIO_PROCESS, 0, 5) == 0
    assert sys(task, "getpriority", PRIO_PROCESS, task.pid) == 15
    assert sys(task, "getpriority", PRIO_PGRP, 0) == 15
    assert sys(task, "getpriority", PRIO_USER, 0) == 15
    assert sys(task, "setpriority", PRIO_PROCESS, 0, 100) == 0  # clamped to 19
    assert sys(task, "getpriority", PRIO_PROCESS, 0) == 1
    assert sys(task, "setpriority", PRIO_PGRP, 0, -100) == 0  # root may lower it, to -20
    assert sys(task, "getpriority", PRIO_PROCESS, 0) == 40
    assert sys(task, "setpriority", PRIO_USER, task.cred.uid, 0) == 0
    assert task.nice == 0


def test_priority_needs_privilege_to_be_raised(task: Task) -> None:
    task.cred.euid = 1000
    assert sys(task, "setpriority", PRIO_PROCESS, 0, 10) == 0
    assert sys(task, "setpriority", PRIO_PROCESS, 0, 15) == 0
    assert sys(task, "setpriority", PRIO_PROCESS, 0, 5) == -Errno.EACCES
    assert task.nice == 15


@pytest.mark.parametrize("which", [3, -1, 100])
def test_priority_invalid_which(task: Task, which: int) -> None:
    assert sys(task, "getpriority", which, 0) == -Errno.EINVAL
    assert sys(task, "setpriority", which, NO_SUCH_PID, 0) == -Errno.EINVAL


@pytest.mark.parametrize("which", [PRIO_PROCESS, PRIO_PGRP, PRIO_USER])
def test_priority_nobody_there(task: Task, which: int) -> None:
    who = NO_SUCH_PID if which != PRIO_USER else task.cred.uid + 12345
    assert sys(task, "getpriority", which, who) == -Errno.ESRCH
    assert sys(task, "setpriority", which, who, 0) == -Errno.ESRCH


@linux_only
@pytest.mark.parametrize("args", [(3, 0), (-1, 0), (PRIO_PROCESS, NO_SUCH_PID), (PRIO_PGRP, NO_SUCH_PID)])
def test_getpriority_errors_match_host(task: Task, args: tuple[int, int]) -> None:
    assert sys(task, "getpriority", *args) == host_sys("getpriority", *args)
