"""Helpers for the /proc tests: read a file through the system calls, as a guest would."""

from __future__ import annotations

from sysgate.kernel.task import Task
from sysgate.uapi.fcntl import AT_FDCWD, O_DIRECTORY, O_RDONLY
from tests.conftest import USER_BUF, put_str, sys

OUT = USER_BUF + 0x4000
"""Where reads land (48 KiB)."""
OUT_SIZE = 0xC000


def proc_open(t: Task, path: str | bytes, flags: int = O_RDONLY) -> int:
    """openat(AT_FDCWD, path, flags): the descriptor, or -errno."""
    return sys(t, "openat", AT_FDCWD, put_str(t, path), flags, 0)


def read_all(t: Task, fd: int) -> bytes:
    out = b""
    while True:
        n = sys(t, "read", fd, OUT, OUT_SIZE)
        assert n >= 0, n
        if n == 0:
            return out
        out += t.mm.read(OUT, n)


def read_proc(t: Task, path: str | bytes) -> bytes:
    """The whole text of a file, read with open and read until end of file."""
    fd = proc_open(t, path)
    assert fd >= 0, f"open({path!r}) = {fd}"
    try:
        return read_all(t, fd)
    finally:
        sys(t, "close", fd)


def list_dir(t: Task, path: str | bytes) -> list[bytes]:
    """The names getdents64 gives for a directory, in its order (. and .. included)."""
    fd = proc_open(t, path, O_RDONLY | O_DIRECTORY)
    assert fd >= 0, f"open({path!r}) = {fd}"
    names = []
    try:
        while True:
            n = sys(t, "getdents64", fd, OUT, OUT_SIZE)
            assert n >= 0, n
            if n == 0:
                return names
            data = t.mm.read(OUT, n)
            pos = 0
            while pos < n:
                reclen = int.from_bytes(data[pos + 16 : pos + 18], "little")
                names.append(data[pos + 19 : pos + reclen].split(b"\0", 1)[0])
                pos += reclen
    finally:
        sys(t, "close", fd)


def readlink(t: Task, path: str | bytes) -> bytes | int:
    n = sys(t, "readlink", put_str(t, path), OUT, 4096)
    return t.mm.read(OUT, n) if n >= 0 else n
