"""Small helpers for reading and writing the test task's memory in struct terms."""

from __future__ import annotations

import struct

from sysgate.kernel.task import Task


def poke(t: Task, addr: int, fmt: str, *values: int) -> int:
    """Store `values` packed little-endian with `fmt` at `addr`; return `addr`."""
    t.mm.write(addr, struct.pack("<" + fmt, *values))
    return addr


def peek(t: Task, addr: int, fmt: str) -> tuple[int, ...]:
    """The values packed little-endian with `fmt` at `addr`."""
    f = "<" + fmt
    return struct.unpack(f, t.mm.read(addr, struct.calcsize(f)))


def peek1(t: Task, addr: int, fmt: str) -> int:
    """The single value packed with `fmt` at `addr`."""
    (value,) = peek(t, addr, fmt)
    return value
