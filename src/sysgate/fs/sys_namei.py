"""Names in directories: mkdir, mkdirat, rmdir, unlink, unlinkat, rename, renameat,
renameat2, link, linkat, symlink, symlinkat, mknod, mknodat.

Counterpart: fs/namei.c (filename_create, filename_parentat, do_mkdirat, do_rmdir,
do_unlinkat, do_renameat2, do_linkat, do_symlinkat, do_mknodat). The host resolves
and changes the names, so the errors of the walk and of the operation are the host
kernel's own; what sysgate does first is what Linux does before the walk reaches the
file system: flag checks, copying the names in (EFAULT, ENAMETOOLONG, ENOENT for ""),
the start of the walk (EBADF, ENOTDIR for the dfd), and, where a call takes two names,
walking the first one's parent before the second name's errors are reported. Modes are
masked with the guest's umask here, since the host's is 0 while a guest runs.

The small host helpers (the C library for calls the os module lacks, the parent walk,
the file behind an AT_EMPTY_PATH name) are shared with the other path handlers.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from sysgate.argtypes import Arg, DirFd, ModeT, Path
from sysgate.errors import KernelError
from sysgate.fs.namei import HostPath, KernelPath, lookup, parent_lookup
from sysgate.fs.vfs import file_of
from sysgate.host import HOST_AT_FDCWD, host_check, kernel_error, libc_fn
from sysgate.mm.uaccess import getname
from sysgate.syscall import syscall
from sysgate.uapi import fcntl as o
from sysgate.uapi import stat as ls
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

RenameFlags = Annotated[int, Arg("unsigned int", 32, show="rename_flags")]
AtFlags = Annotated[int, Arg("int", 32, True, show="at_flags")]
MknodMode = Annotated[int, Arg("umode_t", 16, show="mknod_mode")]
MknodDev = Annotated[int, Arg("unsigned int", 32, show="mknod_dev")]
"""mknod's device, which strace prints only for a character or block device."""

def host_dirfd(where: HostPath) -> int:
    """The dirfd to give the host's *at() call for `where`."""
    return HOST_AT_FDCWD if where.dirfd is None else where.dirfd


def parent_of(path: bytes) -> bytes | None:
    """The directory part of `path` ("." for a single component), None for "/" alone."""
    path = path.rstrip(b"/")
    if not path:
        return None
    head, sep, _ = path.rpartition(b"/")
    return head if head else (b"/" if sep else b".")


def walk_parent(where: HostPath) -> None:
    """filename_parentat: walk all but the last component, raising what that walk raises.

    Linux reports errors of the parent walk (ENOENT, ENOTDIR, EACCES for search
    permission, ELOOP) before it looks at a second name; stat-ing "<parent>/." walks
    the same components with the same permission checks, the parent's included.
    """
    parent = parent_of(where.path)
    if parent is None:
        return  # "/" alone: nothing to walk (LAST_ROOT)
    try:
        os.stat(parent + b"/.", dir_fd=where.dirfd)
    except OSError as exc:
        raise kernel_error(exc) from None


def empty_path_fd(t: Task, dfd: int) -> int | None:
    """The host fd of what an empty name with AT_EMPTY_PATH means: `dfd`, or the cwd."""
    return file_of(t, dfd).host_fd


def _host(fn: Callable[..., object], *args: Any, **kwargs: Any) -> None:
    """Run an os.* call, turning its OSError into the Linux errno."""
    try:
        fn(*args, **kwargs)
    except OSError as exc:
        raise kernel_error(exc) from None


# -- mkdir, mknod ---------------------------------------------------------------------------


def do_mkdirat(t: Task, dfd: int, pathname: int, mode: int) -> int:
    where = parent_lookup(t, dfd, getname(t.mm, pathname), busy=Errno.EEXIST)
    # mode_strip_umask (the host's umask is 0). A parent with a default POSIX ACL would
    # make Linux skip the umask; the host sees a mode already masked.
    _host(os.mkdir, where.path, mode & ~t.fs.umask & 0o7777, dir_fd=where.dirfd)
    return 0


@syscall()
def sys_mkdirat(t: Task, dfd: DirFd, pathname: Path, mode: ModeT) -> int:
    """create a directory relative to a directory file descriptor"""
    return do_mkdirat(t, dfd, pathname, mode)


@syscall()
def sys_mkdir(t: Task, pathname: Path, mode: ModeT) -> int:
    """create a directory"""
    return do_mkdirat(t, o.AT_FDCWD, pathname, mode)


def may_mknod(mode: int) -> None:
    """The file types mknod creates (may_mknod): EPERM for directories, EINVAL for junk."""
    kind = mode & ls.S_IFMT
    if kind == ls.S_IFDIR:
        raise KernelError(Errno.EPERM)
    if kind not in (0, ls.S_IFREG, ls.S_IFCHR, ls.S_IFBLK, ls.S_IFIFO, ls.S_IFSOCK):
        raise KernelError(Errno.EINVAL)


def _create_checks(where: HostPath) -> None:
    """The errors filename_create and may_create give before vfs_mknod's CAP_MKNOD test."""
    walk_parent(where)
    try:
        os.lstat(where.path, dir_fd=where.dirfd)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise kernel_error(exc) from None
    else:
        raise KernelError(Errno.EEXIST)
    parent = parent_of(where.path) or b"/"
    if not os.access(parent, os.W_OK | os.X_OK, dir_fd=where.dirfd, effective_ids=True):
        raise KernelError(Errno.EACCES)


def do_mknodat(t: Task, dfd: int, filename: int, mode: int, dev: int) -> int:
    may_mknod(mode)
    where = parent_lookup(t, dfd, getname(t.mm, filename), busy=Errno.EEXIST)
    kind = mode & ls.S_IFMT
    whiteout = kind == ls.S_IFCHR and dev == 0  # WHITEOUT_DEV needs no capability
    if kind in (ls.S_IFCHR, ls.S_IFBLK) and not whiteout and not t.cred.capable():
        _create_checks(where)
        raise KernelError(Errno.EPERM)
    if kind not in (ls.S_IFCHR, ls.S_IFBLK):
        dev = 0
    _host(os.mknod, where.path, kind | (mode & ~t.fs.umask & 0o7777), dev, dir_fd=where.dirfd)
    return 0


@syscall()
def sys_mknodat(t: Task, dfd: DirFd, filename: Path, mode: MknodMode, dev: MknodDev) -> int:
    """create a special or ordinary file relative to a directory file descriptor"""
    return do_mknodat(t, dfd, filename, mode, dev)


@syscall()
def sys_mknod(t: Task, filename: Path, mode: MknodMode, dev: MknodDev) -> int:
    """create a special or ordinary file"""
    return do_mknodat(t, o.AT_FDCWD, filename, mode, dev)


# -- rmdir, unlink --------------------------------------------------------------------------


def do_rmdir(t: Task, dfd: int, pathname: int) -> int:
    where = parent_lookup(t, dfd, getname(t.mm, pathname))
    _host(os.rmdir, where.path, dir_fd=where.dirfd)
    return 0


def do_unlinkat(t: Task, dfd: int, pathname: int) -> int:
    where = parent_lookup(t, dfd, getname(t.mm, pathname))
    _host(os.unlink, where.path, dir_fd=where.dirfd)
    return 0


@syscall()
def sys_rmdir(t: Task, pathname: Path) -> int:
    """delete a directory"""
    return do_rmdir(t, o.AT_FDCWD, pathname)


@syscall()
def sys_unlink(t: Task, pathname: Path) -> int:
    """delete a name and possibly the file it refers to"""
    return do_unlinkat(t, o.AT_FDCWD, pathname)


@syscall()
def sys_unlinkat(t: Task, dfd: DirFd, pathname: Path, flag: AtFlags) -> int:
    """delete a name relative to a directory file descriptor"""
    if flag & ~o.AT_REMOVEDIR:
        raise KernelError(Errno.EINVAL)
    if flag & o.AT_REMOVEDIR:
        return do_rmdir(t, dfd, pathname)
    return do_unlinkat(t, dfd, pathname)


# -- rename ---------------------------------------------------------------------------------

_renameat2 = libc_fn("renameat2", ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                     ctypes.c_char_p, ctypes.c_uint)


def do_renameat2(t: Task, olddfd: int, oldname: int, newdfd: int, newname: int, flags: int) -> int:
    if flags & ~(o.RENAME_NOREPLACE | o.RENAME_EXCHANGE | o.RENAME_WHITEOUT):
        raise KernelError(Errno.EINVAL)
    if flags & (o.RENAME_NOREPLACE | o.RENAME_WHITEOUT) and flags & o.RENAME_EXCHANGE:
        raise KernelError(Errno.EINVAL)
    src = parent_lookup(t, olddfd, getname(t.mm, oldname))
    walk_parent(src)
    dst = parent_lookup(t, newdfd, getname(t.mm, newname))
    walk_parent(dst)
    if not flags:
        _host(os.rename, src.path, dst.path, src_dir_fd=src.dirfd, dst_dir_fd=dst.dirfd)
        return 0
    if _renameat2 is None:
        raise KernelError(Errno.EINVAL)  # a file system without the flags says EINVAL
    host_check(_renameat2(host_dirfd(src), src.path, host_dirfd(dst), dst.path, flags))
    return 0


@syscall()
def sys_renameat2(t: Task, olddfd: DirFd, oldname: Path, newdfd: DirFd, newname: Path,
                  flags: RenameFlags) -> int:
    """change the name or location of a file, with flags"""
    return do_renameat2(t, olddfd, oldname, newdfd, newname, flags)


@syscall()
def sys_renameat(t: Task, olddfd: DirFd, oldname: Path, newdfd: DirFd, newname: Path) -> int:
    """change the name or location of a file relative to directory file descriptors"""
    return do_renameat2(t, olddfd, oldname, newdfd, newname, 0)


@syscall()
def sys_rename(t: Task, oldname: Path, newname: Path) -> int:
    """change the name or location of a file"""
    return do_renameat2(t, o.AT_FDCWD, oldname, o.AT_FDCWD, newname, 0)


# -- link, symlink --------------------------------------------------------------------------

_linkat = libc_fn("linkat", ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                  ctypes.c_char_p, ctypes.c_int)


def do_linkat(t: Task, olddfd: int, oldname: int, newdfd: int, newname: int, flags: int) -> int:
    if flags & ~(o.AT_SYMLINK_FOLLOW | o.AT_EMPTY_PATH):
        raise KernelError(Errno.EINVAL)
    follow = bool(flags & o.AT_SYMLINK_FOLLOW)
    old = getname(t.mm, oldname, empty_ok=bool(flags & o.AT_EMPTY_PATH))
    src: HostPath | None
    if old:
        found = lookup(t, olddfd, old, follow=follow)
        if isinstance(found, KernelPath):
            src = None  # a procfs entry: another mount, EXDEV once the new name is looked up
        elif not isinstance(found, HostPath):
            raise KernelError(Errno.EPERM)  # one of the kernel's devices
        else:
            src = found
            follow = follow and src.follow_ok  # inside a root folder the walk followed the link
            _host(os.stat, src.path, dir_fd=src.dirfd, follow_symlinks=follow)  # filename_lookup
    else:
        fd = empty_path_fd(t, olddfd)
        src = None if fd is None else HostPath(fd, b"")
    dst = parent_lookup(t, newdfd, getname(t.mm, newname), busy=Errno.EEXIST)
    if src is None:
        raise KernelError(Errno.EXDEV)  # one of the kernel's own files: another mount
    if src.path:
        _host(os.link, src.path, dst.path, src_dir_fd=src.dirfd, dst_dir_fd=dst.dirfd, follow_symlinks=follow)
    elif _linkat is None:
        raise KernelError(Errno.ENOENT)
    else:
        host_check(_linkat(host_dirfd(src), b"", host_dirfd(dst), dst.path, o.AT_EMPTY_PATH))
    return 0


@syscall()
def sys_linkat(t: Task, olddfd: DirFd, oldname: Path, newdfd: DirFd, newname: Path, flags: AtFlags) -> int:
    """make a new name for a file relative to directory file descriptors"""
    return do_linkat(t, olddfd, oldname, newdfd, newname, flags)


@syscall()
def sys_link(t: Task, oldname: Path, newname: Path) -> int:
    """make a new name for a file"""
    return do_linkat(t, o.AT_FDCWD, oldname, o.AT_FDCWD, newname, 0)


def do_symlinkat(t: Task, oldname: int, newdfd: int, newname: int) -> int:
    target = getname(t.mm, oldname)  # its errors come first (do_symlinkat tests `from` first)
    where = parent_lookup(t, newdfd, getname(t.mm, newname), busy=Errno.EEXIST)
    _host(os.symlink, target, where.path, dir_fd=where.dirfd)
    return 0


@syscall()
def sys_symlinkat(t: Task, oldname: Path, newdfd: DirFd, newname: Path) -> int:
    """make a new name for a file relative to a directory file descriptor"""
    return do_symlinkat(t, oldname, newdfd, newname)


@syscall()
def sys_symlink(t: Task, oldname: Path, newname: Path) -> int:
    """make a new name for a file"""
    return do_symlinkat(t, oldname, o.AT_FDCWD, newname)

