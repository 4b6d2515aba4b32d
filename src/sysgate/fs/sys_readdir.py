"""Reading directories: getdents64, getdents.

Counterpart: fs/readdir.c (iterate_dir, filldir64, filldir). The File lists its
entries from its position on (File.getdents) and moves with seek_dir; here they are
packed into the user's buffer until one does not fit. As in Linux, an entry that does
not fit or cannot be stored ends the call: if nothing was stored that is the error
(EINVAL for a buffer too small for the first entry, EFAULT for a bad one), otherwise
the call returns the bytes stored and the position stays at the first entry not
returned. Each record's d_off is the position just after it.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import OUT, Fd, UInt, UserPtr
from sysgate.errors import KernelError
from sysgate.fs.file import Dirent, File
from sysgate.fs.sys_read_write import fdget
from sysgate.host import kernel_error
from sysgate.mm.mm import WRITE
from sysgate.mm.uaccess import PATH_MAX, access_ok, copy_to_user
from sysgate.syscall import syscall
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

Dirent64Out = Annotated[int, UserPtr("struct linux_dirent64 __user *", show="struct", direction=OUT,
                                     size="count", struct="linux_dirent64")]
DirentOut = Annotated[int, UserPtr("struct linux_dirent __user *", show="struct", direction=OUT,
                                   size="count", struct="linux_dirent")]

DIRENT64_HEAD = struct.Struct("<QqHB")
"""struct linux_dirent64: d_ino, d_off, d_reclen, d_type, then d_name."""
DIRENT_HEAD = struct.Struct("<QQH")
"""struct linux_dirent (the old getdents): d_ino, d_off, d_reclen, then d_name, and
d_type in the record's last byte."""
_U64 = (1 << 64) - 1


def _align8(n: int) -> int:
    return (n + 7) & ~7


def pack_dirent64(e: Dirent) -> bytes:
    reclen = _align8(DIRENT64_HEAD.size + len(e.name) + 1)
    head = DIRENT64_HEAD.pack(e.ino & _U64, _s64(e.off), reclen, e.type)
    return (head + e.name).ljust(reclen, b"\0")


def pack_dirent(e: Dirent) -> bytes:
    reclen = _align8(DIRENT_HEAD.size + len(e.name) + 2)
    head = DIRENT_HEAD.pack(e.ino & _U64, e.off & _U64, reclen)
    return (head + e.name).ljust(reclen - 1, b"\0") + bytes((e.type & 0xFF,))


def _s64(v: int) -> int:
    v &= _U64
    return v - (1 << 64) if v >> 63 else v


def _dead_dir(f: File) -> bool:
    """Whether the directory was removed (the host's readdir would just say "the end")."""
    fd = f.host_fd
    if fd is None:
        return False
    try:
        return os.fstat(fd).st_nlink == 0
    except OSError as exc:
        raise kernel_error(exc) from None


def iterate_dir(t: Task, fd: int, dirent: int, count: int, pack: Callable[[Dirent], bytes]) -> int:
    """getdents/getdents64 with the record format `pack`."""
    f = fdget(t, fd)  # fdget_pos: EBADF, O_PATH included
    if f.is_dir and _dead_dir(f):
        raise KernelError(Errno.ENOENT)  # IS_DEADDIR
    entries = f.getdents()  # ENOTDIR for files that are not directories
    budget = count - (1 << 32) if count >> 31 else count  # the kernel keeps it in an int
    room = t.mm.accessible(dirent, budget, WRITE) if budget > 0 and access_ok(dirent, 0) else 0
    out = bytearray()
    error: Errno | None = None
    last: Dirent | None = None
    for e in entries:
        if not e.name or len(e.name) >= PATH_MAX or b"/" in e.name:
            error = Errno.EIO  # verify_dirent_name: a corrupt name
            break
        rec = pack(e)
        if len(rec) > budget - len(out):
            error = Errno.EINVAL
            break
        if not access_ok(dirent + len(out), len(rec)) or len(out) + len(rec) > room:
            error = Errno.EFAULT
            break
        out += rec
        last = e
    if last is None:
        if error is not None:
            raise KernelError(error)
        return 0  # the end of the directory
    copy_to_user(t.mm, dirent, out)
    f.seek_dir(last.off)
    return len(out)


@syscall()
def sys_getdents64(t: Task, fd: Fd, dirent: Dirent64Out, count: UInt) -> int:
    """get directory entries"""
    return iterate_dir(t, fd, dirent, count, pack_dirent64)


@syscall()
def sys_getdents(t: Task, fd: Fd, dirent: DirentOut, count: UInt) -> int:
    """get directory entries (old record layout, d_type in the last byte)"""
    return iterate_dir(t, fd, dirent, count, pack_dirent)
