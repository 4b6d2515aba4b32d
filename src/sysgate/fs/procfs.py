"""/proc/self and /proc/<pid> of guest processes, generated from the kernel's state.

Counterpart: fs/proc/base.c (the per-process entries), fs/proc/task_mmu.c (maps) and
fs/proc/fd.c. Files are generated when opened, as seq_file does; links are read from
the task (exe, cwd, fd/N). This covers the entries programs read about themselves:
exe, cwd, root, fd/, maps, cmdline, environ, comm, auxv, syscall. Any other entry under a
guest's /proc/<pid> is absent (ENOENT) rather than the host's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.fs.file import FMODE_LSEEK, FMODE_PREAD, Dirent, File, Kstat
from sysgate.uapi import stat as ls
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import O_ACCMODE, O_RDONLY, SEEK_CUR, SEEK_END, SEEK_SET

if TYPE_CHECKING:
    from sysgate.kernel.task import Task
    from sysgate.mm.mm import Mm

PROC_DEV = 0x17  # 0:23, the anonymous device procfs gets on a typical boot
PROC_SUPER_MAGIC = 0x9FA0


@dataclass(frozen=True, slots=True)
class ProcNode:
    """One entry: a directory, a symlink, or a regular (generated) file."""

    kind: str  # "dir", "link", "file"
    name: bytes
    task: Task
    ino: int
    fd: int = -1  # for fd/N links


class ProcFile(File):
    """An open generated file. As with seq_file, the text is produced by the first read
    (not by open), so /proc/self/syscall shows the read that is reading it."""

    def __init__(self, generate: Callable[[], bytes], path: str, ino: int) -> None:
        super().__init__(O_RDONLY, path)
        self.f_mode |= FMODE_LSEEK | FMODE_PREAD
        self.generate = generate
        self._content: bytes | None = None
        self.pos = 0
        self.ino = ino

    @property
    def content(self) -> bytes:
        if self._content is None:
            self._content = self.generate()
        return self._content

    def read(self, t: Task, count: int) -> bytes:
        data = self.content[self.pos : self.pos + count]
        self.pos += len(data)
        return data

    def pread(self, t: Task, count: int, pos: int) -> bytes:
        return self.content[pos : pos + count]

    def llseek(self, offset: int, whence: int) -> int:
        base = {SEEK_SET: 0, SEEK_CUR: self.pos, SEEK_END: len(self.content)}.get(whence)
        if base is None or base + offset < 0:
            raise KernelError(Errno.EINVAL)
        self.pos = base + offset
        return self.pos

    def stat(self) -> Kstat:
        return _kstat(ls.S_IFREG | 0o444, self.ino, 0)


class ProcDir(File):
    """An open /proc/<pid> or /proc/<pid>/fd directory."""

    def __init__(self, list_entries: Callable[[], list[tuple[bytes, int, int]]], path: str, ino: int) -> None:
        super().__init__(O_RDONLY | 0o200000, path)
        self.list_entries = list_entries
        self.entries: list[Dirent] = []
        self.pos = 0
        self.ino = ino

    @property
    def is_dir(self) -> bool:
        return True

    def getdents(self) -> list[Dirent]:
        # Listed when read, not when opened, as proc_readdir does: /proc/self/fd shows
        # the descriptor of the directory being read.
        if self.pos == 0 or not self.entries:
            entries = self.list_entries()
            self.entries = [Dirent(i, n + 1, typ, name) for n, (name, i, typ) in enumerate(entries)]
        return self.entries[self.pos :]

    def seek_dir(self, off: int) -> None:
        self.pos = off

    def llseek(self, offset: int, whence: int) -> int:
        if whence != SEEK_SET or offset < 0:
            raise KernelError(Errno.EINVAL)
        self.pos = offset
        return offset

    def stat(self) -> Kstat:
        return _kstat(ls.S_IFDIR | 0o555, self.ino, 2)


def _kstat(mode: int, ino: int, nlink: int) -> Kstat:
    return Kstat(dev=PROC_DEV, ino=ino, mode=mode, nlink=nlink or 1, uid=os.getuid(), gid=os.getgid(),
                 rdev=0, size=0, blksize=1024, blocks=0, atime_ns=0, mtime_ns=0, ctime_ns=0)


_PID_ENTRIES = {b"exe": "link", b"cwd": "link", b"root": "link", b"fd": "dir", b"maps": "file",
                b"cmdline": "file", b"environ": "file", b"comm": "file", b"auxv": "file",
                b"syscall": "file"}


def _ino(task: Task, name: bytes) -> int:
    return (task.pid << 16) | (hash(name) & 0xFFFF)


def resolve(t: Task, parts: tuple[bytes, ...]) -> ProcNode:
    """The node for /proc/<parts...>; `self` and `thread-self` mean the calling task."""
    first = parts[0]
    if first in (b"self", b"thread-self"):
        task = t
    else:
        found = t.kernel.task_by_pid(int(first))
        if found is None:
            raise KernelError(Errno.ENOENT)
        task = found
    rest = parts[1:]
    if not rest:
        return ProcNode("dir", b"", task, _ino(task, b""))
    kind = _PID_ENTRIES.get(rest[0])
    if kind is None:
        raise KernelError(Errno.ENOENT)
    if rest[0] == b"fd" and len(rest) == 2:
        if not rest[1].isdigit() or task.files.lookup(int(rest[1])) is None:
            raise KernelError(Errno.ENOENT)
        return ProcNode("link", b"fd", task, _ino(task, rest[1]), int(rest[1]))
    if len(rest) > 1:
        raise KernelError(Errno.ENOTDIR if kind != "dir" else Errno.ENOENT)
    return ProcNode(kind, rest[0], task, _ino(task, rest[0]))


def readlink(node: ProcNode) -> bytes:
    if node.kind != "link":
        raise KernelError(Errno.EINVAL)
    task = node.task
    if node.name == b"exe":
        return task.exe_path.encode()
    if node.name == b"root":
        return b"/"
    if node.name == b"cwd":
        return task.fs.cwd.d_path().encode()
    return task.files.get(node.fd).d_path().encode()


def link_target(node: ProcNode) -> File:
    """The File a link opens to when followed (the 'magic' links of procfs)."""
    if node.name == b"fd":
        return node.task.files.get(node.fd)
    if node.name == b"cwd":
        return node.task.fs.cwd
    raise KernelError(Errno.ENOENT)


def stat(node: ProcNode) -> Kstat:
    if node.kind == "dir":
        return _kstat(ls.S_IFDIR | 0o555, node.ino, 2)
    if node.kind == "link":
        return _kstat(ls.S_IFLNK | 0o777, node.ino, 1)
    return _kstat(ls.S_IFREG | 0o444, node.ino, 1)


def open_node(node: ProcNode, flags: int, path: str) -> File:
    """open() of a directory or generated file (links are followed by the caller)."""
    if flags & O_ACCMODE != O_RDONLY:
        raise KernelError(Errno.EACCES)
    task = node.task
    if node.kind == "dir":
        if node.name == b"fd":

            def entries() -> list[tuple[bytes, int, int]]:
                return [(b".", node.ino, ls.DT_DIR), (b"..", node.ino, ls.DT_DIR)] + [
                    (str(fd).encode(), _ino(task, str(fd).encode()), ls.DT_LNK) for fd in sorted(task.files.files)
                ]
        else:

            def entries() -> list[tuple[bytes, int, int]]:
                return [(b".", node.ino, ls.DT_DIR), (b"..", 1, ls.DT_DIR)] + [
                    (name, _ino(task, name), {"link": ls.DT_LNK, "dir": ls.DT_DIR, "file": ls.DT_REG}[kind])
                    for name, kind in _PID_ENTRIES.items()
                ]
        return ProcDir(entries, path, node.ino)
    return ProcFile(lambda: _generate(task, node.name), path, node.ino)


def _generate(task: Task, name: bytes) -> bytes:
    mm = task.mm
    if name == b"maps":
        return show_maps(mm)
    if name == b"cmdline":
        return mm.read(mm.arg_start, mm.arg_end - mm.arg_start) if mm.arg_end else b""
    if name == b"environ":
        return mm.read(mm.env_start, mm.env_end - mm.env_start) if mm.env_end else b""
    if name == b"comm":
        return task.comm + b"\n"
    if name == b"auxv":
        return task.saved_auxv
    if name == b"syscall":
        return show_syscall(task)
    raise KernelError(Errno.ENOENT)


def show_syscall(task: Task) -> bytes:
    """/proc/PID/syscall (proc_pid_syscall): the call in progress, its six arguments, then
    the stack pointer and the address the call returns to; "running" outside a call."""
    if task.kernel.current is not task or task.kernel.cpu is None:
        return b"running\n"
    frame = task.regs.frame
    nr = frame[0] & 0xFFFFFFFF
    nr = nr - (1 << 32) if nr >> 31 else nr
    sp = task.kernel.cpu.get_reg("rsp")
    pc = frame[7] + 2  # regs->ip: just past the `syscall` instruction
    if nr < 0:
        return b"%d 0x%x 0x%x\n" % (nr, sp, pc)
    return (b"%d " % nr) + b" ".join(b"0x%x" % a for a in [*frame[1:7], sp, pc]) + b"\n"


def show_maps(mm: Mm) -> bytes:
    """/proc/PID/maps in Linux's format (show_map_vma)."""
    lines = []
    for vma in mm.vmas:
        dev = ino = pgoff = 0
        if vma.file is not None:
            dev, ino, pgoff = vma.file.dev, vma.file.ino, vma.pgoff
        line = "%08x-%08x %s%s%s%s %08x %02x:%02x %d " % (
            vma.start, vma.end, "r" if vma.prot & 1 else "-", "w" if vma.prot & 2 else "-",
            "x" if vma.prot & 4 else "-", "s" if vma.flags & 0x80 else "p", pgoff,
            os.major(dev), os.minor(dev), ino,
        )
        name = vma.file.d_path() if vma.file is not None else vma.name
        if name:
            line = line.ljust(72) + " " + name
        lines.append(line + "\n")
    return "".join(lines).encode()
