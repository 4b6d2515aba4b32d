"""/proc/PID/fd and /proc/PID/fdinfo: the open descriptors of a process.

Counterpart: fs/proc/fd.c (proc_readfd_common, proc_fd_link, tid_fd_update_inode,
seq_show). fd/N is a link to the open file (its mode says how the file is open:
r-x for reading, -wx for writing); fdinfo/N tells the offset, the status flags (with
O_CLOEXEC from the descriptor) in octal, the mount and the inode.
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.fs.file import FMODE_READ, FMODE_WRITE, File
from sysgate.fs.proc.generic import ProcNode, dir_node, file_node, link_node
from sysgate.host import host_syscall
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import O_CLOEXEC, SEEK_CUR

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

_SYS_statx = 332
_AT_EMPTY_PATH = 0x1000
_STATX_MNT_ID = 0x1000
_STX_MNT_ID_OFFSET = 0x90


def task_owner(task: Task) -> tuple[int, int]:
    """task_dump_owner: the task's euid and egid, or root's for a task that is not dumpable."""
    if task.group.dumpable != 1:
        return 0, 0
    return task.cred.euid, task.cred.egid


def fd_link_mode(file: File) -> int:
    """tid_fd_update_inode: r-x if open for reading, -wx if for writing."""
    mode = 0
    if file.f_mode & FMODE_READ:
        mode |= 0o500
    if file.f_mode & FMODE_WRITE:
        mode |= 0o300
    return mode


def _fd_name(name: bytes) -> int | None:
    """name_to_int: a plain decimal number, no sign, no leading zero."""
    if not name.isdigit() or (len(name) > 1 and name[0:1] == b"0") or len(name) > 10:
        return None
    value = int(name)
    return value if value < 0xFFFFFFFF else None


class FdDir:
    """/proc/PID/fd: a link per open descriptor, listed in ascending order."""

    def __init__(self, task: Task, parts: tuple[bytes, ...]) -> None:
        self.task = task
        self.parts = parts

    def _link(self, fd: int, file: File) -> ProcNode:
        task = self.task

        def target() -> bytes:
            now = task.files.lookup(fd)
            if now is None:  # closed since the lookup (proc_fd_link: ENOENT)
                raise KernelError(Errno.ENOENT)
            return now.d_path().encode(errors="surrogateescape")

        return link_node(self.parts + (b"%d" % fd,), fd_link_mode(file), target,
                         task=task, owner=task_owner(task), fd=fd, size=64)  # i_size 64, as proc_fd_instantiate

    def children(self, t: Task) -> list[ProcNode]:
        files = self.task.files.files
        return [self._link(fd, files[fd]) for fd in sorted(files)]

    def lookup(self, t: Task, name: bytes) -> ProcNode:
        fd = _fd_name(name)
        file = self.task.files.lookup(fd) if fd is not None else None
        if fd is None or file is None:
            raise KernelError(Errno.ENOENT)
        return self._link(fd, file)


class FdinfoDir:
    """/proc/PID/fdinfo: a file per open descriptor."""

    def __init__(self, task: Task, parts: tuple[bytes, ...]) -> None:
        self.task = task
        self.parts = parts

    def _info(self, fd: int) -> ProcNode:
        task = self.task
        return file_node(self.parts + (b"%d" % fd,), 0o444, lambda t: show_fdinfo(task, fd), task=task,
                         owner=task_owner(task))

    def children(self, t: Task) -> list[ProcNode]:
        return [self._info(fd) for fd in sorted(self.task.files.files)]

    def lookup(self, t: Task, name: bytes) -> ProcNode:
        fd = _fd_name(name)
        if fd is None or self.task.files.lookup(fd) is None:
            raise KernelError(Errno.ENOENT)
        return self._info(fd)


def fd_dir(task: Task, parts: tuple[bytes, ...]) -> ProcNode:
    # proc_fd_getattr: the directory's size is the number of open descriptors.
    return dir_node(parts, 0o500, FdDir(task, parts), task=task, owner=task_owner(task),
                    size=len(task.files.files))


def fdinfo_dir(task: Task, parts: tuple[bytes, ...]) -> ProcNode:
    return dir_node(parts, 0o555, FdinfoDir(task, parts), task=task, owner=task_owner(task))


def file_pos(file: File) -> int:
    """f_pos: where the next read or write of the file starts (0 for a pipe or a tty)."""
    try:
        return file.llseek(0, SEEK_CUR)
    except KernelError:
        return 0


def mnt_id(file: File) -> int:
    """The id of the mount the file is on, as /proc/PID/mountinfo numbers it."""
    from sysgate.fs.proc.generic import ProcDir, ProcFile
    from sysgate.fs.proc.proc_namespace import proc_mnt_id

    if isinstance(file, ProcFile | ProcDir):
        return proc_mnt_id()
    fd = file.host_fd
    if fd is None:
        return 0
    return host_mnt_id(fd)


def host_mnt_id(fd: int) -> int:
    """statx(STATX_MNT_ID) of a host descriptor (0 if the host cannot say)."""
    buf = ctypes.create_string_buffer(256)
    try:
        host_syscall(_SYS_statx, fd, b"", _AT_EMPTY_PATH, _STATX_MNT_ID, buf)
    except KernelError:
        return 0
    mask = int.from_bytes(buf.raw[0:4], "little")
    return int.from_bytes(buf.raw[_STX_MNT_ID_OFFSET : _STX_MNT_ID_OFFSET + 8], "little") if mask & _STATX_MNT_ID else 0


def show_fdinfo(task: Task, fd: int) -> bytes:
    """seq_show: "pos:\\t%lli\\nflags:\\t0%o\\nmnt_id:\\t%i\\nino:\\t%lu\\n"."""
    file = task.files.lookup(fd)
    if file is None:
        raise KernelError(Errno.ENOENT)
    flags = file.f_flags | (O_CLOEXEC if fd in task.files.cloexec else 0)
    try:
        ino = file.stat().ino
    except KernelError:
        ino = 0
    return b"pos:\t%d\nflags:\t0%o\nmnt_id:\t%d\nino:\t%d\n" % (file_pos(file), flags, mnt_id(file), ino)
