"""fadvise64 against the host: regular files, directories, pipes, /proc files, bad
descriptors, every advice and the lengths Linux refuses, each compared with the same call
on the host."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sysgate.kernel.task import Task
from sysgate.uapi import fadvise as fa
from sysgate.uapi import fcntl as o
from sysgate.uapi.errno import Errno
from tests.conftest import USER_BUF, sys
from tests.unit.fs.conftest import open_fd
from tests.unit.hostsys import host_sys, linux_only

pytestmark = linux_only

ADVICE = [fa.POSIX_FADV_NORMAL, fa.POSIX_FADV_RANDOM, fa.POSIX_FADV_SEQUENTIAL, fa.POSIX_FADV_WILLNEED,
          fa.POSIX_FADV_DONTNEED, fa.POSIX_FADV_NOREUSE, 6, 7, -1, 1 << 31]
RANGES = [(0, 0), (10, 100), (-1, 5), (0, -1), (1 << 62, 1 << 63), ((1 << 63) - 1, 1)]


@pytest.fixture
def both(task: Task, tmp_path: Path) -> list[tuple[str, int, int]]:
    """(what, guest fd, host fd) for each kind of file."""
    (tmp_path / "f").write_bytes(b"x" * 10000)
    r, w = os.pipe()
    assert sys(task, "pipe", USER_BUF) == 0
    gr = int.from_bytes(task.mm.read(USER_BUF, 4), "little")
    kinds = [
        ("file", open_fd(task, "f"), os.open(tmp_path / "f", os.O_RDONLY)),
        ("dir", open_fd(task, ".", o.O_DIRECTORY), os.open(tmp_path, os.O_RDONLY)),
        ("pipe", gr, r),
        ("proc", open_fd(task, "/proc/self/maps"), os.open("/proc/self/maps", os.O_RDONLY)),
        ("dev", open_fd(task, "/dev/null"), os.open("/dev/null", os.O_RDONLY)),
    ]
    yield kinds
    for _, _, fd in kinds:
        os.close(fd)
    os.close(w)


def test_matches_the_host(task: Task, both: list[tuple[str, int, int]]) -> None:
    seen = set()
    for what, gfd, hfd in both:
        for advice in ADVICE:
            for offset, length in RANGES:
                ours = sys(task, "fadvise64", gfd, offset, length, advice)
                assert ours == host_sys("fadvise64", hfd, offset, length, advice), (what, advice, offset, length)
                seen.add(ours)
    assert seen == {0, -Errno.EINVAL, -Errno.ESPIPE}


def test_descriptors(task: Task, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    assert sys(task, "fadvise64", open_fd(task, "f", o.O_PATH), 0, 0, 0) == -Errno.EBADF
    assert sys(task, "fadvise64", 99, 0, 0, 0) == -Errno.EBADF
    assert sys(task, "fadvise64", -1, 0, 0, 0) == -Errno.EBADF
    assert sys(task, "fadvise64", 99, 0, -1, 99) == -Errno.EBADF  # the descriptor comes first
    assert sys(task, "fadvise64", open_fd(task, "f", o.O_WRONLY), 0, 0, fa.POSIX_FADV_DONTNEED) == 0
