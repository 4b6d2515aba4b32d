"""pipe and pipe2: descriptors, flags, and nothing installed or leaked when the call fails."""

from __future__ import annotations

import os
import struct

import pytest

from sysgate.kernel.task import Task
from sysgate.uapi import fcntl as o
from sysgate.uapi.errno import Errno
from sysgate.uapi.resource import RLIMIT_NOFILE
from sysgate.uapi.signal import SIGPIPE
from tests.conftest import EDGE, KERNEL_ADDR, RO_PAGE, UNMAPPED, USER_BUF, sys
from tests.unit.fs.conftest import OUT

FDS = OUT


def pair(task: Task) -> tuple[int, int]:
    rfd, wfd = struct.unpack("<ii", task.mm.read(FDS, 8))
    return rfd, wfd


def host_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_pipe_carries_data(task: Task) -> None:
    assert sys(task, "pipe", FDS) == 0
    rfd, wfd = pair(task)
    assert (rfd, wfd) == (3, 4)
    task.mm.write(USER_BUF, b"hello")
    assert sys(task, "write", wfd, USER_BUF, 5) == 5
    assert sys(task, "read", rfd, USER_BUF + 100, 100) == 5
    assert task.mm.read(USER_BUF + 100, 5) == b"hello"
    assert sys(task, "fcntl", rfd, o.F_GETFL) == o.O_RDONLY
    assert sys(task, "fcntl", wfd, o.F_GETFL) == o.O_WRONLY
    assert sys(task, "fcntl", rfd, o.F_GETFD) == 0
    assert sys(task, "lseek", rfd, 0, o.SEEK_CUR) == -Errno.ESPIPE
    assert task.files.get(rfd).path.startswith("pipe:[")


def test_pipe_takes_the_two_lowest_free_descriptors(task: Task) -> None:
    assert sys(task, "dup2", 0, 4) == 4
    assert sys(task, "pipe", FDS) == 0
    assert pair(task) == (3, 5)


def test_pipe2_flags(task: Task) -> None:
    assert sys(task, "pipe2", FDS, o.O_CLOEXEC | o.O_NONBLOCK) == 0
    rfd, wfd = pair(task)
    assert sys(task, "fcntl", rfd, o.F_GETFD) == o.FD_CLOEXEC
    assert sys(task, "fcntl", wfd, o.F_GETFD) == o.FD_CLOEXEC
    assert sys(task, "fcntl", rfd, o.F_GETFL) == o.O_RDONLY | o.O_NONBLOCK
    assert sys(task, "read", rfd, USER_BUF, 10) == -Errno.EAGAIN


def test_pipe2_o_direct_is_packet_mode(task: Task) -> None:
    assert sys(task, "pipe2", FDS, o.O_DIRECT) == 0
    rfd, wfd = pair(task)
    assert sys(task, "fcntl", wfd, o.F_GETFL) == o.O_WRONLY | o.O_DIRECT
    assert sys(task, "fcntl", rfd, o.F_GETFL) == o.O_RDONLY
    task.mm.write(USER_BUF, b"abcdef")
    assert sys(task, "write", wfd, USER_BUF, 3) == 3
    assert sys(task, "write", wfd, USER_BUF + 3, 3) == 3
    assert sys(task, "read", rfd, OUT + 64, 100) == 3  # one packet per read


@pytest.mark.parametrize("flags", [o.O_APPEND, o.O_RDWR, o.O_NONBLOCK | 0x80000000])
def test_pipe2_bad_flags_come_first(task: Task, flags: int) -> None:
    assert sys(task, "pipe2", KERNEL_ADDR, flags) == -Errno.EINVAL


def test_pipe2_notification_pipe(task: Task) -> None:
    assert sys(task, "pipe2", FDS, o.O_EXCL) == -Errno.ENOPKG


@pytest.mark.parametrize("buf", [KERNEL_ADDR, UNMAPPED, RO_PAGE, EDGE + 0x1000 - 4])
@pytest.mark.parametrize("call", ["pipe", "pipe2"])
def test_efault_installs_nothing_and_leaks_nothing(task: Task, buf: int, call: str) -> None:
    before_guest = dict(task.files.files)
    before_host = host_fds()
    assert sys(task, call, buf, 0) == -Errno.EFAULT
    assert task.files.files == before_guest
    assert host_fds() == before_host


def test_emfile_when_only_one_descriptor_is_free(task: Task) -> None:
    task.group.rlimits[RLIMIT_NOFILE] = (4, 4)
    before_host = host_fds()
    assert sys(task, "pipe", FDS) == -Errno.EMFILE
    assert sorted(task.files.files) == [0, 1, 2]
    assert host_fds() == before_host
    task.group.rlimits[RLIMIT_NOFILE] = (5, 5)
    assert sys(task, "pipe", FDS) == 0


def test_writing_without_a_reader_is_epipe_and_sigpipe(task: Task) -> None:
    assert sys(task, "pipe", FDS) == 0
    rfd, wfd = pair(task)
    assert sys(task, "close", rfd) == 0
    assert sys(task, "write", wfd, USER_BUF, 1) == -Errno.EPIPE
    assert task.pending & (1 << (SIGPIPE - 1))


def test_closing_both_ends_closes_the_host_pipe(task: Task) -> None:
    before_host = host_fds()
    assert sys(task, "pipe", FDS) == 0
    rfd, wfd = pair(task)
    assert len(host_fds() - before_host) == 2
    assert sys(task, "close", rfd) == 0
    assert sys(task, "close", wfd) == 0
    assert host_fds() == before_host
