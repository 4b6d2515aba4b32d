"""mprotect, and random map/unmap/protect sequences against a page model.

Counterpart: mm/mprotect.c.
"""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sysgate.kernel.task import Task
from sysgate.mm.physmem import PAGE_SHIFT
from sysgate.uapi import mman as m
from sysgate.uapi.errno import Errno
from tests.conftest import KERNEL_ADDR, sys
from tests.unit.mm.oracle import (
    FD,
    FIXED,
    GW,
    RW,
    U64,
    WIN,
    Files,
    P,
    Rel,
    compare,
    guest_pages,
    host_pages,
    prot_str,
)

# -- mprotect --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, errno",
    [
        ((Rel(1), P, m.PROT_READ), Errno.EINVAL),
        ((Rel(0), 0, 0x10), 0),  # len 0 returns before the prot check
        ((Rel(1), 0, m.PROT_READ), Errno.EINVAL),  # alignment comes first
        ((Rel(0), P, 0x10), Errno.EINVAL),
        ((Rel(0), P, m.PROT_READ | m.PROT_SEM), 0),
        ((Rel(0), P, m.PROT_READ | m.PROT_GROWSDOWN | m.PROT_GROWSUP), Errno.EINVAL),
        ((Rel(0), P, m.PROT_READ | m.PROT_GROWSDOWN), Errno.EINVAL),  # not a VM_GROWSDOWN VMA
        ((Rel(0), P, m.PROT_READ | m.PROT_GROWSUP), Errno.EINVAL),  # x86 has no VM_GROWSUP
        ((Rel(0), U64, m.PROT_READ), Errno.ENOMEM),  # len rounds up to 0: end <= start
        ((Rel(P), U64 - P, m.PROT_READ), Errno.ENOMEM),  # wraps
        ((Rel(WIN * P), P, m.PROT_READ), Errno.ENOMEM),  # nothing mapped
        ((Rel(WIN * P), P, 0x10), Errno.EINVAL),  # the prot check comes before the lookup
        ((KERNEL_ADDR, P, m.PROT_READ), Errno.ENOMEM),
    ],
)
def test_mprotect_errno_matches_host(t: Task, hw: int, args: tuple[object, ...], errno: int) -> None:
    g, h = compare(t, hw, "mprotect", *args)
    assert h == -errno
    assert g == -errno
    assert guest_pages(t, GW, WIN) == host_pages(hw, WIN)


def test_mprotect_partial_apply_then_enomem_matches_host(t: Task, hw: int) -> None:
    # do_mprotect_pkey: VMAs before a hole are changed, then the hole gives ENOMEM.
    g, h = compare(t, hw, "mprotect", Rel(5 * P), 5 * P, m.PROT_READ)
    assert g == h == -Errno.ENOMEM
    assert guest_pages(t, GW, WIN + 2) == host_pages(hw, WIN + 2) == ["rw-"] * 5 + ["r--"] * 3 + [None] * 2


def test_mprotect_stops_at_an_inner_hole(t: Task, hw: int) -> None:
    assert compare(t, hw, "munmap", Rel(3 * P), P) == (0, 0)
    g, h = compare(t, hw, "mprotect", Rel(P), 6 * P, m.PROT_NONE)
    assert g == h == -Errno.ENOMEM
    assert guest_pages(t, GW, WIN) == host_pages(hw, WIN) == ["rw-", "---", "---", None] + ["rw-"] * 4


def test_mprotect_starting_in_a_hole_changes_nothing(t: Task, hw: int) -> None:
    assert compare(t, hw, "munmap", Rel(0), P) == (0, 0)
    assert compare(t, hw, "mprotect", Rel(0), 4 * P, m.PROT_READ) == (-Errno.ENOMEM, -Errno.ENOMEM)
    assert guest_pages(t, GW, WIN) == host_pages(hw, WIN) == [None] + ["rw-"] * 7


def test_mprotect_partial_apply_then_eacces(t: Task, hw: int, files: Files) -> None:
    # The anonymous VMA is changed; the shared read-only file VMA after it refuses PROT_WRITE.
    fds = files.open("rdonly")
    flags = m.MAP_SHARED | m.MAP_FIXED
    assert compare(t, hw, "mmap", Rel(4 * P), 2 * P, m.PROT_READ, flags, FD, 0, fd=fds) == (GW + 4 * P, hw + 4 * P)
    assert compare(t, hw, "mprotect", Rel(0), 4 * P, m.PROT_READ) == (0, 0)
    assert compare(t, hw, "mprotect", Rel(2 * P), 4 * P, RW) == (-Errno.EACCES, -Errno.EACCES)
    assert guest_pages(t, GW, 6) == host_pages(hw, 6) == ["r--", "r--", "rw-", "rw-", "r--", "r--"]


def test_mprotect_splits_and_merges(t: Task) -> None:
    t.mm.write(GW, b"x" * WIN * P)
    assert sys(t, "mprotect", GW + 2 * P, 2 * P, m.PROT_READ) == 0
    assert len(t.mm.vmas_in(GW, GW + WIN * P)) == 3
    assert sys(t, "mprotect", GW + 6 * P, P, m.PROT_READ) == 0
    assert len(t.mm.vmas_in(GW, GW + WIN * P)) == 5
    assert sys(t, "mprotect", GW, WIN * P, RW) == 0
    assert [(v.start, v.end) for v in t.mm.vmas_in(GW, GW + WIN * P)] == [(GW, GW + WIN * P)]
    assert t.mm.read(GW, WIN * P) == b"x" * WIN * P  # no PTE lost on the way


def test_mprotect_updates_present_ptes(t: Task) -> None:
    t.mm.write(GW, b"x")
    assert sys(t, "mprotect", GW, P, m.PROT_READ) == 0
    assert t.mm.pt[GW >> PAGE_SHIFT] & 7 == 1
    assert t.mm.fill(GW, 2) == 0  # a write now faults, as SEGV_ACCERR
    assert t.mm.last_fault is not None and t.mm.last_fault.mapped
    assert sys(t, "mprotect", GW, P, m.PROT_NONE) == 0
    assert t.mm.fill(GW, 1) == 0


def test_mprotect_growsdown_extends_to_the_vma_start(t: Task) -> None:
    base = 0x61000000
    assert sys(t, "mmap", base, 4 * P, RW, FIXED | m.MAP_GROWSDOWN, -1, 0) == base
    assert sys(t, "mprotect", base + 2 * P, P, m.PROT_READ | m.PROT_GROWSDOWN) == 0
    assert guest_pages(t, base, 4) == ["r--", "r--", "r--", "rw-"]


# -- random sequences against a model of page permissions ------------------------------------------

PAGES = 12
OPS = st.lists(
    st.tuples(
        st.sampled_from(["mmap", "munmap", "mprotect"]),
        st.integers(0, PAGES - 1),
        st.integers(1, 6),
        st.sampled_from([m.PROT_NONE, m.PROT_READ, RW, m.PROT_READ | m.PROT_EXEC]),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_random_sequences_match_a_page_model(task: Task, ops: list[tuple[str, int, int, int]]) -> None:
    t = task
    base = 0x58000000
    assert sys(t, "munmap", base, (PAGES + 8) * P) == 0
    pt_before = len(t.mm.pt)
    alloc_before = t.mm.phys.allocated
    model: dict[int, tuple[int, int]] = {}  # page -> (prot, tag byte)
    tag = 0
    for op, first, n, prot in ops:
        n = min(n, PAGES - first)
        addr = base + first * P
        pages = range(first, first + n)
        if op == "mmap":
            assert sys(t, "mmap", addr, n * P, prot, FIXED, -1, 0) == addr
            for i in pages:
                tag = tag % 255 + 1
                model[i] = (prot, 0)
                if prot & m.PROT_WRITE:
                    t.mm.write(base + i * P, bytes([tag]))
                    model[i] = (prot, tag)
        elif op == "munmap":
            assert sys(t, "munmap", addr, n * P) == 0
            for i in pages:
                model.pop(i, None)
        else:
            want = 0
            for i in pages:  # changed up to the first hole; a hole gives ENOMEM
                if i not in model:
                    want = -Errno.ENOMEM
                    break
                model[i] = (prot, model[i][1])
            assert sys(t, "mprotect", addr, n * P, prot) == want
        # The VMAs agree with the model, page by page ...
        assert guest_pages(t, base, PAGES) == [prot_str(model[i][0]) if i in model else None for i in range(PAGES)]
        # ... no data was lost in splits and merges ...
        for i, (p, want_tag) in model.items():
            if p:
                assert t.mm.read(base + i * P, 1) == bytes([want_tag])
        # ... the list is sorted, disjoint, indexed, and merged where it can be ...
        vmas = t.mm.vmas
        assert t.mm._starts == [v.start for v in vmas]
        assert all(a.end <= b.start for a, b in pairwise(vmas))
        inside = t.mm.vmas_in(base, base + PAGES * P)
        assert not any(a.can_merge(b) for a, b in pairwise(inside))
        # ... and every frame is accounted for.
        assert t.mm.phys.allocated - alloc_before == len(t.mm.pt) - pt_before


