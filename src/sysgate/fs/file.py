"""Open file descriptions: what an fd points to.

Counterpart: include/linux/fs.h (struct file, struct file_operations) and fs/file_table.c.
A File carries the status flags and mode of one open(); several fds (dup) and, later,
several processes share one File and so its offset. The methods are the file
operations; a File that lacks one answers with the errno the VFS gives for a missing
operation (EINVAL for read/write, ESPIPE for seeking, ENOTTY for ioctl, ENOTDIR for
getdents), so each kind of file only implements what it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import (
    O_ACCMODE,
    O_CLOEXEC,
    O_CREAT,
    O_EXCL,
    O_NOCTTY,
    O_PATH,
    O_RDONLY,
    O_RDWR,
    O_TRUNC,
    O_WRONLY,
)

if TYPE_CHECKING:
    from sysgate.fs.eventpoll import EventPoll
    from sysgate.kernel.task import Task
    from sysgate.kernel.wait import WaitQueue
    from sysgate.mm.vma import MappedFile

DEFAULT_POLLMASK = 0x1 | 0x4 | 0x40 | 0x100
"""include/linux/poll.h: POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM, what a file without a
->poll operation reports (always ready)."""

PollWait = tuple["list[WaitQueue]", "list[tuple[int, int]]"]
"""What to sleep on until a file's readiness may change: kernel wait queues, and host
(fd, poll events) pairs. The events of a host pair are the ones the file can become
ready for; a waiter narrows them to the ones it asked for."""

# f_mode bits (include/linux/fs.h)
FMODE_READ = 0x1
FMODE_WRITE = 0x2
FMODE_LSEEK = 0x4
FMODE_PREAD = 0x8
FMODE_PWRITE = 0x10
FMODE_PATH = 0x4000
FMODE_CAN_READ = 0x20000
FMODE_CAN_WRITE = 0x40000

RWF_NOWAIT = 0x8

SETFL_MASK = 0o2000 | 0o4000 | 0o40000 | 0o1000000
"""fs/fcntl.c: O_APPEND, O_NONBLOCK, O_DIRECT and O_NOATIME may change. FASYNC is not in
the mask: only a file's ->fasync operation sets it (pipes, sockets, terminals)."""

MAX_RW_COUNT = 0x7FFFF000
"""include/linux/fs.h: INT_MAX & PAGE_MASK, the most one read or write transfers."""


def mode_from_flags(flags: int) -> int:
    """f_mode for open flags (OPEN_FMODE in fs/open.c)."""
    if flags & O_PATH:
        return FMODE_PATH
    acc = flags & O_ACCMODE
    mode = 0
    if acc in (O_RDONLY, O_RDWR):
        mode |= FMODE_READ
    if acc in (O_WRONLY, O_RDWR):
        mode |= FMODE_WRITE
    return mode


@dataclass(slots=True)
class Kstat:
    """The attributes stat() reports (struct kstat), in Linux's terms."""

    dev: int
    ino: int
    mode: int
    nlink: int
    uid: int
    gid: int
    rdev: int
    size: int
    blksize: int
    blocks: int
    atime_ns: int
    mtime_ns: int
    ctime_ns: int
    btime_ns: int | None = None
    mnt_id: int = 0
    attributes: int = 0
    attributes_mask: int = 0


@dataclass(slots=True)
class Dirent:
    """One directory entry as getdents reports it."""

    ino: int
    off: int
    type: int
    name: bytes


@dataclass(slots=True)
class FileOwner:
    """struct fown_struct: the process, thread or group F_SETOWN named, and F_SETSIG's signal."""

    pid: int = 0
    type: int = 1  # F_OWNER_PID (PIDTYPE_TGID); F_OWNER_TID 0, F_OWNER_PGRP 2
    uid: int = 0
    euid: int = 0
    signum: int = 0


class File:
    """An open file description. Subclasses implement the operations their kind has."""

    def __init__(self, flags: int, path: str) -> None:
        # O_CLOEXEC belongs to the fd; the creation flags are not kept (do_dentry_open).
        self.f_flags = flags & ~(O_CLOEXEC | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC)
        self.f_mode = mode_from_flags(flags)
        self.path = path  # what /proc/PID/fd/N shows
        self.refs = 0
        self.created = False  # FMODE_CREATED: this open() created the file
        self.owner = FileOwner()  # F_SETOWN: who gets SIGIO
        self.f_ep: list[EventPoll] | None = None  # the epoll instances watching this file

    # -- lifetime ---------------------------------------------------------------

    def get(self) -> File:
        self.refs += 1
        return self

    def put(self) -> None:
        self.refs -= 1
        if self.refs == 0:
            if self.f_ep:  # __fput -> eventpoll_release: the registrations go with the file
                for ep in list(self.f_ep):
                    ep.file_released(self)
            self.release()

    def release(self) -> None:
        """The last reference went away (fput -> ->release)."""

    # -- operations ---------------------------------------------------------------

    def read(self, t: Task, count: int) -> bytes:
        raise KernelError(Errno.EINVAL)

    def write(self, t: Task, data: bytes) -> int:
        raise KernelError(Errno.EINVAL)

    def pread(self, t: Task, count: int, pos: int) -> bytes:
        raise KernelError(Errno.ESPIPE)

    def pwrite(self, t: Task, data: bytes, pos: int) -> int:
        raise KernelError(Errno.ESPIPE)

    def llseek(self, offset: int, whence: int) -> int:
        raise KernelError(Errno.ESPIPE)

    def read_flags(self, t: Task, count: int, pos: int | None, flags: int) -> bytes:
        """preadv2 with RWF_* flags; files that cannot wait less reject RWF_NOWAIT."""
        if flags & RWF_NOWAIT:
            raise KernelError(Errno.EOPNOTSUPP)
        return self.read(t, count) if pos is None else self.pread(t, count, pos)

    def write_flags(self, t: Task, data: bytes, pos: int | None, flags: int) -> int:
        """pwritev2 with RWF_* flags (RWF_DSYNC, RWF_SYNC and RWF_HIPRI only ask for more)."""
        if flags & RWF_NOWAIT:
            raise KernelError(Errno.EOPNOTSUPP)
        return self.write(t, data) if pos is None else self.pwrite(t, data, pos)

    def stat(self) -> Kstat:
        raise KernelError(Errno.EBADF)

    # -- readiness (f_op->poll) -----------------------------------------------------

    def poll(self, t: Task | None) -> int:
        """The POLL*/EPOLL* events the file is ready for now (vfs_poll). A file without a
        ->poll operation is always readable and writable."""
        return DEFAULT_POLLMASK

    def poll_wait(self) -> PollWait:
        """What a task sleeps on until poll() may change (the poll_wait() calls of
        ->poll). Nothing, for a file that is always ready."""
        return [], []

    poll_wait_exact = False
    """Whether poll_wait's host events are exactly what to wait for (an epoll instance's,
    which depend on its own interest list), not to be narrowed by the waiter."""

    def poll_seq(self) -> int:
        """A count that changes at every wake-up of the file's waiters (a write into a
        pipe, an eventfd add, a timer expiry): how epoll sees an edge (EPOLLET) when the
        ready mask itself does not change. 0 for files that have no such events."""
        return 0

    @property
    def can_poll(self) -> bool:
        """file_can_poll: whether the file has a ->poll operation (epoll refuses the
        others with EPERM; poll and select take them as always ready)."""
        return False

    def ioctl(self, t: Task, cmd: int, arg: int) -> int:
        raise KernelError(Errno.ENOTTY)

    def getdents(self) -> list[Dirent]:
        """All entries from the current position on; the caller advances with seek_dir."""
        raise KernelError(Errno.ENOTDIR)

    def seek_dir(self, off: int) -> None:
        raise KernelError(Errno.ENOTDIR)

    def fsync(self, datasync: bool) -> None:
        raise KernelError(Errno.EINVAL)

    def truncate(self, length: int) -> None:
        raise KernelError(Errno.EINVAL)

    def allocate(self, mode: int, offset: int, length: int) -> None:
        raise KernelError(Errno.ENODEV)

    def set_status_flags(self, flags: int) -> None:
        """F_SETFL: O_APPEND, O_NONBLOCK, O_DIRECT, O_NOATIME may change."""
        mask = SETFL_MASK
        self.f_flags = (flags & mask) | (self.f_flags & ~mask)

    def mapping(self) -> MappedFile:
        """What mmap maps; files without an mmap operation give ENODEV."""
        raise KernelError(Errno.ENODEV)

    def readable_bytes(self) -> int:
        """FIONREAD's answer for files that have one."""
        raise KernelError(Errno.ENOTTY)

    @property
    def host_fd(self) -> int | None:
        """The host descriptor behind this file, for *at() lookups relative to it."""
        return None

    def d_path(self) -> str:
        """The file's path now, as /proc/PID/fd/N reads (the kernel's d_path): it follows
        renames, and ends in " (deleted)" once the file is unlinked."""
        return self.path

    @property
    def is_dir(self) -> bool:
        return False

    @property
    def can_splice_read(self) -> bool:
        """Whether the file has a ->splice_read, which sendfile needs from its input.
        Files backed by a host descriptor let the host decide; sysgate's own (procfs
        seq_files) have none, as in Linux."""
        return False

    @property
    def is_pipe(self) -> bool:
        """A FIFO or pipe: its data moves in whole pipe buffers (fs/pipe.c)."""
        return False
