"""getrandom (drivers/char/random.c)."""

from __future__ import annotations

import pytest

from sysgate.kernel.sys_random import GRND_INSECURE, GRND_NONBLOCK, GRND_RANDOM
from sysgate.kernel.task import Task
from sysgate.uapi.errno import Errno
from tests.conftest import EDGE, KERNEL_ADDR, RO_PAGE, UNMAPPED, USER_BUF, USER_BUF_SIZE, sys
from tests.unit.hostsys import HostPages, addr, cbuf, host_sys, linux_only


@pytest.mark.parametrize("flags", [0, GRND_NONBLOCK, GRND_RANDOM, GRND_INSECURE, GRND_NONBLOCK | GRND_RANDOM,
                                   GRND_NONBLOCK | GRND_INSECURE])
def test_fills_the_buffer(task: Task, flags: int) -> None:
    assert sys(task, "getrandom", USER_BUF, 256, flags) == 256
    first = task.mm.read(USER_BUF, 256)
    assert first != bytes(256)
    assert sys(task, "getrandom", USER_BUF, 256, flags) == 256
    assert task.mm.read(USER_BUF, 256) != first


def test_zero_length(task: Task) -> None:
    assert sys(task, "getrandom", USER_BUF, 0, 0) == 0
    assert sys(task, "getrandom", UNMAPPED, 0, 0) == 0  # access_ok(addr, 0) holds in user space
    assert sys(task, "getrandom", 0, 0, 0) == 0


@pytest.mark.parametrize("flags", [8, 0x10, 1 << 31, GRND_INSECURE | GRND_RANDOM,
                                   GRND_INSECURE | GRND_RANDOM | GRND_NONBLOCK])
def test_invalid_flags(task: Task, flags: int) -> None:
    assert sys(task, "getrandom", USER_BUF, 16, flags) == -Errno.EINVAL
    assert sys(task, "getrandom", KERNEL_ADDR, 16, flags) == -Errno.EINVAL  # before the buffer


@pytest.mark.parametrize("bad", [KERNEL_ADDR, UNMAPPED, RO_PAGE, (1 << 47) - 8])
def test_efault(task: Task, bad: int) -> None:
    assert sys(task, "getrandom", bad, 16, 0) == -Errno.EFAULT


def test_kernel_address_with_zero_length_is_efault(task: Task) -> None:
    assert sys(task, "getrandom", KERNEL_ADDR, 0, 0) == -Errno.EFAULT


def test_partial_fill_before_a_bad_page(task: Task) -> None:
    assert sys(task, "getrandom", EDGE + 0x1000 - 10, 100, 0) == 10
    assert sys(task, "getrandom", USER_BUF, 1 << 40, 0) == USER_BUF_SIZE  # capped, then stops at the hole


@linux_only
def test_matches_host() -> None:
    pages = HostPages()
    assert host_sys("getrandom", pages.edge - 10, 100, 0) == 10
    assert host_sys("getrandom", KERNEL_ADDR, 0, 0) == -Errno.EFAULT
    assert host_sys("getrandom", 0x10000, 0, 0) == 0
    buf = cbuf(16)
    assert host_sys("getrandom", addr(buf), 16, GRND_INSECURE | GRND_RANDOM) == -Errno.EINVAL
    assert host_sys("getrandom", KERNEL_ADDR, 16, 8) == -Errno.EINVAL
