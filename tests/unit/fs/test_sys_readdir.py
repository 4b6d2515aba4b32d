"""getdents64 and getdents: record layout, positions across calls, errors, partial fills."""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path

import pytest

from sysgate.kernel.task import Task
from sysgate.uapi import fcntl as o
from sysgate.uapi.errno import Errno
from tests.conftest import EDGE, KERNEL_ADDR, RO_PAGE, UNMAPPED, sys
from tests.unit.fs.conftest import OUT, open_fd

Entry = tuple[int, int, int, bytes]  # ino, off, type, name


def parse64(raw: bytes) -> list[Entry]:
    out, pos = [], 0
    while pos < len(raw):
        ino, off, reclen, typ = struct.unpack_from("<QqHB", raw, pos)
        assert reclen % 8 == 0
        name = raw[pos + 19 : pos + reclen].split(b"\0")[0]
        out.append((ino, off, typ, name))
        pos += reclen
    return out


def parse(raw: bytes) -> list[Entry]:
    out, pos = [], 0
    while pos < len(raw):
        ino, off, reclen = struct.unpack_from("<QQH", raw, pos)
        assert reclen % 8 == 0
        name = raw[pos + 18 : pos + reclen].split(b"\0")[0]
        out.append((ino, off, raw[pos + reclen - 1], name))
        pos += reclen
    return out


def read_all(task: Task, fd: int, call: str = "getdents64", count: int = 0x8000) -> list[Entry]:
    entries: list[Entry] = []
    while (n := sys(task, call, fd, OUT, count)) > 0:
        entries += (parse64 if call == "getdents64" else parse)(task.mm.read(OUT, n))
    assert n == 0
    return entries


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    d = tmp_path / "d"
    d.mkdir()
    (d / "file").write_bytes(b"")
    (d / "sub").mkdir()
    (d / "link").symlink_to("file")
    os.mkfifo(d / "fifo")
    (d / ("long" * 30)).write_bytes(b"")
    return d


def expected(d: Path) -> dict[bytes, tuple[int, int]]:
    want = {b".": (os.stat(d).st_ino, 4), b"..": (os.stat(d.parent).st_ino, 4)}
    for e in os.scandir(d):
        st = os.lstat(e.path)
        want[os.fsencode(e.name)] = (st.st_ino, stat.S_IFMT(st.st_mode) >> 12)
    return want


@pytest.mark.parametrize("call", ["getdents64", "getdents"])
def test_lists_every_entry_like_the_host(task: Task, tree: Path, call: str) -> None:
    fd = open_fd(task, "d", o.O_RDONLY | o.O_DIRECTORY)
    entries = read_all(task, fd, call)
    assert {name: (ino, typ) for ino, _, typ, name in entries} == expected(tree)
    assert [off for _, off, _, _ in entries] == list(range(1, len(entries) + 1))


@pytest.mark.parametrize("call, first", [("getdents64", 24), ("getdents", 24)])
def test_small_buffers_continue_where_they_stopped(task: Task, tree: Path, call: str, first: int) -> None:
    fd = open_fd(task, "d", o.O_DIRECTORY)
    assert sys(task, call, fd, OUT, first) == first  # just "."
    rest = read_all(task, fd, call, count=160)
    assert rest[0][3] == b".."
    assert len(rest) == len(expected(tree)) - 1


def test_lseek_to_zero_starts_again_and_sees_new_entries(task: Task, tree: Path) -> None:
    fd = open_fd(task, "d", o.O_DIRECTORY)
    first = read_all(task, fd)
    (tree / "new").write_bytes(b"")
    assert sys(task, "getdents64", fd, OUT, 4096) == 0
    assert sys(task, "lseek", fd, 0, o.SEEK_SET) == 0
    again = read_all(task, fd)
    assert {e[3] for e in again} == {e[3] for e in first} | {b"new"}


def test_lseek_to_a_d_off_resumes_after_that_entry(task: Task, tree: Path) -> None:
    fd = open_fd(task, "d", o.O_DIRECTORY)
    entries = read_all(task, fd)
    assert sys(task, "lseek", fd, entries[2][1], o.SEEK_SET) == entries[2][1]
    assert read_all(task, fd) == entries[3:]


def test_buffer_too_small_for_one_entry_is_einval(task: Task, tree: Path) -> None:
    fd = open_fd(task, "d", o.O_DIRECTORY)
    assert sys(task, "getdents64", fd, OUT, 23) == -Errno.EINVAL
    assert sys(task, "getdents64", fd, OUT, 0) == -Errno.EINVAL
    assert sys(task, "getdents64", fd, OUT, 0x80000000) == -Errno.EINVAL  # a negative int
    assert sys(task, "getdents", fd, OUT, 23) == -Errno.EINVAL
    # Nothing was consumed: "." still comes first.
    assert parse64(task.mm.read(OUT, sys(task, "getdents64", fd, OUT, 24)))[0][3] == b"."
    # At the end there is nothing to fit, so even a zero count reads 0.
    read_all(task, fd)
    assert sys(task, "getdents64", fd, OUT, 0) == 0


@pytest.mark.parametrize("buf", [KERNEL_ADDR, UNMAPPED, RO_PAGE])
@pytest.mark.parametrize("call", ["getdents64", "getdents"])
def test_bad_buffer_is_efault(task: Task, tree: Path, buf: int, call: str) -> None:
    fd = open_fd(task, "d", o.O_DIRECTORY)
    assert sys(task, call, fd, buf, 4096) == -Errno.EFAULT


def test_a_buffer_running_into_a_bad_page_gets_what_fits(task: Task, tree: Path) -> None:
    fd = open_fd(task, "d", o.O_DIRECTORY)
    buf = EDGE + 0x1000 - 40  # room for "." (24 bytes), not for ".." after it
    assert sys(task, "getdents64", fd, buf, 4096) == 24
    assert parse64(task.mm.read(buf, 24))[0][3] == b"."
    assert parse64(task.mm.read(OUT, sys(task, "getdents64", fd, OUT, 24)))[0][3] == b".."


def test_descriptor_errors(task: Task, tree: Path) -> None:
    assert sys(task, "getdents64", 99, OUT, 4096) == -Errno.EBADF
    assert sys(task, "getdents", 99, OUT, 4096) == -Errno.EBADF
    assert sys(task, "getdents64", open_fd(task, "d/file"), OUT, 4096) == -Errno.ENOTDIR
    assert sys(task, "getdents", open_fd(task, "d/file"), OUT, 4096) == -Errno.ENOTDIR
    assert sys(task, "getdents64", open_fd(task, "d", o.O_PATH), OUT, 4096) == -Errno.EBADF
    # The descriptor is checked before the buffer.
    assert sys(task, "getdents64", open_fd(task, "d/file"), KERNEL_ADDR, 4096) == -Errno.ENOTDIR


def test_a_removed_directory_is_enoent(task: Task, tree: Path) -> None:
    fd = open_fd(task, "d/sub", o.O_DIRECTORY)
    (tree / "sub").rmdir()
    assert sys(task, "getdents64", fd, OUT, 4096) == -Errno.ENOENT


def test_procfs_directories(task: Task) -> None:
    fd = open_fd(task, "/proc/self", o.O_DIRECTORY)
    names = {e[3] for e in read_all(task, fd, count=100)}
    assert {b".", b"..", b"exe", b"fd", b"maps"} <= names
    fd = open_fd(task, "/proc/self/fd", o.O_DIRECTORY)
    assert {b"0", b"1", b"2"} <= {e[3] for e in read_all(task, fd, "getdents")}
