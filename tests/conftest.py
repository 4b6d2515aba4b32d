"""Fixtures shared by every test: a task on a real address space, without a CPU.

Unit tests never start Unicorn: handlers run on a Task whose Mm is the real memory
layer (page table and frames over host memory) with no CPU attached, so a test
observes exactly what the guest would see in its memory. `sys(task, "read", ...)`
goes through the same compiled stub and errno conversion as the real entry.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sysgate.errors import KernelError
from sysgate.kernel.kernel import Kernel
from sysgate.kernel.task import Task
from sysgate.mm.vma import Vma
from sysgate.uapi.mman import PROT_READ, PROT_WRITE


def pytest_configure(config: pytest.Config) -> None:
    """Run as from a terminal even when started by `nohup` or as a background job: the
    native runs and sysgate's guests inherit ignored signals (as execve keeps them), and
    the tests that kill with SIGINT, SIGQUIT or SIGHUP expect the default actions."""
    import signal

    for s in (signal.SIGHUP, signal.SIGQUIT):
        if signal.getsignal(s) is signal.SIG_IGN:
            signal.signal(s, signal.SIG_DFL)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


USER_BUF = 0x10000000
"""64 KiB of read-write memory."""
USER_BUF_SIZE = 0x10000
RO_PAGE = 0x10100000
"""One read-only page (reads work, writes give EFAULT)."""
UNMAPPED = 0x10200000
"""An address with nothing mapped around it."""
KERNEL_ADDR = 0xFFFF800000000000
"""The first address of the kernel half."""
EDGE = 0x10300000
"""One read-write page followed by an unmapped one: for partial transfers."""


def make_task(cwd: Path, stdio: tuple[int, int, int] | None = None) -> Task:
    kernel = Kernel(memory_limit=1 << 30)
    null = -1
    if stdio is None:
        null = os.open(os.devnull, os.O_RDWR)
        stdio = (null, null, null)
    old = os.getcwd()
    os.chdir(cwd)
    try:
        t = kernel.create_init_task(stdio)  # takes duplicates of the stdio descriptors
    finally:
        os.chdir(old)
        if null >= 0:
            os.close(null)
    mm = t.mm
    mm.insert_vma(Vma(USER_BUF, USER_BUF + USER_BUF_SIZE, PROT_READ | PROT_WRITE))
    mm.insert_vma(Vma(RO_PAGE, RO_PAGE + 0x1000, PROT_READ))
    mm.insert_vma(Vma(EDGE, EDGE + 0x1000, PROT_READ | PROT_WRITE))
    return t


@pytest.fixture
def task(tmp_path: Path) -> Iterator[Task]:
    """A task whose cwd is tmp_path, with stdio on /dev/null and test memory mapped.

    The host umask is 0 while it exists, as while a guest runs: handlers apply the
    guest's umask (t.fs.umask) themselves.
    """
    t = make_task(tmp_path)
    old_umask = os.umask(0)
    yield t
    os.umask(old_umask)
    t.kernel.shutdown()


def sys(t: Task, name: str, *args: int) -> int:
    """Call system call `name` as the entry would: the result, or -errno."""
    slot = t.kernel.table64.by_name(name)
    assert slot is not None, f"no system call named {name}"
    frame = [slot.nr, *[a & 0xFFFFFFFFFFFFFFFF for a in args], *([0] * (6 - len(args))), 0, 0x202]
    stub = t.kernel.table64.stubs[slot.nr]
    try:
        ret = stub(t, frame)
    except KernelError as exc:
        ret = -exc.errno
    t._call_state = None  # dropped when the call returns, as the entry does (Blocked keeps it)
    return ret


def put_str(t: Task, s: bytes | str, addr: int = USER_BUF) -> int:
    """Write a NUL-terminated string into guest memory; return its address."""
    data = os.fsencode(s) if isinstance(s, str) else s
    t.mm.write(addr, data + b"\0")
    return addr


@pytest.fixture(autouse=True, scope="session")
def _no_descriptor_leaks() -> Iterator[None]:
    """The suite must not leak host descriptors: host-oracle tests name unused fds."""
    before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0
    yield
    if before:
        after = len(os.listdir("/proc/self/fd"))
        assert after - before < 64, f"{after - before} host descriptors leaked by the tests"
