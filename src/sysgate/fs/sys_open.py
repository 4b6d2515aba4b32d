"""Opening and closing: open, openat, openat2, creat, close, close_range.

Counterpart: fs/open.c (build_open_how, build_open_flags, do_sys_openat2, close_range)
and fs/file.c. The order of checks is Linux's: the flags, then the name (EFAULT,
ENAMETOOLONG, ENOENT for ""), then a free descriptor (EMFILE), then the lookup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from sysgate.arch.x86_64.structs import OPEN_HOW
from sysgate.argtypes import Arg, DirFd, Fd, ModeT, Path, SizeT, UInt, struct_in
from sysgate.errors import KernelError
from sysgate.fs.vfs import vfs_open
from sysgate.mm.physmem import PAGE_SIZE
from sysgate.mm.uaccess import copy_from_user, getname
from sysgate.syscall import syscall
from sysgate.uapi import fcntl as o
from sysgate.uapi.errno import Errno
from sysgate.uapi.stat import S_IALLUGO

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

OpenFlags = Annotated[int, Arg("int", 32, True, show="open_flags")]
OpenMode = Annotated[int, Arg("umode_t", 16, show="open_mode")]
"""open's mode, which strace prints only when the flags create a file."""
OpenHow = Annotated[int, struct_in("struct open_how __user *", "open_how")]
CloseRangeFlags = Annotated[int, Arg("unsigned int", 32, show="close_range_flags")]

O_PATH_FLAGS = o.O_DIRECTORY | o.O_NOFOLLOW | o.O_PATH | o.O_CLOEXEC
VALID_RESOLVE_FLAGS = (o.RESOLVE_NO_XDEV | o.RESOLVE_NO_MAGICLINKS | o.RESOLVE_NO_SYMLINKS
                       | o.RESOLVE_BENEATH | o.RESOLVE_IN_ROOT | o.RESOLVE_CACHED)
OPEN_HOW_SIZE_VER0 = 24


def build_open_flags(flags: int, mode: int, resolve: int) -> int:
    """Validate open_how (build_open_flags); returns the flags to open with."""
    if flags & ~o.VALID_OPEN_FLAGS:
        raise KernelError(Errno.EINVAL)
    if resolve & ~VALID_RESOLVE_FLAGS:
        raise KernelError(Errno.EINVAL)
    if resolve & o.RESOLVE_BENEATH and resolve & o.RESOLVE_IN_ROOT:
        raise KernelError(Errno.EINVAL)
    if flags & (o.O_CREAT | o.__O_TMPFILE):
        if mode & ~S_IALLUGO:
            raise KernelError(Errno.EINVAL)
    elif mode:
        raise KernelError(Errno.EINVAL)
    if flags & o.O_CREAT and flags & o.O_DIRECTORY:
        raise KernelError(Errno.EINVAL)
    if flags & o.__O_TMPFILE:
        if flags & (o.__O_TMPFILE | o.O_DIRECTORY | o.O_CREAT) != o.O_TMPFILE:
            raise KernelError(Errno.EINVAL)
        if flags & o.O_ACCMODE == o.O_RDONLY:
            raise KernelError(Errno.EINVAL)
    if flags & o.O_PATH and flags & ~O_PATH_FLAGS:
        raise KernelError(Errno.EINVAL)
    if resolve & o.RESOLVE_CACHED and flags & (o.O_TRUNC | o.O_CREAT | o.__O_TMPFILE):
        raise KernelError(Errno.EAGAIN)
    # force_o_largefile(): open, openat, creat and openat2 add O_LARGEFILE, except that
    # build_open_how strips it from O_PATH opens and openat2 does not add it to them.
    return flags if flags & o.O_PATH else flags | o.O_LARGEFILE


def do_sys_openat2(t: Task, dfd: int, filename: int, flags: int, mode: int, resolve: int = 0) -> int:
    flags = build_open_flags(flags, mode, resolve)
    name = getname(t.mm, filename)
    fd = t.files.alloc_fd(0, t.group.nofile())
    file = vfs_open(t, dfd, name, flags, mode & ~t.fs.umask if flags & (o.O_CREAT | o.__O_TMPFILE) else 0, resolve)
    return t.files.install(fd, file, bool(flags & o.O_CLOEXEC))


def build_open_how(flags: int, mode: int) -> tuple[int, int]:
    """What open() and openat() pass on (build_open_how): unknown flag bits are dropped."""
    flags &= o.VALID_OPEN_FLAGS
    mode &= S_IALLUGO
    if flags & o.O_PATH:
        flags &= O_PATH_FLAGS
    if not flags & (o.O_CREAT | o.__O_TMPFILE):
        mode = 0
    return flags, mode


@syscall(ret="fd")
def sys_open(t: Task, filename: Path, flags: OpenFlags, mode: OpenMode) -> int:
    """open and possibly create a file"""
    return do_sys_openat2(t, o.AT_FDCWD, filename, *build_open_how(flags, mode))


@syscall(ret="fd")
def sys_openat(t: Task, dfd: DirFd, filename: Path, flags: OpenFlags, mode: OpenMode) -> int:
    """open and possibly create a file relative to a directory file descriptor"""
    return do_sys_openat2(t, dfd, filename, *build_open_how(flags, mode))


@syscall(ret="fd")
def sys_creat(t: Task, pathname: Path, mode: ModeT) -> int:
    """create a file"""
    return do_sys_openat2(t, o.AT_FDCWD, pathname, *build_open_how(o.O_CREAT | o.O_WRONLY | o.O_TRUNC, mode))


@syscall(ret="fd")
def sys_openat2(t: Task, dfd: DirFd, filename: Path, how: OpenHow, usize: SizeT) -> int:
    """open and possibly create a file (extended)"""
    if usize < OPEN_HOW_SIZE_VER0:
        raise KernelError(Errno.EINVAL)
    if usize > PAGE_SIZE:
        raise KernelError(Errno.E2BIG)
    raw = copy_from_user(t.mm, how, usize)
    if any(raw[OPEN_HOW.size :]):
        raise KernelError(Errno.E2BIG)  # copy_struct_from_user: unknown trailing fields must be 0
    flags, mode, resolve = OPEN_HOW.unpack(raw[: OPEN_HOW.size].ljust(OPEN_HOW.size, b"\0"))
    return do_sys_openat2(t, dfd, filename, flags, mode, resolve)


@syscall()
def sys_close(t: Task, fd: Fd) -> int:
    """close a file descriptor"""
    t.files.close(fd)
    return 0


@syscall()
def sys_close_range(t: Task, fd: UInt, max_fd: UInt, flags: CloseRangeFlags) -> int:
    """close all file descriptors in a given range"""
    if flags & ~(o.CLOSE_RANGE_UNSHARE | o.CLOSE_RANGE_CLOEXEC):
        raise KernelError(Errno.EINVAL)
    if fd > max_fd:
        raise KernelError(Errno.EINVAL)
    for n in sorted(t.files.files):
        if fd <= n <= max_fd:
            if flags & o.CLOSE_RANGE_CLOEXEC:
                t.files.cloexec.add(n)
            else:
                t.files.close(n)
    return 0
