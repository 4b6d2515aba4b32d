"""VMAs and the VMA list of an address space: insert, merge, split, remove, lookups.

Counterpart: mm/vma.c (vma_merge, __split_vma, do_vmi_munmap) and mm/mmap.c (find_vma).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sysgate.mm.mm import Mm
from sysgate.mm.physmem import PAGE_SIZE, PFN_CHUNK_SHIFT, PhysMem
from sysgate.mm.vma import SHARED_WINDOW, VM_GROWSDOWN, VM_MAYSHARE, VM_SHARED, MappedFile, Vma, uc_perms
from sysgate.uapi.mman import PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE

P = PAGE_SIZE
RW = PROT_READ | PROT_WRITE
BASE = 0x40000000


@pytest.fixture
def mm() -> Iterator[Mm]:
    phys = PhysMem(limit=16 << 20)
    m = Mm(phys)
    yield m
    m.destroy()
    phys.close()


@pytest.fixture
def mapped_file(tmp_path: Path) -> Iterator[MappedFile]:
    path = tmp_path / "f"
    path.write_bytes(b"".join(bytes([65 + i]) * P for i in range(8)))
    fd = os.open(path, os.O_RDWR)
    mf = MappedFile(fd, str(path), writable=True)
    os.close(fd)  # the MappedFile holds its own descriptor
    mf.get()  # the reference a File would hold
    yield mf
    mf.put()


def layout(mm: Mm) -> list[tuple[int, int, int]]:
    """The VMA list as (start, end, prot), in pages from BASE."""
    return [((v.start - BASE) // P, (v.end - BASE) // P, v.prot) for v in mm.vmas]


def anon(first: int, last: int, prot: int = RW, **kw: object) -> Vma:
    return Vma(BASE + first * P, BASE + last * P, prot, **kw)  # type: ignore[arg-type]


# -- Vma itself -------------------------------------------------------------------


@pytest.mark.parametrize(
    "prot, perms",
    [
        (PROT_NONE, 0),
        (PROT_READ, 1),
        (PROT_WRITE, 3),  # x86: writable implies readable
        (PROT_EXEC, 5),  # x86 without pkeys: executable implies readable
        (PROT_READ | PROT_WRITE | PROT_EXEC, 7),
    ],
)
def test_uc_perms(prot: int, perms: int) -> None:
    assert uc_perms(prot) == perms


def test_split_at_keeps_file_offset(mapped_file: MappedFile) -> None:
    vma = Vma(BASE, BASE + 4 * P, PROT_READ, file=mapped_file, pgoff=2 * P).hold()
    upper = vma.split_at(BASE + P)
    assert (vma.start, vma.end) == (BASE, BASE + P)
    assert (upper.start, upper.end) == (BASE + P, BASE + 4 * P)
    assert upper.pgoff == 3 * P
    assert upper.file is mapped_file
    assert mapped_file.refs == 3  # the File's, and one per VMA
    vma.release()
    upper.release()
    assert mapped_file.refs == 1


def test_can_merge_rules(mapped_file: MappedFile) -> None:
    a = anon(0, 1)
    assert a.can_merge(anon(1, 2))
    assert not a.can_merge(anon(2, 3))  # not adjacent
    assert not a.can_merge(anon(1, 2, PROT_READ))  # other protection
    assert not a.can_merge(anon(1, 2, flags=a.flags | VM_GROWSDOWN))  # other flags
    assert not a.can_merge(anon(1, 2, name="[heap]"))  # other name
    f0 = Vma(BASE, BASE + P, RW, file=mapped_file, pgoff=0)
    assert f0.can_merge(Vma(BASE + P, BASE + 2 * P, RW, file=mapped_file, pgoff=P))
    assert not f0.can_merge(Vma(BASE + P, BASE + 2 * P, RW, file=mapped_file, pgoff=3 * P))
    assert not f0.can_merge(anon(1, 2))


def test_vma_properties() -> None:
    assert anon(0, 1, flags=VM_SHARED | VM_MAYSHARE).shared
    assert anon(0, 1, flags=VM_MAYSHARE).shared  # a shared mapping of a file opened read-only
    assert not anon(0, 1).shared
    assert anon(0, 1, flags=VM_GROWSDOWN).growsdown
    assert anon(0, 1).file_offset(BASE + 5) == 5


def test_mapped_file_closes_its_descriptor_on_last_put(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 10)
    fd = os.open(path, os.O_RDONLY)
    mf = MappedFile(fd, str(path), writable=False).get()
    os.close(fd)
    assert mf.size() == 10
    assert mf.read_page(0) == b"x" * 10  # short at end of file
    dup = mf.fd
    mf.put()
    with pytest.raises(OSError):
        os.fstat(dup)


def test_shared_windows_are_made_on_demand_and_unmapped_on_last_put(mm: Mm, tmp_path: Path) -> None:
    path = tmp_path / "w"
    path.write_bytes(b"".join(bytes([65 + i]) * P for i in range(8)))
    fd = os.open(path, os.O_RDWR)
    mf = MappedFile(fd, str(path), writable=True).get()
    os.close(fd)
    pfn = mf.shared_pfn(mm.phys, 2 * P)
    assert mf.shared_pfn(mm.phys, 3 * P) == pfn + 1  # one window, consecutive frames
    assert bytes(mm.phys.page(pfn)[:1]) == b"C"
    far = mf.shared_pfn(mm.phys, SHARED_WINDOW + P)  # another window, mapped when first asked
    assert far >> PFN_CHUNK_SHIFT != pfn >> PFN_CHUNK_SHIFT
    mf.put()
    assert pfn >> PFN_CHUNK_SHIFT not in mm.phys.chunks
    assert far >> PFN_CHUNK_SHIFT not in mm.phys.chunks


# -- the VMA list -------------------------------------------------------------------


def test_insert_keeps_order_and_merges_equal_neighbours(mm: Mm) -> None:
    mm.insert_vma(anon(4, 6))
    mm.insert_vma(anon(0, 2))
    assert layout(mm) == [(0, 2, RW), (4, 6, RW)]
    mm.insert_vma(anon(2, 4))  # fills the gap: all three become one, as vma_merge does
    assert layout(mm) == [(0, 6, RW)]
    mm.insert_vma(anon(6, 7, PROT_READ))  # different protection: no merge
    assert layout(mm) == [(0, 6, RW), (6, 7, PROT_READ)]
    assert mm._starts == [v.start for v in mm.vmas]


def test_insert_does_not_merge_file_with_wrong_offset(mm: Mm, mapped_file: MappedFile) -> None:
    mm.insert_vma(Vma(BASE, BASE + P, PROT_READ, file=mapped_file, pgoff=0).hold())
    mm.insert_vma(Vma(BASE + P, BASE + 2 * P, PROT_READ, file=mapped_file, pgoff=P).hold())
    mm.insert_vma(Vma(BASE + 2 * P, BASE + 3 * P, PROT_READ, file=mapped_file, pgoff=5 * P).hold())
    assert layout(mm) == [(0, 2, PROT_READ), (2, 3, PROT_READ)]
    assert mapped_file.refs == 3  # the merged-away VMA gave its reference back
    mm.remove_range(BASE, BASE + 3 * P)
    assert mapped_file.refs == 1


def test_find_vma_and_vma_at(mm: Mm) -> None:
    mm.insert_vma(anon(2, 4))
    mm.insert_vma(anon(8, 9, PROT_READ))
    first, second = mm.vmas
    assert mm.find_vma(0) is first  # the first VMA ending above addr, though it starts above it
    assert mm.vma_at(0) is None
    assert mm.find_vma(BASE + 2 * P) is first and mm.vma_at(BASE + 2 * P) is first
    assert mm.find_vma(BASE + 4 * P - 1) is first
    assert mm.find_vma(BASE + 4 * P) is second  # end is exclusive
    assert mm.vma_at(BASE + 4 * P) is None
    assert mm.vma_at(BASE + 9 * P - 1) is second
    assert mm.find_vma(BASE + 9 * P) is None
    assert mm.prev_vma(second) is first
    assert mm.prev_vma(first) is None
    assert mm.vmas_in(BASE, BASE + 8 * P) == [first]
    assert mm.vmas_in(BASE + 3 * P, BASE + 8 * P + 1) == [first, second]
    assert mm.vmas_in(BASE + 4 * P, BASE + 8 * P) == []


def test_split_range_cuts_at_both_ends(mm: Mm) -> None:
    mm.insert_vma(anon(0, 8))
    pieces = mm.split_range(BASE + 2 * P, BASE + 5 * P)
    assert [(v.start, v.end) for v in pieces] == [(BASE + 2 * P, BASE + 5 * P)]
    assert layout(mm) == [(0, 2, RW), (2, 5, RW), (5, 8, RW)]
    mm.merge_range(BASE, BASE + 8 * P)  # nothing differs: back to one
    assert layout(mm) == [(0, 8, RW)]


def test_split_range_on_a_boundary_or_hole_does_nothing(mm: Mm) -> None:
    mm.insert_vma(anon(0, 2))
    mm.insert_vma(anon(4, 6, PROT_READ))
    assert mm.split_range(BASE + 2 * P, BASE + 4 * P) == []
    assert mm.split_range(BASE, BASE + 2 * P) == [mm.vmas[0]]
    assert layout(mm) == [(0, 2, RW), (4, 6, PROT_READ)]


@pytest.mark.parametrize(
    "lo, hi, left",
    [
        (0, 8, []),  # all of it
        (0, 3, [(3, 8, RW)]),  # the head
        (5, 8, [(0, 5, RW)]),  # the tail
        (2, 5, [(0, 2, RW), (5, 8, RW)]),  # the middle: one VMA becomes two
        (8, 12, [(0, 8, RW)]),  # nothing there
    ],
)
def test_remove_range(mm: Mm, lo: int, hi: int, left: list[tuple[int, int, int]]) -> None:
    mm.insert_vma(anon(0, 8))
    mm.remove_range(BASE + lo * P, BASE + hi * P)
    assert layout(mm) == left


def test_remove_range_across_several_vmas(mm: Mm) -> None:
    mm.insert_vma(anon(0, 2))
    mm.insert_vma(anon(3, 5, PROT_READ))
    mm.insert_vma(anon(6, 9))
    mm.remove_range(BASE + P, BASE + 7 * P)
    assert layout(mm) == [(0, 1, RW), (7, 9, RW)]


def test_remove_range_releases_backing(mm: Mm, mapped_file: MappedFile) -> None:
    mm.insert_vma(Vma(BASE, BASE + 4 * P, PROT_READ, file=mapped_file).hold())
    mm.remove_range(BASE + P, BASE + 2 * P)  # a split adds a reference
    assert mapped_file.refs == 3
    mm.remove_range(BASE, BASE + 4 * P)
    assert mapped_file.refs == 1
    assert mm.vmas == []


def test_destroy_empties_everything(mm: Mm) -> None:
    mm.insert_vma(anon(0, 2))
    mm.write(BASE, b"x")
    mm.destroy()
    assert mm.vmas == [] and mm.pt == {}
    assert mm.phys.allocated == 0
