"""File attributes: chmod, fchmod, fchmodat, fchmodat2, chown, fchown, lchown, fchownat,
truncate, ftruncate, fallocate, utimensat, utime, utimes, futimesat, umask.

Counterpart: fs/open.c (do_fchmodat, do_fchownat, do_sys_truncate, do_sys_ftruncate,
vfs_fallocate), fs/utimes.c and kernel/sys.c (umask). The flags, the names and the
user structs are checked here in Linux's order; the change itself is the host's
(fchmodat2, fchownat, utimensat, fallocate through its C library where the os module
has no equivalent), so permission errors and file-system limits are the host kernel's.
"""

from __future__ import annotations

import ctypes
import errno as host_errno
import os
from typing import TYPE_CHECKING, Annotated

from sysgate.arch.x86_64.structs import TIMESPEC, TIMEVAL
from sysgate.argtypes import Arg, DirFd, Fd, IntFd, LoffT, ModeT, Path, struct_in
from sysgate.errors import KernelError
from sysgate.fs.file import FMODE_WRITE, File
from sysgate.fs.namei import host_lookup
from sysgate.fs.sys_namei import empty_path_fd, host_dirfd
from sysgate.fs.sys_read_write import fdget
from sysgate.host import HOST_AT_FDCWD, host_check, host_fallocate, kernel_error, libc_fn
from sysgate.mm.uaccess import copy_from_user, get_user_u64, getname
from sysgate.syscall import syscall
from sysgate.uapi import fcntl as o
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

AtFlags = Annotated[int, Arg("int", 32, True, show="at_flags")]
UAtFlags = Annotated[int, Arg("unsigned int", 32, show="at_flags")]
FallocMode = Annotated[int, Arg("int", 32, True, show="falloc_flags")]
Uid = Annotated[int, Arg("uid_t", 32, show="uid")]
Gid = Annotated[int, Arg("gid_t", 32, show="uid")]
Length = Annotated[int, Arg("long", 0, True, show="udec")]
"""truncate's length: strace prints the register unsigned."""
Offset = Annotated[int, Arg("off_t", 0, True, show="udec")]
UmaskMode = Annotated[int, Arg("int", 32, True, show="oct")]
TimespecIn = Annotated[int, struct_in("struct __kernel_timespec __user *", "utimensat_times")]
"""utimensat's two times, UTIME_NOW and UTIME_OMIT by name."""
TimevalIn = Annotated[int, struct_in("struct __kernel_old_timeval __user *", "utimes_times")]
"""utimes' and futimesat's two times."""
UtimbufIn = Annotated[int, struct_in("struct utimbuf __user *", "utimbuf")]

UTIME_OMIT = (1 << 30) - 2
FALLOC_FL_MODE_MASK = (o.FALLOC_FL_PUNCH_HOLE | o.FALLOC_FL_COLLAPSE_RANGE | o.FALLOC_FL_ZERO_RANGE
                       | o.FALLOC_FL_INSERT_RANGE | o.FALLOC_FL_UNSHARE_RANGE)
NR_FCHMODAT2 = 452
"""fchmodat2's number on every Linux architecture (new calls share one numbering)."""

Times = tuple[tuple[int, int], tuple[int, int]] | None
"""(atime, mtime) as (sec, nsec) pairs, or None for "now"."""

_c_int, _c_uint, _c_char_p, _c_i64 = ctypes.c_int, ctypes.c_uint, ctypes.c_char_p, ctypes.c_int64
_syscall = libc_fn("syscall", ctypes.c_long, ctypes.c_long)
_fchownat = libc_fn("fchownat", _c_int, _c_int, _c_char_p, _c_uint, _c_uint, _c_int)
_fchown = libc_fn("fchown", _c_int, _c_int, _c_uint, _c_uint)
_utimensat = libc_fn("utimensat", _c_int, _c_int, _c_char_p, ctypes.c_void_p, _c_int)
_futimens = libc_fn("futimens", _c_int, _c_int, ctypes.c_void_p)


def _proc_file() -> KernelError:
    """What changing one of the kernel's own (procfs) files gives: proc_setattr's EPERM."""
    return KernelError(Errno.EPERM)


# -- chmod ----------------------------------------------------------------------------------


def _host_fchmodat(dirfd: int, path: bytes, mode: int, flags: int) -> None:
    """fchmodat2 on the host; without it (before Linux 6.6), the C library's fchmodat."""
    if flags and _syscall is not None:
        long = ctypes.c_long
        if _syscall(NR_FCHMODAT2, long(dirfd), _c_char_p(path), long(mode), long(flags)) == 0:
            return
        if ctypes.get_errno() != host_errno.ENOSYS:
            host_check(-1)
    if not path:
        path, dirfd = f"/proc/self/fd/{dirfd}".encode(), HOST_AT_FDCWD
    try:
        os.chmod(path, mode, dir_fd=None if dirfd == HOST_AT_FDCWD else dirfd,
                 follow_symlinks=not flags & o.AT_SYMLINK_NOFOLLOW)
    except OSError as exc:
        raise kernel_error(exc) from None


def do_fchmodat(t: Task, dfd: int, filename: int, mode: int, flags: int) -> int:
    if flags & ~(o.AT_SYMLINK_NOFOLLOW | o.AT_EMPTY_PATH):
        raise KernelError(Errno.EINVAL)
    mode &= 0o7777  # chmod_common keeps S_IALLUGO
    name = getname(t.mm, filename, empty_ok=bool(flags & o.AT_EMPTY_PATH))
    if not name:
        fd = empty_path_fd(t, dfd)
        if fd is None:
            raise _proc_file()
        _host_fchmodat(fd, b"", mode, flags | o.AT_EMPTY_PATH)
        return 0
    where = host_lookup(t, dfd, name, follow=not flags & o.AT_SYMLINK_NOFOLLOW)
    _host_fchmodat(host_dirfd(where), where.path, mode, flags if where.follow_ok else flags | o.AT_SYMLINK_NOFOLLOW)
    return 0


@syscall()
def sys_chmod(t: Task, filename: Path, mode: ModeT) -> int:
    """change permissions of a file"""
    return do_fchmodat(t, o.AT_FDCWD, filename, mode, 0)


@syscall()
def sys_fchmodat(t: Task, dfd: DirFd, filename: Path, mode: ModeT) -> int:
    """change permissions of a file relative to a directory file descriptor"""
    return do_fchmodat(t, dfd, filename, mode, 0)


@syscall()
def sys_fchmodat2(t: Task, dfd: DirFd, filename: Path, mode: ModeT, flags: UAtFlags) -> int:
    """change permissions of a file relative to a directory file descriptor, with flags"""
    return do_fchmodat(t, dfd, filename, mode, flags)


@syscall()
def sys_fchmod(t: Task, fd: Fd, mode: ModeT) -> int:
    """change permissions of a file descriptor"""
    f = fdget(t, fd)
    if f.host_fd is None:
        raise _proc_file()
    try:
        os.fchmod(f.host_fd, mode & 0o7777)
    except OSError as exc:
        raise kernel_error(exc) from None
    return 0


# -- chown ----------------------------------------------------------------------------------


def _id(value: int) -> int:
    """A uid_t/gid_t for the os module: (uid_t)-1 means "unchanged"."""
    return -1 if value == 0xFFFFFFFF else value


def do_fchownat(t: Task, dfd: int, filename: int, user: int, group: int, flag: int) -> int:
    if flag & ~(o.AT_SYMLINK_NOFOLLOW | o.AT_EMPTY_PATH):
        raise KernelError(Errno.EINVAL)
    name = getname(t.mm, filename, empty_ok=bool(flag & o.AT_EMPTY_PATH))
    if not name:
        fd = empty_path_fd(t, dfd)
        if fd is None:
            raise _proc_file()
        dirfd, path = fd, b""
    else:
        where = host_lookup(t, dfd, name, follow=not flag & o.AT_SYMLINK_NOFOLLOW)
        dirfd, path = host_dirfd(where), where.path
        if not where.follow_ok:
            flag |= o.AT_SYMLINK_NOFOLLOW  # the walk followed the link inside the root
    if _fchownat is not None:
        host_check(_fchownat(dirfd, path, user, group, flag | (o.AT_EMPTY_PATH if not path else 0)))
        return 0
    try:
        os.chown(path or f"/proc/self/fd/{dirfd}".encode(), _id(user), _id(group),
                 dir_fd=dirfd if path and dirfd != HOST_AT_FDCWD else None,
                 follow_symlinks=not flag & o.AT_SYMLINK_NOFOLLOW)
    except OSError as exc:
        raise kernel_error(exc) from None
    return 0


@syscall()
def sys_fchownat(t: Task, dfd: DirFd, filename: Path, user: Uid, group: Gid, flag: AtFlags) -> int:
    """change ownership of a file relative to a directory file descriptor"""
    return do_fchownat(t, dfd, filename, user, group, flag)


@syscall()
def sys_chown(t: Task, filename: Path, user: Uid, group: Gid) -> int:
    """change ownership of a file"""
    return do_fchownat(t, o.AT_FDCWD, filename, user, group, 0)


@syscall()
def sys_lchown(t: Task, filename: Path, user: Uid, group: Gid) -> int:
    """change ownership of a file, not following a final symbolic link"""
    return do_fchownat(t, o.AT_FDCWD, filename, user, group, o.AT_SYMLINK_NOFOLLOW)


@syscall()
def sys_fchown(t: Task, fd: Fd, user: Uid, group: Gid) -> int:
    """change ownership of a file descriptor"""
    f = fdget(t, fd)
    if f.host_fd is None:
        raise _proc_file()
    if _fchown is not None:
        host_check(_fchown(f.host_fd, user, group))
        return 0
    try:
        os.fchown(f.host_fd, _id(user), _id(group))
    except OSError as exc:
        raise kernel_error(exc) from None
    return 0


# -- truncate, fallocate --------------------------------------------------------------------


@syscall()
def sys_truncate(t: Task, path: Path, length: Length) -> int:
    """truncate a file to a specified length"""
    if length < 0:
        raise KernelError(Errno.EINVAL)
    where = host_lookup(t, o.AT_FDCWD, getname(t.mm, path))
    target = where.path
    if where.dirfd is not None:
        # No truncateat(): walk through the directory's magic link instead.
        target = b"/proc/self/fd/%d/%s" % (where.dirfd, target)
    try:
        os.truncate(target, length)
    except OSError as exc:
        raise kernel_error(exc) from None
    return 0


@syscall()
def sys_ftruncate(t: Task, fd: Fd, length: Offset) -> int:
    """truncate a file descriptor to a specified length"""
    if length < 0:
        raise KernelError(Errno.EINVAL)
    f = fdget(t, fd)
    # A 64-bit kernel opens everything O_LARGEFILE, so the MAX_NON_LFS test never applies.
    if not f.f_mode & FMODE_WRITE:
        raise KernelError(Errno.EINVAL)
    f.truncate(length)  # EINVAL unless a regular file
    return 0


def vfs_fallocate(f: File, mode: int, offset: int, length: int) -> None:
    """The checks of vfs_fallocate before the file system's own; then the host's fallocate."""
    if offset < 0 or length <= 0:
        raise KernelError(Errno.EINVAL)
    if mode & ~(FALLOC_FL_MODE_MASK | o.FALLOC_FL_KEEP_SIZE):
        raise KernelError(Errno.EOPNOTSUPP)
    kind = mode & FALLOC_FL_MODE_MASK
    if kind == o.FALLOC_FL_PUNCH_HOLE:
        if not mode & o.FALLOC_FL_KEEP_SIZE:
            raise KernelError(Errno.EOPNOTSUPP)
    elif kind in (o.FALLOC_FL_COLLAPSE_RANGE, o.FALLOC_FL_INSERT_RANGE):
        if mode & o.FALLOC_FL_KEEP_SIZE:
            raise KernelError(Errno.EOPNOTSUPP)
    elif kind not in (0, o.FALLOC_FL_UNSHARE_RANGE, o.FALLOC_FL_ZERO_RANGE):
        raise KernelError(Errno.EOPNOTSUPP)
    if not f.f_mode & FMODE_WRITE:
        raise KernelError(Errno.EBADF)
    fd = f.host_fd
    if fd is None:
        f.allocate(mode, offset, length)
        return
    host_fallocate(fd, mode, offset, length)


@syscall()
def sys_fallocate(t: Task, fd: IntFd, mode: FallocMode, offset: LoffT, len: LoffT) -> int:  # noqa: A002
    """manipulate file space"""
    vfs_fallocate(fdget(t, fd), mode, offset, len)
    return 0


# -- utimes ---------------------------------------------------------------------------------


def _c_times(times: Times) -> ctypes.Array[ctypes.c_int64] | None:
    if times is None:
        return None
    (asec, ansec), (msec, mnsec) = times
    return (ctypes.c_int64 * 4)(asec, ansec, msec, mnsec)


def _host_utimens(dirfd: int, path: bytes | None, times: Times, flags: int) -> None:
    ts = _c_times(times)
    if path is None:
        if _futimens is None:
            raise KernelError(Errno.ENOSYS)
        host_check(_futimens(dirfd, ts))
        return
    if _utimensat is None:
        raise KernelError(Errno.ENOSYS)
    host_check(_utimensat(dirfd, path, ts, flags))


def do_utimes(t: Task, dfd: int, filename: int, times: Times, flags: int) -> int:
    """do_utimes: a NULL name with a real dfd changes that file, else a path lookup."""
    if not filename and dfd != o.AT_FDCWD:
        if flags:
            raise KernelError(Errno.EINVAL)
        f = fdget(t, dfd)
        if f.host_fd is None:
            raise _proc_file()
        _host_utimens(f.host_fd, None, times, 0)
        return 0
    if flags & ~(o.AT_SYMLINK_NOFOLLOW | o.AT_EMPTY_PATH):
        raise KernelError(Errno.EINVAL)
    name = getname(t.mm, filename, empty_ok=bool(flags & o.AT_EMPTY_PATH))
    if not name:
        fd = empty_path_fd(t, dfd)
        if fd is None:
            raise _proc_file()
        _host_utimens(fd, b"", times, flags)
        return 0
    where = host_lookup(t, dfd, name, follow=not flags & o.AT_SYMLINK_NOFOLLOW)
    _host_utimens(host_dirfd(where), where.path, times, flags if where.follow_ok else flags | o.AT_SYMLINK_NOFOLLOW)
    return 0


@syscall()
def sys_utimensat(t: Task, dfd: DirFd, filename: Path, utimes: TimespecIn, flags: AtFlags) -> int:
    """change file timestamps with nanosecond precision"""
    times: Times = None
    if utimes:
        a = TIMESPEC.unpack(copy_from_user(t.mm, utimes, TIMESPEC.size))
        m = TIMESPEC.unpack(copy_from_user(t.mm, utimes + TIMESPEC.size, TIMESPEC.size))
        if a[1] == UTIME_OMIT and m[1] == UTIME_OMIT:
            return 0  # nothing to do: not even the path is looked at
        times = (a, m)
    return do_utimes(t, dfd, filename, times, flags)


def do_futimesat(t: Task, dfd: int, filename: int, utimes: int) -> int:
    times: Times = None
    if utimes:
        raw = copy_from_user(t.mm, utimes, 2 * TIMEVAL.size)
        (asec, ausec), (msec, musec) = TIMEVAL.iter_unpack(raw)
        # Checked here, before the multiplication: this also refuses UTIME_NOW/OMIT.
        if not (0 <= ausec < 1_000_000 and 0 <= musec < 1_000_000):
            raise KernelError(Errno.EINVAL)
        times = ((asec, ausec * 1000), (msec, musec * 1000))
    return do_utimes(t, dfd, filename, times, 0)


@syscall()
def sys_futimesat(t: Task, dfd: DirFd, filename: Path, utimes: TimevalIn) -> int:
    """change timestamps of a file relative to a directory file descriptor"""
    return do_futimesat(t, dfd, filename, utimes)


@syscall()
def sys_utimes(t: Task, filename: Path, utimes: TimevalIn) -> int:
    """change file last access and modification times"""
    return do_futimesat(t, o.AT_FDCWD, filename, utimes)


@syscall()
def sys_utime(t: Task, filename: Path, times: UtimbufIn) -> int:
    """change file last access and modification times (whole seconds)"""
    tv: Times = None
    if times:
        actime = get_user_u64(t.mm, times)
        modtime = get_user_u64(t.mm, times + 8)
        tv = ((_s64(actime), 0), (_s64(modtime), 0))
    return do_utimes(t, o.AT_FDCWD, filename, tv, 0)


def _s64(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


# -- umask ----------------------------------------------------------------------------------


@syscall(ret="oct")
def sys_umask(t: Task, mask: UmaskMode) -> int:
    """set file mode creation mask"""
    old = t.fs.umask
    t.fs.umask = mask & 0o777
    return old
