"""eventfd (fs/eventfd.py), timerfd (fs/timerfd.py), signalfd (fs/signalfd.py), and pipes
that wait instead of blocking sysgate (fs/pipe.py)."""

from __future__ import annotations

import os
import struct
import time

import pytest

from sysgate.kernel.signal import send_signal
from sysgate.kernel.task import Task
from sysgate.kernel.wait import Blocked
from sysgate.uapi import poll as P
from sysgate.uapi import signal as S
from sysgate.uapi.errno import Errno
from sysgate.uapi.time import CLOCK_MONOTONIC, CLOCK_REALTIME
from tests.conftest import USER_BUF, sys
from tests.unit.fs.test_select import pipe, write

BUF = USER_BUF + 0x2000
ITS = USER_BUF + 0x3000


def rd(t: Task, fd: int, n: int = 8) -> int:
    return sys(t, "read", fd, BUF, n)


def u64(t: Task) -> int:
    return int.from_bytes(t.mm.read(BUF, 8), "little")


def test_eventfd_counter_and_semaphore(task: Task) -> None:
    fd = sys(task, "eventfd2", 3, P.EFD_NONBLOCK)
    assert rd(task, fd) == 8 and u64(task) == 3
    assert rd(task, fd) == -Errno.EAGAIN
    assert rd(task, fd, 4) == -Errno.EINVAL
    assert write(task, fd, struct.pack("<Q", 5)) == 8
    assert write(task, fd, b"1234") == -Errno.EINVAL
    assert write(task, fd, struct.pack("<Q", (1 << 64) - 1)) == -Errno.EINVAL
    assert write(task, fd, struct.pack("<Q", (1 << 64) - 6)) == -Errno.EAGAIN  # would reach ULLONG_MAX
    sem = sys(task, "eventfd2", 2, P.EFD_SEMAPHORE | P.EFD_NONBLOCK)
    assert rd(task, sem) == 8 and u64(task) == 1
    assert rd(task, sem) == 8 and u64(task) == 1
    assert rd(task, sem) == -Errno.EAGAIN
    assert sys(task, "eventfd2", 0, 0o10) == -Errno.EINVAL


def test_eventfd_blocking_read_waits(task: Task) -> None:
    fd = sys(task, "eventfd", 0)
    with pytest.raises(Blocked):
        rd(task, fd)
    assert task.call_state().queues  # waits on the eventfd's queue
    task._call_state = None


def test_timerfd_fires_and_counts(task: Task) -> None:
    fd = sys(task, "timerfd_create", CLOCK_MONOTONIC, P.TFD_NONBLOCK)
    assert rd(task, fd) == -Errno.EAGAIN
    task.mm.write(ITS, struct.pack("<qqqq", 0, 1_000_000, 0, 1_000_000))  # 1 ms, every 1 ms
    assert sys(task, "timerfd_settime", fd, 0, ITS, 0) == 0
    time.sleep(0.02)
    task.kernel.sched._expire(time.monotonic_ns())  # the scheduler runs due timers
    assert rd(task, fd) == 8 and u64(task) >= 10  # the intervals that passed are ticks
    assert sys(task, "timerfd_gettime", fd, ITS) == 0
    interval, value = struct.unpack("<qq", task.mm.read(ITS, 16)), struct.unpack("<qq", task.mm.read(ITS + 16, 16))
    assert interval == (0, 1_000_000) and value[0] == 0 and 0 <= value[1] <= 1_000_000
    task.mm.write(ITS, bytes(32))
    assert sys(task, "timerfd_settime", fd, 0, ITS, ITS) == 0  # disarm; the old value comes back
    assert struct.unpack("<qq", task.mm.read(ITS, 16)) == (0, 1_000_000)


def test_timerfd_abstime_in_the_past_fires_at_once(task: Task) -> None:
    fd = sys(task, "timerfd_create", CLOCK_REALTIME, 0)
    task.mm.write(ITS, struct.pack("<qqqq", 0, 0, 1, 0))
    assert sys(task, "timerfd_settime", fd, P.TFD_TIMER_ABSTIME, ITS, 0) == 0
    task.kernel.sched._expire(time.monotonic_ns())
    assert rd(task, fd) == 8 and u64(task) == 1


def test_timerfd_errors(task: Task) -> None:
    assert sys(task, "timerfd_create", 99, 0) == -Errno.EINVAL
    assert sys(task, "timerfd_create", CLOCK_MONOTONIC, 1) == -Errno.EINVAL
    fd = sys(task, "timerfd_create", CLOCK_MONOTONIC, 0)
    task.mm.write(ITS, struct.pack("<qqqq", 0, 0, 0, 1_000_000_000))
    assert sys(task, "timerfd_settime", fd, 0, ITS, 0) == -Errno.EINVAL
    task.mm.write(ITS, bytes(32))
    assert sys(task, "timerfd_settime", fd, 4, ITS, 0) == -Errno.EINVAL
    ev = sys(task, "eventfd", 0)
    assert sys(task, "timerfd_settime", ev, 0, ITS, 0) == -Errno.EINVAL
    assert sys(task, "timerfd_gettime", 99, ITS) == -Errno.EBADF
    with pytest.raises(Blocked):
        rd(task, fd)
    task._call_state = None


def test_signalfd_reads_a_blocked_signal(task: Task) -> None:
    task.mm.write(ITS, struct.pack("<Q", S.sigmask(S.SIGUSR1)))
    fd = sys(task, "signalfd4", -1, ITS, 8, P.SFD_NONBLOCK)
    assert fd >= 0
    assert sys(task, "read", fd, BUF, 128) == -Errno.EAGAIN
    task.blocked = S.sigmask(S.SIGUSR1)
    send_signal(task, S.SIGUSR1, S.SI_USER)
    assert sys(task, "read", fd, BUF, 256) == 128
    signo, _, code, pid = struct.unpack_from("<IiiI", task.mm.read(BUF, 16))
    assert (signo, code, pid) == (S.SIGUSR1, S.SI_USER, task.pid)
    assert not task.pending
    assert sys(task, "read", fd, BUF, 100) == -Errno.EINVAL
    assert sys(task, "signalfd4", -1, ITS, 4, 0) == -Errno.EINVAL
    assert sys(task, "signalfd4", -1, ITS, 8, 1) == -Errno.EINVAL
    ev = sys(task, "eventfd", 0)
    assert sys(task, "signalfd4", ev, ITS, 8, 0) == -Errno.EINVAL
    assert sys(task, "signalfd4", fd, ITS, 8, 0) == fd


def test_pipe_host_fd_is_nonblocking_and_reads_wait(task: Task) -> None:
    import fcntl

    r, _w = pipe(task)
    host = task.files.get(r).host_fd
    assert host is not None and fcntl.fcntl(host, fcntl.F_GETFL) & os.O_NONBLOCK
    assert sys(task, "fcntl", r, 3, 0) & 0o4000 == 0  # F_GETFL: the guest's flags
    with pytest.raises(Blocked):
        rd(task, r)
    assert task.call_state().host == [(host, P.POLLIN)]
    task._call_state = None
    assert sys(task, "fcntl", r, 4, 0o4000) == 0  # F_SETFL O_NONBLOCK: the guest's flag only
    assert rd(task, r) == -Errno.EAGAIN
    assert fcntl.fcntl(host, fcntl.F_GETFL) & os.O_NONBLOCK


def test_pipe_blocking_write_writes_everything(task: Task) -> None:
    r, w = pipe(task)
    fill = USER_BUF + 0x4000  # 40 KiB written twice: more than the pipe's 64 KiB
    chunk = (bytes(range(256)) * 160)[: 0xA000]
    task.mm.write(fill, chunk)
    assert sys(task, "write", w, fill, len(chunk)) == len(chunk)  # 40 KiB fits
    with pytest.raises(Blocked):
        sys(task, "write", w, fill, len(chunk))  # 24 KiB fit, then it waits
    written = task.call_state().data["written"]
    assert 0 < written < len(chunk)
    assert task.call_state().host == [(task.files.get(w).host_fd, P.POLLOUT)]
    host_r = task.files.get(r).host_fd
    got = os.read(host_r, 65536)
    assert len(got) == 65536
    assert sys(task, "write", w, fill, len(chunk)) == len(chunk)  # the rest; one call in all
    rest = os.read(host_r, 65536)
    assert got + rest == chunk + chunk


def test_pipe_write_after_signal_returns_progress(task: Task) -> None:
    _r, w = pipe(task)
    fill = USER_BUF + 0x4000
    task.mm.write(fill, b"z" * 0xB000)
    assert sys(task, "write", w, fill, 0xB000) == 0xB000
    with pytest.raises(Blocked):
        sys(task, "write", w, fill, 0xB000)
    done = task.call_state().data["written"]
    task.sigpending = True
    assert sys(task, "write", w, fill, 0xB000) == done
    task.sigpending = False


def test_pipe_epipe_and_sigpipe(task: Task) -> None:
    r, w = pipe(task)
    assert sys(task, "close", r) == 0
    assert write(task, w, b"x") == -Errno.EPIPE
    assert task.pending & S.sigmask(S.SIGPIPE)


def test_fifo_nonblocking_open_rules(task: Task, tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "fifo")
    os.mkfifo(path)
    name = BUF + 0x100
    task.mm.write(name, path.encode() + b"\0")
    assert sys(task, "openat", -100, name, 0o1 | 0o4000, 0) == -Errno.ENXIO  # O_WRONLY|O_NONBLOCK
    with pytest.raises(Blocked):
        sys(task, "openat", -100, name, 0o1, 0)  # a writer waits for a reader
    task._call_state = None
    r = sys(task, "openat", -100, name, 0o4000, 0)
    assert r >= 0
    w = sys(task, "openat", -100, name, 0o1, 0)  # a reader is there: no wait
    assert w >= 0
    assert write(task, w, b"hi") == 2
    assert rd(task, r, 2) == 2 and task.mm.read(BUF, 2) == b"hi"
    rw = sys(task, "openat", -100, name, 0o2, 0)
    assert rw >= 0


def test_fifo_blocking_reader_waits_for_a_writer(task: Task, tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "fifo")
    os.mkfifo(path)
    task.mm.write(BUF + 0x100, path.encode() + b"\0")
    with pytest.raises(Blocked):
        sys(task, "openat", -100, BUF + 0x100, 0, 0)
    held = task.call_state().data["fifo_fd"]
    assert isinstance(held, int)
    task.sigpending = True  # a signal: the open fails and gives its descriptor back
    assert sys(task, "openat", -100, BUF + 0x100, 0, 0) == -Errno.ERESTARTSYS
    task.sigpending = False
    with pytest.raises(OSError):
        os.fstat(held)
