"""Writing back: fsync, fdatasync, sync, syncfs.

Counterpart: fs/sync.c (do_fsync, vfs_fsync_range, ksys_sync, syncfs). The file
decides what fsync means (File.fsync: the host's fsync for host files, EINVAL for
files without the operation, such as procfs files, ttys and pipes on Linux); sync and
syncfs ask the host to write back its file systems.
"""

from __future__ import annotations

import ctypes
import os
from typing import TYPE_CHECKING

from sysgate.argtypes import Fd, IntFd
from sysgate.fs.sys_read_write import fdget
from sysgate.host import host_check, libc_fn
from sysgate.syscall import syscall

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

_syncfs = libc_fn("syncfs", ctypes.c_int, ctypes.c_int)


@syscall()
def sys_fsync(t: Task, fd: Fd) -> int:
    """synchronize a file's in-core state with storage device"""
    fdget(t, fd).fsync(datasync=False)
    return 0


@syscall()
def sys_fdatasync(t: Task, fd: Fd) -> int:
    """synchronize a file's data (not all its metadata) with storage device"""
    fdget(t, fd).fsync(datasync=True)
    return 0


@syscall()
def sys_sync(t: Task) -> int:
    """commit file system caches to disk"""
    os.sync()
    return 0


@syscall()
def sys_syncfs(t: Task, fd: IntFd) -> int:
    """commit the caches of the file system holding a file to disk"""
    hostfd = fdget(t, fd).host_fd
    if hostfd is None:
        return 0  # procfs has nothing to write back
    if _syncfs is None:
        os.sync()
        return 0
    host_check(_syncfs(hostfd))
    return 0
