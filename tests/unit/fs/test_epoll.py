"""epoll (fs/eventpoll.py): ctl errors, level and edge triggering, EPOLLONESHOT, nesting."""

from __future__ import annotations

import struct

import pytest

from sysgate.kernel.task import Task
from sysgate.kernel.wait import Blocked
from sysgate.uapi import poll as P
from sysgate.uapi.errno import Errno
from tests.conftest import KERNEL_ADDR, UNMAPPED, USER_BUF, sys
from tests.unit.fs.test_select import pipe, write

EV = USER_BUF + 0x400
OUT = USER_BUF + 0x1000
EVENT = struct.Struct("<IQ")


def ctl(t: Task, ep: int, op: int, fd: int, events: int = 0, data: int = 0) -> int:
    t.mm.write(EV, EVENT.pack(events, data))
    return sys(t, "epoll_ctl", ep, op, fd, EV)


def wait(t: Task, ep: int, maxevents: int = 8, timeout: int = 0) -> list[tuple[int, int]]:
    n = sys(t, "epoll_wait", ep, OUT, maxevents, timeout)
    assert n >= 0, n
    return [EVENT.unpack(t.mm.read(OUT + 12 * i, 12)) for i in range(n)]


def test_create_errors(task: Task) -> None:
    assert sys(task, "epoll_create", 0) == -Errno.EINVAL
    assert sys(task, "epoll_create1", 1) == -Errno.EINVAL
    assert sys(task, "epoll_create1", P.EPOLL_CLOEXEC) >= 0


def test_ctl_errors(task: Task) -> None:
    ep = sys(task, "epoll_create1", 0)
    r, w = pipe(task)
    task.mm.write(USER_BUF + 0x3000, b"f\0")
    reg = sys(task, "openat", -100, USER_BUF + 0x3000, 0o102, 0o600)
    assert ctl(task, ep, P.EPOLL_CTL_ADD, reg, P.EPOLLIN) == -Errno.EPERM
    assert ctl(task, ep, P.EPOLL_CTL_ADD, 99, P.EPOLLIN) == -Errno.EBADF
    assert ctl(task, r, P.EPOLL_CTL_ADD, w, P.EPOLLIN) == -Errno.EINVAL  # not an epoll
    assert ctl(task, ep, P.EPOLL_CTL_ADD, ep, P.EPOLLIN) == -Errno.EINVAL  # itself
    assert ctl(task, ep, P.EPOLL_CTL_MOD, r, P.EPOLLIN) == -Errno.ENOENT
    assert ctl(task, ep, P.EPOLL_CTL_DEL, r) == -Errno.ENOENT
    assert ctl(task, ep, 7, r, P.EPOLLIN) == -Errno.EINVAL
    assert sys(task, "epoll_ctl", ep, P.EPOLL_CTL_ADD, r, UNMAPPED) == -Errno.EFAULT
    assert ctl(task, ep, P.EPOLL_CTL_ADD, r, P.EPOLLIN | P.EPOLLEXCLUSIVE | P.EPOLLONESHOT) == -Errno.EINVAL
    assert ctl(task, ep, P.EPOLL_CTL_ADD, r, P.EPOLLIN) == 0
    assert ctl(task, ep, P.EPOLL_CTL_ADD, r, P.EPOLLIN) == -Errno.EEXIST
    assert ctl(task, ep, P.EPOLL_CTL_ADD, w, P.EPOLLOUT | P.EPOLLEXCLUSIVE) == 0
    assert ctl(task, ep, P.EPOLL_CTL_MOD, w, P.EPOLLOUT) == -Errno.EINVAL
    assert sys(task, "epoll_wait", ep, OUT, 0, 0) == -Errno.EINVAL
    assert sys(task, "epoll_wait", ep, KERNEL_ADDR, 1, 0) == -Errno.EFAULT
    assert sys(task, "epoll_wait", r, OUT, 1, 0) == -Errno.EINVAL


def test_level_triggered(task: Task) -> None:
    ep = sys(task, "epoll_create1", 0)
    r, w = pipe(task)
    assert ctl(task, ep, P.EPOLL_CTL_ADD, r, P.EPOLLIN, 42) == 0
    assert wait(task, ep) == []
    write(task, w, b"ab")
    assert wait(task, ep) == [(P.EPOLLIN, 42)]
    assert wait(task, ep) == [(P.EPOLLIN, 42)]  # still readable: reported again


def test_edge_triggered(task: Task) -> None:
    ep = sys(task, "epoll_create1", 0)
    r, w = pipe(task)
    assert ctl(task, ep, P.EPOLL_CTL_ADD, r, P.EPOLLIN | P.EPOLLET, 7) == 0
    write(task, w, b"ab")
    assert wait(task, ep) == [(P.EPOLLIN, 7)]
    assert wait(task, ep) == []  # no new edge
    write(task, w, b"c")  # a new write is a new edge, though the mask stays
    assert wait(task, ep) == [(P.EPOLLIN, 7)]
    assert wait(task, ep) == []


def test_edge_triggered_wait_does_not_spin_on_ready_fd(task: Task) -> None:
    ep = sys(task, "epoll_create1", 0)
    _, w = pipe(task)
    assert ctl(task, ep, P.EPOLL_CTL_ADD, w, P.EPOLLOUT | P.EPOLLET, 1) == 0
    assert wait(task, ep) == [(P.EPOLLOUT, 1)]
    with pytest.raises(Blocked):
        sys(task, "epoll_wait", ep, OUT, 8, -1)
    assert all(ev & P.POLLOUT == 0 for _, ev in task.call_state().host)
    task._call_state = None


def test_oneshot(task: Task) -> None:
    ep = sys(task, "epoll_create1", 0)
    r, w = pipe(task)
    write(task, w, b"x")
    assert ctl(task, ep, P.EPOLL_CTL_ADD, r, P.EPOLLIN | P.EPOLLONESHOT, 3) == 0
    assert wait(task, ep) == [(P.EPOLLIN, 3)]
    assert wait(task, ep) == []
    assert ctl(task, ep, P.EPOLL_CTL_MOD, r, P.EPOLLIN | P.EPOLLONESHOT, 4) == 0
    assert wait(task, ep) == [(P.EPOLLIN, 4)]


def test_maxevents_rotates_level_triggered(task: Task) -> None:
    ep = sys(task, "epoll_create1", 0)
    _, w1 = pipe(task)
    _, w2 = pipe(task)
    ctl(task, ep, P.EPOLL_CTL_ADD, w1, P.EPOLLOUT, 1)
    ctl(task, ep, P.EPOLL_CTL_ADD, w2, P.EPOLLOUT, 2)
    assert wait(task, ep, 1) == [(P.EPOLLOUT, 1)]
    assert wait(task, ep, 1) == [(P.EPOLLOUT, 2)]
    assert wait(task, ep, 1) == [(P.EPOLLOUT, 1)]


def test_registration_goes_with_the_file_not_the_fd(task: Task) -> None:
    ep = sys(task, "epoll_create1", 0)
    r, w = pipe(task)
    write(task, w, b"x")
    ctl(task, ep, P.EPOLL_CTL_ADD, r, P.EPOLLIN, 9)
    dup = sys(task, "dup", r)
    assert sys(task, "close", r) == 0
    assert wait(task, ep) == [(P.EPOLLIN, 9)]  # the file lives on through dup
    assert sys(task, "close", dup) == 0
    assert wait(task, ep) == []


def test_nested_epoll_and_loops(task: Task) -> None:
    outer = sys(task, "epoll_create1", 0)
    inner = sys(task, "epoll_create1", 0)
    r, w = pipe(task)
    ctl(task, inner, P.EPOLL_CTL_ADD, r, P.EPOLLIN, 1)
    assert ctl(task, outer, P.EPOLL_CTL_ADD, inner, P.EPOLLIN, 2) == 0
    assert ctl(task, inner, P.EPOLL_CTL_ADD, outer, P.EPOLLIN, 3) == -Errno.ELOOP
    assert ctl(task, outer, P.EPOLL_CTL_ADD, inner, P.EPOLLIN | P.EPOLLEXCLUSIVE) == -Errno.EINVAL
    assert wait(task, outer) == []
    write(task, w, b"x")
    assert wait(task, outer) == [(P.EPOLLIN, 2)]


def test_wait_blocks_and_signal_gives_eintr(task: Task) -> None:
    ep = sys(task, "epoll_create1", 0)
    r, _ = pipe(task)
    ctl(task, ep, P.EPOLL_CTL_ADD, r, P.EPOLLIN)
    with pytest.raises(Blocked):
        sys(task, "epoll_wait", ep, OUT, 1, 100)
    task.call_state().timed_out = True
    assert sys(task, "epoll_wait", ep, OUT, 1, 100) == 0
    task.sigpending = True
    assert sys(task, "epoll_wait", ep, OUT, 1, 100) == -Errno.EINTR
    task.sigpending = False


def test_pwait_sigsetsize_and_pwait2_timeout(task: Task) -> None:
    ep = sys(task, "epoll_create1", 0)
    task.mm.write(EV, bytes(8))
    assert sys(task, "epoll_pwait", ep, OUT, 1, 0, EV, 4) == -Errno.EINVAL
    assert sys(task, "epoll_pwait", ep, OUT, 1, 0, EV, 8) == 0
    task.mm.write(EV + 16, struct.pack("<qq", 0, -1))
    assert sys(task, "epoll_pwait2", ep, OUT, 1, EV + 16, 0, 8) == -Errno.EINVAL
    task.mm.write(EV + 16, struct.pack("<qq", 0, 0))
    assert sys(task, "epoll_pwait2", ep, OUT, 1, EV + 16, 0, 8) == 0
    assert sys(task, "epoll_pwait2", ep, OUT, 1, UNMAPPED, 0, 8) == -Errno.EFAULT


def test_ctl_o_path_fd_is_ebadf(task: Task) -> None:
    """fdget does not see O_PATH descriptors: EBADF for the target and for the epoll fd,
    before the EPERM a regular file opened normally gets (LTP epoll_ctl06)."""
    ep = sys(task, "epoll_create1", 0)
    task.mm.write(USER_BUF + 0x3000, b"f\0")
    reg = sys(task, "openat", -100, USER_BUF + 0x3000, 0o102, 0o600)
    path_fd = sys(task, "openat", -100, USER_BUF + 0x3000, 0o10000000, 0)  # O_PATH
    assert path_fd >= 0
    assert ctl(task, ep, P.EPOLL_CTL_ADD, path_fd, P.EPOLLIN) == -Errno.EBADF
    assert ctl(task, ep, P.EPOLL_CTL_ADD, reg, P.EPOLLIN) == -Errno.EPERM
    task.mm.write(USER_BUF + 0x3100, b".\0")
    ep_path = sys(task, "openat", -100, USER_BUF + 0x3100, 0o10000000, 0)
    r, _w = pipe(task)
    assert ctl(task, ep_path, P.EPOLL_CTL_ADD, r, P.EPOLLIN) == -Errno.EBADF
