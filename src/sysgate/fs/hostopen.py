"""Opening host files: open() on the host in Linux's terms, FIFOs, openat2's RESOLVE_*.

Counterpart: fs/open.c (do_sys_openat2 and do_dentry_open, as far as the host does the
work) and may_open's nodev rule for a root folder. The File it makes is a HostFile
(sysgate.fs.hostfs); a FIFO is opened by sysgate.fs.pipe with fifo_open's waits.
"""

from __future__ import annotations

import os
import stat as host_stat
import struct
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.fs.hostfs import HostFile
from sysgate.host import HOST_AT_FDCWD, host_syscall, kernel_error, open_flags_to_host
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import O_CREAT, O_EXCL, O_PATH

if TYPE_CHECKING:
    from sysgate.fs.root import Root
    from sysgate.kernel.task import Task


def open_host(dirfd: int | None, path: bytes, flags: int, mode: int, guest_path: str,
              resolve: int = 0, root: Root | None = None, ftype: int = 0, t: Task | None = None) -> HostFile:
    """open() on the host (flags in Linux terms) and wrap the result.

    `resolve` (openat2's RESOLVE_* flags) needs the host's openat2, which a Linux host
    has; elsewhere it gives ENOSYS. Inside a root folder (`root`, with what the walk
    found there as `ftype`), the walk has resolved the path already: a name relative to
    a directory is opened without following it, and a host device node gives EACCES,
    as on a file system mounted nodev (may_open). A FIFO is opened by fs/pipe.py with
    fifo_open's waits, for task `t`.
    """
    host_flags = open_flags_to_host(flags) | os.O_CLOEXEC
    follow = True
    nodev = root is not None and not flags & O_PATH  # do_o_path does not call may_open
    if root is not None:
        if nodev and (host_stat.S_ISCHR(ftype) or host_stat.S_ISBLK(ftype)):
            raise KernelError(Errno.EACCES)
        if dirfd is not None:
            host_flags |= os.O_NOFOLLOW
            follow = False
    created = bool(flags & O_CREAT) and (bool(flags & O_EXCL) or not _exists(dirfd, path, follow))
    if not flags & O_PATH and not resolve and _is_fifo(dirfd, path, ftype, follow and not host_flags & os.O_NOFOLLOW):
        from sysgate.fs.pipe import fifo_open

        return fifo_open(t, dirfd, path, flags, host_flags, mode, guest_path, root)
    if resolve:
        fd = host_openat2(dirfd, path, host_flags, mode, resolve)
    else:
        try:
            fd = os.open(path, host_flags, mode, dir_fd=dirfd)
        except OSError as exc:
            raise kernel_error(exc) from None
    if nodev and host_stat.S_IFMT(os.fstat(fd).st_mode) in (host_stat.S_IFCHR, host_stat.S_IFBLK):
        os.close(fd)  # made there by a host process since the walk
        raise KernelError(Errno.EACCES)
    file = HostFile(fd, flags, guest_path, root)
    file.created = created
    return file


def _is_fifo(dirfd: int | None, path: bytes, ftype: int, follow: bool) -> bool:
    if ftype:
        return host_stat.S_ISFIFO(ftype)
    try:
        return host_stat.S_ISFIFO(os.stat(path, dir_fd=dirfd, follow_symlinks=follow).st_mode)
    except OSError:
        return False


def _exists(dirfd: int | None, path: bytes, follow: bool = True) -> bool:
    try:
        os.stat(path, dir_fd=dirfd, follow_symlinks=follow)
    except OSError:
        return False
    return True


_SYS_openat2 = 437


def host_openat2(dirfd: int | None, path: bytes, flags: int, mode: int, resolve: int) -> int:
    how = struct.pack("<QQQ", flags, mode, resolve)
    return host_syscall(_SYS_openat2, HOST_AT_FDCWD if dirfd is None else dirfd, path, how, len(how))
