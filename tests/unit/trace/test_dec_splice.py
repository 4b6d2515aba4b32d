"""sendfile, copy_file_range, fsync, fdatasync, sync and syncfs traced as strace 6.1 prints
them (the strings are those the host's strace printed for static C programs making the
same calls)."""

from __future__ import annotations

import os
import struct

import pytest

from sysgate.uapi import fcntl as o
from tests.conftest import USER_BUF, put_str, sys
from tests.unit.trace.conftest import line, traced

BUF = USER_BUF
OFF = USER_BUF + 0x100
OFF2 = USER_BUF + 0x108
PAIR = USER_BUF + 0x200



@pytest.fixture
def files(task, tmp_path) -> tuple[int, int]:
    """"src" holding 20 bytes as descriptor 3, an empty "dst" as 4."""
    (tmp_path / "src").write_bytes(b"0123456789abcdefghij")
    (tmp_path / "dst").write_bytes(b"")
    put_str(task, "src", BUF)
    assert sys(task, "openat", o.AT_FDCWD, BUF, o.O_RDWR, 0) == 3
    put_str(task, "dst", BUF)
    assert sys(task, "openat", o.AT_FDCWD, BUF, o.O_RDWR, 0) == 4
    return 3, 4


def loff(task, addr: int, value: int) -> int:
    task.mm.write(addr, struct.pack("<q", value))
    return addr


def test_sendfile_shows_the_offset_before_and_after(task, files):
    src, dst = files
    assert traced(task, "sendfile", dst, src, loff(task, OFF, 3), 5) == line("sendfile(4, 3, [3] => [8], 5)", "5")
    assert traced(task, "sendfile", dst, src, OFF, 0) == line("sendfile(4, 3, [8], 0)", "0")
    assert traced(task, "sendfile", dst, src, loff(task, OFF, 100), 5) == line("sendfile(4, 3, [100], 5)", "0")
    assert traced(task, "sendfile", dst, src, 0, 4) == line("sendfile(4, 3, NULL, 4)", "4")


def test_sendfile_failures(task, files):
    src, dst = files
    assert traced(task, "sendfile", dst, src, 8, 4) == line("sendfile(4, 3, 0x8, 4)", "-1 EFAULT (Bad address)")
    assert traced(task, "sendfile", 99, src, loff(task, OFF, 100), 4) == line(
        "sendfile(99, 3, [100], 4)", "-1 EBADF (Bad file descriptor)")
    assert traced(task, "sendfile", dst, src, loff(task, OFF, -1), 4) == line(
        "sendfile(4, 3, [18446744073709551615], 4)", "-1 EINVAL (Invalid argument)")


def test_copy_file_range_shows_the_offsets_it_was_given(task, files):
    src, dst = files
    assert traced(task, "copy_file_range", src, loff(task, OFF, 2), dst, loff(task, OFF2, 0), 6, 0) == line(
        "copy_file_range(3, [2], 4, [0], 6, 0)", "6")
    assert struct.unpack("<qq", task.mm.read(OFF, 16)) == (8, 6)
    assert traced(task, "copy_file_range", src, 0, dst, 0, 3, 0) == line(
        "copy_file_range(3, NULL, 4, NULL, 3, 0)", "3")
    assert traced(task, "copy_file_range", src, loff(task, OFF, 0), dst, OFF2, 6, 1) == line(
        "copy_file_range(3, [0], 4, [6], 6, 1)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "copy_file_range", src, loff(task, OFF, -5), dst, OFF2, 6, 0) == line(
        "copy_file_range(3, [-5], 4, [6], 6, 0)", "-1 EOVERFLOW (Value too large for defined data type)")
    assert traced(task, "copy_file_range", src, 8, dst, 0, 3, 0) == line(
        "copy_file_range(3, 0x8, 4, NULL, 3, 0)", "-1 EFAULT (Bad address)")
    assert traced(task, "copy_file_range", 99, 0, dst, 0, 3, 0) == line(
        "copy_file_range(99, NULL, 4, NULL, 3, 0)", "-1 EBADF (Bad file descriptor)")


def test_sync_family(task, files, tmp_path):
    src, _ = files
    assert traced(task, "fsync", src) == line("fsync(3)", "0")
    assert traced(task, "fdatasync", src) == line("fdatasync(3)", "0")
    assert traced(task, "sync") == line("sync()", "0")
    assert traced(task, "syncfs", src) == line("syncfs(3)", "0")
    assert traced(task, "fsync", 99) == line("fsync(99)", "-1 EBADF (Bad file descriptor)")
    assert sys(task, "pipe", PAIR) == 0
    assert traced(task, "fsync", 5) == line("fsync(5)", "-1 EINVAL (Invalid argument)")
    path = os.path.realpath(tmp_path / "src")
    assert traced(task, "fdatasync", src, options=("-y",)) == line(f"fdatasync(3<{path}>)", "0")


def test_offsets_are_addresses_without_verbose(task, files):
    src, dst = files
    assert traced(task, "sendfile", dst, src, loff(task, OFF, 3), 5, options=("-e", "verbose=none")) == line(
        "sendfile(4, 3, 0x10000100, 5)", "5")
    assert traced(task, "sendfile", dst, src, 0, 4, options=("-e", "verbose=none")) == line(
        "sendfile(4, 3, NULL, 4)", "4")
