"""The working directory: getcwd, chdir, fchdir.

Counterpart: fs/d_path.c (getcwd) and fs/open.c (chdir, fchdir, set_fs_pwd). The cwd
is a File in t.fs.cwd, held by a reference like any open file: chdir opens the new
directory on the host with O_PATH (search permission, not read, is what Linux asks
for), fchdir shares the descriptor's File. Its path comes from the host descriptor,
so a directory renamed or removed behind the guest's back reads as on Linux.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import OUT, Fd, Path, ULong, UserPtr
from sysgate.errors import KernelError
from sysgate.fs.file import File
from sysgate.fs.vfs import vfs_open
from sysgate.host import fd_path, kernel_error
from sysgate.mm.uaccess import PATH_MAX, copy_to_user, getname
from sysgate.syscall import syscall
from sysgate.uapi import fcntl as o
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

CwdBuf = Annotated[int, UserPtr("char __user *", show="getcwd_buf", direction=OUT, size="ret")]

_DELETED = " (deleted)"


def _unlinked(fd: int, path: str | None) -> bool:
    """d_unlinked: the directory was removed (its link count drops to 0 on rmdir)."""
    try:
        st = os.fstat(fd)
    except OSError:
        return True
    if st.st_nlink == 0:
        return True
    if path is None or not path.endswith(_DELETED):
        return False
    try:  # a directory really named "... (deleted)" is still there
        now = os.stat(path)
    except OSError:
        return True
    return (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino)


def cwd_path(t: Task) -> str:
    """The path of the task's cwd, as getcwd and /proc/self/cwd give it; ENOENT if removed."""
    cwd = t.fs.cwd
    fd = cwd.host_fd
    if fd is None:
        return cwd.path
    path = fd_path(fd)
    if _unlinked(fd, path):
        raise KernelError(Errno.ENOENT)
    root = t.fs.root
    if root is not None and path is not None:
        # The path from the task's root; one outside it (moved there by a host process)
        # is marked as getcwd marks it (prepend_path found no root on the way up).
        inside = root.guest_path(path)
        return inside if inside is not None else "(unreachable)" + path
    return path if path is not None else cwd.path


@syscall()
def sys_getcwd(t: Task, buf: CwdBuf, size: ULong) -> int:
    """get current working directory"""
    data = os.fsencode(cwd_path(t)) + b"\0"
    if len(data) > PATH_MAX:
        raise KernelError(Errno.ENAMETOOLONG)
    if len(data) > size:
        raise KernelError(Errno.ERANGE)
    copy_to_user(t.mm, buf, data)
    return len(data)


def _may_chdir(f: File) -> None:
    """MAY_EXEC on the directory: a lookup of "." in it needs just that permission."""
    fd = f.host_fd
    if fd is None:
        return  # procfs directories are r-x for everyone
    try:
        os.stat(".", dir_fd=fd)
    except OSError as exc:
        raise kernel_error(exc) from None


def set_fs_pwd(t: Task, f: File) -> None:
    """Make `f` the cwd, taking a reference and dropping the old one's."""
    old = t.fs.cwd
    t.fs.cwd = f.get()
    old.put()


@syscall()
def sys_chdir(t: Task, filename: Path) -> int:
    """change working directory"""
    name = getname(t.mm, filename)
    f = vfs_open(t, o.AT_FDCWD, name, o.O_PATH | o.O_DIRECTORY, 0).get()
    try:
        if not f.is_dir:
            raise KernelError(Errno.ENOTDIR)
        _may_chdir(f)
        if f.host_fd is not None and f.refs == 1:  # a File of our own: name it as the host does
            f.path = f.d_path()
        set_fs_pwd(t, f)
    finally:
        f.put()
    return 0


@syscall()
def sys_fchdir(t: Task, fd: Fd) -> int:
    """change working directory to that of a file descriptor"""
    f = t.files.get(fd)  # fdget_raw: O_PATH descriptors will do
    if not f.is_dir:
        raise KernelError(Errno.ENOTDIR)
    _may_chdir(f)
    set_fs_pwd(t, f)
    return 0
