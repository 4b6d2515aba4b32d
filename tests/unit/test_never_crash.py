"""No system call crashes sysgate, whatever its arguments.

Every registered spec is called with random 64-bit values in every argument, biased
toward the values that find bugs: 0, -1, small numbers, sign and width boundaries,
and the test task's interesting addresses (its buffer, a read-only page, a hole, the
kernel half, a page followed by a hole). The result must be what the entry would put
in rax: a non-negative int or -errno with a known errno, never another exception.

Each example runs on a fresh task whose cwd is a fresh temporary directory holding a
few files, with a few relative names in its memory (never an absolute path or ".."),
and whose descriptors 0-2 are a null device of its own (a device node made in the
temporary directory when the tests run as root), so that no random call can reach or
change anything outside that directory: not even fchmod(0, ...) on /dev/null.

A spec is excluded from the random run only by name, in EXCLUDED, with the reason; each
excluded one is still tested below with arguments bounded so that it ends quickly.
"""

from __future__ import annotations

import os
import shutil
import stat as host_stat
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sysgate.handlers  # noqa: F401 - registers every built-in handler
from sysgate.kernel.task import Task
from sysgate.kernel.wait import Blocked
from sysgate.mm.mm import TASK_SIZE_MAX
from sysgate.syscall import SyscallSpec
from sysgate.tables.tbl import x86_64_table
from sysgate.uapi.errno import Errno
from tests.conftest import EDGE, KERNEL_ADDR, RO_PAGE, UNMAPPED, USER_BUF, make_task, sys

NAMES_AT = USER_BUF + 0x8000
NAMES = [b"f", b"d", b"link", b"d/g", b"new", b"fifo"]
NAME_ADDRS = [NAMES_AT + 0x20 * i for i in range(len(NAMES))]
TIMESPEC_AT = USER_BUF + 0xF000
ERRNOS = {int(e) for e in Errno}
MASK64 = (1 << 64) - 1

EDGE_VALUES = [
    0, 1, 2, 3, 4, 7, 8, 16, 24, 32, 64, 128, 255, 256, 4095, 4096, 65536,
    -1, -2, -100, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 32, (1 << 63) - 1, 1 << 63, MASK64,
    USER_BUF, USER_BUF + 0x100, RO_PAGE, UNMAPPED, KERNEL_ADDR, EDGE, EDGE + 0xFF8, EDGE + 0xFFF,
    TASK_SIZE_MAX - 1, TASK_SIZE_MAX, *NAME_ADDRS,
]
VALUES = st.one_of(
    st.sampled_from(EDGE_VALUES),
    st.integers(-4096, 4096),
    st.integers(0, MASK64),
)

EXCLUDED = {
    # These sleep for as long as their (random) arguments say: up to centuries.
    "nanosleep": "sleeps for the requested time",
    "clock_nanosleep": "sleeps for the requested time, or until a CPU clock advances",
    # Waits up to its timeout; an untimed wait is reported as the guest's deadlock
    # (SysgateError) by design, since no other thread could ever wake it.
    "futex": "waits for its timeout; an untimed wait is a deadlock report by design",
    "rt_sigreturn": "restores registers from the CPU's stack pointer: tested with a CPU in tests/guest/test_signals.py",
}


def _specs() -> dict[str, SyscallSpec]:
    return {s.name: s.spec for s in x86_64_table().slots.values() if s.spec is not None}


SPECS = _specs()


def null_device(d: Path) -> str:
    """A null device of this directory's own when possible, else the system's (harmless then)."""
    path = d / "null"
    try:
        os.mknod(path, host_stat.S_IFCHR | 0o666, os.makedev(1, 3))
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return os.devnull  # not root: fchmod/fchown on /dev/null fail with EPERM
    os.close(fd)
    return str(path)


@contextmanager
def sandbox() -> Iterator[Task]:
    """A fresh task in a fresh directory with a few files and names, removed afterwards."""
    d = Path(tempfile.mkdtemp(prefix="sysgate-never-crash-"))
    (d / "f").write_bytes(b"0123456789" * 10)
    (d / "d").mkdir()
    (d / "d" / "g").write_bytes(b"g")
    (d / "link").symlink_to("f")
    null = os.open(null_device(d), os.O_RDWR)
    old_umask = os.umask(0)
    try:
        t = make_task(d, (null, null, null))
        os.close(null)
        for addr, name in zip(NAME_ADDRS, NAMES, strict=True):
            t.mm.write(addr, name + b"\0")
        try:
            yield t
        finally:
            t.kernel.shutdown()
    finally:
        os.umask(old_umask)
        shutil.rmtree(d, ignore_errors=True)


def call(t: Task, name: str, *args: int) -> object:
    """sys(), where a call that waits (kernel/wait.py: Blocked) counts as a result: 0."""
    try:
        return sys(t, name, *args)
    except Blocked:
        t._call_state = None
        return 0


def check_result(name: str, args: list[int], result: object) -> None:
    assert isinstance(result, int), f"{name}{tuple(args)} returned {result!r}"
    assert result <= MASK64, f"{name}{tuple(args)} returned {result}: more than a register holds"
    if result < 0:
        assert -result in ERRNOS, f"{name}{tuple(args)} returned {result}: not -errno"


RANDOM_NAMES = sorted(set(SPECS) - set(EXCLUDED))


def test_exclusions_are_registered_syscalls() -> None:
    assert set(EXCLUDED) <= set(SPECS)


@pytest.mark.parametrize("name", RANDOM_NAMES)
@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_arguments_never_crash(name: str, data: st.DataObject) -> None:
    spec = SPECS[name]
    args = data.draw(st.lists(VALUES, min_size=len(spec.params), max_size=len(spec.params)), label="args")
    with sandbox() as t:
        check_result(name, args, call(t, name, *args))


# -- the excluded calls, with bounded arguments ----------------------------------------------------

SHORT_NS = st.integers(0, 100_000)
TIMESPECS = st.one_of(
    st.tuples(st.just(0), SHORT_NS),  # at most 0.1 ms, relative or (long past) absolute
    st.tuples(st.sampled_from([-1, -(1 << 63)]), SHORT_NS),  # invalid: negative seconds
    st.tuples(st.just(0), st.sampled_from([-1, 1_000_000_000, 1 << 62])),  # invalid nanoseconds
)
# Pointers that cannot reach the bounded timespec (whose misaligned neighbours would read as
# long sleeps): the timespec itself, or any of the usual values. The task's memory is zero
# elsewhere, and zero is a valid "do not sleep" timespec.
TIMESPEC_PTRS = st.one_of(st.just(TIMESPEC_AT), VALUES)


@contextmanager
def bounded_sandbox(ts: tuple[int, int]) -> Iterator[Task]:
    with sandbox() as t:
        for addr in NAME_ADDRS:  # no names: only zeros and the timespec in memory
            t.mm.write(addr, bytes(0x20))
        t.mm.write(TIMESPEC_AT, struct.pack("<qq", *ts))
        yield t


@settings(max_examples=30, deadline=None, database=None)
@given(ts=TIMESPECS, rqtp=TIMESPEC_PTRS, rmtp=VALUES)
def test_nanosleep_bounded(ts: tuple[int, int], rqtp: int, rmtp: int) -> None:
    with bounded_sandbox(ts) as t:
        check_result("nanosleep", [rqtp, rmtp], call(t, "nanosleep", rqtp, rmtp))


@settings(max_examples=60, deadline=None, database=None)
@given(ts=TIMESPECS, clock=VALUES, flags=VALUES, rqtp=TIMESPEC_PTRS, rmtp=VALUES)
def test_clock_nanosleep_bounded(ts: tuple[int, int], clock: int, flags: int, rqtp: int, rmtp: int) -> None:
    with bounded_sandbox(ts) as t:
        args = [clock, flags, rqtp, rmtp]
        check_result("clock_nanosleep", args, call(t, "clock_nanosleep", *args))


@settings(max_examples=60, deadline=None, database=None)
@given(ts=TIMESPECS, uaddr=st.one_of(st.just(USER_BUF), VALUES), op=st.one_of(st.integers(0, 15), VALUES),
       val=st.one_of(st.just(0), VALUES), uaddr2=VALUES, val3=VALUES)
def test_futex_bounded(ts: tuple[int, int], uaddr: int, op: int, val: int, uaddr2: int, val3: int) -> None:
    """Always with a timeout (which a wait then honours), so no wait can be untimed."""
    with bounded_sandbox(ts) as t:
        args = [uaddr, op, val, TIMESPEC_AT, uaddr2, val3]
        check_result("futex", args, sys(t, "futex", *args))
