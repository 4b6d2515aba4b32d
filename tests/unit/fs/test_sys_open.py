"""open, openat, openat2, creat, close, close_range (fs/open.c, fs/file.c)."""

from __future__ import annotations

import fcntl as host_fcntl
import os
import struct
from pathlib import Path

import pytest

from sysgate.kernel.task import Task
from sysgate.uapi import fcntl as o
from sysgate.uapi.errno import Errno
from tests.conftest import EDGE, KERNEL_ADDR, UNMAPPED, USER_BUF, sys
from tests.unit.fs.conftest import long_name, name
from tests.unit.hostsys import addr, cbuf, host_sys, linux_only

HOW = USER_BUF + 0x2000
AT = o.AT_FDCWD
WILL_CREATE_BAD = o.O_CREAT | o.O_DIRECTORY


def how(t: Task, flags: int, mode: int = 0, resolve: int = 0, extra: bytes = b"") -> int:
    t.mm.write(HOW, struct.pack("<QQQ", flags, mode, resolve) + extra)
    return HOW


def fd_flags(t: Task, fd: int) -> int:
    return sys(t, "fcntl", fd, o.F_GETFD, 0)


def fl_flags(t: Task, fd: int) -> int:
    return sys(t, "fcntl", fd, o.F_GETFL, 0)


@pytest.fixture
def f(tmp_path: Path) -> Path:
    p = tmp_path / "f"
    p.write_bytes(b"content")
    return p


# -- success paths -----------------------------------------------------------------------------


def test_open_gives_the_lowest_free_descriptor(task: Task, f: Path) -> None:
    assert sys(task, "open", name(task, "f"), o.O_RDONLY, 0) == 3
    assert sys(task, "open", name(task, "f"), o.O_RDONLY, 0) == 4
    assert sys(task, "close", 3) == 0
    assert sys(task, "openat", AT, name(task, "f"), o.O_RDONLY, 0) == 3
    assert sys(task, "read", 3, USER_BUF + 0x100, 100) == 7
    assert task.mm.read(USER_BUF + 0x100, 7) == b"content"


def test_open_absolute_and_relative_to_a_directory(task: Task, tmp_path: Path, f: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "g").write_bytes(b"g")
    dfd = sys(task, "open", name(task, "d"), o.O_RDONLY | o.O_DIRECTORY, 0)
    assert sys(task, "openat", dfd, name(task, "g"), o.O_RDONLY, 0) >= 0
    assert sys(task, "openat", 999, name(task, str(f)), o.O_RDONLY, 0) >= 0  # an absolute name ignores dfd
    assert sys(task, "openat", 999, name(task, "g"), o.O_RDONLY, 0) == -Errno.EBADF
    ffd = sys(task, "open", name(task, "f"), o.O_RDONLY, 0)
    assert sys(task, "openat", ffd, name(task, "g"), o.O_RDONLY, 0) == -Errno.ENOTDIR


def test_create_applies_the_umask(task: Task, tmp_path: Path) -> None:
    task.fs.umask = 0o027
    assert sys(task, "open", name(task, "new"), o.O_CREAT | o.O_WRONLY, 0o666) >= 0
    assert (tmp_path / "new").stat().st_mode & 0o7777 == 0o640
    assert sys(task, "creat", name(task, "new2"), 0o777) >= 0
    assert (tmp_path / "new2").stat().st_mode & 0o7777 == 0o750
    assert sys(task, "umask", 0) == 0o027
    assert sys(task, "openat2", AT, name(task, "new3"), how(task, o.O_CREAT | o.O_RDWR, 0o4755), 24) >= 0
    assert (tmp_path / "new3").stat().st_mode & 0o7777 == 0o4755


def test_creat_truncates_and_is_write_only(task: Task, f: Path) -> None:
    fd = sys(task, "creat", name(task, "f"), 0o644)
    assert fd >= 0
    assert f.read_bytes() == b""
    assert sys(task, "read", fd, USER_BUF + 0x100, 1) == -Errno.EBADF
    assert fl_flags(task, fd) == o.O_WRONLY | o.O_LARGEFILE


def test_o_excl(task: Task, f: Path) -> None:
    assert sys(task, "open", name(task, "f"), o.O_CREAT | o.O_EXCL | o.O_RDWR, 0o600) == -Errno.EEXIST


def test_o_cloexec_belongs_to_the_descriptor(task: Task, f: Path) -> None:
    a = sys(task, "open", name(task, "f"), o.O_RDONLY | o.O_CLOEXEC, 0)
    b = sys(task, "open", name(task, "f"), o.O_RDONLY, 0)
    c = sys(task, "openat2", AT, name(task, "f"), how(task, o.O_RDONLY | o.O_CLOEXEC), 24)
    assert (fd_flags(task, a), fd_flags(task, b), fd_flags(task, c)) == (o.FD_CLOEXEC, 0, o.FD_CLOEXEC)
    assert not fl_flags(task, a) & o.O_CLOEXEC  # not a status flag


@pytest.mark.parametrize("flags", [o.O_RDONLY, o.O_WRONLY, o.O_RDWR, o.O_RDWR | o.O_APPEND,
                                   o.O_WRONLY | o.O_NONBLOCK, o.O_RDONLY | o.O_NOATIME])
def test_status_flags_match_host(task: Task, f: Path, flags: int) -> None:
    """F_GETFL of a fresh open: access mode, kept status flags and O_LARGEFILE, as on the host."""
    fd = sys(task, "open", name(task, "f"), flags | o.O_CLOEXEC, 0)
    host = os.open(f, flags)
    try:
        assert fl_flags(task, fd) == host_fcntl.fcntl(host, host_fcntl.F_GETFL)
    finally:
        os.close(host)


def test_o_path(task: Task, tmp_path: Path, f: Path) -> None:
    fd = sys(task, "open", name(task, "f"), o.O_PATH | o.O_RDWR | o.O_CREAT | o.O_TRUNC, 0o777)
    assert fd >= 0  # open() drops everything but the O_PATH flags
    assert f.read_bytes() == b"content"
    assert sys(task, "read", fd, USER_BUF + 0x100, 1) == -Errno.EBADF
    host = os.open(f, os.O_PATH)
    try:
        assert fl_flags(task, fd) == host_fcntl.fcntl(host, host_fcntl.F_GETFL) == o.O_PATH
    finally:
        os.close(host)


def test_openat2_o_path(task: Task, f: Path) -> None:
    """openat2 adds O_LARGEFILE only without O_PATH, so O_PATH opens work."""
    fd = sys(task, "openat2", AT, name(task, "f"), how(task, o.O_PATH | o.O_CLOEXEC), 24)
    assert fd >= 0
    assert fl_flags(task, fd) == o.O_PATH
    assert sys(task, "openat2", AT, name(task, "f"), how(task, o.O_PATH | o.O_RDWR), 24) == -Errno.EINVAL


def test_openat2_matches_open(task: Task, f: Path) -> None:
    fd = sys(task, "openat2", AT, name(task, "f"), how(task, o.O_RDWR), 24)
    assert fl_flags(task, fd) == o.O_RDWR | o.O_LARGEFILE


# -- the order of checks ------------------------------------------------------------------------


def test_flags_then_name_then_descriptor_then_lookup(task: Task, tmp_path: Path) -> None:
    assert sys(task, "open", UNMAPPED, WILL_CREATE_BAD, 0) == -Errno.EINVAL
    assert sys(task, "open", UNMAPPED, o.O_RDONLY, 0) == -Errno.EFAULT
    assert sys(task, "open", name(task, ""), o.O_RDONLY, 0) == -Errno.ENOENT
    assert sys(task, "open", long_name(task), o.O_RDONLY, 0) == -Errno.ENAMETOOLONG
    task.group.rlimits[7] = (3, 3)  # RLIMIT_NOFILE: 0-2 are taken
    assert sys(task, "open", UNMAPPED, o.O_RDONLY, 0) == -Errno.EFAULT  # the name before the table
    assert sys(task, "open", name(task, "missing"), o.O_RDONLY, 0) == -Errno.EMFILE  # before the lookup
    task.group.rlimits[7] = (4, 4)
    assert sys(task, "open", name(task, "missing"), o.O_RDONLY, 0) == -Errno.ENOENT


@pytest.mark.parametrize("flags, mode", [
    (o.O_CREAT | o.O_DIRECTORY, 0),
    (o.O_TMPFILE | o.O_RDONLY, 0o600),  # O_TMPFILE needs write access
    (o.__O_TMPFILE | o.O_RDWR, 0o600),  # and O_DIRECTORY
])
def test_bad_flag_combinations(task: Task, tmp_path: Path, flags: int, mode: int) -> None:
    assert sys(task, "open", name(task, "."), flags, mode) == -Errno.EINVAL
    assert sys(task, "openat", AT, KERNEL_ADDR, flags, mode) == -Errno.EINVAL
    assert sys(task, "openat2", AT, KERNEL_ADDR, how(task, flags, mode), 24) == -Errno.EINVAL


def test_open_drops_what_openat2_refuses(task: Task, f: Path) -> None:
    """build_open_how masks unknown flag bits and mode bits; openat2 checks them all."""
    unknown = 1 << 30
    assert sys(task, "open", name(task, "f"), o.O_RDONLY | unknown, 0o7777777) >= 0
    assert sys(task, "openat2", AT, name(task, "f"), how(task, o.O_RDONLY | unknown), 24) == -Errno.EINVAL
    assert sys(task, "openat2", AT, name(task, "f"), how(task, 1 << 32), 24) == -Errno.EINVAL
    assert sys(task, "openat2", AT, name(task, "f"), how(task, o.O_RDONLY, 0o600), 24) == -Errno.EINVAL
    assert sys(task, "openat2", AT, name(task, "f"), how(task, o.O_CREAT | o.O_RDWR, 0o10000), 24) \
        == -Errno.EINVAL


def test_openat2_resolve_flags(task: Task, f: Path) -> None:
    assert sys(task, "openat2", AT, name(task, "f"), how(task, o.O_RDONLY, 0, 0x40), 24) == -Errno.EINVAL
    both = o.RESOLVE_BENEATH | o.RESOLVE_IN_ROOT
    assert sys(task, "openat2", AT, name(task, "f"), how(task, o.O_RDONLY, 0, both), 24) == -Errno.EINVAL
    cached_create = how(task, o.O_CREAT | o.O_RDWR, 0o600, o.RESOLVE_CACHED)
    assert sys(task, "openat2", AT, name(task, "f"), cached_create, 24) == -Errno.EAGAIN
    assert sys(task, "openat2", AT, name(task, "f"), how(task, o.O_RDONLY, 0, o.RESOLVE_BENEATH), 24) >= 0


@pytest.mark.parametrize("usize, errno", [(0, Errno.EINVAL), (23, Errno.EINVAL), (4097, Errno.E2BIG),
                                          (1 << 63, Errno.E2BIG)])
def test_openat2_size(task: Task, f: Path, usize: int, errno: Errno) -> None:
    assert sys(task, "openat2", AT, name(task, "f"), how(task, o.O_RDONLY), usize) == -errno
    assert sys(task, "openat2", AT, KERNEL_ADDR, KERNEL_ADDR, usize) == -errno  # before any copy


def test_openat2_larger_struct(task: Task, f: Path) -> None:
    """copy_struct_from_user: a larger struct is fine if the bytes the kernel lacks are zero."""
    assert sys(task, "openat2", AT, name(task, "f"), how(task, o.O_RDONLY, extra=bytes(8)), 32) >= 0
    assert sys(task, "openat2", AT, name(task, "f"), how(task, o.O_RDONLY, extra=bytes(4072)), 4096) >= 0
    assert sys(task, "openat2", AT, name(task, "f"), how(task, o.O_RDONLY, extra=b"\0\0\1"), 27) \
        == -Errno.E2BIG


def test_openat2_efault(task: Task, f: Path) -> None:
    for bad in (KERNEL_ADDR, UNMAPPED, EDGE + 0x1000 - 16):
        assert sys(task, "openat2", AT, name(task, "f"), bad, 24) == -Errno.EFAULT
    for bad in (KERNEL_ADDR, UNMAPPED):
        assert sys(task, "openat2", AT, bad, how(task, o.O_RDONLY), 24) == -Errno.EFAULT


@linux_only
@pytest.mark.parametrize("flags, mode, resolve, usize", [
    (o.O_PATH, 0, 0, 24), (o.O_PATH | o.O_RDWR, 0, 0, 24), (o.O_RDONLY, 0o600, 0, 24),
    (o.O_CREAT | o.O_DIRECTORY, 0, 0, 24), (1 << 32, 0, 0, 24), (o.O_RDONLY, 0, 0x40, 24),
    (o.O_RDONLY, 0, o.RESOLVE_BENEATH | o.RESOLVE_IN_ROOT, 24), (o.O_RDONLY, 0, 0, 23),
    (o.O_RDONLY, 0, 0, 4097), (o.O_CREAT | o.O_RDWR, 0o600, o.RESOLVE_CACHED, 24),
    (o.O_TMPFILE | o.O_RDONLY, 0o600, 0, 24), (o.O_RDONLY, 0, 0, 24),
])
def test_openat2_matches_host(task: Task, f: Path, flags: int, mode: int, resolve: int, usize: int) -> None:
    hw = cbuf(struct.pack("<QQQ", flags, mode, resolve) + bytes(4096))
    path = cbuf(str(f).encode() + b"\0")
    host = host_sys("openat2", AT, addr(path), addr(hw), usize)
    if host >= 0:
        os.close(host)
    ours = sys(task, "openat2", AT, name(task, str(f)), how(task, flags, mode, resolve, bytes(4096)), usize)
    assert (ours >= 0, ours if ours < 0 else 0) == (host >= 0, host if host < 0 else 0)


# -- close, close_range ------------------------------------------------------------------------


def test_close(task: Task, f: Path) -> None:
    fd = sys(task, "open", name(task, "f"), o.O_RDONLY, 0)
    assert sys(task, "close", fd) == 0
    assert sys(task, "close", fd) == -Errno.EBADF
    assert sys(task, "close", 99) == -Errno.EBADF
    assert sys(task, "close", -1) == -Errno.EBADF


def test_close_range(task: Task, f: Path) -> None:
    fds = [sys(task, "open", name(task, "f"), o.O_RDONLY, 0) for _ in range(5)]
    assert fds == [3, 4, 5, 6, 7]
    assert sys(task, "close_range", 4, 6, 0) == 0
    assert sorted(task.files.files) == [0, 1, 2, 3, 7]
    assert sys(task, "close_range", 5, 0xFFFFFFFF, o.CLOSE_RANGE_CLOEXEC) == 0
    assert (fd_flags(task, 3), fd_flags(task, 7)) == (0, o.FD_CLOEXEC)
    assert sys(task, "close_range", 3, 0xFFFFFFFF, 0) == 0
    assert sorted(task.files.files) == [0, 1, 2]
    assert sys(task, "close_range", 100, 200, 0) == 0  # nothing open there: fine
    assert sys(task, "close_range", 3, 3, o.CLOSE_RANGE_UNSHARE) == 0


def test_close_range_errors(task: Task) -> None:
    assert sys(task, "close_range", 5, 4, 0) == -Errno.EINVAL
    assert sys(task, "close_range", 0, 10, 1) == -Errno.EINVAL
    assert sys(task, "close_range", 0, 10, 1 << 31) == -Errno.EINVAL
    assert sorted(task.files.files) == [0, 1, 2]


@linux_only
def test_close_range_errors_match_host() -> None:
    assert host_sys("close_range", 5, 4, 0) == -Errno.EINVAL
    assert host_sys("close_range", 0x7FFFFFF0, 0x7FFFFFF1, 1) == -Errno.EINVAL
    assert host_sys("close_range", 0x7FFFFFF0, 0x7FFFFFF1, 0) == 0
