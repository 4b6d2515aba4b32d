"""Pipes and FIFOs that sysgate makes: the ends of pipe(2) and opened FIFOs.

Counterpart: fs/pipe.c (pipe_read, pipe_write, pipe_poll, fifo_open, wait_for_partner).
Each end is a host pipe descriptor that is *always* O_NONBLOCK on the host; the guest's
O_NONBLOCK lives in File.f_flags only (F_SETFL changes that flag, not the host's). A read
or write that would block makes the task wait for the host descriptor (wait_host_fd) and
the call is run again (HostFile.read_waiting / write_waiting keep pipe_write's rules:
everything written before a blocking write returns, atomic writes of PIPE_BUF bytes or
less, EPIPE with SIGPIPE, EOF once no writer is left). Capacity, O_DIRECT packets and
F_SETPIPE_SZ are the host pipe's.

FIFOs are opened O_NONBLOCK on the host and fifo_open's rules are emulated on top:
O_RDONLY waits for a writer, O_WRONLY for a reader (ENXIO with O_NONBLOCK), O_RDWR never
waits. A table of the FIFOs guest tasks have open (by device and inode) counts their
readers and writers as pipe_inode_info does and wakes the partner at once; a writer
waiting for a reader opened by a host process finds it by retrying every
FIFO_RETRY_NS. A reader waits for a writer opened by a host process only until that
writer writes or closes (the host shows no open without a write).
"""

from __future__ import annotations

import fcntl as host_fcntl
import os
import select
import struct
import termios
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.fs.file import PollWait
from sysgate.fs.hostfs import HostFile, call_data
from sysgate.host import kernel_error, open_flags_to_host
from sysgate.kernel.wait import WaitQueue, block
from sysgate.uapi import fcntl as o

if TYPE_CHECKING:
    from sysgate.fs.root import Root
    from sysgate.kernel.task import Task

F_GETPIPE_SZ = 1032  # include/uapi/linux/fcntl.h
FIFO_RETRY_NS = 10_000_000
"""How often a writer waiting in open() looks for a reader opened outside sysgate."""


@dataclass(eq=False)
class Pipe:
    """What the ends of one pipe share (struct pipe_inode_info, as far as sysgate keeps it)."""

    readers: int = 0
    writers: int = 0
    r_counter: int = 0  # opens for reading so far (wait_for_partner watches these)
    w_counter: int = 0
    rd_seq: int = 0  # bumped when readers are woken (a write): the read end's epoll edges
    wr_seq: int = 0  # bumped when writers are woken (a read that made room in a full pipe)
    wait: WaitQueue = field(default_factory=WaitQueue)  # FIFO opens waiting for a partner
    key: tuple[int, int] | None = None  # (st_dev, st_ino) of a FIFO


INTERNAL_PIPE_FDS: set[int] = set()
"""Host descriptors of the pipes guest tasks made with pipe(2): only a guest task can make
them ready (no host process holds them), which the deadlock report relies on."""

FIFOS: dict[tuple[int, int], Pipe] = {}
"""The FIFOs guest tasks have open, by host device and inode (the inode's i_pipe)."""


class PipeFile(HostFile):
    """One end of a pipe or FIFO: a HostFile whose host descriptor never blocks."""

    def __init__(self, hostfd: int, flags: int, path: str, pipe: Pipe, root: Root | None = None) -> None:
        super().__init__(hostfd, flags, path, root)
        self.pipe = pipe
        self.host_nonblock = True
        self.waits = True
        acc = flags & o.O_ACCMODE
        if acc in (o.O_RDONLY, o.O_RDWR):
            pipe.readers += 1
        if acc in (o.O_WRONLY, o.O_RDWR):
            pipe.writers += 1
        self._acc = acc

    def release(self) -> None:
        INTERNAL_PIPE_FDS.discard(self.fd)
        if self._acc in (o.O_RDONLY, o.O_RDWR):
            self.pipe.readers -= 1
        if self._acc in (o.O_WRONLY, o.O_RDWR):
            self.pipe.writers -= 1
        if self.pipe.key is not None and not self.pipe.readers and not self.pipe.writers:
            FIFOS.pop(self.pipe.key, None)
        super().release()

    def read(self, t: Task, count: int) -> bytes:
        was_full = self._full()
        data = self.read_waiting(t, count, self.nonblock)
        self._changed(read=True, was_full=was_full)
        return data

    def write(self, t: Task, data: bytes) -> int:
        n = self.write_waiting(t, data, self.nonblock)
        self._changed(read=False)
        return n

    def _full(self) -> bool:
        """pipe_full, counted in bytes: the host pipe holds its whole capacity (the read
        end cannot ask the host whether the write end is writable)."""
        try:
            queued = struct.unpack("i", host_fcntl.ioctl(self.fd, termios.FIONREAD, b"\0\0\0\0"))[0]
            return bool(queued >= host_fcntl.fcntl(self.fd, F_GETPIPE_SZ))
        except OSError:
            return False

    def read_flags(self, t: Task, count: int, pos: int | None, flags: int) -> bytes:
        was_full = self._full()
        data = super().read_flags(t, count, pos, flags)
        self._changed(read=True, was_full=was_full)
        return data

    def write_flags(self, t: Task, data: bytes, pos: int | None, flags: int) -> int:
        n = super().write_flags(t, data, pos, flags)
        self._changed(read=False)
        return n

    def _changed(self, *, read: bool, was_full: bool = False) -> None:
        """pipe_read/pipe_write's wake-ups, which epoll sees as edges: a write wakes the
        readers; a read wakes the writers only if the pipe was full."""
        if read:
            if was_full:
                self.pipe.wr_seq += 1
        else:
            self.pipe.rd_seq += 1
        if self.pipe.wait:
            self.pipe.wait.wake_up()

    def poll_seq(self) -> int:
        seq = 0
        if self._acc in (o.O_RDONLY, o.O_RDWR):
            seq += self.pipe.rd_seq
        if self._acc in (o.O_WRONLY, o.O_RDWR):
            seq += self.pipe.wr_seq
        return seq

    def poll_wait(self) -> PollWait:
        return [self.pipe.wait], [(self.fd, select.POLLIN | select.POLLPRI | select.POLLOUT)]

    @property
    def can_poll(self) -> bool:
        return True

    def set_status_flags(self, flags: int) -> None:
        """F_SETFL: the guest's O_NONBLOCK is its own; O_DIRECT (packet mode) goes to the
        host pipe, whose descriptor stays O_NONBLOCK."""
        old_direct = self.f_flags & o.O_DIRECT
        super(HostFile, self).set_status_flags(flags)
        if (self.f_flags & o.O_DIRECT) != old_direct:
            _set_host_flags(self.fd, open_flags_to_host(self.f_flags & (o.O_APPEND | o.O_DIRECT)) | os.O_NONBLOCK)


def _set_host_flags(fd: int, flags: int) -> None:
    import fcntl as host_fcntl

    try:
        host_fcntl.fcntl(fd, host_fcntl.F_SETFL, flags)
    except OSError as exc:
        raise kernel_error(exc) from None


def create_pipe(rfd: int, wfd: int, flags: int, name: str) -> tuple[PipeFile, PipeFile]:
    """The two Files of a new pipe over host descriptors `rfd` and `wfd` (both O_NONBLOCK)."""
    pipe = Pipe(r_counter=1, w_counter=1)
    reader = PipeFile(rfd, o.O_RDONLY | (flags & o.O_NONBLOCK), name, pipe)
    writer = PipeFile(wfd, o.O_WRONLY | (flags & (o.O_NONBLOCK | o.O_DIRECT)), name, pipe)
    INTERNAL_PIPE_FDS.update((rfd, wfd))
    return reader, writer


# -- FIFOs ------------------------------------------------------------------------------


def _fifo(key: tuple[int, int]) -> Pipe:
    pipe = FIFOS.get(key)
    if pipe is None:
        pipe = FIFOS[key] = Pipe(key=key)
    return pipe


def _host_open(dirfd: int | None, path: bytes, host_flags: int, mode: int) -> int:
    return os.open(path, host_flags | os.O_NONBLOCK | os.O_CLOEXEC, mode, dir_fd=dirfd)


def fifo_open(t: Task | None, dirfd: int | None, path: bytes, flags: int, host_flags: int, mode: int,
              guest_path: str, root: Root | None) -> PipeFile:
    """open() of a FIFO with fifo_open's waits (see the module docstring).

    Without a task (an open made by the kernel itself) nothing waits: a reader opens at
    once and a writer without a reader gets ENXIO.
    """
    acc = flags & o.O_ACCMODE
    nonblock = bool(flags & o.O_NONBLOCK) or t is None
    state = call_data(t) if t is not None and not nonblock else {}
    if acc == o.O_WRONLY:
        try:
            fd = _host_open(dirfd, path, host_flags, mode)
        except OSError as exc:
            if exc.errno != 6 or nonblock:  # ENXIO: no reader yet
                raise kernel_error(exc) from None
            assert t is not None
            key = _key(dirfd, path)
            waitq = [_fifo(key).wait] if key is not None else []
            block(t, queues=waitq, deadline=time.monotonic_ns() + FIFO_RETRY_NS)
        return _opened(fd, flags, guest_path, root)
    held = state.get("fifo_fd")
    if isinstance(held, int):
        fd = held  # a reader that waits: its descriptor and count were taken on the first run
        pipe = FIFOS.get(_fstat_key(fd))
    else:
        try:
            fd = _host_open(dirfd, path, host_flags, mode)
        except OSError as exc:
            raise kernel_error(exc) from None
        if acc == o.O_RDWR or nonblock:
            return _opened(fd, flags, guest_path, root)
        pipe = _fifo(_fstat_key(fd))
        pipe.readers += 1  # counted while it waits, as fifo_open does before waiting
        pipe.r_counter += 1
        pipe.wait.wake_up()
        if pipe.writers:
            pipe.readers -= 1
            return _opened(fd, flags, guest_path, root)
        state["fifo_fd"] = fd
        state["fifo_w"] = pipe.w_counter
    assert pipe is not None and t is not None
    if pipe.w_counter != state.get("fifo_w") or _host_writer_seen(fd):
        pipe.readers -= 1
        state.pop("fifo_fd", None)
        return _opened(fd, flags, guest_path, root)
    try:
        block(t, queues=[pipe.wait], host=[(fd, select.POLLIN)])
    except KernelError:  # a signal: fifo_open's err_rd path
        pipe.readers -= 1
        state.pop("fifo_fd", None)
        os.close(fd)
        raise


def _host_writer_seen(fd: int) -> bool:
    """Whether a writer from outside sysgate has shown itself (written, or come and gone)."""
    from sysgate.fs.hostfs import host_poll

    return bool(host_poll(fd, select.POLLIN))


def _opened(fd: int, flags: int, guest_path: str, root: Root | None) -> PipeFile:
    key = _fstat_key(fd)
    pipe = _fifo(key)
    file = PipeFile(fd, flags, guest_path, pipe, root)
    acc = flags & o.O_ACCMODE
    if acc in (o.O_RDONLY, o.O_RDWR):
        pipe.r_counter += 1
    if acc in (o.O_WRONLY, o.O_RDWR):
        pipe.w_counter += 1
    pipe.wait.wake_up()
    return file


def _fstat_key(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _key(dirfd: int | None, path: bytes) -> tuple[int, int] | None:
    try:
        st = os.stat(path, dir_fd=dirfd)
    except OSError:
        return None
    return st.st_dev, st.st_ino
