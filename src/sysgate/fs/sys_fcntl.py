"""Descriptor control: fcntl, dup, dup2, dup3, ioctl.

Counterpart: fs/fcntl.c, fs/file.c (dup2, dup3) and fs/ioctl.c (do_vfs_ioctl). The
generic ioctls (FIOCLEX, FIONCLEX, FIONBIO, FIOASYNC, FIOQSIZE, FIONREAD on regular
files) are answered here for every file; the rest go to the file (terminal ioctls for
a host tty) or give ENOTTY.
"""

from __future__ import annotations

import fcntl as host_fcntl
import os
from typing import TYPE_CHECKING, Annotated

from sysgate.arch.x86_64.structs import FLOCK
from sysgate.argtypes import Arg, Fd, Flags, ULong
from sysgate.errors import KernelError
from sysgate.fs.file import FMODE_PATH, File
from sysgate.fs.sys_read_write import fdget
from sysgate.host import kernel_error
from sysgate.kernel.signal import valid_signal
from sysgate.mm.uaccess import copy_from_user, copy_to_user, get_user_s32, put_user_s32, put_user_s64
from sysgate.syscall import Support, syscall
from sysgate.uapi import fcntl as o
from sysgate.uapi import stat as ls
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

FcntlCmd = Annotated[int, Arg("unsigned int", 32, show="fcntl_cmd")]
IoctlCmd = Annotated[int, Arg("unsigned int", 32, show="ioctl_cmd")]

FIONREAD = 0x541B
FIONBIO = 0x5421
FIONCLEX = 0x5450
FIOCLEX = 0x5451
FIOASYNC = 0x5452
FIOQSIZE = 0x5460
_PATH_OK = {o.F_DUPFD, o.F_DUPFD_CLOEXEC, o.F_DUPFD_QUERY, o.F_GETFD, o.F_SETFD, o.F_GETFL}
"""check_fcntl_cmd: what an O_PATH descriptor may do (and F_CREATED_QUERY, not implemented)."""
_LOCKS = {o.F_GETLK, o.F_SETLK, o.F_SETLKW, o.F_OFD_GETLK, o.F_OFD_SETLK, o.F_OFD_SETLKW}


def _as_int(arg: int) -> int:
    arg &= 0xFFFFFFFF
    return arg - (1 << 32) if arg >> 31 else arg


def has_fasync(file: File) -> bool:
    """Whether Linux gives this kind of file a ->fasync operation: pipes, sockets, terminals."""
    try:
        kind = file.stat().mode & ls.S_IFMT
    except KernelError:
        return False
    if kind in (ls.S_IFIFO, ls.S_IFSOCK):
        return True
    fd = file.host_fd
    return kind == ls.S_IFCHR and fd is not None and os.isatty(fd)


def f_dupfd(t: Task, start: int, file: File, cloexec: bool) -> int:
    nofile = t.group.nofile()
    if start >= nofile:
        raise KernelError(Errno.EINVAL)
    return t.files.add(file, nofile, cloexec, start)


def _lock(t: Task, file: File, cmd: int, arg: int) -> int:
    raw = copy_from_user(t.mm, arg, FLOCK.size)
    l_type, whence, start, length, pid = FLOCK.unpack(raw)
    if cmd in (o.F_OFD_GETLK, o.F_OFD_SETLK, o.F_OFD_SETLKW) and pid != 0:
        raise KernelError(Errno.EINVAL)
    if l_type not in (o.F_RDLCK, o.F_WRLCK, o.F_UNLCK):
        raise KernelError(Errno.EINVAL)
    fd = file.host_fd
    if fd is None:
        raise KernelError(Errno.EINVAL)
    try:
        out = host_fcntl.fcntl(fd, cmd, raw)
    except OSError as exc:
        raise kernel_error(exc) from None
    if cmd in (o.F_GETLK, o.F_OFD_GETLK):
        l_type, whence, start, length, pid = FLOCK.unpack(out)
        if l_type != o.F_UNLCK and cmd == o.F_GETLK:
            pid = t.pid  # the holder is this process (all guests are one host process)
        copy_to_user(t.mm, arg, FLOCK.pack(l_type, whence, start, length, pid))
    return 0


@syscall(support=Support.PARTIAL,
         note="record locks are the host's, so guest processes never conflict with each other; "
         "leases, notify and seals give EINVAL")
def sys_fcntl(t: Task, fd: Fd, cmd: FcntlCmd, arg: ULong) -> int:
    """manipulate file descriptor"""
    file = t.files.get(fd)
    if file.f_mode & FMODE_PATH and cmd not in _PATH_OK:
        raise KernelError(Errno.EBADF)
    argi = _as_int(arg)
    if cmd == o.F_DUPFD:
        return f_dupfd(t, arg & 0xFFFFFFFF, file, False)
    if cmd == o.F_DUPFD_CLOEXEC:
        return f_dupfd(t, arg & 0xFFFFFFFF, file, True)
    if cmd == o.F_DUPFD_QUERY:
        other = t.files.lookup(argi) if argi >= 0 else None
        if other is None:
            raise KernelError(Errno.EBADF)
        return int(other is file)
    if cmd == o.F_GETFD:
        return o.FD_CLOEXEC if fd in t.files.cloexec else 0
    if cmd == o.F_SETFD:
        if argi & o.FD_CLOEXEC:
            t.files.cloexec.add(fd)
        else:
            t.files.cloexec.discard(fd)
        return 0
    if cmd == o.F_GETFL:
        return file.f_flags
    if cmd == o.F_SETFL:
        if (argi ^ file.f_flags) & o.FASYNC and has_fasync(file):
            file.f_flags ^= o.FASYNC  # the file's ->fasync sets or clears it (setfl)
        file.set_status_flags(argi)
        return 0
    if cmd in _LOCKS:
        return _lock(t, file, cmd, arg)
    if cmd == o.F_GETOWN:
        return getattr(file, "owner", 0)
    if cmd == o.F_SETOWN:
        # f_setown: a process (who > 0) or process group (who < 0) that exists, or 0.
        if argi == -(1 << 31):
            raise KernelError(Errno.EINVAL)
        who = abs(argi)
        if who and not any(who in (x.pid, x.tid, x.group.pgid) for x in t.kernel.tasks.values()):
            raise KernelError(Errno.ESRCH)
        file.owner = argi  # type: ignore[attr-defined]
        return 0
    if cmd == o.F_GETSIG:
        return getattr(file, "signum", 0)
    if cmd == o.F_SETSIG:
        if not valid_signal(argi):  # f_owner_sig takes the int
            raise KernelError(Errno.EINVAL)
        file.signum = argi  # type: ignore[attr-defined]
        return 0
    if cmd in (o.F_GETPIPE_SZ, o.F_SETPIPE_SZ):
        fd_host = file.host_fd
        if fd_host is None or file.stat().mode & ls.S_IFMT != ls.S_IFIFO:
            raise KernelError(Errno.EBADF)
        try:
            return host_fcntl.fcntl(fd_host, cmd, argi)
        except OSError as exc:
            raise kernel_error(exc) from None
    raise KernelError(Errno.EINVAL)


@syscall()
def sys_dup(t: Task, fildes: Fd) -> int:
    """duplicate a file descriptor"""
    file = t.files.get(fildes)
    return t.files.add(file, t.group.nofile())


def do_dup3(t: Task, oldfd: int, newfd: int, flags: int) -> int:
    if flags & ~o.O_CLOEXEC:
        raise KernelError(Errno.EINVAL)
    if oldfd == newfd:
        raise KernelError(Errno.EINVAL)
    if newfd >= t.group.nofile():
        raise KernelError(Errno.EBADF)
    file = t.files.get(oldfd)
    t.files.replace(newfd, file, bool(flags & o.O_CLOEXEC))
    return newfd


@syscall()
def sys_dup2(t: Task, oldfd: Fd, newfd: Fd) -> int:
    """duplicate a file descriptor to a given number"""
    if oldfd == newfd:
        t.files.get(oldfd)
        return oldfd
    return do_dup3(t, oldfd, newfd, 0)


@syscall()
def sys_dup3(t: Task, oldfd: Fd, newfd: Fd, flags: Flags) -> int:
    """duplicate a file descriptor to a given number, with flags"""
    return do_dup3(t, oldfd, newfd, flags)


@syscall(support=Support.PARTIAL,
         note="generic ioctls (FIOCLEX, FIONCLEX, FIONBIO, FIOASYNC, FIOQSIZE, FIONREAD) and, on a "
         "host terminal, TCGETS/TCSETS*/TIOCGWINSZ/TIOCSWINSZ/TIOC[GS]PGRP; others give ENOTTY")
def sys_ioctl(t: Task, fd: Fd, cmd: IoctlCmd, arg: ULong) -> int:
    """control device"""
    file = fdget(t, fd)
    if cmd == FIOCLEX:
        t.files.cloexec.add(fd)
        return 0
    if cmd == FIONCLEX:
        t.files.cloexec.discard(fd)
        return 0
    if cmd == FIONBIO:
        on = get_user_s32(t.mm, arg)
        flags = file.f_flags | o.O_NONBLOCK if on else file.f_flags & ~o.O_NONBLOCK
        file.set_status_flags(flags)
        return 0
    if cmd == FIOASYNC:
        on = get_user_s32(t.mm, arg)
        if bool(on) != bool(file.f_flags & o.FASYNC):
            if not has_fasync(file):
                raise KernelError(Errno.ENOTTY)  # ioctl_fioasync: no ->fasync
            file.f_flags ^= o.FASYNC
        return 0
    if cmd == FIOQSIZE:
        st = file.stat()
        if st.mode & ls.S_IFMT not in (ls.S_IFREG, ls.S_IFDIR, ls.S_IFLNK):
            raise KernelError(Errno.ENOTTY)
        put_user_s64(t.mm, arg, st.blocks * 512)  # inode_get_bytes: allocated, not i_size
        return 0
    if cmd == FIONREAD:
        put_user_s32(t.mm, arg, file.readable_bytes())
        return 0
    return file.ioctl(t, cmd, arg)


