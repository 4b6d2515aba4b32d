"""What every /proc entry is made of: nodes, generated files and directories.

Counterpart: fs/proc/generic.c and fs/proc/inode.c (proc_dir_entry, proc_reg_read and
proc_reg_write), fs/seq_file.c (a file's text is produced when it is first read) and
the pid_entry tables of fs/proc/base.c. Every entry is a ProcNode made afresh at each
lookup from the kernel's state: a directory that lists and looks up its children, a
symbolic link, or a file whose text a `show` function generates for the task reading
it. Nothing under /proc comes from the host's /proc.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from sysgate.errors import KernelError
from sysgate.fs.file import FMODE_LSEEK, FMODE_PREAD, FMODE_PWRITE, Dirent, File, Kstat
from sysgate.uapi import stat as ls
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import O_DIRECTORY, SEEK_CUR, SEEK_END, SEEK_SET

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

PROC_SUPER_MAGIC = 0x9FA0
PROC_ROOT_INO = 1
PROC_BLOCK_SIZE = 1024
"""fs/proc/inode.c: s_blocksize of procfs."""


def _proc_dev() -> int:
    """sysgate's /proc takes the place of the host's in the guest's mount table, and its
    device number (0:23 where the host has none), which no other mount has."""
    try:
        return os.stat("/proc").st_dev
    except OSError:
        return 0x17


PROC_DEV = _proc_dev()

NodeKind = Literal["dir", "file", "link"]
_DTYPE = {"dir": ls.DT_DIR, "file": ls.DT_REG, "link": ls.DT_LNK}
_IFMT = {"dir": ls.S_IFDIR, "file": ls.S_IFREG, "link": ls.S_IFLNK}

MAY_EXEC, MAY_WRITE, MAY_READ = 1, 2, 4


class DirOps(Protocol):
    """What a /proc directory does: look a name up, list its children."""

    def lookup(self, t: Task, name: bytes) -> ProcNode:
        """The child called `name`, or ENOENT."""

    def children(self, t: Task) -> list[ProcNode]:
        """Every child, in the order getdents lists them (after "." and "..")."""


Show = Callable[["Task"], bytes]
Store = Callable[["Task", bytes], int]


@dataclass(frozen=True, slots=True, eq=False)
class ProcNode:
    """One entry under /proc, bound to the task it describes (if any)."""

    kind: NodeKind
    parts: tuple[bytes, ...]  # the canonical path below /proc: (b"42", b"status")
    mode: int  # permission bits; the file type comes from `kind`
    task: Task | None = None  # the task a per-process entry describes
    uid: int = 0
    gid: int = 0
    dir: DirOps | None = None  # for directories
    show: Show | None = None  # a file's text, for the task that reads it
    store: Store | None = None  # what a write does; None: `nowrite`
    nowrite: Errno = Errno.EINVAL  # seq_file without ->write: EINVAL; a proc_ops without: EIO
    link: Callable[[], bytes] | None = None  # a link's readlink
    fd: int = -1  # for fd/N and fdinfo/N
    size: int = 0
    sysctl: bool = False  # /proc/sys: proc_sys_permission, where root has no override
    reader: Task | None = None  # the task that looked it up (set by sysgate.fs.procfs.walk)

    @property
    def name(self) -> bytes:
        return self.parts[-1] if self.parts else b""

    @property
    def ino(self) -> int:
        return proc_ino(self.parts)

    @property
    def dtype(self) -> int:
        return _DTYPE[self.kind]


def proc_ino(parts: tuple[bytes, ...]) -> int:
    """A stable inode number for a path under /proc (the root is 1, as PROC_ROOT_INO).

    Linux hands out inode numbers as entries are instantiated; a hash of the canonical
    path gives the same answer for the same entry within and across runs, which is what
    programs (find's loop check, ls -i) rely on.
    """
    if not parts:
        return PROC_ROOT_INO
    digest = hashlib.blake2b(b"/".join(parts), digest_size=4).digest()
    return 0x1000 + int.from_bytes(digest, "little") % 0xEFFFF000


def boot_realtime_ns() -> int:
    """The wall-clock time of boot: now minus CLOCK_BOOTTIME (getboottime64)."""
    return time.time_ns() - time.clock_gettime_ns(BOOTTIME)


BOOTTIME = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)


def node_kstat(node: ProcNode, nlink: int, mtime_ns: int) -> Kstat:
    return Kstat(dev=PROC_DEV, ino=node.ino, mode=_IFMT[node.kind] | node.mode, nlink=nlink,
                 uid=node.uid, gid=node.gid, rdev=0, size=node.size, blksize=PROC_BLOCK_SIZE, blocks=0,
                 atime_ns=mtime_ns, mtime_ns=mtime_ns, ctime_ns=mtime_ns)


def stat_node(node: ProcNode, reader: Task) -> Kstat:
    """What stat() says of an entry: 2 + subdirectories links for a directory, as
    proc_pid_getattr and proc_root_getattr count them; times are the task's start
    (per-process entries) or boot."""
    nlink = 1
    if node.dir is not None:
        nlink = 2 + sum(1 for c in node.dir.children(reader) if c.kind == "dir")
    when = task_start_realtime(node.task) if node.task is not None else boot_realtime_ns()
    return node_kstat(node, nlink, when)


def task_start_realtime(task: Task) -> int:
    return boot_realtime_ns() + task.start_boottime


def permission(reader: Task, node: ProcNode, mask: int) -> None:
    """generic_permission (and proc_sys_permission for /proc/sys): EACCES unless allowed."""
    mode = node.mode
    cred = reader.cred
    if node.sysctl:
        # test_perm: root is judged by the owner bits, with no capability override.
        bits = mode >> 6 if cred.euid == 0 else (mode >> 3 if cred.egid == 0 else mode)
        if mask & ~bits & 7:
            raise KernelError(Errno.EACCES)
        return
    if cred.fsuid == node.uid:
        bits = mode >> 6
    elif cred.fsgid == node.gid or node.gid in cred.groups:
        bits = mode >> 3
    else:
        bits = mode
    if not mask & ~bits & 7:
        return
    if cred.capable():  # CAP_DAC_OVERRIDE: anything but executing a file with no x bit
        if node.kind == "dir" or not mask & MAY_EXEC or mode & 0o111:
            return
    raise KernelError(Errno.EACCES)


class _ProcOpen(File):
    """What an open /proc file and directory share: the node, the task reading it (whose
    view /proc/self and permissions follow), and a position."""

    def __init__(self, node: ProcNode, flags: int, path: str, reader: Task) -> None:
        super().__init__(flags, path)
        self.node = node
        self.reader = reader
        self.pos = 0
        self.ino = node.ino

    @property
    def parts(self) -> tuple[bytes, ...]:
        return self.node.parts

    def _size(self) -> int:
        """SEEK_END's base: each subclass (ProcFile, ProcDir) defines it; never called here."""
        raise NotImplementedError

    def llseek(self, offset: int, whence: int) -> int:
        """generic_file_llseek: SEEK_SET/CUR/END within the size; EINVAL for another whence
        or a position before the start."""
        base = {SEEK_SET: 0, SEEK_CUR: self.pos, SEEK_END: self._size()}.get(whence)
        if base is None or base + offset < 0:
            raise KernelError(Errno.EINVAL)
        self.pos = base + offset
        return self.pos

    def stat(self) -> Kstat:
        return stat_node(self.node, self.reader)

    @property
    def f_pos(self) -> int:
        return self.pos


class ProcFile(_ProcOpen):
    """An open generated file. As with seq_file, the text is produced by the first read
    (not by open), so /proc/self/syscall shows the read that is reading it, and stays
    the same until the file is closed."""

    def __init__(self, node: ProcNode, flags: int, path: str, reader: Task) -> None:
        super().__init__(node, flags, path, reader)
        self.f_mode |= FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE
        self._content: bytes | None = None

    @property
    def content(self) -> bytes:
        if self._content is None:
            show = self.node.show
            self._content = show(self.reader) if show is not None else b""
        return self._content

    def _size(self) -> int:
        return len(self.content)

    def read(self, t: Task, count: int) -> bytes:
        data = self.content[self.pos : self.pos + count]
        self.pos += len(data)
        return data

    def pread(self, t: Task, count: int, pos: int) -> bytes:
        return self.content[pos : pos + count]

    def write(self, t: Task, data: bytes) -> int:
        if self.node.store is None:
            raise KernelError(self.node.nowrite)
        return self.node.store(t, data)

    def pwrite(self, t: Task, data: bytes, pos: int) -> int:
        return self.write(t, data)


class ProcDir(_ProcOpen):
    """An open /proc directory; its position is the index of the next entry."""

    def __init__(self, node: ProcNode, flags: int, path: str, reader: Task) -> None:
        super().__init__(node, flags | O_DIRECTORY, path, reader)
        self.entries: list[Dirent] = []

    @property
    def is_dir(self) -> bool:
        return True

    def _size(self) -> int:
        return self.node.size

    def getdents(self) -> list[Dirent]:
        # Listed when read, not when opened, as proc_readdir does: /proc/self/fd shows
        # the descriptor of the directory being read.
        if self.pos == 0 or not self.entries:
            assert self.node.dir is not None
            parent = proc_ino(self.node.parts[:-1]) if self.node.parts else PROC_ROOT_INO
            listed = [(b".", self.node.ino, ls.DT_DIR), (b"..", parent, ls.DT_DIR)]
            listed += [(c.name, c.ino, c.dtype) for c in self.node.dir.children(self.reader)]
            self.entries = [Dirent(ino, n + 1, typ, name) for n, (name, ino, typ) in enumerate(listed)]
        return self.entries[self.pos :]

    def seek_dir(self, off: int) -> None:
        self.pos = off


# -- building entries ----------------------------------------------------------------------


def file_node(parts: tuple[bytes, ...], mode: int, show: Show, *, task: Task | None = None,
              owner: tuple[int, int] = (0, 0), store: Store | None = None,
              nowrite: Errno = Errno.EINVAL, sysctl: bool = False) -> ProcNode:
    return ProcNode("file", parts, mode, task, owner[0], owner[1], show=show, store=store, nowrite=nowrite,
                    sysctl=sysctl)


def dir_node(parts: tuple[bytes, ...], mode: int, ops: DirOps, *, task: Task | None = None,
             owner: tuple[int, int] = (0, 0), size: int = 0, sysctl: bool = False) -> ProcNode:
    return ProcNode("dir", parts, mode, task, owner[0], owner[1], dir=ops, size=size, sysctl=sysctl)


def link_node(parts: tuple[bytes, ...], mode: int, target: Callable[[], bytes], *, task: Task | None = None,
              owner: tuple[int, int] = (0, 0), fd: int = -1, size: int = 0) -> ProcNode:
    return ProcNode("link", parts, mode, task, owner[0], owner[1], link=target, fd=fd, size=size)


class StaticDir:
    """A directory whose children are a fixed table (proc_mkdir and friends)."""

    def __init__(self, parts: tuple[bytes, ...], make: Callable[[tuple[bytes, ...]], list[ProcNode]]) -> None:
        self.parts = parts
        self.make = make

    def children(self, t: Task) -> list[ProcNode]:
        return self.make(self.parts)

    def lookup(self, t: Task, name: bytes) -> ProcNode:
        for child in self.children(t):
            if child.name == name:
                return child
        raise KernelError(Errno.ENOENT)


def open_flags_ok(flags: int) -> int:
    """The access (MAY_READ / MAY_WRITE) an open with `flags` asks for."""
    acc = flags & 3
    return {0: MAY_READ, 1: MAY_WRITE, 2: MAY_READ | MAY_WRITE}.get(acc, MAY_READ | MAY_WRITE)

