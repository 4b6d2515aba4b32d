"""Translation between Linux's user ABI and the host's, in one place.

Counterpart: Blink's xlat.c. Where sysgate forwards work to the host (files, clocks,
terminals), the host's errno values and open flags are turned into Linux's and back
by *name*, so the same code is right on any POSIX host; on a Linux host every table
is the identity. Nothing outside this module and sysgate.fs.hostfs touches host
constants.
"""

from __future__ import annotations

import ctypes
import errno as host_errno_mod
import os
import sys
from collections.abc import Callable
from typing import Any, cast

from sysgate.errors import KernelError
from sysgate.uapi import fcntl as lf
from sysgate.uapi.errno import Errno

_HOST_ERRNO_ALIASES = {"ENOTSUP": "EOPNOTSUPP"}
"""Host names Linux lacks: errno.errorcode names 95 ENOTSUP, glibc's alias of EOPNOTSUPP."""


def errno_from_host(code: int) -> Errno:
    """The Linux errno for a host errno value."""
    name = host_errno_mod.errorcode.get(code)
    name = _HOST_ERRNO_ALIASES.get(name or "", name)
    if name is not None and name in Errno.__members__:
        return Errno[name]
    return Errno.EIO


def kernel_error(exc: OSError) -> KernelError:
    """A KernelError carrying the Linux errno for a host OSError."""
    return KernelError(errno_from_host(exc.errno or host_errno_mod.EIO))


_OPEN_FLAG_NAMES = (
    "O_CREAT", "O_EXCL", "O_NOCTTY", "O_TRUNC", "O_APPEND", "O_NONBLOCK", "O_DSYNC",
    "O_DIRECT", "O_LARGEFILE", "O_DIRECTORY", "O_NOFOLLOW", "O_NOATIME", "O_CLOEXEC",
    "O_PATH",
)
_OPEN_FLAGS: list[tuple[int, int]] = [
    (getattr(lf, name), getattr(os, name)) for name in _OPEN_FLAG_NAMES if hasattr(os, name)
]
_ACCMODE = {lf.O_RDONLY: os.O_RDONLY, lf.O_WRONLY: os.O_WRONLY, lf.O_RDWR: os.O_RDWR}


def open_flags_to_host(flags: int) -> int:
    """Host open(2) flags for Linux ones (O_SYNC, O_TMPFILE and FASYNC are handled apart)."""
    out = _ACCMODE.get(flags & lf.O_ACCMODE, os.O_RDWR)
    for linux, host in _OPEN_FLAGS:
        if flags & linux == linux:
            out |= host
    if flags & lf.__O_SYNC and hasattr(os, "O_SYNC"):
        out |= os.O_SYNC
    if flags & lf.__O_TMPFILE and hasattr(os, "O_TMPFILE"):
        out |= os.O_TMPFILE
    return out


def status_flags_from_host(host_flags: int) -> int:
    """Linux status flags (F_GETFL's answer) for a host fd's flags."""
    out = {os.O_RDONLY: lf.O_RDONLY, os.O_WRONLY: lf.O_WRONLY, os.O_RDWR: lf.O_RDWR}.get(
        host_flags & os.O_ACCMODE, lf.O_RDWR
    )
    for linux, host in _OPEN_FLAGS:
        if host and host_flags & host == host and linux not in (lf.O_CLOEXEC, lf.O_CREAT, lf.O_EXCL,
                                                                 lf.O_NOCTTY, lf.O_TRUNC):
            out |= linux
    return out


def fd_path(fd: int) -> str | None:
    """The path the host knows for an open fd, if it can tell."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


# -- the host C library, for calls the os module lacks ------------------------------------

HOST_AT_FDCWD = -100
"""AT_FDCWD for the host's *at() calls (only made on a Linux host, where it is Linux's)."""

_LIBC = ctypes.CDLL(None, use_errno=True)


def libc_fn(name: str, restype: Any, *argtypes: Any) -> Callable[..., int] | None:
    """The host C library's function `name` with its C signature, or None if absent."""
    fn = getattr(_LIBC, name, None)
    if fn is None:
        return None
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return cast("Callable[..., int]", fn)


def host_check(ret: int) -> int:
    """A C library result: -1 becomes a KernelError with the Linux errno."""
    if ret == -1:
        err = ctypes.get_errno()
        raise kernel_error(OSError(err, os.strerror(err)))
    return ret


_syscall = libc_fn("syscall", ctypes.c_long, ctypes.c_long) if sys.platform == "linux" else None


def host_syscall(nr: int, *args: Any) -> int:
    """A raw system call of a Linux host (the caller's numbers are x86-64 Linux's); ENOSYS
    on other hosts."""
    if _syscall is None:
        raise KernelError(Errno.ENOSYS)
    fn = cast(Any, _syscall)
    return host_check(int(fn(nr, *args)))


_fallocate = libc_fn("fallocate", ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)


def host_fallocate(fd: int, mode: int, offset: int, length: int) -> None:
    """fallocate(2) on a host file, Linux `mode` flags (the host's are Linux's)."""
    if _fallocate is None:
        raise KernelError(Errno.EOPNOTSUPP)
    host_check(_fallocate(fd, mode, offset, length))
