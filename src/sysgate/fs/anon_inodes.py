"""Files without a name: the one anonymous inode eventpoll, eventfd, timerfd and signalfd
files share.

Counterpart: fs/anon_inodes.c (anon_inode_getfile). Every such file is
"anon_inode:[NAME]" in /proc/PID/fd, and fstat shows the shared inode: mode 0600 with no
file type, owned by root, on the anon_inodefs device.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.fs.file import RWF_NOWAIT, File, Kstat
from sysgate.uapi import fcntl as o
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

ANON_DEV = 16  # makedev(0, 16): anon_inodefs, the 16th unnamed device on a typical boot
ANON_INO = 1038
_BOOT_NS = time.time_ns()


class AnonFile(File):
    """An anonymous-inode file: O_RDWR, not seekable, stat as the shared inode."""

    name = "anon"

    def __init__(self, flags: int) -> None:
        super().__init__(o.O_RDWR | (flags & o.O_NONBLOCK), f"anon_inode:[{self.name}]")

    @property
    def nonblock(self) -> bool:
        return bool(self.f_flags & o.O_NONBLOCK)

    @property
    def can_poll(self) -> bool:
        return True

    def do_read(self, t: Task, count: int, nonblock: bool) -> bytes:
        """The file's read, waiting unless `nonblock` (eventfd, timerfd, signalfd)."""
        raise KernelError(Errno.EINVAL)

    def read(self, t: Task, count: int) -> bytes:
        return self.do_read(t, count, self.nonblock)

    def read_flags(self, t: Task, count: int, pos: int | None, flags: int) -> bytes:
        """preadv2: no position (ESPIPE); RWF_NOWAIT reads as O_NONBLOCK would."""
        if pos is not None:
            raise KernelError(Errno.ESPIPE)
        return self.do_read(t, count, self.nonblock or bool(flags & RWF_NOWAIT))

    def stat(self) -> Kstat:
        return Kstat(dev=ANON_DEV, ino=ANON_INO, mode=0o600, nlink=1, uid=0, gid=0, rdev=0, size=0,
                     blksize=4096, blocks=0, atime_ns=_BOOT_NS, mtime_ns=_BOOT_NS, ctime_ns=_BOOT_NS)
