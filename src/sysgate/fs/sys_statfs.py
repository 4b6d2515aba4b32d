"""File-system statistics: statfs, fstatfs.

Counterpart: fs/statfs.c (user_statfs, fd_statfs, do_statfs_native). On a Linux host
the host's own answer is passed through (its struct statfs is the x86-64 one), so
f_type, f_fsid and the ST_* mount flags are the real ones; elsewhere the portable
statvfs fills what it has. The kernel's own files (procfs) answer for the host's
/proc mount, as they would on Linux.
"""

from __future__ import annotations

import ctypes
import os
from typing import TYPE_CHECKING, Annotated

from sysgate.arch.x86_64.structs import STATFS
from sysgate.argtypes import Fd, Path, struct_out
from sysgate.drivers import devtmpfs
from sysgate.drivers.devtmpfs import DevDir
from sysgate.drivers.mem import CharDevice
from sysgate.fs.file import File
from sysgate.fs.procfs import PROC_SUPER_MAGIC
from sysgate.fs.vfs import vfs_open
from sysgate.host import host_check, kernel_error, libc_fn
from sysgate.mm.uaccess import copy_to_user, getname
from sysgate.syscall import syscall
from sysgate.uapi import fcntl as o

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

StatfsOut = Annotated[int, struct_out("struct statfs __user *", "statfs")]

_fstatfs = libc_fn("fstatfs", ctypes.c_int, ctypes.c_int, ctypes.c_void_p)

ST_VALID = 0x20
"""include/linux/statfs.h: f_flags is valid (always set by vfs_statfs)."""
_PROC_FLAGS = ST_VALID | 0x2 | 0x4 | 0x8 | 0x400
"""ST_NOSUID, ST_NODEV, ST_NOEXEC, ST_RELATIME: how /proc is mounted on every distribution."""


def host_statfs(fd: int) -> bytes:
    """struct statfs for the host file system holding `fd` (an O_PATH fd will do)."""
    if _fstatfs is not None:
        buf = ctypes.create_string_buffer(STATFS.size)
        host_check(_fstatfs(fd, buf))
        return buf.raw
    try:
        st = os.fstatvfs(fd)
    except OSError as exc:
        raise kernel_error(exc) from None
    return STATFS.pack(0, st.f_bsize, st.f_blocks, st.f_bfree, st.f_bavail, st.f_files, st.f_ffree,
                       0, 0, st.f_namemax, st.f_frsize, st.f_flag | ST_VALID, 0, 0, 0, 0)


def _proc_statfs() -> bytes:
    try:
        fd = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return STATFS.pack(PROC_SUPER_MAGIC, 4096, 0, 0, 0, 0, 0, 0, 0, 255, 4096, _PROC_FLAGS, 0, 0, 0, 0)
    try:
        return host_statfs(fd)
    finally:
        os.close(fd)


def vfs_statfs(f: File) -> bytes:
    fd = f.host_fd
    if fd is not None:
        return host_statfs(fd)
    if isinstance(f, CharDevice | DevDir):  # the kernel's /dev in a root folder
        return devtmpfs.statfs()
    return _proc_statfs()


@syscall()
def sys_statfs(t: Task, pathname: Path, buf: StatfsOut) -> int:
    """get file system statistics"""
    f = vfs_open(t, o.AT_FDCWD, getname(t.mm, pathname), o.O_PATH, 0).get()  # LOOKUP_FOLLOW
    try:
        raw = vfs_statfs(f)
    finally:
        f.put()
    copy_to_user(t.mm, buf, raw)
    return 0


@syscall()
def sys_fstatfs(t: Task, fd: Fd, buf: StatfsOut) -> int:
    """get file system statistics of a file descriptor"""
    raw = vfs_statfs(t.files.get(fd))  # fdget_raw: O_PATH descriptors will do
    copy_to_user(t.mm, buf, raw)
    return 0
