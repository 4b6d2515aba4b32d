"""fcntl, dup, dup2, dup3, ioctl (fs/fcntl.c, fs/file.c, fs/ioctl.c)."""

from __future__ import annotations

import fcntl as host_fcntl
import os
import struct
from pathlib import Path

import pytest

from sysgate.fs.file import SETFL_MASK
from sysgate.fs.hostfs import HostFile
from sysgate.fs.sys_fcntl import FIOASYNC, FIOCLEX, FIONBIO, FIONCLEX, FIONREAD, FIOQSIZE
from sysgate.kernel.task import Task
from sysgate.uapi import fcntl as o
from sysgate.uapi.errno import Errno
from sysgate.uapi.resource import RLIMIT_NOFILE
from tests.conftest import KERNEL_ADDR, RO_PAGE, UNMAPPED, USER_BUF, sys
from tests.unit.fs.conftest import open_fd
from tests.unit.guestmem import peek1, poke
from tests.unit.hostsys import addr, cbuf, host_sys, linux_only

ARG = USER_BUF + 0x100
TCGETS = 0x5401
F_CREATED_QUERY = o.F_LINUX_SPECIFIC_BASE + 4


@pytest.fixture
def f(tmp_path: Path) -> Path:
    p = tmp_path / "f"
    p.write_bytes(b"0123456789")
    return p


def getfd(t: Task, fd: int) -> int:
    return sys(t, "fcntl", fd, o.F_GETFD, 0)


def getfl(t: Task, fd: int) -> int:
    return sys(t, "fcntl", fd, o.F_GETFL, 0)


def pipe(t: Task) -> tuple[int, int]:
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    n = t.group.nofile()
    return (t.files.add(HostFile(r, o.O_RDONLY | o.O_NONBLOCK, "pipe:[r]"), n),
            t.files.add(HostFile(w, o.O_WRONLY | o.O_NONBLOCK, "pipe:[w]"), n))


# -- F_DUPFD, F_DUPFD_CLOEXEC, F_DUPFD_QUERY ----------------------------------------------------------


def test_f_dupfd_takes_the_lowest_free_fd_at_or_above_arg(task: Task, f: Path) -> None:
    fd = open_fd(task, "f", o.O_RDONLY | o.O_CLOEXEC)
    assert sys(task, "fcntl", fd, o.F_DUPFD, 0) == 4
    assert sys(task, "fcntl", fd, o.F_DUPFD, 10) == 10
    assert sys(task, "fcntl", fd, o.F_DUPFD, 10) == 11
    assert sys(task, "fcntl", fd, o.F_DUPFD, 5) == 5
    assert getfd(task, 10) == 0  # the copy does not inherit FD_CLOEXEC
    assert sys(task, "fcntl", fd, o.F_DUPFD_CLOEXEC, 10) == 12
    assert getfd(task, 12) == o.FD_CLOEXEC
    assert task.files.files[12] is task.files.files[fd]


def test_f_dupfd_limits(task: Task, f: Path) -> None:
    fd = open_fd(task, "f")
    task.group.rlimits[RLIMIT_NOFILE] = (8, 8)
    assert sys(task, "fcntl", fd, o.F_DUPFD, 8) == -Errno.EINVAL
    assert sys(task, "fcntl", fd, o.F_DUPFD, -1) == -Errno.EINVAL  # an unsigned int: huge
    assert sys(task, "fcntl", fd, o.F_DUPFD_CLOEXEC, 1 << 32) == 4  # only the low 32 bits count
    assert [sys(task, "fcntl", fd, o.F_DUPFD, 0) for _ in range(3)] == [5, 6, 7]
    assert sys(task, "fcntl", fd, o.F_DUPFD, 0) == -Errno.EMFILE
    assert sys(task, "fcntl", fd, o.F_DUPFD, 7) == -Errno.EMFILE


def test_f_dupfd_query(task: Task, f: Path) -> None:
    a = open_fd(task, "f")
    b = sys(task, "dup", a)
    c = open_fd(task, "f")
    assert sys(task, "fcntl", a, o.F_DUPFD_QUERY, b) == 1
    assert sys(task, "fcntl", a, o.F_DUPFD_QUERY, c) == 0
    assert sys(task, "fcntl", a, o.F_DUPFD_QUERY, 99) == -Errno.EBADF
    assert sys(task, "fcntl", a, o.F_DUPFD_QUERY, -1) == -Errno.EBADF


def test_f_created_query(task: Task, f: Path) -> None:
    created = open_fd(task, "new", o.O_RDWR | o.O_CREAT)
    existing = open_fd(task, "f", o.O_RDWR | o.O_CREAT)
    assert sys(task, "fcntl", created, F_CREATED_QUERY, 0) == 1
    assert sys(task, "fcntl", existing, F_CREATED_QUERY, 0) == 0


# -- F_GETFD, F_SETFD, F_GETFL, F_SETFL ----------------------------------------------------------------


def test_fd_flags(task: Task, f: Path) -> None:
    fd = open_fd(task, "f")
    assert getfd(task, fd) == 0
    assert sys(task, "fcntl", fd, o.F_SETFD, 0xFF) == 0  # only FD_CLOEXEC is kept
    assert getfd(task, fd) == o.FD_CLOEXEC
    assert sys(task, "fcntl", fd, o.F_SETFD, 2) == 0
    assert getfd(task, fd) == 0


@linux_only
@pytest.mark.parametrize("flags", [os.O_RDONLY, os.O_WRONLY | os.O_APPEND, os.O_RDWR | os.O_NONBLOCK])
@pytest.mark.parametrize("arg", [0, o.O_APPEND | o.O_NONBLOCK, o.O_RDWR | o.O_CREAT | o.O_TRUNC | o.O_EXCL,
                                 o.O_NOATIME | o.O_WRONLY, o.O_SYNC | o.O_DSYNC | o.O_APPEND, 0xFFFF & ~o.O_DIRECT,
                                 o.FASYNC])
def test_setfl_changes_only_the_setfl_bits_as_on_the_host(task: Task, f: Path, flags: int, arg: int) -> None:
    fd = open_fd(task, "f", flags)
    host = os.open(f, flags)
    try:
        before = getfl(task, fd)
        assert before == host_fcntl.fcntl(host, host_fcntl.F_GETFL)
        assert sys(task, "fcntl", fd, o.F_SETFL, arg) == 0
        host_fcntl.fcntl(host, host_fcntl.F_SETFL, arg)
        after = getfl(task, fd)
        assert after == host_fcntl.fcntl(host, host_fcntl.F_GETFL)
        assert after & ~SETFL_MASK == before & ~SETFL_MASK
    finally:
        os.close(host)


def test_getfl_includes_o_largefile(task: Task, f: Path) -> None:
    assert getfl(task, open_fd(task, "f", o.O_RDWR)) == o.O_RDWR | o.O_LARGEFILE
    assert getfl(task, open_fd(task, "f", o.O_WRONLY | o.O_APPEND)) == o.O_WRONLY | o.O_APPEND | o.O_LARGEFILE


def test_setfl_is_shared_by_duplicates(task: Task, f: Path) -> None:
    fd = open_fd(task, "f")
    copy = sys(task, "dup", fd)
    assert sys(task, "fcntl", fd, o.F_SETFL, o.O_NONBLOCK) == 0
    assert getfl(task, copy) & o.O_NONBLOCK


@pytest.mark.parametrize("cmd", [9999, 0x7FFFFFFF, 12, 13, 14, 0xFFFFFFFF])
def test_unknown_command(task: Task, f: Path, cmd: int) -> None:
    assert sys(task, "fcntl", open_fd(task, "f"), cmd, 0) == -Errno.EINVAL


def test_bad_descriptor(task: Task) -> None:
    for cmd in (o.F_GETFD, o.F_GETFL, o.F_DUPFD, 9999):
        assert sys(task, "fcntl", 99, cmd, 0) == -Errno.EBADF
        assert sys(task, "fcntl", -1, cmd, 0) == -Errno.EBADF


def test_o_path_descriptor(task: Task, f: Path) -> None:
    """check_fcntl_cmd: only the descriptor commands and F_GETFL work on O_PATH descriptors."""
    fd = open_fd(task, "f", o.O_PATH)
    assert getfl(task, fd) == o.O_PATH
    assert sys(task, "fcntl", fd, o.F_SETFD, o.FD_CLOEXEC) == 0
    assert getfd(task, fd) == o.FD_CLOEXEC
    assert sys(task, "fcntl", fd, o.F_DUPFD, 0) >= 0
    assert sys(task, "fcntl", fd, o.F_DUPFD_CLOEXEC, 0) >= 0
    assert sys(task, "fcntl", fd, o.F_DUPFD_QUERY, fd) == 1
    for cmd in (o.F_SETFL, o.F_GETLK, o.F_SETLK, o.F_GETOWN, o.F_SETOWN, o.F_GETPIPE_SZ, 9999):
        assert sys(task, "fcntl", fd, cmd, 0) == -Errno.EBADF


@linux_only
@pytest.mark.parametrize("cmd, arg", [(o.F_GETFL, 0), (o.F_SETFL, 0), (o.F_DUPFD_QUERY, -1), (9999, 0),
                                      (o.F_GETLK, 0), (o.F_DUPFD, 1 << 31)])
def test_o_path_descriptor_matches_host(task: Task, f: Path, cmd: int, arg: int) -> None:
    fd = open_fd(task, "f", o.O_PATH)
    host = os.open(f, os.O_PATH)
    try:
        h_arg = host if cmd == o.F_DUPFD_QUERY else arg
        ours = sys(task, "fcntl", fd, cmd, fd if cmd == o.F_DUPFD_QUERY else arg)
        theirs = host_sys("fcntl", host, cmd, h_arg)
        assert ours == theirs
    finally:
        os.close(host)


def test_record_locks(task: Task, f: Path) -> None:
    fd = open_fd(task, "f", o.O_RDWR)
    poke(task, ARG, "hh4xqqi4x", o.F_WRLCK, 0, 0, 5, 0)
    assert sys(task, "fcntl", fd, o.F_SETLK, ARG) == 0
    poke(task, ARG, "hh4xqqi4x", o.F_WRLCK, 0, 0, 5, 0)
    assert sys(task, "fcntl", fd, o.F_GETLK, ARG) == 0
    assert peek1(task, ARG, "h") == o.F_UNLCK  # our own lock does not conflict with us
    poke(task, ARG, "hh4xqqi4x", 99, 0, 0, 5, 0)
    assert sys(task, "fcntl", fd, o.F_SETLK, ARG) == -Errno.EINVAL
    assert sys(task, "fcntl", fd, o.F_SETLK, UNMAPPED) == -Errno.EFAULT
    assert sys(task, "fcntl", fd, o.F_GETLK, KERNEL_ADDR) == -Errno.EFAULT


def test_owner_and_signal(task: Task, f: Path) -> None:
    fd = open_fd(task, "f")
    assert sys(task, "fcntl", fd, o.F_GETOWN, 0) == 0
    assert sys(task, "fcntl", fd, o.F_SETOWN, task.pid) == 0
    assert sys(task, "fcntl", fd, o.F_GETOWN, 0) == task.pid
    assert sys(task, "fcntl", fd, o.F_SETOWN, -task.group.pgid) == 0  # a process group
    assert sys(task, "fcntl", fd, o.F_GETOWN, 0) == -task.group.pgid
    assert sys(task, "fcntl", fd, o.F_SETOWN, 0x7FFFFFF0) == -Errno.ESRCH
    assert sys(task, "fcntl", fd, o.F_SETOWN, -(1 << 31)) == -Errno.EINVAL
    assert sys(task, "fcntl", fd, o.F_SETOWN, 0) == 0
    assert sys(task, "fcntl", fd, o.F_GETSIG, 0) == 0
    assert sys(task, "fcntl", fd, o.F_SETSIG, 10) == 0
    assert sys(task, "fcntl", fd, o.F_GETSIG, 0) == 10
    assert sys(task, "fcntl", fd, o.F_SETSIG, 65) == -Errno.EINVAL
    assert sys(task, "fcntl", fd, o.F_SETSIG, -1) == -Errno.EINVAL
    assert sys(task, "fcntl", fd, o.F_SETSIG, (1 << 32) | 12) == 0  # the argument is an int
    assert sys(task, "fcntl", fd, o.F_GETSIG, 0) == 12


@linux_only
def test_owner_errors_match_host(f: Path) -> None:
    host = os.open(f, os.O_RDONLY)
    try:
        assert host_sys("fcntl", host, o.F_SETOWN, 0x7FFFFFF0) == -Errno.ESRCH
        assert host_sys("fcntl", host, o.F_SETOWN, -(1 << 31)) == -Errno.EINVAL
        assert host_sys("fcntl", host, o.F_SETSIG, (1 << 32) | 12) == 0
        assert host_sys("fcntl", host, o.F_GETSIG, 0) == 12
    finally:
        os.close(host)


# -- dup, dup2, dup3 ------------------------------------------------------------------------


def test_dup_shares_the_offset(task: Task, f: Path) -> None:
    fd = open_fd(task, "f", o.O_RDONLY | o.O_CLOEXEC)
    copy = sys(task, "dup", fd)
    assert copy == fd + 1
    assert getfd(task, copy) == 0
    assert sys(task, "read", fd, ARG, 4) == 4
    assert sys(task, "lseek", copy, 0, o.SEEK_CUR) == 4
    assert sys(task, "read", copy, ARG, 2) == 2
    assert task.mm.read(ARG, 2) == b"45"
    assert sys(task, "close", fd) == 0
    assert sys(task, "read", copy, ARG, 2) == 2  # the file stays open through the copy


def test_dup_errors(task: Task) -> None:
    assert sys(task, "dup", 99) == -Errno.EBADF
    task.group.rlimits[RLIMIT_NOFILE] = (3, 3)
    assert sys(task, "dup", 0) == -Errno.EMFILE


def test_dup2(task: Task, f: Path) -> None:
    fd = open_fd(task, "f")
    other = open_fd(task, "f", o.O_RDONLY | o.O_CLOEXEC)
    assert sys(task, "dup2", fd, fd) == fd  # same fd: just a validity check
    assert sys(task, "dup2", fd, 50) == 50
    assert sys(task, "dup2", fd, other) == other  # replaces (closes) what was there
    assert task.files.files[other] is task.files.files[fd]
    assert getfd(task, other) == 0
    path = open_fd(task, "f", o.O_PATH)
    assert sys(task, "dup2", path, path) == path  # O_PATH descriptors count


def test_dup2_errors(task: Task, f: Path) -> None:
    fd = open_fd(task, "f")
    assert sys(task, "dup2", 99, 99) == -Errno.EBADF
    assert sys(task, "dup2", 99, 5) == -Errno.EBADF
    task.group.rlimits[RLIMIT_NOFILE] = (10, 10)
    assert sys(task, "dup2", fd, 10) == -Errno.EBADF
    assert sys(task, "dup2", 99, 10) == -Errno.EBADF
    assert sys(task, "dup2", fd, 9) == 9


def test_dup3(task: Task, f: Path) -> None:
    fd = open_fd(task, "f")
    assert sys(task, "dup3", fd, 20, o.O_CLOEXEC) == 20
    assert getfd(task, 20) == o.FD_CLOEXEC
    assert sys(task, "dup3", fd, 20, 0) == 20
    assert getfd(task, 20) == 0


def test_dup3_errors_in_linux_order(task: Task, f: Path) -> None:
    fd = open_fd(task, "f")
    assert sys(task, "dup3", fd, fd, 0) == -Errno.EINVAL
    assert sys(task, "dup3", 99, 99, 0) == -Errno.EINVAL  # the same-fd check before EBADF
    assert sys(task, "dup3", fd, 21, o.O_NONBLOCK) == -Errno.EINVAL
    assert sys(task, "dup3", 99, 99, 1) == -Errno.EINVAL
    task.group.rlimits[RLIMIT_NOFILE] = (10, 10)
    assert sys(task, "dup3", fd, 10, 0) == -Errno.EBADF
    assert sys(task, "dup3", 99, 5, 0) == -Errno.EBADF
    assert 5 not in task.files.files


@linux_only
def test_dup_errors_match_host() -> None:
    assert host_sys("dup3", 0, 0, 0) == -Errno.EINVAL
    assert host_sys("dup3", 0x7FFFFFF0, 0x7FFFFFF0, 0) == -Errno.EINVAL
    assert host_sys("dup3", 0, 0x7FFFFFF0, 0) == -Errno.EBADF
    assert host_sys("dup3", 0, 0x7FFFFFF0, o.O_NONBLOCK) == -Errno.EINVAL
    assert host_sys("dup2", 0x7FFFFFF0, 0x7FFFFFF0) == -Errno.EBADF


# -- ioctl ------------------------------------------------------------------------------------


def test_fioclex_fionclex(task: Task, f: Path) -> None:
    fd = open_fd(task, "f")
    assert sys(task, "ioctl", fd, FIOCLEX, 0) == 0
    assert getfd(task, fd) == o.FD_CLOEXEC
    assert sys(task, "ioctl", fd, FIONCLEX, KERNEL_ADDR) == 0  # arg unused
    assert getfd(task, fd) == 0


def test_fionbio(task: Task, f: Path) -> None:
    fd = open_fd(task, "f")
    poke(task, ARG, "i", 7)
    assert sys(task, "ioctl", fd, FIONBIO, ARG) == 0
    assert getfl(task, fd) & o.O_NONBLOCK
    poke(task, ARG, "i", 0)
    assert sys(task, "ioctl", fd, FIONBIO, ARG) == 0
    assert not getfl(task, fd) & o.O_NONBLOCK
    for bad in (KERNEL_ADDR, UNMAPPED):
        assert sys(task, "ioctl", fd, FIONBIO, bad) == -Errno.EFAULT


def test_fionread_on_a_regular_file(task: Task, f: Path) -> None:
    fd = open_fd(task, "f")
    assert sys(task, "ioctl", fd, FIONREAD, ARG) == 0
    assert peek1(task, ARG, "i") == 10
    assert sys(task, "lseek", fd, 4, o.SEEK_SET) == 4
    assert sys(task, "ioctl", fd, FIONREAD, ARG) == 0
    assert peek1(task, ARG, "i") == 6
    for bad in (KERNEL_ADDR, UNMAPPED, RO_PAGE):
        assert sys(task, "ioctl", fd, FIONREAD, bad) == -Errno.EFAULT


def test_fionread_past_the_end_is_negative(task: Task, f: Path) -> None:
    """file_ioctl: put_user(i_size - f_pos, (int __user *)): past the end that is negative."""
    fd = open_fd(task, "f")
    assert sys(task, "lseek", fd, 100, o.SEEK_SET) == 100
    assert sys(task, "ioctl", fd, FIONREAD, ARG) == 0
    assert peek1(task, ARG, "i") == -90


def test_fionread_on_a_pipe(task: Task) -> None:
    r, w = pipe(task)
    task.mm.write(ARG + 0x100, b"abc")
    assert sys(task, "write", w, ARG + 0x100, 3) == 3
    assert sys(task, "ioctl", r, FIONREAD, ARG) == 0
    assert peek1(task, ARG, "i") == 3


@linux_only
def test_fionread_and_fioqsize_match_host(task: Task, f: Path) -> None:
    host = os.open(f, os.O_RDONLY)
    os.fsync(host)  # FIOQSIZE reports allocated bytes: settle delayed allocation first
    fd = open_fd(task, "f")
    buf = cbuf(8)
    try:
        assert sys(task, "ioctl", fd, FIOQSIZE, ARG) == host_sys("ioctl", host, FIOQSIZE, addr(buf)) == 0
        assert peek1(task, ARG, "q") == struct.unpack("<q", buf.raw[:8])[0]
        os.lseek(host, 100, os.SEEK_SET)
        assert sys(task, "lseek", fd, 100, o.SEEK_SET) == 100
        assert sys(task, "ioctl", fd, FIONREAD, ARG) == host_sys("ioctl", host, FIONREAD, addr(buf)) == 0
        assert peek1(task, ARG, "i") == struct.unpack("<i", buf.raw[:4])[0]
    finally:
        os.close(host)


def test_fioqsize(task: Task, tmp_path: Path, f: Path) -> None:
    fd = open_fd(task, "f")
    assert sys(task, "ioctl", fd, FIOQSIZE, ARG) == 0
    assert peek1(task, ARG, "q") == os.stat(f).st_blocks * 512
    d = open_fd(task, ".", o.O_RDONLY | o.O_DIRECTORY)
    assert sys(task, "ioctl", d, FIOQSIZE, ARG) == 0
    assert sys(task, "ioctl", 0, FIOQSIZE, ARG) == -Errno.ENOTTY  # /dev/null: a character device
    assert sys(task, "ioctl", fd, FIOQSIZE, KERNEL_ADDR) == -Errno.EFAULT


def test_fioasync_needs_a_fasync_operation(task: Task, f: Path) -> None:
    """ioctl_fioasync: files without ->fasync (regular files, /dev/null) give ENOTTY."""
    fd = open_fd(task, "f")
    poke(task, ARG, "i", 1)
    assert sys(task, "ioctl", fd, FIOASYNC, ARG) == -Errno.ENOTTY
    assert not getfl(task, fd) & o.FASYNC


def test_fasync_on_a_pipe(task: Task) -> None:
    """Pipes have ->fasync: FIOASYNC and F_SETFL set and clear FASYNC on them."""
    r, _ = pipe(task)
    poke(task, ARG, "i", 1)
    assert sys(task, "ioctl", r, FIOASYNC, ARG) == 0
    assert getfl(task, r) & o.FASYNC
    assert sys(task, "fcntl", r, o.F_SETFL, o.O_NONBLOCK) == 0
    assert not getfl(task, r) & o.FASYNC
    assert sys(task, "fcntl", r, o.F_SETFL, o.FASYNC) == 0
    assert getfl(task, r) & o.FASYNC


def test_fioasync_without_a_change_is_fine(task: Task, f: Path) -> None:
    poke(task, ARG, "i", 0)
    assert sys(task, "ioctl", open_fd(task, "f"), FIOASYNC, ARG) == 0


@linux_only
def test_fioasync_matches_host(f: Path) -> None:
    host = os.open(f, os.O_RDONLY)
    one = cbuf(struct.pack("<i", 1))
    try:
        assert host_sys("ioctl", host, FIOASYNC, addr(one)) == -Errno.ENOTTY
    finally:
        os.close(host)


def test_ioctl_errors(task: Task, f: Path) -> None:
    fd = open_fd(task, "f")
    assert sys(task, "ioctl", fd, TCGETS, ARG) == -Errno.ENOTTY
    assert sys(task, "ioctl", fd, 0xDEADBEEF, ARG) == -Errno.ENOTTY
    assert sys(task, "ioctl", 0, TCGETS, ARG) == -Errno.ENOTTY  # /dev/null is no terminal
    assert sys(task, "ioctl", 99, FIOCLEX, 0) == -Errno.EBADF
    path = open_fd(task, "f", o.O_PATH)
    assert sys(task, "ioctl", path, FIOCLEX, 0) == -Errno.EBADF  # fdget: O_PATH does not count
    assert sys(task, "ioctl", path, TCGETS, ARG) == -Errno.EBADF


@linux_only
def test_ioctl_errors_match_host(task: Task, f: Path) -> None:
    fd = open_fd(task, "f")
    host = os.open(f, os.O_RDONLY)
    path = os.open(f, os.O_PATH)
    buf = cbuf(64)
    try:
        assert sys(task, "ioctl", fd, TCGETS, ARG) == host_sys("ioctl", host, TCGETS, addr(buf))
        assert sys(task, "ioctl", open_fd(task, "f", o.O_PATH), FIOCLEX, 0) == host_sys("ioctl", path, FIOCLEX, 0)
    finally:
        os.close(host)
        os.close(path)
