"""VM_ACCOUNT and VM_NORESERVE: which neighbouring mappings Linux merges into one VMA.

Private writable memory is charged (accountable_mapping, mprotect_fixup) and keeps the
VM_ACCOUNT flag when write permission goes; VMAs whose flags differ never merge. That is
why a library's RELRO part (mapped read-write, then made read-only) shows as its own
line in /proc/PID/maps next to the read-only part before it. The host is the oracle:
the same calls in its window must give the same number of VMAs.
"""

from __future__ import annotations

import os

from sysgate.kernel.task import Task
from sysgate.mm.vma import VM_ACCOUNT, VM_NORESERVE
from sysgate.uapi import mman as m
from tests.conftest import sys
from tests.unit.mm.oracle import ANON, GW, RW, Files, P, host

PRIVATE_FIXED = m.MAP_PRIVATE | m.MAP_FIXED


def host_vmas(base: int, size: int) -> list[tuple[int, int]]:
    """The host's VMAs inside [base, base + size) as /proc/self/maps shows them."""
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            if lo < base + size and hi > base:
                out.append((max(lo, base) - base, min(hi, base + size) - base))
    return out


def guest_vmas(t: Task, base: int, size: int) -> list[tuple[int, int]]:
    return [(max(v.start, base) - base, min(v.end, base + size) - base) for v in t.mm.vmas_in(base, base + size)]


def both(t: Task, hw: int, calls: list[tuple[str, tuple[int, ...]]], fds: tuple[int, int] = (-1, -1)) -> None:
    """Run `calls` (addresses relative to the window, -2 meaning the file) in both windows."""
    for name, args in calls:
        g = [GW + a if i == 0 else (fds[0] if a == -2 else a) for i, a in enumerate(args)]
        h = [hw + a if i == 0 else (fds[1] if a == -2 else a) for i, a in enumerate(args)]
        assert sys(t, name, *g) == (GW + args[0] if name == "mmap" else 0)
        assert host(name, *h) == (hw + args[0] if name == "mmap" else 0)


def test_relro_stays_apart_from_the_read_only_part_before_it(t: Task, hw: int, files: Files) -> None:
    fds = files.open("rdonly")
    both(t, hw, [
        ("mmap", (0, 2 * P, m.PROT_READ, PRIVATE_FIXED, -2, 0)),
        ("mmap", (2 * P, P, RW, PRIVATE_FIXED, -2, 2 * P)),  # the data segment, contiguous in the file
        ("mprotect", (2 * P, P, m.PROT_READ)),  # RELRO made read-only
    ], fds)
    assert guest_vmas(t, GW, 3 * P) == host_vmas(hw, 3 * P) == [(0, 2 * P), (2 * P, 3 * P)]
    vma = t.mm.vma_at(GW + 2 * P)
    assert vma is not None and vma.flags & VM_ACCOUNT and not vma.prot & m.PROT_WRITE


def test_memory_made_writable_is_charged_and_merges(t: Task, hw: int) -> None:
    both(t, hw, [
        ("mmap", (0, P, RW, ANON | m.MAP_FIXED, -1, 0)),
        ("mmap", (P, P, m.PROT_NONE, ANON | m.MAP_FIXED, -1, 0)),  # a reservation: not charged
        ("mprotect", (P, P, RW)),
    ])
    assert guest_vmas(t, GW, 2 * P) == host_vmas(hw, 2 * P) == [(0, 2 * P)]


def test_noreserve_memory_is_not_charged_and_stays_apart(t: Task, hw: int) -> None:
    both(t, hw, [
        ("mmap", (0, P, RW, ANON | m.MAP_FIXED, -1, 0)),
        ("mmap", (P, P, RW, ANON | m.MAP_FIXED | m.MAP_NORESERVE, -1, 0)),
    ])
    assert guest_vmas(t, GW, 2 * P) == host_vmas(hw, 2 * P) == [(0, P), (P, 2 * P)]
    vma = t.mm.vma_at(GW + P)
    assert vma is not None and vma.flags & VM_NORESERVE and not vma.flags & VM_ACCOUNT


def test_shared_memory_is_not_charged(t: Task, files: Files) -> None:
    fd = files.guest_open(files.path(), os.O_RDWR)
    addr = sys(t, "mmap", 0, P, RW, m.MAP_SHARED, fd, 0)
    vma = t.mm.vma_at(addr)
    assert vma is not None and not vma.flags & VM_ACCOUNT
