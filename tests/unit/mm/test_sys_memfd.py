"""memfd_create and memfd seals: flags and names checked in Linux's order against the host,
the file a real memfd (mode, flags, /proc/self/fd link, seals), and what seals mean to
mmap (EPERM for a writable shared mapping, no write later through mprotect, EBUSY for a
write seal while a shared mapping may write)."""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path

import pytest

from sysgate.kernel.task import Task
from sysgate.mm.sys_memfd import memfd_noexec_scope
from sysgate.uapi import fcntl as o
from sysgate.uapi import memfd as mf
from sysgate.uapi import mman as m
from sysgate.uapi.errno import Errno
from sysgate.uapi.resource import RLIMIT_NOFILE
from tests.conftest import EDGE, KERNEL_ADDR, UNMAPPED, USER_BUF, put_str, sys
from tests.unit.fs.conftest import OUT, open_fd
from tests.unit.hostsys import addr, cbuf, host_sys, linux_only

pytestmark = linux_only

P = 4096
SEAL, SHRINK, GROW, WRITE, FUTURE_WRITE, EXEC = (o.F_SEAL_SEAL, o.F_SEAL_SHRINK, o.F_SEAL_GROW, o.F_SEAL_WRITE,
                                                 o.F_SEAL_FUTURE_WRITE, o.F_SEAL_EXEC)
NAME = USER_BUF + 0x2000


def memfd(task: Task, name: str = "test", flags: int = 0) -> int:
    fd = sys(task, "memfd_create", put_str(task, name, NAME), flags)
    assert fd >= 0, fd
    return fd


def host_memfd(name: bytes, flags: int) -> int:
    buf = cbuf(name + b"\0")
    return host_sys("memfd_create", addr(buf), flags)


def close_host(fd: int) -> None:
    if fd >= 0:
        os.close(fd)


@pytest.mark.parametrize("name, flags", [
    (b"x", 0), (b"", mf.MFD_CLOEXEC), (b"n" * 249, mf.MFD_ALLOW_SEALING), (b"n" * 250, 0),
    (b"a", mf.MFD_NOEXEC_SEAL), (b"a", mf.MFD_EXEC), (b"a", mf.MFD_EXEC | mf.MFD_NOEXEC_SEAL),
    (b"a", 0x20), (b"a", 0x100), (b"a", 1 << 26), (b"a", mf.MFD_CLOEXEC | mf.MFD_ALLOW_SEALING | mf.MFD_EXEC),
    (b"with/slash and \xff", 0), (b"n" * 300, 0x40),
])
def test_flags_and_names_match_the_host(task: Task, name: bytes, flags: int) -> None:
    fd = sys(task, "memfd_create", put_str(task, name, NAME), flags)
    theirs = host_memfd(name, flags)
    close_host(theirs)
    assert (fd >= 0, fd if fd < 0 else 0) == (theirs >= 0, theirs if theirs < 0 else 0)


def test_name_faults_and_limits(task: Task) -> None:
    assert sys(task, "memfd_create", KERNEL_ADDR, 0) == -Errno.EFAULT
    assert sys(task, "memfd_create", UNMAPPED, 0) == -Errno.EFAULT
    # A name running into an unmapped page before its NUL faults; 250 bytes without a NUL
    # are too long before they are found to be unterminated.
    task.mm.write(EDGE + P - 100, b"x" * 100)
    assert sys(task, "memfd_create", EDGE + P - 100, 0) == -Errno.EFAULT
    task.mm.write(EDGE + P - 250, b"x" * 250)
    assert sys(task, "memfd_create", EDGE + P - 250, 0) == -Errno.EINVAL
    # The flags come before the name.
    assert sys(task, "memfd_create", KERNEL_ADDR, 0x100) == -Errno.EINVAL
    assert sys(task, "memfd_create", KERNEL_ADDR, mf.MFD_EXEC | mf.MFD_NOEXEC_SEAL) == -Errno.EINVAL


def test_descriptor_limit_and_huge_pages(task: Task) -> None:
    assert sys(task, "memfd_create", KERNEL_ADDR, mf.MFD_HUGETLB) == -Errno.EFAULT  # the name first
    assert sys(task, "memfd_create", put_str(task, "h", NAME), mf.MFD_HUGETLB | 21 << 26) == -Errno.ENOSYS
    task.group.rlimits[RLIMIT_NOFILE] = (3, 3)
    assert sys(task, "memfd_create", put_str(task, "x", NAME), 0) == -Errno.EMFILE
    assert sys(task, "memfd_create", put_str(task, "x", NAME), mf.MFD_HUGETLB) == -Errno.EMFILE  # before ENOSYS
    assert sys(task, "memfd_create", UNMAPPED, 0) == -Errno.EFAULT  # the name before the descriptor


@pytest.mark.parametrize("flags", [0, mf.MFD_CLOEXEC, mf.MFD_ALLOW_SEALING, mf.MFD_NOEXEC_SEAL, mf.MFD_EXEC,
                                   mf.MFD_ALLOW_SEALING | mf.MFD_EXEC])
def test_the_file_is_a_memfd_like_the_hosts(task: Task, flags: int) -> None:
    fd = memfd(task, "the name", flags)
    theirs = host_memfd(b"the name", flags)
    try:
        link = b"/memfd:the name (deleted)"
        assert sys(task, "readlink", put_str(task, f"/proc/self/fd/{fd}"), OUT, 256) == len(link)
        assert task.mm.read(OUT, len(link)) == link
        assert sys(task, "fcntl", fd, o.F_GETFL, 0) == o.O_RDWR | o.O_LARGEFILE
        assert sys(task, "fcntl", fd, o.F_GETFD, 0) == (o.FD_CLOEXEC if flags & mf.MFD_CLOEXEC else 0)
        assert sys(task, "fcntl", fd, o.F_GET_SEALS, 0) == host_sys("fcntl", theirs, o.F_GET_SEALS, 0)
        assert sys(task, "fstat", fd, OUT) == 0
        mode = struct.unpack_from("<I", task.mm.read(OUT + 24, 4))[0]
        assert mode == os.fstat(theirs).st_mode and stat.S_ISREG(mode)
        assert sys(task, "write", fd, put_str(task, "data"), 4) == 4
        assert sys(task, "pread64", fd, OUT, 16, 0) == 4 and task.mm.read(OUT, 4) == b"data"
    finally:
        close_host(theirs)


def test_noexec_sysctl_is_the_hosts() -> None:
    with open("/proc/sys/vm/memfd_noexec") as f:
        assert memfd_noexec_scope() == int(f.read())


# -- seals ---------------------------------------------------------------------------------


def seals(task: Task, fd: int) -> int:
    return sys(task, "fcntl", fd, o.F_GET_SEALS, 0)


def add(task: Task, fd: int, s: int) -> int:
    return sys(task, "fcntl", fd, o.F_ADD_SEALS, s)


SEAL_STEPS = [(0x40, ), (GROW,), (SHRINK,), (WRITE,), (FUTURE_WRITE,), (EXEC,), (SEAL,), (GROW,), (0,)]


@pytest.mark.parametrize("flags", [mf.MFD_ALLOW_SEALING, mf.MFD_ALLOW_SEALING | mf.MFD_EXEC, 0,
                                   mf.MFD_NOEXEC_SEAL])
def test_seals_match_the_host(task: Task, flags: int) -> None:
    fd = memfd(task, "s", flags)
    theirs = host_memfd(b"s", flags)
    data = put_str(task, "0123456789")
    host_data = cbuf(b"0123456789")
    try:
        for (s,) in SEAL_STEPS:
            assert add(task, fd, s) == host_sys("fcntl", theirs, o.F_ADD_SEALS, s), hex(s)
            assert seals(task, fd) == host_sys("fcntl", theirs, o.F_GET_SEALS, 0)
            # What the seals allow now: writing, growing, shrinking.
            assert sys(task, "pwrite64", fd, data, 10, 0) == host_sys("pwrite64", theirs, addr(host_data), 10, 0)
            assert sys(task, "ftruncate", fd, 4 * P) == host_sys("ftruncate", theirs, 4 * P)
            assert sys(task, "ftruncate", fd, P) == host_sys("ftruncate", theirs, P)
    finally:
        close_host(theirs)


def test_seal_commands_on_other_files(task: Task, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    f = open_fd(task, "f", o.O_RDWR)
    assert add(task, f, GROW) == -Errno.EINVAL
    assert seals(task, f) == -Errno.EINVAL
    assert add(task, open_fd(task, "/proc/self/maps"), GROW) == -Errno.EPERM  # not open for writing
    assert add(task, memfd(task, "m", mf.MFD_ALLOW_SEALING), 0x80) == -Errno.EINVAL
    assert add(task, open_fd(task, "f", o.O_PATH), GROW) == -Errno.EBADF
    fd = memfd(task, "m", mf.MFD_ALLOW_SEALING)
    ro = open_fd(task, f"/proc/self/fd/{fd}", o.O_RDONLY)
    assert add(task, ro, GROW) == -Errno.EPERM
    assert seals(task, ro) == 0


def test_write_seals_and_mmap(task: Task) -> None:
    fd = memfd(task, "mapped", mf.MFD_ALLOW_SEALING)
    assert sys(task, "ftruncate", fd, 2 * P) == 0
    a = sys(task, "mmap", 0, 2 * P, m.PROT_READ | m.PROT_WRITE, m.MAP_SHARED, fd, 0)
    assert a > 0
    task.mm.write(a, b"through the map")
    assert add(task, fd, WRITE) == -Errno.EBUSY  # a shared mapping may write: mapping_deny_writable
    ro = sys(task, "mmap", 0, P, m.PROT_READ, m.MAP_SHARED, fd, 0)
    assert sys(task, "munmap", a, 2 * P) == 0
    assert add(task, fd, WRITE) == -Errno.EBUSY  # a read-only shared mapping of a writable file may too
    assert sys(task, "munmap", ro, P) == 0
    assert add(task, fd, WRITE) == 0
    assert sys(task, "write", fd, put_str(task, "x"), 1) == -Errno.EPERM
    assert sys(task, "mmap", 0, P, m.PROT_READ | m.PROT_WRITE, m.MAP_SHARED, fd, 0) == -Errno.EPERM
    ro = sys(task, "mmap", 0, P, m.PROT_READ, m.MAP_SHARED, fd, 0)
    assert ro > 0 and task.mm.read(ro, 15) == b"through the map"
    assert sys(task, "mprotect", ro, P, m.PROT_READ | m.PROT_WRITE) == -Errno.EACCES  # VM_MAYWRITE is gone
    private = sys(task, "mmap", 0, P, m.PROT_READ | m.PROT_WRITE, m.MAP_PRIVATE, fd, 0)
    assert private > 0
    task.mm.write(private, b"private copy")
    assert task.mm.read(ro, 15) == b"through the map"


def test_future_write_keeps_existing_mappings(task: Task) -> None:
    fd = memfd(task, "future", mf.MFD_ALLOW_SEALING)
    assert sys(task, "ftruncate", fd, P) == 0
    a = sys(task, "mmap", 0, P, m.PROT_READ | m.PROT_WRITE, m.MAP_SHARED, fd, 0)
    task.mm.write(a, b"before")
    assert add(task, fd, FUTURE_WRITE) == 0
    task.mm.write(a, b"after!")  # a mapping made before the seal still writes
    assert sys(task, "pread64", fd, OUT, 6, 0) == 6 and task.mm.read(OUT, 6) == b"after!"
    assert sys(task, "write", fd, put_str(task, "x"), 1) == -Errno.EPERM
    assert sys(task, "mmap", 0, P, m.PROT_READ | m.PROT_WRITE, m.MAP_SHARED, fd, 0) == -Errno.EPERM
    ro = sys(task, "mmap", 0, P, m.PROT_READ, m.MAP_SHARED, fd, 0)
    assert task.mm.read(ro, 6) == b"after!"


def test_pages_first_mapped_after_a_write_seal(task: Task) -> None:
    """The host maps a write-sealed memfd shared only read-only: a read-only mapping of a
    part of the file no mapping touched before the seal still reads the file's data."""
    far = 64 << 20  # past the first window of host mappings sysgate keeps per file
    fd = memfd(task, "far", mf.MFD_ALLOW_SEALING)
    assert sys(task, "ftruncate", fd, far + P) == 0
    assert sys(task, "pwrite64", fd, put_str(task, "far away"), 8, far) == 8
    a = sys(task, "mmap", 0, P, m.PROT_READ | m.PROT_WRITE, m.MAP_SHARED, fd, 0)
    task.mm.write(a, b"near")
    assert add(task, fd, FUTURE_WRITE) == 0
    ro = sys(task, "mmap", 0, P, m.PROT_READ, m.MAP_SHARED, fd, far)
    assert ro > 0 and task.mm.read(ro, 8) == b"far away"
    assert sys(task, "mprotect", ro, P, m.PROT_READ | m.PROT_WRITE) == -Errno.EACCES
    task.mm.write(a, b"still")
    assert sys(task, "pread64", fd, OUT, 5, 0) == 5 and task.mm.read(OUT, 5) == b"still"
