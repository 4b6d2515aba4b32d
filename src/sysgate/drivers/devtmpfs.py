"""The kernel's /dev nodes inside a root folder.

Counterpart: drivers/base/devtmpfs.c (the nodes the kernel makes for its devices) and
the links every Linux system adds next to them (/dev/fd, /dev/stdin, /dev/stdout and
/dev/stderr, made by udev or systemd). Inside a root folder these names in /dev are the
kernel's, whatever the folder holds there (as a devtmpfs node would hide it); the other
names in the folder's /dev stay the folder's, and a folder without /dev gets a /dev
directory of these nodes alone.

    null 1:3   zero 1:5   full 1:7   random 1:8   urandom 1:9   (crw-rw-rw- root root)
    tty 5:0    (crw-rw-rw- root tty): opens sysgate's controlling terminal, ENXIO without one
    fd -> /proc/self/fd    stdin -> /proc/self/fd/0   stdout -> .../1   stderr -> .../2

The nodes themselves cannot be changed: chmod, chown, utimes give EPERM, and unlink,
rename or rmdir of them EBUSY (they are mounted over the folder's names).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sysgate.drivers.mem import (
    FULL_MINOR,
    MEM_MAJOR,
    NULL_MINOR,
    RANDOM_MINOR,
    URANDOM_MINOR,
    ZERO_MINOR,
    CharDevice,
    FullDevice,
    NullDevice,
    RandomDevice,
    ZeroDevice,
)
from sysgate.errors import KernelError
from sysgate.fs.file import Dirent, File, Kstat
from sysgate.host import kernel_error, open_flags_to_host
from sysgate.uapi import stat as ls
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import O_ACCMODE, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_PATH, O_RDONLY, SEEK_SET

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

DEVTMPFS_DEV = os.makedev(0, 5)
"""st_dev of /dev on a typical boot: devtmpfs is the fifth anonymous device."""
TMPFS_MAGIC = 0x01021994
TTY_MAJOR, TTY_MINOR = 5, 0
TTY_GID = 5
"""The tty group, which owns /dev/tty on Debian and most distributions."""

Opener = Callable[[int, str, Kstat], File]


@dataclass(frozen=True, slots=True)
class DevNode:
    """One node: a character device (`opener` makes its File) or a symbolic link."""

    name: bytes
    ino: int
    mode: int
    rdev: int = 0
    gid: int = 0
    target: bytes = b""
    opener: Opener | None = None

    @property
    def is_link(self) -> bool:
        return self.mode & ls.S_IFMT == ls.S_IFLNK


def _open_tty(flags: int, path: str, kstat: Kstat) -> File:
    """tty_open_current_tty: the controlling terminal, which is sysgate's own."""
    from sysgate.fs.hostfs import HostFile

    try:
        fd = os.open("/dev/tty", open_flags_to_host(flags) | os.O_CLOEXEC)
    except OSError as exc:
        raise kernel_error(exc) from None
    return HostFile(fd, flags, path)


def _chr(name: bytes, ino: int, minor: int, opener: Opener, major: int = MEM_MAJOR, gid: int = 0) -> DevNode:
    return DevNode(name, ino, ls.S_IFCHR | 0o666, os.makedev(major, minor), gid, opener=opener)


def _link(name: bytes, ino: int, target: bytes) -> DevNode:
    return DevNode(name, ino, ls.S_IFLNK | 0o777, target=target)


NODES: dict[bytes, DevNode] = {n.name: n for n in (
    _chr(b"null", 3, NULL_MINOR, NullDevice),
    _chr(b"zero", 4, ZERO_MINOR, ZeroDevice),
    _chr(b"full", 5, FULL_MINOR, FullDevice),
    _chr(b"random", 6, RANDOM_MINOR, RandomDevice),
    _chr(b"urandom", 7, URANDOM_MINOR, RandomDevice),
    _chr(b"tty", 9, TTY_MINOR, _open_tty, TTY_MAJOR, TTY_GID),
    _link(b"fd", 11, b"/proc/self/fd"),
    _link(b"stdin", 12, b"/proc/self/fd/0"),
    _link(b"stdout", 13, b"/proc/self/fd/1"),
    _link(b"stderr", 14, b"/proc/self/fd/2"),
)}
"""The names the kernel provides in /dev, with devtmpfs-like inode numbers."""
DIR_INO = 1


def node(name: bytes) -> DevNode:
    found = NODES.get(name)
    if found is None:
        raise KernelError(Errno.ENOENT)
    return found


_BOOTTIME = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)


def _boot_wall_ns(t: Task) -> int:
    """The wall-clock time of boot (as /proc's times): devtmpfs makes its nodes then."""
    return time.time_ns() - time.clock_gettime_ns(_BOOTTIME)


def stat(t: Task, name: bytes) -> Kstat:
    """The attributes of /dev/NAME (or of the kernel's /dev directory, for b"")."""
    when = _boot_wall_ns(t)
    if not name:
        return Kstat(dev=DEVTMPFS_DEV, ino=DIR_INO, mode=ls.S_IFDIR | 0o755, nlink=2, uid=0, gid=0, rdev=0,
                     size=20 * (len(NODES) + 2), blksize=4096, blocks=0, atime_ns=when, mtime_ns=when,
                     ctime_ns=when)
    n = node(name)
    return Kstat(dev=DEVTMPFS_DEV, ino=n.ino, mode=n.mode, nlink=1, uid=0, gid=n.gid, rdev=n.rdev,
                 size=len(n.target), blksize=4096, blocks=0, atime_ns=when, mtime_ns=when, ctime_ns=when)


def readlink(name: bytes) -> bytes:
    n = node(name) if name else None
    if n is None or not n.is_link:
        raise KernelError(Errno.EINVAL)
    return n.target


def access(name: bytes, mode: int) -> None:
    """faccessat on a node: everyone may read and write; nobody may execute (X_OK)."""
    kind = stat_mode(name)
    if mode & 1 and kind & ls.S_IFMT == ls.S_IFCHR:
        raise KernelError(Errno.EACCES)


def stat_mode(name: bytes) -> int:
    return ls.S_IFDIR | 0o755 if not name else node(name).mode


def open_node(t: Task, name: bytes, flags: int) -> File:
    """open() of /dev/NAME: the device's File (links are followed by the path walk)."""
    path = "/dev/" + name.decode("utf-8", "surrogateescape") if name else "/dev"
    if flags & O_CREAT and flags & O_EXCL:
        raise KernelError(Errno.EEXIST)
    kst = stat(t, name)
    if not name:
        if flags & O_ACCMODE != O_RDONLY and not flags & O_PATH:
            raise KernelError(Errno.EISDIR)  # may_open: a directory is not opened for writing
        return DevDir(flags, path, kst)
    n = node(name)
    if n.is_link:
        if not flags & O_PATH:
            raise KernelError(Errno.ELOOP)  # O_NOFOLLOW on a link (the walk follows the others)
        return CharDevice(flags, path, kst)
    if flags & O_DIRECTORY:
        raise KernelError(Errno.ENOTDIR)
    if flags & O_PATH:
        return CharDevice(flags, path, kst)
    assert n.opener is not None
    return n.opener(flags & ~O_NOFOLLOW, path, kst)


def entries() -> list[tuple[bytes, int, int]]:
    """The nodes as directory entries: (name, ino, d_type)."""
    return [(n.name, n.ino, ls.DT_LNK if n.is_link else ls.DT_CHR) for n in NODES.values()]


class DevDir(File):
    """The kernel's /dev directory, for a root folder that has none."""

    def __init__(self, flags: int, path: str, kstat: Kstat) -> None:
        super().__init__(flags, path)
        self.kstat = kstat
        self.pos = 0

    @property
    def is_dir(self) -> bool:
        return True

    def stat(self) -> Kstat:
        return self.kstat

    def getdents(self) -> list[Dirent]:
        listed = [(b".", DIR_INO, ls.DT_DIR), (b"..", 2, ls.DT_DIR), *entries()]
        return [Dirent(ino, i + 1, typ, name) for i, (name, ino, typ) in enumerate(listed)][self.pos:]

    def seek_dir(self, off: int) -> None:
        self.pos = off

    def llseek(self, offset: int, whence: int) -> int:
        if whence != SEEK_SET or offset < 0:
            raise KernelError(Errno.EINVAL)
        self.pos = offset
        return offset


def statfs() -> bytes:
    """struct statfs of /dev: devtmpfs, a tmpfs mounted nosuid (shmem_statfs of an
    unlimited instance: no block or inode counts)."""
    from sysgate.arch.x86_64.structs import STATFS

    st_valid, st_nosuid, st_relatime = 0x20, 0x1, 0x400
    return STATFS.pack(TMPFS_MAGIC, 4096, 0, 0, 0, 0, 0, 0, 0, 255, 4096, st_valid | st_nosuid | st_relatime,
                       0, 0, 0, 0)
