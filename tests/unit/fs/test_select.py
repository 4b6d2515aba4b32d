"""poll, ppoll, select, pselect6 (fs/select.py) on pipes, eventfds and regular files."""

from __future__ import annotations

import struct

import pytest

from sysgate.kernel.task import Task
from sysgate.kernel.wait import Blocked
from sysgate.uapi import poll as P
from sysgate.uapi.errno import Errno
from tests.conftest import UNMAPPED, USER_BUF, sys

FDS = USER_BUF
PFD = struct.Struct("<ihh")
SETS = USER_BUF + 0x800
TS = USER_BUF + 0xC00


def pipe(t: Task, flags: int = 0) -> tuple[int, int]:
    assert sys(t, "pipe2", FDS, flags) == 0
    r, w = struct.unpack("<ii", t.mm.read(FDS, 8))
    return r, w


def write(t: Task, fd: int, data: bytes) -> int:
    t.mm.write(USER_BUF + 0x2000, data)
    return sys(t, "write", fd, USER_BUF + 0x2000, len(data))


def done(t: Task) -> None:
    """The entry drops the call state when a call returns."""
    t._call_state = None


def pollfds(t: Task, *entries: tuple[int, int]) -> int:
    t.mm.write(FDS + 0x100, b"".join(PFD.pack(fd, ev, 0x5555) for fd, ev in entries))
    return FDS + 0x100


def revents(t: Task, n: int) -> list[int]:
    return [PFD.unpack(t.mm.read(FDS + 0x100 + i * 8, 8))[2] & 0xFFFF for i in range(n)]


def test_poll_pipe_readiness(task: Task) -> None:
    r, w = pipe(task)
    ptr = pollfds(task, (r, P.POLLIN), (w, P.POLLOUT), (99, P.POLLIN), (-1, P.POLLIN))
    assert sys(task, "poll", ptr, 4, 0) == 2
    assert revents(task, 4) == [0, P.POLLOUT, P.POLLNVAL, 0]
    write(task, w, b"x")
    assert sys(task, "poll", ptr, 4, 0) == 3
    assert revents(task, 4)[0] == P.POLLIN


def test_poll_blocks_then_times_out(task: Task) -> None:
    r, _ = pipe(task)
    ptr = pollfds(task, (r, P.POLLIN))
    with pytest.raises(Blocked):
        sys(task, "poll", ptr, 1, 50)
    st = task.call_state()
    assert st.deadline is not None and st.host == [(task.files.get(r).host_fd, P.POLLIN)]
    st.timed_out = True
    assert sys(task, "poll", ptr, 1, 50) == 0
    done(task)


def test_poll_hup_after_writer_closes(task: Task) -> None:
    r, w = pipe(task)
    assert sys(task, "close", w) == 0
    ptr = pollfds(task, (r, P.POLLIN))
    assert sys(task, "poll", ptr, 1, -1) == 1
    assert revents(task, 1) == [P.POLLHUP]


def test_poll_errors(task: Task) -> None:
    assert sys(task, "poll", UNMAPPED, 1, 0) == -Errno.EFAULT
    assert sys(task, "poll", FDS, 1 << 30, 0) == -Errno.EINVAL


def test_poll_signal_gives_restart_block(task: Task) -> None:
    r, _ = pipe(task)
    ptr = pollfds(task, (r, P.POLLIN))
    task.sigpending = True
    assert sys(task, "poll", ptr, 1, 1000) == -Errno.ERESTART_RESTARTBLOCK
    assert task.restart_block is not None
    done(task)
    task.sigpending = False


def test_ppoll_sigmask_and_timeout(task: Task) -> None:
    r, w = pipe(task)
    write(task, w, b"x")
    ptr = pollfds(task, (r, P.POLLIN))
    task.mm.write(TS, struct.pack("<qq", 5, 0))
    task.mm.write(TS + 16, struct.pack("<Q", 1 << 9))
    assert sys(task, "ppoll", ptr, 1, TS, TS + 16, 8) == 1
    sec, _nsec = struct.unpack("<qq", task.mm.read(TS, 16))
    assert 4 <= sec <= 5  # the time left is written back
    assert task.saved_sigmask is None and task.blocked == 0
    assert sys(task, "ppoll", ptr, 1, TS, TS + 16, 7) == -Errno.EINVAL
    task.mm.write(TS, struct.pack("<qq", 0, 1_000_000_000))
    assert sys(task, "ppoll", ptr, 1, TS, 0, 8) == -Errno.EINVAL


def _sets(t: Task, rd: int, wr: int) -> None:
    t.mm.write(SETS, rd.to_bytes(8, "little") + wr.to_bytes(8, "little") + bytes(8))


def test_select_sets(task: Task) -> None:
    r, w = pipe(task)
    _sets(task, 1 << r, 1 << w)
    task.mm.write(TS, struct.pack("<qq", 0, 0))
    assert sys(task, "select", w + 1, SETS, SETS + 8, SETS + 16, TS) == 1
    assert int.from_bytes(task.mm.read(SETS, 8), "little") == 0
    assert int.from_bytes(task.mm.read(SETS + 8, 8), "little") == 1 << w
    _sets(task, 1 << 40, 0)
    assert sys(task, "select", 41, SETS, 0, 0, TS) == -Errno.EBADF
    assert sys(task, "select", -1, 0, 0, 0, TS) == -Errno.EINVAL
    task.mm.write(TS, struct.pack("<qq", 0, -1))
    assert sys(task, "select", 1, 0, 0, 0, TS) == -Errno.EINVAL


def test_select_blocks_with_restart_nohand(task: Task) -> None:
    r, _ = pipe(task)
    _sets(task, 1 << r, 0)
    with pytest.raises(Blocked):
        sys(task, "select", r + 1, SETS, 0, 0, 0)
    task.sigpending = True
    assert sys(task, "select", r + 1, SETS, 0, 0, 0) == -Errno.ERESTARTNOHAND
    done(task)
    task.sigpending = False


def test_pselect6_mask_pack(task: Task) -> None:
    r, w = pipe(task)
    write(task, w, b"x")
    _sets(task, 1 << r, 0)
    task.mm.write(TS + 32, struct.pack("<QQ", TS + 16, 8))
    task.mm.write(TS + 16, struct.pack("<Q", 0))
    assert sys(task, "pselect6", r + 1, SETS, 0, 0, 0, TS + 32) == 1
    assert sys(task, "pselect6", r + 1, SETS, 0, 0, 0, UNMAPPED) == -Errno.EFAULT
    task.mm.write(TS + 32, struct.pack("<QQ", TS + 16, 4))
    assert sys(task, "pselect6", r + 1, SETS, 0, 0, 0, TS + 32) == -Errno.EINVAL


def test_regular_file_always_ready(task: Task) -> None:
    task.mm.write(USER_BUF + 0x3000, b"f\0")
    fd = sys(task, "openat", -100, USER_BUF + 0x3000, 0o102, 0o600)
    assert fd >= 0
    ptr = pollfds(task, (fd, P.POLLIN | P.POLLOUT))
    assert sys(task, "poll", ptr, 1, -1) == 1
    assert revents(task, 1) == [P.POLLIN | P.POLLOUT]
