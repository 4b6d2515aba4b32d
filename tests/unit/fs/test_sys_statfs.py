"""statfs and fstatfs: the host's struct statfs, passed through; errors in Linux's order."""

from __future__ import annotations

import ctypes
import os
import struct
from pathlib import Path

import pytest

from sysgate.arch.x86_64.structs import STATFS
from sysgate.kernel.task import Task
from sysgate.uapi import fcntl as o
from sysgate.uapi.errno import Errno
from tests.conftest import EDGE, KERNEL_ADDR, RO_PAGE, UNMAPPED, sys
from tests.unit.fs.conftest import OUT, long_name, name, open_fd

PROC_SUPER_MAGIC = 0x9FA0
PIPEFS_MAGIC = 0x50495045


def host_statfs(path: Path) -> tuple[int, ...]:
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(STATFS.size)
    assert libc.statfs(os.fsencode(path), buf) == 0
    return STATFS.unpack(buf.raw)


def stable(fields: tuple[int, ...]) -> tuple[int, ...]:
    """f_type, f_bsize, f_blocks, f_files, f_fsid, f_namelen, f_frsize, f_flags (not the free counts)."""
    f_type, bsize, blocks, _bfree, _bavail, files, _ffree, fsid0, fsid1, namelen, frsize, flags, *_ = fields
    return f_type, bsize, blocks, files, fsid0, fsid1, namelen, frsize, flags


def guest_statfs(task: Task) -> tuple[int, ...]:
    return STATFS.unpack(task.mm.read(OUT, STATFS.size))


def test_statfs_matches_the_host(task: Task, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    assert sys(task, "statfs", name(task, "f"), OUT) == 0
    assert stable(guest_statfs(task)) == stable(host_statfs(tmp_path / "f"))
    assert guest_statfs(task)[12:] == (0, 0, 0, 0)  # f_spare


def test_fstatfs_matches_the_host_and_takes_o_path(task: Task, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    for flags in (o.O_RDONLY, o.O_PATH):
        assert sys(task, "fstatfs", open_fd(task, "f", flags), OUT) == 0
        assert stable(guest_statfs(task)) == stable(host_statfs(tmp_path / "f"))


def test_statfs_follows_symlinks(task: Task, tmp_path: Path) -> None:
    (tmp_path / "l").symlink_to("/proc")
    assert sys(task, "statfs", name(task, "l"), OUT) == 0
    assert guest_statfs(task)[0] == PROC_SUPER_MAGIC


def test_procfs_and_pipes(task: Task) -> None:
    assert sys(task, "statfs", name(task, "/proc/self/maps"), OUT) == 0
    assert guest_statfs(task)[0] == PROC_SUPER_MAGIC
    assert sys(task, "fstatfs", open_fd(task, "/proc/self"), OUT) == 0
    assert guest_statfs(task)[0] == PROC_SUPER_MAGIC
    assert sys(task, "pipe", OUT + 0x1000) == 0
    rfd = struct.unpack("<i", task.mm.read(OUT + 0x1000, 4))[0]
    assert sys(task, "fstatfs", rfd, OUT) == 0
    assert guest_statfs(task)[0] == PIPEFS_MAGIC


def test_statfs_errors_in_order(task: Task, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    for bad in (KERNEL_ADDR, UNMAPPED):
        assert sys(task, "statfs", bad, OUT) == -Errno.EFAULT
    assert sys(task, "statfs", name(task, ""), OUT) == -Errno.ENOENT
    assert sys(task, "statfs", long_name(task), OUT) == -Errno.ENAMETOOLONG
    # The lookup comes before the buffer.
    assert sys(task, "statfs", name(task, "missing"), KERNEL_ADDR) == -Errno.ENOENT
    assert sys(task, "statfs", name(task, "f/x"), KERNEL_ADDR) == -Errno.ENOTDIR


@pytest.mark.parametrize("buf", [KERNEL_ADDR, UNMAPPED, RO_PAGE, EDGE + 0x1000 - 64])
def test_bad_buffer_is_efault(task: Task, tmp_path: Path, buf: int) -> None:
    assert sys(task, "statfs", name(task, "."), buf) == -Errno.EFAULT
    assert sys(task, "fstatfs", 0, buf) == -Errno.EFAULT


def test_fstatfs_bad_descriptor(task: Task) -> None:
    assert sys(task, "fstatfs", 99, OUT) == -Errno.EBADF
    assert sys(task, "fstatfs", 99, KERNEL_ADDR) == -Errno.EBADF
