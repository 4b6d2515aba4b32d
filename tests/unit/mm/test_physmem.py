"""The frame allocator: zeroed frames, freeing, chunk growth, the memory limit, page views."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sysgate.mm.physmem import (
    CHUNK_SIZE,
    PAGE_SIZE,
    PFN_CHUNK_SHIFT,
    Chunk,
    PhysMem,
    page_align,
)

FRAMES_PER_CHUNK = CHUNK_SIZE // PAGE_SIZE


@pytest.fixture
def phys() -> Iterator[PhysMem]:
    p = PhysMem(limit=64 << 20)
    yield p
    p.close()


def test_page_align() -> None:
    assert page_align(0) == 0
    assert page_align(1) == PAGE_SIZE
    assert page_align(PAGE_SIZE) == PAGE_SIZE
    assert page_align(PAGE_SIZE + 1) == 2 * PAGE_SIZE


def test_alloc_gives_distinct_zeroed_frames(phys: PhysMem) -> None:
    pfns = [phys.alloc() for _ in range(8)]
    assert len(set(pfns)) == 8
    assert phys.allocated == 8
    for pfn in pfns:
        page = phys.page(pfn)
        assert len(page) == PAGE_SIZE
        assert bytes(page) == bytes(PAGE_SIZE)
        assert phys.is_anon(pfn)


def test_page_views_are_separate_and_persistent(phys: PhysMem) -> None:
    a, b = phys.alloc(), phys.alloc()
    phys.page(a)[:] = b"\xaa" * PAGE_SIZE
    phys.page(b)[0:4] = b"bbbb"
    assert bytes(phys.page(a)) == b"\xaa" * PAGE_SIZE  # b's write did not spill into a
    assert bytes(phys.page(b)[:5]) == b"bbbb\0"
    assert bytes(phys.page(b)[-1:]) == b"\0"


def test_free_returns_frames_and_they_come_back_zeroed(phys: PhysMem) -> None:
    pfns = [phys.alloc() for _ in range(4)]
    for i, pfn in enumerate(pfns):
        phys.page(pfn)[:] = bytes([i + 1]) * PAGE_SIZE
    phys.free(list(pfns))
    assert phys.allocated == 0
    again = {phys.alloc() for _ in range(4)}
    assert again == set(pfns)  # reused, not new frames
    for pfn in again:
        assert bytes(phys.page(pfn)) == bytes(PAGE_SIZE)


def test_free_of_non_contiguous_runs(phys: PhysMem) -> None:
    pfns = [phys.alloc() for _ in range(10)]
    for pfn in pfns:
        phys.page(pfn)[:4] = b"used"
    doomed = [pfns[1], pfns[2], pfns[5], pfns[9]]
    phys.free(list(doomed))
    for pfn in pfns:
        want = bytes(4) if pfn in doomed else b"used"
        assert bytes(phys.page(pfn)[:4]) == want
    assert phys.allocated == 6


def test_free_nothing_is_a_no_op(phys: PhysMem) -> None:
    phys.free([])
    assert phys.allocated == 0


def test_memory_limit_raises_memoryerror_and_freeing_makes_room() -> None:
    phys = PhysMem(limit=3 * PAGE_SIZE)
    try:
        pfns = [phys.alloc() for _ in range(3)]
        with pytest.raises(MemoryError):
            phys.alloc()
        assert phys.allocated == 3  # the failed alloc is not counted
        phys.free([pfns[0]])
        assert phys.alloc() == pfns[0]
        with pytest.raises(MemoryError):
            phys.alloc()
    finally:
        phys.close()


def test_chunk_growth_adds_a_chunk_and_tells_listeners() -> None:
    phys = PhysMem(limit=2 * CHUNK_SIZE)
    seen: list[Chunk] = []
    try:
        phys.add_listener(seen.append)
        assert seen == []  # no chunk before the first frame
        first = phys.alloc()
        assert len(seen) == 1 and seen[0].anon and seen[0].size == CHUNK_SIZE
        last = first
        for _ in range(FRAMES_PER_CHUNK - 1):
            last = phys.alloc()
        assert len(seen) == 1
        assert last >> PFN_CHUNK_SHIFT == first >> PFN_CHUNK_SHIFT
        nxt = phys.alloc()  # the first chunk is used up
        assert len(seen) == 2
        assert nxt >> PFN_CHUNK_SHIFT == seen[1].index != seen[0].index
        phys.page(last)[:] = b"L" * PAGE_SIZE
        phys.page(nxt)[:] = b"N" * PAGE_SIZE
        assert bytes(phys.page(last)[-1:]) == b"L"
        assert bytes(phys.page(nxt)[:1]) == b"N"
        # A listener added later hears about existing chunks, in order.
        late: list[Chunk] = []
        phys.add_listener(late.append)
        assert [c.index for c in late] == [c.index for c in seen]
    finally:
        phys.close()


def test_map_file_frames_are_the_files_pages(phys: PhysMem, tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"A" * PAGE_SIZE + b"B" * PAGE_SIZE)
    fd = os.open(path, os.O_RDWR)
    try:
        base = phys.map_file(fd, 0, 2 * PAGE_SIZE, writable=True)
        assert not phys.is_anon(base)
        assert bytes(phys.page(base + 1)[:2]) == b"BB"
        phys.page(base)[:5] = b"hello"
        assert os.pread(fd, 5, 0) == b"hello"  # guest writes reach the file
        os.pwrite(fd, b"zz", PAGE_SIZE)
        assert bytes(phys.page(base + 1)[:2]) == b"zz"  # and file writes reach the guest
        phys.unmap_file(base)
        assert base >> PFN_CHUNK_SHIFT not in phys.chunks
    finally:
        os.close(fd)


def test_map_file_at_offset(phys: PhysMem, tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"A" * PAGE_SIZE + b"B" * PAGE_SIZE)
    fd = os.open(path, os.O_RDONLY)
    try:
        base = phys.map_file(fd, PAGE_SIZE, PAGE_SIZE, writable=False)
        assert bytes(phys.page(base)[:3]) == b"BBB"
    finally:
        os.close(fd)


def test_map_file_error_is_oserror(phys: PhysMem, tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY)  # a directory cannot be mapped
    try:
        with pytest.raises(OSError):
            phys.map_file(fd, 0, PAGE_SIZE, writable=False)
    finally:
        os.close(fd)


def test_close_releases_everything() -> None:
    phys = PhysMem(limit=1 << 20)
    phys.alloc()
    phys.close()
    assert phys.closed
    assert phys.chunks == {}
    assert phys.free_pfns == []
