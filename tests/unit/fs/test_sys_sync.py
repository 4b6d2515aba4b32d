"""fsync, fdatasync, sync, syncfs."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from sysgate.kernel.task import Task
from sysgate.uapi import fcntl as o
from sysgate.uapi.errno import Errno
from tests.conftest import sys
from tests.unit.fs.conftest import OUT, open_fd


@pytest.mark.parametrize("call", ["fsync", "fdatasync"])
def test_fsync_files_and_directories(task: Task, tmp_path: Path, call: str) -> None:
    (tmp_path / "f").write_bytes(b"data")
    assert sys(task, call, open_fd(task, "f", o.O_RDWR)) == 0
    assert sys(task, call, open_fd(task, "f")) == 0
    assert sys(task, call, open_fd(task, ".", o.O_DIRECTORY)) == 0


@pytest.mark.parametrize("call", ["fsync", "fdatasync"])
def test_fsync_errors(task: Task, tmp_path: Path, call: str) -> None:
    (tmp_path / "f").write_bytes(b"")
    assert sys(task, call, 99) == -Errno.EBADF
    assert sys(task, call, open_fd(task, "f", o.O_PATH)) == -Errno.EBADF
    assert sys(task, "pipe", OUT) == 0
    rfd, _ = struct.unpack("<ii", task.mm.read(OUT, 8))
    assert sys(task, call, rfd) == -Errno.EINVAL  # pipes have no fsync
    assert sys(task, call, open_fd(task, "/proc/self/maps")) == -Errno.EINVAL


def test_sync(task: Task) -> None:
    assert sys(task, "sync") == 0


def test_syncfs(task: Task, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    assert sys(task, "syncfs", open_fd(task, "f")) == 0
    assert sys(task, "syncfs", open_fd(task, "/proc/self/maps")) == 0
    assert sys(task, "syncfs", 99) == -Errno.EBADF
    assert sys(task, "syncfs", -1) == -Errno.EBADF
    assert sys(task, "syncfs", open_fd(task, "f", o.O_PATH)) == -Errno.EBADF
