"""futex in one task: argument checks and their order, timeouts (kernel/futex/syscalls.c,
waitwake.c, core.c); the host's answers where it can be asked."""

from __future__ import annotations

import ctypes
import struct
import time

import pytest

from sysgate.kernel.task import Task
from sysgate.uapi import futex as fx
from sysgate.uapi.errno import Errno
from tests.conftest import EDGE, KERNEL_ADDR, RO_PAGE, UNMAPPED, USER_BUF, sys
from tests.unit.guestmem import poke
from tests.unit.hostsys import addr, cbuf, host_sys, linux_only
from tests.unit.kernel.futexharness import BLOCKED, Harness

UADDR = USER_BUF + 0x100
TS = USER_BUF + 0x200
PRIVATE = fx.FUTEX_PRIVATE_FLAG
REALTIME = fx.FUTEX_CLOCK_REALTIME


def timeout(t: Task, sec: int, nsec: int) -> int:
    return poke(t, TS, "qq", sec, nsec)


@pytest.mark.parametrize("private", [0, PRIVATE])
def test_wait_on_a_changed_value_is_eagain(task: Task, private: int) -> None:
    poke(task, UADDR, "I", 5)
    assert sys(task, "futex", UADDR, fx.FUTEX_WAIT | private, 6, 0, 0, 0) == -Errno.EAGAIN
    assert sys(task, "futex", UADDR, fx.FUTEX_WAIT_BITSET | private, 6, 0, 0, 1) == -Errno.EAGAIN


def test_wait_reads_from_read_only_memory(task: Task) -> None:
    assert sys(task, "futex", RO_PAGE, fx.FUTEX_WAIT | PRIVATE, 1, 0, 0, 0) == -Errno.EAGAIN


@pytest.mark.parametrize("private", [0, PRIVATE])
def test_wait_with_a_relative_timeout(task: Task, private: int) -> None:
    h = Harness(task)
    poke(task, UADDR, "I", 5)
    start = time.monotonic_ns()
    assert h.call(task, "futex", UADDR, fx.FUTEX_WAIT | private, 5, timeout(task, 0, 2_000_000), 0, 0) == BLOCKED
    st = task._call_state
    assert st is not None and st.deadline is not None
    assert start + 2_000_000 <= st.deadline <= time.monotonic_ns() + 2_000_000
    timeout(task, 1000, 0)  # a re-run does not read the timeout again
    assert h.expire(task) == -Errno.ETIMEDOUT


@pytest.mark.parametrize("clock, flag", [(time.CLOCK_MONOTONIC, 0), (time.CLOCK_REALTIME, REALTIME)])
def test_wait_bitset_with_an_absolute_timeout(task: Task, clock: int, flag: int) -> None:
    h = Harness(task)
    poke(task, UADDR, "I", 5)
    deadline = time.clock_gettime_ns(clock) + 2_000_000
    timeout(task, deadline // 1_000_000_000, deadline % 1_000_000_000)
    assert h.call(task, "futex", UADDR, fx.FUTEX_WAIT_BITSET | PRIVATE | flag, 5, TS, 0, 0xFFFFFFFF) == BLOCKED
    assert h.expire(task) == -Errno.ETIMEDOUT
    assert time.clock_gettime_ns(clock) >= deadline - 1_000_000  # a realtime deadline is converted once
    timeout(task, 0, 0)  # long past
    assert sys(task, "futex", UADDR, fx.FUTEX_WAIT_BITSET | flag, 5, TS, 0, 1) == -Errno.ETIMEDOUT


def test_lock_pi_timeout_is_absolute_realtime(task: Task) -> None:
    h = Harness(task)
    poke(task, UADDR, "I", 0x1234)  # held by someone who does not exist: ESRCH before any wait
    poke(task, TS, "qq", 0, 0)
    assert h.call(task, "futex", UADDR, fx.FUTEX_LOCK_PI | PRIVATE, 0, TS, 0, 0) == -Errno.ESRCH


def test_untimed_wait_blocks(task: Task) -> None:
    h = Harness(task)
    poke(task, UADDR, "I", 5)
    assert h.call(task, "futex", UADDR, fx.FUTEX_WAIT | PRIVATE, 5, 0, 0, 0) == BLOCKED


def test_timeout_is_ignored_by_commands_without_one(task: Task) -> None:
    assert sys(task, "futex", UADDR, fx.FUTEX_WAKE | PRIVATE, 1, KERNEL_ADDR, 0, 0) == 0


@pytest.mark.parametrize("op", [fx.FUTEX_WAIT, fx.FUTEX_WAIT_BITSET, fx.FUTEX_WAKE, fx.FUTEX_WAKE_BITSET])
@pytest.mark.parametrize("offset", [1, 2, 3])
def test_misaligned_uaddr(task: Task, op: int, offset: int) -> None:
    poke(task, UADDR, "I", 0)
    assert sys(task, "futex", UADDR + offset, op | PRIVATE, 0, 0, 0, 1) == -Errno.EINVAL
    assert sys(task, "futex", KERNEL_ADDR + offset, op, 0, 0, 0, 1) == -Errno.EINVAL  # before EFAULT


@pytest.mark.parametrize("op", [fx.FUTEX_WAIT_BITSET, fx.FUTEX_WAKE_BITSET])
def test_zero_bitset(task: Task, op: int) -> None:
    poke(task, UADDR, "I", 0)
    assert sys(task, "futex", UADDR, op | PRIVATE, 0, 0, 0, 0) == -Errno.EINVAL
    assert sys(task, "futex", UADDR + 1, op | PRIVATE, 0, 0, 0, 0) == -Errno.EINVAL


@pytest.mark.parametrize("sec, nsec", [(-1, 0), (0, -1), (0, 1_000_000_000)])
def test_invalid_timeout(task: Task, sec: int, nsec: int) -> None:
    poke(task, UADDR, "I", 5)
    assert sys(task, "futex", UADDR, fx.FUTEX_WAIT, 5, timeout(task, sec, nsec), 0, 0) == -Errno.EINVAL
    assert sys(task, "futex", UADDR + 1, fx.FUTEX_WAIT, 5, TS, 0, 0) == -Errno.EINVAL


@pytest.mark.parametrize("bad", [KERNEL_ADDR, UNMAPPED, EDGE + 0x1000 - 8])
def test_timeout_efault_comes_first(task: Task, bad: int) -> None:
    assert sys(task, "futex", UADDR, fx.FUTEX_WAIT, 5, bad, 0, 0) == -Errno.EFAULT
    assert sys(task, "futex", UADDR + 1, fx.FUTEX_WAIT, 5, bad, 0, 0) == -Errno.EFAULT
    assert sys(task, "futex", UADDR, 99, 5, bad, 0, 0) == -Errno.ENOSYS  # read only for waiting commands


@pytest.mark.parametrize("bad", [KERNEL_ADDR, UNMAPPED, (1 << 47) - 4])
@pytest.mark.parametrize("private", [0, PRIVATE])
def test_wait_efault(task: Task, bad: int, private: int) -> None:
    assert sys(task, "futex", bad, fx.FUTEX_WAIT | private, 0, timeout(task, 0, 0), 0, 0) == -Errno.EFAULT


def test_wake_has_no_waiters(task: Task) -> None:
    assert sys(task, "futex", UADDR, fx.FUTEX_WAKE, 1, 0, 0, 0) == 0
    assert sys(task, "futex", UADDR, fx.FUTEX_WAKE | PRIVATE, 0x7FFFFFFF, 0, 0, 0) == 0
    assert sys(task, "futex", UADDR, fx.FUTEX_WAKE_BITSET | PRIVATE, 1, 0, 0, 1) == 0


def test_private_wake_does_not_touch_memory(task: Task) -> None:
    """A private key is just the address: access_ok only."""
    assert sys(task, "futex", UNMAPPED, fx.FUTEX_WAKE | PRIVATE, 1, 0, 0, 0) == 0
    assert sys(task, "futex", KERNEL_ADDR, fx.FUTEX_WAKE | PRIVATE, 1, 0, 0, 0) == -Errno.EFAULT


def test_shared_wake_needs_the_page(task: Task) -> None:
    """A shared key pins the page (get_user_pages_fast): an unmapped address is EFAULT."""
    assert sys(task, "futex", UNMAPPED, fx.FUTEX_WAKE, 1, 0, 0, 0) == -Errno.EFAULT
    assert sys(task, "futex", UNMAPPED, fx.FUTEX_WAKE_BITSET, 1, 0, 0, 1) == -Errno.EFAULT
    # A read-only anonymous page can never change: EFAULT (the host says so too, below).
    assert sys(task, "futex", RO_PAGE, fx.FUTEX_WAKE, 1, 0, 0, 0) == -Errno.EFAULT


@pytest.mark.parametrize("op", [
    99, 14, fx.FUTEX_FD, fx.FUTEX_WAKE | REALTIME, fx.FUTEX_WAIT | REALTIME, fx.FUTEX_LOCK_PI | REALTIME,
    fx.FUTEX_CMP_REQUEUE | REALTIME,
])
def test_unknown_commands(task: Task, op: int) -> None:
    poke(task, UADDR, "I", 0)
    assert sys(task, "futex", UADDR, op | PRIVATE, 0, 0, UADDR, 0) == -Errno.ENOSYS


@linux_only
def test_errors_match_host() -> None:
    word = cbuf(struct.pack("<I", 5) + bytes(12))
    ts = cbuf(struct.pack("<qq", 0, 1000))
    w = addr(word)
    assert host_sys("futex", w, fx.FUTEX_WAIT | PRIVATE, 6, 0, 0, 0) == -Errno.EAGAIN
    assert host_sys("futex", w, fx.FUTEX_WAIT | PRIVATE, 5, addr(ts), 0, 0) == -Errno.ETIMEDOUT
    assert host_sys("futex", w + 1, fx.FUTEX_WAIT | PRIVATE, 5, addr(ts), 0, 0) == -Errno.EINVAL
    assert host_sys("futex", w, fx.FUTEX_WAIT_BITSET | PRIVATE, 5, addr(ts), 0, 0) == -Errno.EINVAL
    assert host_sys("futex", w, fx.FUTEX_WAKE | REALTIME, 1, 0, 0, 0) == -Errno.ENOSYS
    assert host_sys("futex", w, 99, 1, 0, 0, 0) == -Errno.ENOSYS
    assert host_sys("futex", 0x10000, fx.FUTEX_WAKE, 1, 0, 0, 0) == -Errno.EFAULT
    assert host_sys("futex", 0x10000, fx.FUTEX_WAKE | PRIVATE, 1, 0, 0, 0) == 0
    assert host_sys("futex", w, fx.FUTEX_WAIT, 5, 0x10, 0, 0) == -Errno.EFAULT
    assert host_sys("futex", w, fx.FUTEX_FD, 5, 0, 0, 0) == -Errno.ENOSYS
    libc = ctypes.CDLL(None)
    libc.mmap.restype = ctypes.c_void_p
    ro = libc.mmap(None, 4096, 1, 0x22, -1, 0)  # PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS
    assert host_sys("futex", ro, fx.FUTEX_WAKE, 1, 0, 0, 0) == -Errno.EFAULT
    assert host_sys("futex", ro, fx.FUTEX_WAKE | PRIVATE, 1, 0, 0, 0) == 0
    assert host_sys("futex", w, fx.FUTEX_LOCK_PI | REALTIME, 0, 0, 0, 0) == -Errno.ENOSYS
    assert host_sys("futex", w, fx.FUTEX_CMP_REQUEUE | PRIVATE, 0, 0, w + 4, 6) == -Errno.EAGAIN
    assert host_sys("futex", w, fx.FUTEX_CMP_REQUEUE | PRIVATE, -1, 0, w + 4, 5) == -Errno.EINVAL
    assert host_sys("futex", w, fx.FUTEX_UNLOCK_PI | PRIVATE, 0, 0, 0, 0) == -Errno.EPERM
    assert host_sys("futex", w, fx.FUTEX_WAKE_OP | PRIVATE, 1, 1, w + 4, 5 << 28) == -Errno.ENOSYS
