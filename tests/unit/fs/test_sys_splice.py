"""sendfile64 and copy_file_range: positions, offsets written back, errors in Linux's order."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from sysgate.kernel.task import Task
from sysgate.uapi import fcntl as o
from sysgate.uapi.errno import Errno
from sysgate.uapi.signal import SIGPIPE
from tests.conftest import KERNEL_ADDR, RO_PAGE, UNMAPPED, USER_BUF, sys
from tests.unit.fs.conftest import OUT, open_fd

OFF = USER_BUF + 0x2000
OFF2 = USER_BUF + 0x2008
FDS = OUT


def put_off(task: Task, value: int, addr: int = OFF) -> int:
    task.mm.write(addr, struct.pack("<q", value))
    return addr


def get_off(task: Task, addr: int = OFF) -> int:
    return int(struct.unpack("<q", task.mm.read(addr, 8))[0])


@pytest.fixture
def src(tmp_path: Path) -> Path:
    p = tmp_path / "src"
    p.write_bytes(b"0123456789")
    return p


def pipe(task: Task) -> tuple[int, int]:
    assert sys(task, "pipe", FDS) == 0
    rfd, wfd = struct.unpack("<ii", task.mm.read(FDS, 8))
    return rfd, wfd


# -- sendfile -------------------------------------------------------------------------------


def test_sendfile_from_the_file_position(task: Task, src: Path, tmp_path: Path) -> None:
    fin = open_fd(task, "src")
    fout = open_fd(task, "dst", o.O_WRONLY | o.O_CREAT, 0o644)
    assert sys(task, "lseek", fin, 2, o.SEEK_SET) == 2
    assert sys(task, "sendfile", fout, fin, 0, 4) == 4
    assert sys(task, "lseek", fin, 0, o.SEEK_CUR) == 6
    assert sys(task, "sendfile", fout, fin, 0, 100) == 4
    assert sys(task, "sendfile", fout, fin, 0, 100) == 0
    assert (tmp_path / "dst").read_bytes() == b"23456789"


def test_sendfile_with_an_offset_leaves_the_position(task: Task, src: Path, tmp_path: Path) -> None:
    fin = open_fd(task, "src")
    fout = open_fd(task, "dst", o.O_WRONLY | o.O_CREAT, 0o644)
    assert sys(task, "sendfile", fout, fin, put_off(task, 7), 100) == 3
    assert get_off(task) == 10
    assert sys(task, "lseek", fin, 0, o.SEEK_CUR) == 0
    assert (tmp_path / "dst").read_bytes() == b"789"


def test_sendfile_into_a_pipe_and_from_procfs(task: Task, src: Path, tmp_path: Path) -> None:
    rfd, wfd = pipe(task)
    assert sys(task, "sendfile", wfd, open_fd(task, "src"), 0, 5) == 5
    assert sys(task, "read", rfd, OUT + 64, 100) == 5
    assert task.mm.read(OUT + 64, 5) == b"01234"
    # A proc file is a seq_file without ->splice_read: sendfile from it is EINVAL, and
    # busybox's cat falls back to read(), natively as under sysgate.
    comm = open_fd(task, "/proc/self/comm")
    fout = open_fd(task, "dst", o.O_WRONLY | o.O_CREAT, 0o644)
    assert sys(task, "sendfile", fout, comm, 0, 3) == -Errno.EINVAL
    assert (tmp_path / "dst").read_bytes() == b""


def test_sendfile_to_a_pipe_without_readers(task: Task, src: Path) -> None:
    rfd, wfd = pipe(task)
    assert sys(task, "close", rfd) == 0
    assert sys(task, "sendfile", wfd, open_fd(task, "src"), 0, 5) == -Errno.EPIPE
    assert task.pending & (1 << (SIGPIPE - 1))


def test_sendfile_errors_in_order(task: Task, src: Path) -> None:
    fin = open_fd(task, "src")
    fout = open_fd(task, "dst", o.O_WRONLY | o.O_CREAT, 0o644)
    rfd, _ = pipe(task)
    for bad in (KERNEL_ADDR, UNMAPPED):
        assert sys(task, "sendfile", 99, 99, bad, 1) == -Errno.EFAULT
    assert sys(task, "sendfile", 99, 99, 0, 1) == -Errno.EBADF
    assert sys(task, "sendfile", fout, fout, 0, 1) == -Errno.EBADF  # input not readable
    assert sys(task, "sendfile", fout, open_fd(task, "src", o.O_PATH), 0, 1) == -Errno.EBADF
    assert sys(task, "sendfile", 99, rfd, put_off(task, 0), 1) == -Errno.ESPIPE
    assert sys(task, "sendfile", 99, fin, 0, 1 << 63) == -Errno.EINVAL
    assert sys(task, "sendfile", 99, fin, put_off(task, -1), 1) == -Errno.EINVAL
    assert sys(task, "sendfile", 99, fin, put_off(task, (1 << 63) - 2), 5) == -Errno.EINVAL
    assert sys(task, "sendfile", 99, fin, 0, 1) == -Errno.EBADF  # now the output
    assert sys(task, "sendfile", fin, fin, 0, 1) == -Errno.EBADF  # output not writable


def test_sendfile_offset_is_written_back_even_on_failure(task: Task, src: Path) -> None:
    fin = open_fd(task, "src")
    assert sys(task, "sendfile", 99, fin, put_off(task, 3), 1) == -Errno.EBADF
    assert get_off(task) == 3


def test_sendfile_read_only_offset_moves_the_data_then_faults(task: Task, src: Path, tmp_path: Path) -> None:
    fin = open_fd(task, "src")
    fout = open_fd(task, "dst", o.O_WRONLY | o.O_CREAT, 0o644)
    assert sys(task, "sendfile", fout, fin, RO_PAGE, 4) == -Errno.EFAULT
    assert (tmp_path / "dst").read_bytes() == b"0123"


def test_sendfile_matches_the_host(task: Task, src: Path, tmp_path: Path) -> None:
    fin = open_fd(task, "src")
    fout = open_fd(task, "dst", o.O_WRONLY | o.O_CREAT | o.O_APPEND, 0o644)
    ours = sys(task, "sendfile", fout, fin, 0, 4)
    hin = os.open(src, os.O_RDONLY)
    hout = os.open(tmp_path / "hdst", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        try:
            theirs = os.sendfile(hout, hin, None, 4)
        except OSError as exc:
            theirs = -(exc.errno or 0)
    finally:
        os.close(hin)
        os.close(hout)
    assert ours == theirs


# -- copy_file_range ------------------------------------------------------------------------


def test_copy_file_range_with_offsets(task: Task, src: Path, tmp_path: Path) -> None:
    fin = open_fd(task, "src")
    fout = open_fd(task, "dst", o.O_RDWR | o.O_CREAT, 0o644)
    n = sys(task, "copy_file_range", fin, put_off(task, 4), fout, put_off(task, 2, OFF2), 3, 0)
    assert n == 3
    assert (get_off(task), get_off(task, OFF2)) == (7, 5)
    assert (tmp_path / "dst").read_bytes() == b"\x00\x00456"
    assert sys(task, "lseek", fin, 0, o.SEEK_CUR) == 0
    assert sys(task, "lseek", fout, 0, o.SEEK_CUR) == 0


def test_copy_file_range_from_positions_to_the_end(task: Task, src: Path, tmp_path: Path) -> None:
    fin = open_fd(task, "src")
    fout = open_fd(task, "dst", o.O_WRONLY | o.O_CREAT, 0o644)
    assert sys(task, "lseek", fin, 6, o.SEEK_SET) == 6
    assert sys(task, "copy_file_range", fin, 0, fout, 0, (1 << 64) - 1, 0) == -Errno.EOVERFLOW  # 6 + len wraps
    assert sys(task, "copy_file_range", fin, 0, fout, 0, (1 << 63) + 5, 0) == 4
    assert sys(task, "lseek", fin, 0, o.SEEK_CUR) == 10
    assert sys(task, "lseek", fout, 0, o.SEEK_CUR) == 4
    assert sys(task, "copy_file_range", fin, 0, fout, 0, 100, 0) == 0
    assert (tmp_path / "dst").read_bytes() == b"6789"


def test_copy_file_range_errors_in_order(task: Task, src: Path, tmp_path: Path) -> None:
    fin = open_fd(task, "src")
    fout = open_fd(task, "dst", o.O_RDWR | o.O_CREAT, 0o644)
    rfd, _ = pipe(task)
    assert sys(task, "copy_file_range", 99, KERNEL_ADDR, 99, KERNEL_ADDR, 1, 1) == -Errno.EBADF
    assert sys(task, "copy_file_range", fin, KERNEL_ADDR, 99, KERNEL_ADDR, 1, 1) == -Errno.EBADF
    assert sys(task, "copy_file_range", open_fd(task, "src", o.O_PATH), 0, fout, 0, 1, 0) == -Errno.EBADF
    for bad in (KERNEL_ADDR, UNMAPPED):
        assert sys(task, "copy_file_range", fin, bad, fout, 0, 1, 1) == -Errno.EFAULT
        assert sys(task, "copy_file_range", fin, 0, fout, bad, 1, 1) == -Errno.EFAULT
    assert sys(task, "copy_file_range", fin, 0, fout, 0, 1, 1) == -Errno.EINVAL
    dfd = open_fd(task, ".", o.O_DIRECTORY)
    assert sys(task, "copy_file_range", dfd, 0, fout, 0, 1, 0) == -Errno.EISDIR
    assert sys(task, "copy_file_range", rfd, 0, fout, 0, 1, 0) == -Errno.EINVAL
    assert sys(task, "copy_file_range", fin, 0, fin, 0, 1, 0) == -Errno.EBADF  # not writable
    app = open_fd(task, "dst", o.O_WRONLY | o.O_APPEND)
    assert sys(task, "copy_file_range", fin, 0, app, 0, 1, 0) == -Errno.EBADF
    rw = open_fd(task, "src", o.O_RDWR)
    n = sys(task, "copy_file_range", rw, put_off(task, 0), rw, put_off(task, 2, OFF2), 5, 0)
    assert n == -Errno.EINVAL  # overlapping ranges of one file


def test_copy_file_range_from_procfs_is_exdev(task: Task, tmp_path: Path) -> None:
    fout = open_fd(task, "dst", o.O_WRONLY | o.O_CREAT, 0o644)
    assert sys(task, "copy_file_range", open_fd(task, "/proc/self/maps"), 0, fout, 0, 10, 0) == -Errno.EXDEV
    assert sys(task, "copy_file_range", open_fd(task, "/proc/self"), 0, fout, 0, 10, 0) == -Errno.EISDIR


def test_copy_file_range_writes_both_offsets_back_then_faults(task: Task, src: Path, tmp_path: Path) -> None:
    fin = open_fd(task, "src")
    fout = open_fd(task, "dst", o.O_WRONLY | o.O_CREAT, 0o644)
    n = sys(task, "copy_file_range", fin, RO_PAGE, fout, put_off(task, 1, OFF2), 3, 0)
    assert n == -Errno.EFAULT
    assert get_off(task, OFF2) == 4
    assert (tmp_path / "dst").read_bytes() == b"\x00012"
