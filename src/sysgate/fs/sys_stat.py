"""File status and links: stat, lstat, fstat, newfstatat, statx, readlink, readlinkat,
access, faccessat, faccessat2.

Counterpart: fs/stat.c, fs/namei.c (do_readlinkat) and fs/open.c (do_faccessat). The
struct written is the x86-64 `struct stat`; for statx on a Linux host the host's own
statx answer is passed through, so btime, mount id and attributes are the real ones.
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Annotated

from sysgate.arch.x86_64.structs import STATX_SIZE, pack_stat, pack_statx
from sysgate.argtypes import OUT, Arg, DirFd, Fd, Path, UserPtr, struct_out
from sysgate.errors import KernelError
from sysgate.fs.file import File, Kstat
from sysgate.fs.namei import HostPath, lookup
from sysgate.fs.vfs import file_of, vfs_access, vfs_readlink, vfs_stat
from sysgate.host import host_check, libc_fn
from sysgate.mm.uaccess import copy_from_user, copy_to_user, getname
from sysgate.syscall import syscall
from sysgate.uapi import fcntl as o
from sysgate.uapi import stat as ls
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

StatOut = Annotated[int, struct_out("struct stat __user *", "stat")]
StatxOut = Annotated[int, struct_out("struct statx __user *", "statx")]
AtFlags = Annotated[int, Arg("int", 32, True, show="at_flags")]
StatxFlags = Annotated[int, Arg("unsigned int", 32, show="statx_flags")]
StatxMask = Annotated[int, Arg("unsigned int", 32, show="statx_mask")]
AccessMode = Annotated[int, Arg("int", 32, True, show="access_mode")]
FaccessatFlags = Annotated[int, Arg("int", 32, True, show="faccessat_flags")]
LinkBuf = Annotated[int, UserPtr("char __user *", show="buf", direction=OUT, size="ret")]
LinkBufSize = Annotated[int, Arg("int", 32, True, show="udec")]
"""readlink's bufsiz: an int, but strace prints the register unsigned."""


def vfs_empty_path(t: Task, dfd: int, filename: int) -> bool:
    """Whether (dfd, filename) means "dfd itself": a NULL or "" path (include/linux/fs.h)."""
    if dfd < 0:
        return False
    if not filename:
        return True
    try:
        return copy_from_user(t.mm, filename, 1) == b"\0"
    except KernelError:
        return False


def statx_lookup(t: Task, dfd: int, filename: int, flags: int) -> Kstat:
    """vfs_statx: the flags, then the name, then the lookup."""
    if flags & ~(o.AT_SYMLINK_NOFOLLOW | o.AT_NO_AUTOMOUNT | o.AT_EMPTY_PATH | o.AT_STATX_SYNC_TYPE):
        raise KernelError(Errno.EINVAL)
    name = getname(t.mm, filename, empty_ok=bool(flags & o.AT_EMPTY_PATH))
    if not name:
        return file_of(t, dfd).stat()
    return vfs_stat(t, dfd, name, follow=not flags & o.AT_SYMLINK_NOFOLLOW)


def vfs_fstatat(t: Task, dfd: int, filename: int, flags: int) -> Kstat:
    """vfs_fstatat: fstat when called the way glibc's fstat calls it, else a lookup."""
    if flags == o.AT_EMPTY_PATH and vfs_empty_path(t, dfd, filename):
        return t.files.get(dfd).stat()
    return statx_lookup(t, dfd, filename, flags | o.AT_NO_AUTOMOUNT)


@syscall()
def sys_newstat(t: Task, filename: Path, statbuf: StatOut) -> int:
    """get file status"""
    st = vfs_stat(t, o.AT_FDCWD, getname(t.mm, filename), follow=True)
    copy_to_user(t.mm, statbuf, pack_stat(st))
    return 0


@syscall()
def sys_newlstat(t: Task, filename: Path, statbuf: StatOut) -> int:
    """get file status, not following a final symbolic link"""
    st = vfs_stat(t, o.AT_FDCWD, getname(t.mm, filename), follow=False)
    copy_to_user(t.mm, statbuf, pack_stat(st))
    return 0


@syscall()
def sys_newfstat(t: Task, fd: Fd, statbuf: StatOut) -> int:
    """get file status of a file descriptor"""
    copy_to_user(t.mm, statbuf, pack_stat(t.files.get(fd).stat()))
    return 0


@syscall()
def sys_newfstatat(t: Task, dfd: DirFd, filename: Path, statbuf: StatOut, flag: AtFlags) -> int:
    """get file status relative to a directory file descriptor"""
    copy_to_user(t.mm, statbuf, pack_stat(vfs_fstatat(t, dfd, filename, flag)))
    return 0


_statx = libc_fn("statx", ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint,
                 ctypes.c_char_p)


def _host_statx(dirfd: int, path: bytes, flags: int, mask: int) -> bytes | None:
    """The host's own struct statx (glibc 2.28+ on Linux), or None where there is none."""
    if _statx is None:
        return None
    buf = ctypes.create_string_buffer(STATX_SIZE)
    host_check(_statx(dirfd, path, flags, mask, buf))
    return buf.raw


def _statx_file(f: File, flags: int, mask: int) -> bytes:
    fd = f.host_fd
    if fd is not None:
        raw = _host_statx(fd, b"", o.AT_EMPTY_PATH | (flags & o.AT_STATX_SYNC_TYPE), mask)
        if raw is not None:
            return raw
    return pack_statx(f.stat(), ls.STATX_BASIC_STATS | ls.STATX_MNT_ID)


@syscall()
def sys_statx(t: Task, dfd: DirFd, filename: Path, flags: StatxFlags, mask: StatxMask, buffer: StatxOut) -> int:
    """get file status (extended)"""
    fd_only = flags & ~(o.AT_NO_AUTOMOUNT | o.AT_STATX_SYNC_TYPE) == o.AT_EMPTY_PATH and vfs_empty_path(
        t, dfd, filename
    )
    if mask & ls.STATX__RESERVED:
        raise KernelError(Errno.EINVAL)
    if flags & o.AT_STATX_SYNC_TYPE == o.AT_STATX_SYNC_TYPE:
        raise KernelError(Errno.EINVAL)
    raw: bytes | None
    if fd_only:
        raw = _statx_file(t.files.get(dfd), flags, mask)
    else:
        st = statx_lookup(t, dfd, filename, flags)  # the checks and errors of the lookup
        name = getname(t.mm, filename, empty_ok=True)
        where = lookup(t, dfd, name, follow=not flags & o.AT_SYMLINK_NOFOLLOW) if name else None
        raw = None
        if isinstance(where, HostPath):
            nofollow = 0 if where.follow_ok else o.AT_SYMLINK_NOFOLLOW  # inside a root: followed already
            raw = _host_statx(o.AT_FDCWD if where.dirfd is None else where.dirfd, where.path,
                              (flags & ~o.AT_EMPTY_PATH) | nofollow, mask)
        elif where is None:
            raw = _statx_file(file_of(t, dfd), flags, mask)
        if raw is None:
            raw = pack_statx(st, ls.STATX_BASIC_STATS | ls.STATX_MNT_ID)
    copy_to_user(t.mm, buffer, raw)
    return 0


def do_readlinkat(t: Task, dfd: int, pathname: int, buf: int, bufsiz: int) -> int:
    if bufsiz <= 0:
        raise KernelError(Errno.EINVAL)
    # LOOKUP_EMPTY: "" names dfd itself (an O_PATH|O_NOFOLLOW descriptor of a link);
    # for anything that is not a link that is ENOENT rather than EINVAL.
    target = vfs_readlink(t, dfd, getname(t.mm, pathname, empty_ok=True))
    data = target[:bufsiz]
    copy_to_user(t.mm, buf, data)
    return len(data)


@syscall()
def sys_readlink(t: Task, path: Path, buf: LinkBuf, bufsiz: LinkBufSize) -> int:
    """read value of a symbolic link"""
    return do_readlinkat(t, o.AT_FDCWD, path, buf, bufsiz)


@syscall()
def sys_readlinkat(t: Task, dfd: DirFd, pathname: Path, buf: LinkBuf, bufsiz: LinkBufSize) -> int:
    """read value of a symbolic link relative to a directory file descriptor"""
    return do_readlinkat(t, dfd, pathname, buf, bufsiz)


def do_faccessat(t: Task, dfd: int, filename: int, mode: int, flags: int) -> int:
    if mode & ~(o.R_OK | o.W_OK | o.X_OK):
        raise KernelError(Errno.EINVAL)
    if flags & ~(o.AT_EACCESS | o.AT_SYMLINK_NOFOLLOW | o.AT_EMPTY_PATH):
        raise KernelError(Errno.EINVAL)
    name = getname(t.mm, filename, empty_ok=bool(flags & o.AT_EMPTY_PATH))
    if not name:
        file_of(t, dfd).stat()
        return 0
    vfs_access(t, dfd, name, mode, follow=not flags & o.AT_SYMLINK_NOFOLLOW,
               effective=bool(flags & o.AT_EACCESS))
    return 0


@syscall()
def sys_access(t: Task, filename: Path, mode: AccessMode) -> int:
    """check user's permissions for a file"""
    return do_faccessat(t, o.AT_FDCWD, filename, mode, 0)


@syscall()
def sys_faccessat(t: Task, dfd: DirFd, filename: Path, mode: AccessMode) -> int:
    """check user's permissions for a file relative to a directory file descriptor"""
    return do_faccessat(t, dfd, filename, mode, 0)


@syscall()
def sys_faccessat2(t: Task, dfd: DirFd, filename: Path, mode: AccessMode, flags: FaccessatFlags) -> int:
    """check user's permissions for a file, with flags"""
    return do_faccessat(t, dfd, filename, mode, flags)
