"""The host kernel as the oracle: raw system calls on the machine running the tests.

Unit tests perform an operation in sysgate and, where that is practical, the same
operation on the host (which is Linux) through the C library's syscall(), and compare
the results and errnos. `host_sys` returns what `tests.conftest.sys` returns for
sysgate: the result, or -errno. `HostPages` gives host memory laid out like the test
task's (a read-write page followed by an inaccessible one) for partial transfers.
"""

from __future__ import annotations

import ctypes
import mmap
import sys

import pytest

from sysgate.tables.tbl import read_tbl

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="the host kernel is the oracle: needs Linux")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_NR = {row.name: row.nr for row in read_tbl("syscall_64.tbl") if row.abi in ("common", "64")}
_MASK = (1 << 64) - 1


def host_sys(name: str, *args: int) -> int:
    """System call `name` on the host, with integer (or address) arguments: result or -errno."""
    ctypes.set_errno(0)
    ret = int(_libc.syscall(ctypes.c_long(_NR[name]), *[ctypes.c_ulong(a & _MASK) for a in args]))
    if ret == -1 and ctypes.get_errno():
        return -ctypes.get_errno()
    return ret


class HostPages:
    """Two adjacent host pages: the first read-write, the second PROT_NONE."""

    def __init__(self) -> None:
        self._map = mmap.mmap(-1, 2 * mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        self.addr = ctypes.addressof(ctypes.c_char.from_buffer(self._map))
        if _libc.mprotect(ctypes.c_void_p(self.addr + mmap.PAGESIZE), mmap.PAGESIZE, 0) != 0:
            raise OSError(ctypes.get_errno(), "mprotect")
        self.edge = self.addr + mmap.PAGESIZE
        """The first inaccessible byte."""

    def write(self, offset: int, data: bytes) -> None:
        ctypes.memmove(self.addr + offset, data, len(data))

    def read(self, offset: int, size: int) -> bytes:
        return ctypes.string_at(self.addr + offset, size)


def cbuf(data: bytes | int) -> ctypes.Array[ctypes.c_char]:
    """A host buffer (with `data`, or `data` zero bytes); pass ctypes.addressof(...) to host_sys."""
    return ctypes.create_string_buffer(data) if isinstance(data, int) else ctypes.create_string_buffer(data, len(data))


def addr(buf: ctypes.Array[ctypes.c_char]) -> int:
    return ctypes.addressof(buf)
