"""mremap and brk.

Counterpart: mm/mremap.c and mm/mmap.c (brk).
"""

from __future__ import annotations

import os

import pytest

from sysgate.kernel.task import Task
from sysgate.mm.mm import STACK_GUARD_GAP, TASK_SIZE_MAX
from sysgate.uapi import mman as m
from sysgate.uapi.errno import Errno
from sysgate.uapi.resource import RLIMIT_DATA
from tests.conftest import sys
from tests.unit.mm.oracle import (
    ANON,
    FIXED,
    GW,
    HEAP,
    MMAP_BASE,
    RW,
    U64,
    WIN,
    Files,
    P,
    Rel,
    compare,
    guest_pages,
    host,
    host_pages,
)

# -- mremap ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, errno",
    [
        ((Rel(0), P, P, 8, 0), Errno.EINVAL),  # unknown flag
        ((Rel(0), P, P, m.MREMAP_FIXED, Rel(WIN * P)), Errno.EINVAL),  # FIXED needs MAYMOVE
        ((Rel(0), P, P, m.MREMAP_DONTUNMAP, 0), Errno.EINVAL),  # DONTUNMAP needs MAYMOVE
        ((Rel(0), P, 2 * P, m.MREMAP_DONTUNMAP | m.MREMAP_MAYMOVE, 0), Errno.EINVAL),  # and the same size
        ((Rel(1), P, P, 0, 0), Errno.EINVAL),
        ((Rel(0), P, 0, 0, 0), Errno.EINVAL),  # new_len 0
        ((Rel(0), P, U64, m.MREMAP_MAYMOVE, 0), Errno.EINVAL),  # new_len rounds up to 0
        ((Rel(0), 0, P, m.MREMAP_MAYMOVE, 0), Errno.EINVAL),  # duplicating a private mapping
        ((Rel(WIN * P), P, P, 0, 0), Errno.EFAULT),  # nothing mapped at addr
        ((Rel(WIN * P), P, 0, 0, 0), Errno.EINVAL),  # EINVAL for new_len comes before the lookup
        ((Rel(0), 2 * WIN * P, 3 * WIN * P, m.MREMAP_MAYMOVE, 0), Errno.EFAULT),  # grows across a VMA end
        ((Rel(0), P, 2 * P, 0, 0), Errno.ENOMEM),  # cannot grow in place, may not move
        ((Rel(0), P, P, m.MREMAP_MAYMOVE | m.MREMAP_FIXED, Rel(0)), Errno.EINVAL),  # overlaps
        ((Rel(P), 2 * P, 2 * P, m.MREMAP_MAYMOVE | m.MREMAP_FIXED, Rel(0)), Errno.EINVAL),  # overlaps
        ((Rel(0), P, P, m.MREMAP_MAYMOVE | m.MREMAP_FIXED, Rel(WIN * P + 1)), Errno.EINVAL),  # unaligned
        ((Rel(0), P, 2 * P, m.MREMAP_MAYMOVE | m.MREMAP_FIXED, TASK_SIZE_MAX - P), Errno.EINVAL),  # too high
    ],
)
def test_mremap_errno_matches_host(t: Task, hw: int, args: tuple[object, ...], errno: int) -> None:
    g, h = compare(t, hw, "mremap", *args)
    assert h == -errno
    assert g == -errno
    assert guest_pages(t, GW, WIN) == host_pages(hw, WIN) == ["rw-"] * WIN


def test_mremap_same_size_returns_addr(t: Task) -> None:
    assert sys(t, "mremap", GW, P, P, 0, 0) == GW
    assert sys(t, "mremap", GW + P, P - 5, 1, 0, 0) == GW + P  # both round to a page


def test_mremap_shrink_unmaps_the_tail(t: Task, hw: int) -> None:
    g, h = compare(t, hw, "mremap", Rel(0), WIN * P, 3 * P, 0, 0)
    assert (g, h) == (GW, hw)
    assert guest_pages(t, GW, WIN) == host_pages(hw, WIN) == ["rw-"] * 3 + [None] * 5


def test_mremap_shrink_may_run_past_the_vma(t: Task) -> None:
    # Shrinking only unmaps [addr + new_len, addr + old_len); that range need not be mapped.
    assert sys(t, "mremap", GW + 6 * P, 6 * P, P, 0, 0) == GW + 6 * P
    assert guest_pages(t, GW, WIN) == ["rw-"] * 7 + [None]


def test_mremap_grows_in_place(t: Task, hw: int) -> None:
    t.mm.write(GW, b"keep")
    g, h = compare(t, hw, "mremap", Rel(0), WIN * P, (WIN + 2) * P, 0, 0)
    assert (g, h) == (GW, hw)
    assert guest_pages(t, GW, WIN + 3) == host_pages(hw, WIN + 3) == ["rw-"] * (WIN + 2) + [None]
    assert t.mm.read(GW, 4) == b"keep"
    assert len(t.mm.vmas_in(GW, GW + (WIN + 2) * P)) == 1
    host("munmap", hw + WIN * P, 2 * P)


def test_mremap_grow_blocked_moves_with_maymove(t: Task) -> None:
    t.mm.write(GW, b"moving")
    t.mm.write(GW + P, b"second")
    new = sys(t, "mremap", GW, 2 * P, 4 * P, m.MREMAP_MAYMOVE, 0)
    assert new == MMAP_BASE - 4 * P  # a new place, found top-down
    assert t.mm.read(new, 6) == b"moving"
    assert t.mm.read(new + P, 6) == b"second"
    assert t.mm.read(new + 3 * P, 1) == b"\0"
    assert guest_pages(t, GW, WIN) == [None, None] + ["rw-"] * 6


def test_mremap_fixed_moves_over_an_existing_mapping(t: Task) -> None:
    target = sys(t, "mmap", 0, 4 * P, m.PROT_READ, ANON, -1, 0)
    t.mm.write(GW + P, b"data")
    assert sys(t, "mremap", GW + P, P, 2 * P, m.MREMAP_MAYMOVE | m.MREMAP_FIXED, target + P) == target + P
    assert t.mm.read(target + P, 4) == b"data"
    assert guest_pages(t, target, 4) == ["r--", "rw-", "rw-", "r--"]
    assert guest_pages(t, GW, 3) == ["rw-", None, "rw-"]


def test_mremap_fixed_shrinking_move(t: Task) -> None:
    t.mm.write(GW, b"a" * 4 * P)
    assert sys(t, "mremap", GW, 4 * P, 2 * P, m.MREMAP_MAYMOVE | m.MREMAP_FIXED, 0x62000000) == 0x62000000
    assert guest_pages(t, GW, 5) == [None] * 4 + ["rw-"]
    assert t.mm.read(0x62000000 + 2 * P - 1, 1) == b"a"
    assert guest_pages(t, 0x62000000, 3) == ["rw-", "rw-", None]


def test_mremap_dontunmap_leaves_an_empty_mapping_behind(t: Task) -> None:
    t.mm.write(GW, b"moved")
    new = sys(t, "mremap", GW, P, P, m.MREMAP_MAYMOVE | m.MREMAP_DONTUNMAP, 0)
    assert new not in (GW, -Errno.EINVAL)
    assert t.mm.read(new, 5) == b"moved"
    assert guest_pages(t, GW, 1) == ["rw-"]
    assert t.mm.read(GW, 5) == bytes(5)  # anonymous: the old range is demand-zero again


def test_mremap_moves_a_private_file_mapping(t: Task, files: Files) -> None:
    fd = files.guest_open(files.path(), os.O_RDONLY)
    addr = sys(t, "mmap", 0, 2 * P, m.PROT_READ, m.MAP_PRIVATE, fd, 0)
    new = sys(t, "mremap", addr + P, P, 2 * P, m.MREMAP_MAYMOVE | m.MREMAP_FIXED, 0x63000000)
    assert new == 0x63000000
    assert t.mm.read(new, 1) == b"B"  # the file offset moved with it
    assert t.mm.read(new + P, 1) == b"C"


def test_mremap_grow_shared_file_mapping_never_corrupts_memory(t: Task, files: Files) -> None:
    path = files.path(b"A" * P + b"B" * P + b"C" * P)
    fd = files.guest_open(path, os.O_RDWR)
    addr = sys(t, "mmap", 0x64000000, P, RW, m.MAP_SHARED, fd, 0)
    vma = t.mm.vma_at(addr)
    assert vma is not None and vma.file is not None
    refs = vma.file.refs
    for flags in (0, m.MREMAP_MAYMOVE):
        r = sys(t, "mremap", addr, P, 2 * P, flags, 0)
        if r < 0:
            assert r == -Errno.ENOMEM
            assert guest_pages(t, addr, 2) == ["rw-", None]
            assert vma.file.refs == refs  # a failed move holds nothing
        else:
            assert t.mm.read(r + P, 1) == b"B"


def test_mremap_grows_a_shared_file_mapping(t: Task, files: Files) -> None:
    path = files.path(b"A" * P + b"B" * P + b"C" * P)
    fd = files.guest_open(path, os.O_RDWR)
    addr = sys(t, "mmap", 0x64000000, P, RW, m.MAP_SHARED, fd, 0)
    assert sys(t, "mremap", addr, P, 2 * P, 0, 0) == addr
    t.mm.write(addr + P, b"grown")
    assert path.read_bytes()[P : P + 5] == b"grown"


# -- brk -------------------------------------------------------------------------------------------


@pytest.fixture
def heap(t: Task) -> Task:
    mm = t.mm
    mm.start_data, mm.end_data = HEAP - 0x10000, HEAP - 0xF000
    mm.start_brk = mm.brk = HEAP
    return t


def heap_vmas(t: Task) -> list[tuple[int, int, str]]:
    return [(v.start - HEAP, v.end - HEAP, v.name) for v in t.mm.vmas_in(HEAP, HEAP + 0x1000000)]


def test_brk_zero_reports_the_break(heap: Task) -> None:
    assert sys(heap, "brk", 0) == HEAP
    assert heap_vmas(heap) == []


def test_brk_grows_and_shrinks(heap: Task) -> None:
    t = heap
    assert sys(t, "brk", HEAP + 10) == HEAP + 10
    assert heap_vmas(t) == [(0, P, "[heap]")]
    t.mm.write(HEAP, b"heap")
    assert sys(t, "brk", HEAP + 3 * P) == HEAP + 3 * P
    assert heap_vmas(t) == [(0, 3 * P, "[heap]")]
    assert t.mm.read(HEAP, 4) == b"heap"
    t.mm.write(HEAP + 2 * P, b"x")
    allocated = t.mm.phys.allocated
    assert sys(t, "brk", HEAP + P + 1) == HEAP + P + 1
    assert heap_vmas(t) == [(0, 2 * P, "[heap]")]
    assert t.mm.phys.allocated == allocated - 1  # the page that went was freed
    assert sys(t, "brk", HEAP + 2 * P) == HEAP + 2 * P  # same page: only the value changes
    assert sys(t, "brk", HEAP) == HEAP
    assert heap_vmas(t) == []


def test_brk_below_start_brk_is_refused(heap: Task) -> None:
    assert sys(heap, "brk", HEAP + P) == HEAP + P
    assert sys(heap, "brk", HEAP - 1) == HEAP + P
    assert sys(heap, "brk", 1) == HEAP + P


def test_brk_respects_rlimit_data(heap: Task) -> None:
    # check_data_rlimit: (brk - start_brk) + (end_data - start_data) > RLIMIT_DATA fails.
    heap.group.rlimits[RLIMIT_DATA] = (0x1000 + 4 * P, 0x1000 + 4 * P)
    assert sys(heap, "brk", HEAP + 4 * P) == HEAP + 4 * P
    assert sys(heap, "brk", HEAP + 4 * P + 1) == HEAP + 4 * P


def test_brk_stops_a_page_before_the_next_mapping(heap: Task) -> None:
    # SYSCALL_DEFINE1(brk): newbrk + PAGE_SIZE must not pass vm_start_gap(next).
    assert sys(heap, "mmap", HEAP + 16 * P, P, RW, FIXED, -1, 0) == HEAP + 16 * P
    assert sys(heap, "brk", HEAP + 15 * P) == HEAP + 15 * P
    assert sys(heap, "brk", HEAP + 15 * P + 1) == HEAP + 15 * P
    assert heap_vmas(heap)[0] == (0, 15 * P, "[heap]")


def test_brk_keeps_the_guard_gap_below_a_stack(heap: Task) -> None:
    stack = HEAP + STACK_GUARD_GAP + 16 * P
    assert sys(heap, "mmap", stack, P, RW, FIXED | m.MAP_GROWSDOWN, -1, 0) == stack
    assert sys(heap, "brk", HEAP + 15 * P) == HEAP + 15 * P
    assert sys(heap, "brk", HEAP + 16 * P) == HEAP + 15 * P


def test_brk_shrink_into_a_foreign_mapping_is_refused(heap: Task) -> None:
    # The break was moved by hand below a mapping that is not the heap's.
    assert sys(heap, "mmap", HEAP + P, P, RW, FIXED, -1, 0) == HEAP + P
    heap.mm.brk = HEAP + 4 * P
    assert sys(heap, "brk", HEAP + 3 * P) == HEAP + 4 * P


