"""read, write, pread64, pwrite64, readv, writev, preadv, pwritev, preadv2, pwritev2, lseek
(fs/read_write.c, lib/iov_iter.c)."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from sysgate.fs.hostfs import HostFile
from sysgate.kernel.task import Task
from sysgate.uapi import fcntl as o
from sysgate.uapi.errno import Errno
from tests.conftest import EDGE, KERNEL_ADDR, RO_PAGE, UNMAPPED, USER_BUF, put_str, sys
from tests.unit.hostsys import HostPages, addr, cbuf, host_sys, linux_only

BUF = USER_BUF + 0x1000
IOV = USER_BUF + 0x100
NAME = USER_BUF + 0x8000
EDGE_END = EDGE + 0x1000
DATA = bytes(range(256)) * 4
UIO_MAXIOV = 1024
MASK64 = (1 << 64) - 1


def open_file(t: Task, d: Path, flags: int = o.O_RDWR, data: bytes = DATA, name: str = "f") -> int:
    if not (d / name).exists():
        (d / name).write_bytes(data)
    fd = sys(t, "openat", o.AT_FDCWD, put_str(t, str(d / name), NAME), flags, 0)
    assert fd >= 0
    return fd


def pipe(t: Task) -> tuple[int, int]:
    """A host pipe as guest fds (read end, write end), non-blocking so a test cannot hang."""
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    nofile = t.group.nofile()
    return (t.files.add(HostFile(r, o.O_RDONLY | o.O_NONBLOCK, "pipe:[r]"), nofile),
            t.files.add(HostFile(w, o.O_WRONLY | o.O_NONBLOCK, "pipe:[w]"), nofile))


def iovec(t: Task, *segs: tuple[int, int], at: int = IOV) -> int:
    t.mm.write(at, b"".join(struct.pack("<QQ", base, length & MASK64) for base, length in segs))
    return at


def offset(t: Task, fd: int) -> int:
    return sys(t, "lseek", fd, 0, o.SEEK_CUR)


# -- read, write ---------------------------------------------------------------------------------


def test_read_and_write(task: Task, tmp_path: Path) -> None:
    fd = open_file(task, tmp_path)
    assert sys(task, "read", fd, BUF, 100) == 100
    assert task.mm.read(BUF, 100) == DATA[:100]
    assert offset(task, fd) == 100
    task.mm.write(BUF, b"hello")
    assert sys(task, "write", fd, BUF, 5) == 5
    assert offset(task, fd) == 105
    assert (tmp_path / "f").read_bytes()[100:105] == b"hello"
    assert sys(task, "read", fd, BUF, 0) == 0
    assert sys(task, "lseek", fd, 0, o.SEEK_END) == len(DATA)
    assert sys(task, "read", fd, BUF, 100) == 0  # end of file


def test_read_into_a_buffer_that_runs_into_a_hole(task: Task, tmp_path: Path) -> None:
    """The bytes that fit before the unmapped page are stored and counted."""
    fd = open_file(task, tmp_path)
    assert sys(task, "read", fd, EDGE_END - 10, 100) == 10
    assert task.mm.read(EDGE_END - 10, 10) == DATA[:10]
    assert offset(task, fd) == 10  # the file position moved by what was stored


def test_write_from_a_buffer_that_runs_into_a_hole(task: Task, tmp_path: Path) -> None:
    fd = open_file(task, tmp_path, data=b"")
    task.mm.write(EDGE_END - 10, b"0123456789")
    assert sys(task, "write", fd, EDGE_END - 10, 100) == 10
    assert (tmp_path / "f").read_bytes() == b"0123456789"


@linux_only
def test_partial_transfers_match_host(tmp_path: Path) -> None:
    pages = HostPages()
    (tmp_path / "h").write_bytes(DATA)
    fd = os.open(tmp_path / "h", os.O_RDWR)
    try:
        assert host_sys("read", fd, pages.edge - 10, 100) == 10
        assert os.lseek(fd, 0, os.SEEK_CUR) == 10
        assert host_sys("write", fd, pages.edge - 10, 100) == 10
        assert host_sys("read", fd, pages.edge, 100) == -Errno.EFAULT
        assert host_sys("read", fd, KERNEL_ADDR, 0) == -Errno.EFAULT
        assert host_sys("write", fd, 0x10000, 0) == 0
    finally:
        os.close(fd)


@pytest.mark.parametrize("bad", [KERNEL_ADDR, UNMAPPED, RO_PAGE, EDGE_END, (1 << 47) - 4])
def test_read_efault(task: Task, tmp_path: Path, bad: int) -> None:
    fd = open_file(task, tmp_path)
    assert sys(task, "read", fd, bad, 100) == -Errno.EFAULT
    assert offset(task, fd) == 0


@pytest.mark.parametrize("bad", [KERNEL_ADDR, UNMAPPED, EDGE_END])
def test_write_efault(task: Task, tmp_path: Path, bad: int) -> None:
    fd = open_file(task, tmp_path)
    assert sys(task, "write", fd, bad, 100) == -Errno.EFAULT
    assert (tmp_path / "f").read_bytes() == DATA


def test_zero_counts(task: Task, tmp_path: Path) -> None:
    fd = open_file(task, tmp_path)
    assert sys(task, "read", fd, UNMAPPED, 0) == 0
    assert sys(task, "write", fd, UNMAPPED, 0) == 0
    assert sys(task, "read", fd, KERNEL_ADDR, 0) == -Errno.EFAULT  # access_ok(kernel address, 0) fails
    assert sys(task, "write", fd, KERNEL_ADDR, 0) == -Errno.EFAULT


def test_huge_count_is_access_checked_then_capped(task: Task, tmp_path: Path) -> None:
    fd = open_file(task, tmp_path)
    assert sys(task, "read", fd, BUF, 1 << 40) == len(DATA)
    assert sys(task, "read", fd, BUF, MASK64) == -Errno.EFAULT  # buf + count wraps


def test_ebadf(task: Task, tmp_path: Path) -> None:
    ro = open_file(task, tmp_path, o.O_RDONLY)
    wo = open_file(task, tmp_path, o.O_WRONLY)
    path = open_file(task, tmp_path, o.O_PATH)
    assert sys(task, "read", 99, BUF, 1) == -Errno.EBADF
    assert sys(task, "write", 99, BUF, 1) == -Errno.EBADF
    assert sys(task, "read", wo, BUF, 1) == -Errno.EBADF
    assert sys(task, "write", ro, BUF, 1) == -Errno.EBADF
    assert sys(task, "read", path, BUF, 1) == -Errno.EBADF
    assert sys(task, "write", path, BUF, 1) == -Errno.EBADF
    assert sys(task, "read", wo, UNMAPPED, 1) == -Errno.EBADF  # EBADF before EFAULT
    assert sys(task, "write", ro, KERNEL_ADDR, 1) == -Errno.EBADF
    assert sys(task, "read", -1, BUF, 1) == -Errno.EBADF


def test_read_directory_is_eisdir(task: Task, tmp_path: Path) -> None:
    fd = sys(task, "open", put_str(task, str(tmp_path), NAME), o.O_RDONLY | o.O_DIRECTORY, 0)
    assert sys(task, "read", fd, BUF, 10) == -Errno.EISDIR


# -- pread64, pwrite64 -----------------------------------------------------------------------------


def test_pread_pwrite_leave_the_offset(task: Task, tmp_path: Path) -> None:
    fd = open_file(task, tmp_path)
    assert sys(task, "pread64", fd, BUF, 10, 500) == 10
    assert task.mm.read(BUF, 10) == DATA[500:510]
    task.mm.write(BUF, b"XY")
    assert sys(task, "pwrite64", fd, BUF, 2, 2000) == 2
    assert offset(task, fd) == 0
    content = (tmp_path / "f").read_bytes()
    assert len(content) == 2002 and content[2000:] == b"XY" and content[1024:2000] == bytes(976)
    assert sys(task, "pread64", fd, BUF, 10, 1 << 40) == 0
    assert sys(task, "pread64", fd, EDGE_END - 3, 10, 0) == 3


def test_positioned_errors_in_linux_order(task: Task, tmp_path: Path) -> None:
    fd = open_file(task, tmp_path)
    r, w = pipe(task)
    path = open_file(task, tmp_path, o.O_PATH)
    for name, f in (("pread64", fd), ("pwrite64", fd)):
        assert sys(task, name, f, BUF, 1, -1) == -Errno.EINVAL
        assert sys(task, name, 99, BUF, 1, -1) == -Errno.EINVAL  # EINVAL before EBADF
        assert sys(task, name, 99, BUF, 1, 0) == -Errno.EBADF
        assert sys(task, name, path, BUF, 1, 0) == -Errno.EBADF
        assert sys(task, name, f, KERNEL_ADDR, 1, 0) == -Errno.EFAULT
    assert sys(task, "pread64", r, BUF, 1, 0) == -Errno.ESPIPE
    assert sys(task, "pwrite64", w, BUF, 1, 0) == -Errno.ESPIPE
    assert sys(task, "pread64", r, KERNEL_ADDR, 1, 0) == -Errno.ESPIPE  # ESPIPE before EFAULT
    assert sys(task, "pread64", w, BUF, 1, 0) == -Errno.ESPIPE  # ESPIPE before the mode check


def test_pipes(task: Task) -> None:
    r, w = pipe(task)
    task.mm.write(BUF, b"through the pipe")
    assert sys(task, "write", w, BUF, 16) == 16
    assert sys(task, "read", r, BUF + 100, 100) == 16
    assert task.mm.read(BUF + 100, 16) == b"through the pipe"
    assert sys(task, "read", r, BUF, 100) == -Errno.EAGAIN  # empty, O_NONBLOCK
    assert sys(task, "lseek", r, 0, o.SEEK_CUR) == -Errno.ESPIPE
    assert sys(task, "lseek", r, 0, 5) == -Errno.EINVAL  # whence is checked first


# -- readv, writev and the positioned forms --------------------------------------------------------


def test_readv_scatters(task: Task, tmp_path: Path) -> None:
    fd = open_file(task, tmp_path)
    vec = iovec(task, (BUF, 3), (BUF + 100, 0), (BUF + 200, 5))
    assert sys(task, "readv", fd, vec, 3) == 8
    assert task.mm.read(BUF, 3) == DATA[:3]
    assert task.mm.read(BUF + 200, 5) == DATA[3:8]
    assert offset(task, fd) == 8


def test_writev_gathers(task: Task, tmp_path: Path) -> None:
    fd = open_file(task, tmp_path, data=b"")
    task.mm.write(BUF, b"abc")
    task.mm.write(BUF + 100, b"defg")
    assert sys(task, "writev", fd, iovec(task, (BUF, 3), (BUF + 100, 4)), 2) == 7
    assert (tmp_path / "f").read_bytes() == b"abcdefg"


def test_iovec_count_limits(task: Task, tmp_path: Path) -> None:
    fd = open_file(task, tmp_path)
    segs = [(BUF + i, 1) for i in range(UIO_MAXIOV + 1)]
    iovec(task, *segs, at=USER_BUF + 0x4000)
    assert sys(task, "readv", fd, USER_BUF + 0x4000, UIO_MAXIOV + 1) == -Errno.EINVAL
    assert sys(task, "writev", fd, USER_BUF + 0x4000, UIO_MAXIOV + 1) == -Errno.EINVAL
    assert sys(task, "readv", fd, USER_BUF + 0x4000, UIO_MAXIOV) == UIO_MAXIOV
    assert sys(task, "readv", fd, KERNEL_ADDR, 0) == 0  # nothing to copy
    assert sys(task, "lseek", fd, 0, o.SEEK_SET) == 0
    assert sys(task, "readv", fd, USER_BUF + 0x4000, (1 << 32) + 1) == 1  # the count is an unsigned int


def test_iovec_efault(task: Task, tmp_path: Path) -> None:
    fd = open_file(task, tmp_path)
    for bad in (KERNEL_ADDR, UNMAPPED, EDGE_END - 16):
        assert sys(task, "readv", fd, bad, 2) == -Errno.EFAULT
        assert sys(task, "writev", fd, bad, 2) == -Errno.EFAULT
    vec = iovec(task, (BUF, 4), (KERNEL_ADDR, 4))  # a segment in the kernel half: import_iovec refuses
    assert sys(task, "readv", fd, vec, 2) == -Errno.EFAULT
    assert offset(task, fd) == 0
    vec = iovec(task, (BUF, (1 << 63) - 1))  # a single segment is capped to MAX_RW_COUNT first
    assert sys(task, "readv", fd, vec, 1) == len(DATA)


@pytest.mark.parametrize("name", ["readv", "writev"])
def test_negative_iov_len_is_einval(task: Task, tmp_path: Path, name: str) -> None:
    """copy_iovec_from_user refuses a length that does not fit ssize_t, before any access_ok."""
    fd = open_file(task, tmp_path)
    assert sys(task, name, fd, iovec(task, (BUF, 4), (BUF, -1)), 2) == -Errno.EINVAL
    assert sys(task, name, fd, iovec(task, (KERNEL_ADDR, 4), (BUF, 1 << 63)), 2) == -Errno.EINVAL
    assert sys(task, name, fd, iovec(task, (BUF, -1)), 1) == -Errno.EINVAL


@linux_only
def test_iovec_errors_match_host(tmp_path: Path) -> None:
    (tmp_path / "h").write_bytes(DATA)
    fd = os.open(tmp_path / "h", os.O_RDWR)
    buf = cbuf(64)
    try:
        neg = cbuf(struct.pack("<QQQQ", addr(buf), 4, addr(buf), MASK64))
        assert host_sys("writev", fd, addr(neg), 2) == -Errno.EINVAL
        neg2 = cbuf(struct.pack("<QQQQ", KERNEL_ADDR, 4, addr(buf), 1 << 63))
        assert host_sys("readv", fd, addr(neg2), 2) == -Errno.EINVAL
        kern = cbuf(struct.pack("<QQQQ", addr(buf), 4, KERNEL_ADDR, 4))
        assert host_sys("readv", fd, addr(kern), 2) == -Errno.EFAULT
        assert host_sys("readv", fd, KERNEL_ADDR, 0) == 0
        many = cbuf(struct.pack("<QQ", addr(buf), 1) * (UIO_MAXIOV + 1))
        assert host_sys("readv", fd, addr(many), UIO_MAXIOV + 1) == -Errno.EINVAL
    finally:
        os.close(fd)


def test_readv_stops_at_the_first_bad_segment(task: Task, tmp_path: Path) -> None:
    fd = open_file(task, tmp_path)
    vec = iovec(task, (BUF, 4), (UNMAPPED, 4), (BUF + 100, 4))
    assert sys(task, "readv", fd, vec, 3) == 4
    vec = iovec(task, (EDGE_END - 2, 4), (BUF, 4))
    assert sys(task, "readv", fd, vec, 2) == 2
    assert offset(task, fd) == 6
    vec = iovec(task, (UNMAPPED, 4), (BUF, 4))
    assert sys(task, "readv", fd, vec, 2) == -Errno.EFAULT


def test_writev_stops_at_the_first_bad_segment(task: Task, tmp_path: Path) -> None:
    fd = open_file(task, tmp_path, data=b"")
    task.mm.write(BUF, b"abcd")
    task.mm.write(EDGE_END - 2, b"ef")
    assert sys(task, "writev", fd, iovec(task, (BUF, 4), (EDGE_END - 2, 4), (BUF, 4)), 3) == 6
    assert (tmp_path / "f").read_bytes() == b"abcdef"


def test_vectored_ebadf(task: Task, tmp_path: Path) -> None:
    ro = open_file(task, tmp_path, o.O_RDONLY)
    wo = open_file(task, tmp_path, o.O_WRONLY)
    path = open_file(task, tmp_path, o.O_PATH)
    vec = iovec(task, (BUF, 4))
    assert sys(task, "readv", wo, vec, 1) == -Errno.EBADF
    assert sys(task, "writev", ro, vec, 1) == -Errno.EBADF
    assert sys(task, "readv", path, vec, 1) == -Errno.EBADF
    assert sys(task, "readv", 99, vec, 1) == -Errno.EBADF
    assert sys(task, "readv", wo, KERNEL_ADDR, 1) == -Errno.EBADF  # the mode before the iovec
    assert sys(task, "readv", ro | (1 << 32), vec, 1) == 4  # the fd is an unsigned int


def test_preadv_pwritev(task: Task, tmp_path: Path) -> None:
    fd = open_file(task, tmp_path)
    vec = iovec(task, (BUF, 2), (BUF + 10, 2))
    assert sys(task, "preadv", fd, vec, 2, 300, 0) == 4
    assert task.mm.read(BUF, 2) + task.mm.read(BUF + 10, 2) == DATA[300:304]
    assert sys(task, "pwritev", fd, vec, 2, 10, 0x1234) == 4  # pos_h is shifted out on 64-bit
    assert (tmp_path / "f").read_bytes()[10:14] == DATA[300:304]
    assert offset(task, fd) == 0
    assert sys(task, "preadv", fd, vec, 2, -1, 0) == -Errno.EINVAL
    assert sys(task, "pwritev", 99, vec, 2, -5, 0) == -Errno.EINVAL
    r, w = pipe(task)
    assert sys(task, "preadv", r, vec, 2, 0, 0) == -Errno.ESPIPE
    assert sys(task, "pwritev", w, vec, 2, 0, 0) == -Errno.ESPIPE


def test_preadv2_pwritev2(task: Task, tmp_path: Path) -> None:
    fd = open_file(task, tmp_path)
    vec = iovec(task, (BUF, 4))
    assert sys(task, "preadv2", fd, vec, 1, 8, 0, 0) == 4
    assert offset(task, fd) == 0
    assert sys(task, "preadv2", fd, vec, 1, -1, 0, 0) == 4  # -1: the file position, which moves
    assert offset(task, fd) == 4
    assert task.mm.read(BUF, 4) == DATA[:4]
    assert sys(task, "pwritev2", fd, vec, 1, -1, 0, 0) == 4
    assert offset(task, fd) == 8
    assert sys(task, "preadv2", fd, vec, 1, 0, 0, 1) == 4  # RWF_HIPRI
    assert sys(task, "preadv2", fd, vec, 1, -2, 0, 0) == -Errno.EINVAL
    r, _ = pipe(task)
    assert sys(task, "preadv2", r, vec, 1, -1, 0, 0) == -Errno.EAGAIN  # -1 works on pipes too


RWF_UNKNOWN = 0x10000


def test_rwf_flags_are_checked_after_the_descriptor_and_the_iovec(task: Task, tmp_path: Path) -> None:
    """kiocb_set_rw_flags runs in do_iter_readv_writev, after vfs_readv's checks and import_iovec."""
    fd = open_file(task, tmp_path)
    wo = open_file(task, tmp_path, o.O_WRONLY)
    vec = iovec(task, (BUF, 4))
    assert sys(task, "preadv2", fd, vec, 1, 0, 0, RWF_UNKNOWN) == -Errno.EOPNOTSUPP
    assert sys(task, "pwritev2", fd, vec, 1, -1, 0, RWF_UNKNOWN) == -Errno.EOPNOTSUPP
    assert sys(task, "preadv2", wo, vec, 1, 0, 0, RWF_UNKNOWN) == -Errno.EBADF
    assert sys(task, "preadv2", fd, KERNEL_ADDR, 1, 0, 0, RWF_UNKNOWN) == -Errno.EFAULT
    assert sys(task, "preadv2", fd, iovec(task, (BUF, 0)), 1, 0, 0, RWF_UNKNOWN) == 0  # nothing to do
    assert sys(task, "preadv2", fd, vec, 0, -1, 0, RWF_UNKNOWN) == 0


RWF_APPEND, RWF_NOAPPEND, RWF_ATOMIC = 0x10, 0x20, 0x40


def test_rwf_flag_combinations(task: Task, tmp_path: Path) -> None:
    fd = open_file(task, tmp_path)
    vec = iovec(task, (BUF, 4))
    assert sys(task, "pwritev2", fd, vec, 1, 0, 0, RWF_APPEND | RWF_NOAPPEND) == -Errno.EINVAL
    assert sys(task, "preadv2", fd, vec, 1, 0, 0, RWF_ATOMIC) == -Errno.EOPNOTSUPP  # never for reads
    assert sys(task, "pwritev2", fd, vec, 1, 0, 0, RWF_ATOMIC) == -Errno.EOPNOTSUPP  # a buffered write

def test_pwritev2_rwf_append_writes_at_the_end(task: Task, tmp_path: Path) -> None:
    fd = open_file(task, tmp_path)
    task.mm.write(BUF, b"tail")
    assert sys(task, "pwritev2", fd, iovec(task, (BUF, 4)), 1, 0, 0, RWF_APPEND) == 4
    assert (tmp_path / "f").read_bytes() == DATA + b"tail"


@linux_only
def test_rwf_flag_order_matches_host(tmp_path: Path) -> None:
    (tmp_path / "h").write_bytes(DATA)
    fd = os.open(tmp_path / "h", os.O_RDWR)
    wo = os.open(tmp_path / "h", os.O_WRONLY)
    buf = cbuf(8)
    vec = cbuf(struct.pack("<QQ", addr(buf), 4))
    empty = cbuf(struct.pack("<QQ", addr(buf), 0))
    try:
        assert host_sys("preadv2", fd, addr(vec), 1, 0, 0, RWF_UNKNOWN) == -Errno.EOPNOTSUPP
        assert host_sys("preadv2", wo, addr(vec), 1, 0, 0, RWF_UNKNOWN) == -Errno.EBADF
        assert host_sys("preadv2", fd, KERNEL_ADDR, 1, 0, 0, RWF_UNKNOWN) == -Errno.EFAULT
        assert host_sys("preadv2", fd, addr(empty), 1, 0, 0, RWF_UNKNOWN) == 0
        assert host_sys("pwritev2", fd, addr(vec), 1, 0, 0, RWF_APPEND | RWF_NOAPPEND) == -Errno.EINVAL
        assert host_sys("preadv2", fd, addr(vec), 1, 0, 0, RWF_ATOMIC) == -Errno.EOPNOTSUPP
        assert host_sys("pwritev2", fd, addr(vec), 1, 0, 0, RWF_ATOMIC) == -Errno.EOPNOTSUPP
    finally:
        os.close(fd)
        os.close(wo)


# -- lseek ---------------------------------------------------------------------------------------


def test_lseek(task: Task, tmp_path: Path) -> None:
    fd = open_file(task, tmp_path)
    assert sys(task, "lseek", fd, 10, o.SEEK_SET) == 10
    assert sys(task, "lseek", fd, 5, o.SEEK_CUR) == 15
    assert sys(task, "lseek", fd, -4, o.SEEK_END) == len(DATA) - 4
    assert sys(task, "lseek", fd, 1 << 40, o.SEEK_SET) == 1 << 40  # beyond the end is fine
    assert sys(task, "lseek", fd, 0, o.SEEK_DATA) == 0
    assert sys(task, "lseek", fd, 0, o.SEEK_HOLE) == len(DATA)
    assert sys(task, "lseek", fd, len(DATA), o.SEEK_DATA) == -Errno.ENXIO


def test_lseek_errors(task: Task, tmp_path: Path) -> None:
    fd = open_file(task, tmp_path)
    assert sys(task, "lseek", fd, 8, o.SEEK_SET) == 8
    assert sys(task, "lseek", fd, -1, o.SEEK_SET) == -Errno.EINVAL
    assert sys(task, "lseek", fd, -100, o.SEEK_CUR) == -Errno.EINVAL
    assert offset(task, fd) == 8
    for whence in (5, 100, -1):
        assert sys(task, "lseek", fd, 0, whence) == -Errno.EINVAL
    assert sys(task, "lseek", 99, 0, 5) == -Errno.EBADF  # EBADF first
    path = open_file(task, tmp_path, o.O_PATH)
    assert sys(task, "lseek", path, 0, o.SEEK_SET) == -Errno.EBADF
