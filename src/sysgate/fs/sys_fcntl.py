"""Descriptor control: fcntl, dup, dup2, dup3, ioctl.

Counterpart: fs/fcntl.c, fs/file.c (dup2, dup3) and fs/ioctl.c (do_vfs_ioctl). The
generic ioctls (FIOCLEX, FIONCLEX, FIONBIO, FIOASYNC, FIOQSIZE, FIONREAD on regular
files) are answered here for every file; the rest go to the file (terminal ioctls for
a host tty) or give ENOTTY.
"""

from __future__ import annotations

import errno
import fcntl as host_fcntl
import os
import struct
from typing import TYPE_CHECKING, Annotated

from sysgate.arch.x86_64.structs import FLOCK
from sysgate.argtypes import Arg, Fd
from sysgate.errors import KernelError
from sysgate.fs.file import FMODE_PATH, File
from sysgate.fs.sys_read_write import fdget
from sysgate.host import kernel_error
from sysgate.kernel.signal import valid_signal
from sysgate.kernel.wait import retry_later
from sysgate.mm.memfd import memfd_fcntl
from sysgate.mm.uaccess import copy_from_user, copy_to_user, get_user_s32, put_user_s32, put_user_s64
from sysgate.syscall import Support, syscall
from sysgate.uapi import fcntl as o
from sysgate.uapi import stat as ls
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

FcntlCmd = Annotated[int, Arg("unsigned int", 32, show="fcntl_cmd")]
IoctlCmd = Annotated[int, Arg("unsigned int", 32, show="ioctl_cmd")]
FcntlArg = Annotated[int, Arg("unsigned long", show="exit:fcntl_arg")]
IoctlArg = Annotated[int, Arg("unsigned long", show="exit:ioctl_arg")]
Dup3Flags = Annotated[int, Arg("unsigned int", 32, show="open_mode_flags")]

FIONREAD = 0x541B
FIONBIO = 0x5421
FIONCLEX = 0x5450
FIOCLEX = 0x5451
FIOASYNC = 0x5452
FIOQSIZE = 0x5460
F_CREATED_QUERY = o.F_LINUX_SPECIFIC_BASE + 4
F_OWNER_TID, F_OWNER_PID, F_OWNER_PGRP = 0, 1, 2
F_OWNER_EX = struct.Struct("<ii")
_PATH_OK = {F_CREATED_QUERY, o.F_DUPFD, o.F_DUPFD_CLOEXEC, o.F_DUPFD_QUERY, o.F_GETFD, o.F_SETFD, o.F_GETFL}
"""check_fcntl_cmd: what an O_PATH descriptor may do."""
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
    # Never wait in the host: the holder may be another guest task, which must run.
    host_cmd = {o.F_SETLKW: o.F_SETLK, o.F_OFD_SETLKW: o.F_OFD_SETLK}.get(cmd, cmd)
    try:
        out = host_fcntl.fcntl(fd, host_cmd, raw)
    except OSError as exc:
        if host_cmd != cmd and exc.errno in (errno.EAGAIN, errno.EACCES):
            retry_later(t)
        raise kernel_error(exc) from None
    if cmd in (o.F_GETLK, o.F_OFD_GETLK):
        l_type, whence, start, length, pid = FLOCK.unpack(out)
        if l_type != o.F_UNLCK and cmd == o.F_GETLK:
            pid = t.pid  # the holder is this process (all guests are one host process)
        copy_to_user(t.mm, arg, FLOCK.pack(l_type, whence, start, length, pid))
    return 0


@syscall(support=Support.PARTIAL,
         note="record locks are the host's, so guest processes never conflict with each other "
         "(open file description locks do); a blocked F_*SETLKW looks again every 10 ms; "
         "leases and notify give EINVAL", ret="fcntl")
def sys_fcntl(t: Task, fd: Fd, cmd: FcntlCmd, arg: FcntlArg) -> int:
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
    if cmd == F_CREATED_QUERY:
        return int(file.created)
    if cmd in _OWNER_CMDS:
        return _owner(t, file, cmd, argi, arg)
    if cmd in (o.F_ADD_SEALS, o.F_GET_SEALS):
        return memfd_fcntl(t.mm, file, cmd, arg)
    if cmd in (o.F_GETPIPE_SZ, o.F_SETPIPE_SZ):
        fd_host = file.host_fd
        if fd_host is None or file.stat().mode & ls.S_IFMT != ls.S_IFIFO:
            raise KernelError(Errno.EBADF)
        try:
            return host_fcntl.fcntl(fd_host, cmd, argi)
        except OSError as exc:
            raise kernel_error(exc) from None
    raise KernelError(Errno.EINVAL)


_OWNER_CMDS = {o.F_GETOWN, o.F_SETOWN, o.F_GETOWN_EX, o.F_SETOWN_EX, o.F_GETOWNER_UIDS, o.F_GETSIG, o.F_SETSIG}


def _owner_exists(t: Task, pid: int, kind: int) -> bool:
    tasks = t.kernel.tasks.values()
    if kind == F_OWNER_PGRP:
        return any(x.group.pgid == pid for x in tasks)
    if kind == F_OWNER_TID:
        return any(x.tid == pid for x in tasks)
    return any(x.pid == pid for x in tasks)


def _set_owner(t: Task, file: File, pid: int, kind: int) -> None:
    """__f_setown: record the owner, with the caller's uid and euid."""
    if pid and not _owner_exists(t, pid, kind):
        raise KernelError(Errno.ESRCH)
    owner = file.owner
    owner.pid, owner.type = pid, kind
    if pid:
        owner.uid, owner.euid = t.cred.uid, t.cred.euid


def _owner(t: Task, file: File, cmd: int, argi: int, arg: int) -> int:
    """F_GETOWN, F_SETOWN and their _EX forms, F_GETOWNER_UIDS, F_GETSIG, F_SETSIG."""
    owner = file.owner
    if cmd == o.F_GETOWN:
        return -owner.pid if owner.type == F_OWNER_PGRP else owner.pid
    if cmd == o.F_SETOWN:
        if argi == -(1 << 31):  # f_setown: -INT_MIN would overflow
            raise KernelError(Errno.EINVAL)
        _set_owner(t, file, abs(argi), F_OWNER_PGRP if argi < 0 else F_OWNER_PID)
        return 0
    if cmd == o.F_SETOWN_EX:
        kind, pid = F_OWNER_EX.unpack(copy_from_user(t.mm, arg, F_OWNER_EX.size))
        if kind not in (F_OWNER_TID, F_OWNER_PID, F_OWNER_PGRP):
            raise KernelError(Errno.EINVAL)
        _set_owner(t, file, pid, kind)
        return 0
    if cmd == o.F_GETOWN_EX:
        copy_to_user(t.mm, arg, F_OWNER_EX.pack(owner.type, owner.pid))
        return 0
    if cmd == o.F_GETOWNER_UIDS:
        copy_to_user(t.mm, arg, struct.pack("<II", owner.uid, owner.euid))
        return 0
    if cmd == o.F_GETSIG:
        return owner.signum
    if not valid_signal(argi):  # F_SETSIG: f_owner_sig takes the int
        raise KernelError(Errno.EINVAL)
    owner.signum = argi
    return 0


@syscall(ret="fd")
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


@syscall(ret="fd")
def sys_dup2(t: Task, oldfd: Fd, newfd: Fd) -> int:
    """duplicate a file descriptor to a given number"""
    if oldfd == newfd:
        t.files.get(oldfd)
        return oldfd
    return do_dup3(t, oldfd, newfd, 0)


@syscall(ret="fd")
def sys_dup3(t: Task, oldfd: Fd, newfd: Fd, flags: Dup3Flags) -> int:
    """duplicate a file descriptor to a given number, with flags"""
    return do_dup3(t, oldfd, newfd, flags)


@syscall(support=Support.PARTIAL,
         note="generic ioctls (FIOCLEX, FIONCLEX, FIONBIO, FIOASYNC, FIOQSIZE, FIONREAD) and, on a "
         "host terminal, TCGETS/TCSETS*/TIOCGWINSZ/TIOCSWINSZ/TIOC[GS]PGRP; others give ENOTTY")
def sys_ioctl(t: Task, fd: Fd, cmd: IoctlCmd, arg: IoctlArg) -> int:
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


