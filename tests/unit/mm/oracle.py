"""Shared helpers of the memory system-call tests: the host kernel as the oracle.

Where the host can run the same call safely (inside a window of its own memory that a
fixture reserved, followed by a hole), the guest must give the same result and leave the
same page protections. What the host cannot show (it runs as root, and is a newer Linux)
is checked against the 6.12 source in the tests themselves.
"""

from __future__ import annotations

import ctypes
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest

from sysgate.kernel.task import Task
from sysgate.mm.mm import TASK_SIZE_MAX
from sysgate.mm.physmem import PAGE_SIZE
from sysgate.tables.tbl import read_tbl
from sysgate.uapi import mman as m
from sysgate.uapi.errno import Errno
from tests.conftest import USER_BUF, put_str, sys

P = PAGE_SIZE
U64 = (1 << 64) - 1
RW = m.PROT_READ | m.PROT_WRITE
ANON = m.MAP_PRIVATE | m.MAP_ANONYMOUS
SHANON = m.MAP_SHARED | m.MAP_ANONYMOUS
FIXED = ANON | m.MAP_FIXED
WIN = 8
"""Pages in a test window; a hole of WIN pages follows it, on the host and in the guest."""
GW = 0x50000000
"""The guest's window."""
MMAP_BASE = 0x7F0000000000
"""mmap_base for these tests (a run sets it from the stack limit; the fixture leaves TASK_SIZE)."""
HEAP = 0x20000000


# -- the host as the oracle ---------------------------------------------------------------

_NR = {row.name: row.nr for row in read_tbl("syscall_64.tbl") if row.abi in ("common", "64")}
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def host(name: str, *args: int) -> int:
    """The host kernel's answer for the same call: the result or -errno."""
    ctypes.set_errno(0)
    r = _libc.syscall(ctypes.c_long(_NR[name]), *(ctypes.c_ulong(a & U64) for a in args))
    return -ctypes.get_errno() if r == -1 else int(r)


def host_pages(base: int, n: int) -> list[str | None]:
    """The protection of each page in [base, base + n pages) in /proc/self/maps ("rw-"), or None."""
    ranges = []
    with open("/proc/self/maps") as f:
        for line in f:
            span, perms = line.split()[:2]
            lo, hi = (int(x, 16) for x in span.split("-"))
            if hi > base and lo < base + n * P:
                ranges.append((lo, hi, perms[:3]))
    out: list[str | None] = []
    for i in range(n):
        addr = base + i * P
        out.append(next((p for lo, hi, p in ranges if lo <= addr < hi), None))
    return out


def prot_str(prot: int) -> str:
    return ("r" if prot & 1 else "-") + ("w" if prot & 2 else "-") + ("x" if prot & 4 else "-")


def guest_pages(t: Task, base: int, n: int) -> list[str | None]:
    out: list[str | None] = []
    for i in range(n):
        vma = t.mm.vma_at(base + i * P)
        out.append(None if vma is None else prot_str(vma.prot))
    return out


@dataclass(frozen=True)
class Rel:
    """An argument meaning "this far into the window"."""

    off: int


FD = object()
"""An argument meaning "the descriptor of the case's file"."""


def resolve(args: tuple[object, ...], base: int, fd: int) -> list[int]:
    out = []
    for a in args:
        if isinstance(a, Rel):
            out.append(base + a.off)
        elif a is FD:
            out.append(fd)
        else:
            assert isinstance(a, int)
            out.append(a)
    return out


@dataclass
class Files:
    """Opens the same kind of file in the guest and on the host."""

    t: Task
    dir: Path
    host_fds: list[int]

    def path(self, content: bytes = b"A" * P + b"B" * P + b"C" * 100) -> Path:
        p = self.dir / "data"
        p.write_bytes(content)
        return p

    def guest_open(self, path: str | Path, flags: int) -> int:
        put_str(self.t, str(path), USER_BUF + 0x8000)
        fd = sys(self.t, "openat", -100, USER_BUF + 0x8000, flags, 0)
        assert fd >= 0
        return fd

    def open(self, kind: str) -> tuple[int, int]:
        """(guest fd, host fd) for a kind of file."""
        if kind in ("pipe_r", "pipe_w"):
            assert sys(self.t, "pipe2", USER_BUF + 0x9000, 0) == 0
            gr, gw = struct.unpack("<ii", self.t.mm.read(USER_BUF + 0x9000, 8))
            hr, hw_ = os.pipe()
            self.host_fds += [hr, hw_]
            return (gr, hr) if kind == "pipe_r" else (gw, hw_)
        path, flags = {
            "rdonly": (self.path(), os.O_RDONLY),
            "wronly": (self.path(), os.O_WRONLY),
            "rdwr": (self.path(), os.O_RDWR),
            "dir": (self.dir, os.O_RDONLY | os.O_DIRECTORY),
            "null": (Path(os.devnull), os.O_RDWR),
            "zero": (Path("/dev/zero"), os.O_RDWR),
        }[kind]
        hfd = os.open(path, flags)
        self.host_fds.append(hfd)
        return self.guest_open(path, flags), hfd


HOST_IS_47_BIT = host("munmap", TASK_SIZE_MAX, 2 * P) == -Errno.EINVAL
"""Whether the host's TASK_SIZE is the guest's (not so with 5-level paging)."""


def compare(t: Task, hw: int, name: str, *args: object, fd: tuple[int, int] = (-1, -1)) -> tuple[int, int]:
    """Run the call in the guest window and in the host window; both results."""
    hargs = resolve(args, hw, fd[1])
    if not HOST_IS_47_BIT and any(TASK_SIZE_MAX - 16 * P <= a < 1 << 57 for a in hargs):
        pytest.skip("the host's address space is larger than the guest's")  # and may hold our stack there
    g = sys(t, name, *resolve(args, GW, fd[0]))
    h = host(name, *hargs)
    return g, h


