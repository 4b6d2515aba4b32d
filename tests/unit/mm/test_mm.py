"""The address space: page faults, the page table, kernel reads and writes, stack growth.

Counterpart: mm/memory.c (handle_mm_fault, do_anonymous_page, filemap_fault's SIGBUS),
mm/mmap.c (expand_downwards, acct_stack_growth) and arch/x86/mm/fault.c.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sysgate.errors import GuestFault
from sysgate.mm.mm import EXEC, READ, STACK_GUARD_GAP, WRITE, Mm
from sysgate.mm.physmem import PAGE_MASK, PAGE_SHIFT, PAGE_SIZE, PhysMem
from sysgate.mm.vma import VM_GROWSDOWN, VM_MAYEXEC, VM_MAYREAD, VM_MAYSHARE, VM_MAYWRITE, VM_SHARED, MappedFile, Vma
from sysgate.uapi.mman import PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE

P = PAGE_SIZE
RW = PROT_READ | PROT_WRITE
BASE = 0x40000000
STACK_FLAGS = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_GROWSDOWN


class RecordingMmu:
    """An Mmu that remembers what it was told."""

    def __init__(self) -> None:
        self.tlb_flushes = 0
        self.code_flushes: list[tuple[int, int]] = []
        self.all_code_flushes = 0

    def flush_tlb(self) -> None:
        self.tlb_flushes += 1

    def flush_code(self, start: int, end: int) -> None:
        self.code_flushes.append((start, end))

    def flush_all_code(self) -> None:
        self.all_code_flushes += 1


@pytest.fixture
def mm() -> Iterator[Mm]:
    phys = PhysMem(limit=16 << 20)
    m = Mm(phys)
    m.mmu = RecordingMmu()
    yield m
    m.destroy()
    phys.close()


@pytest.fixture
def mmu(mm: Mm) -> RecordingMmu:
    assert isinstance(mm.mmu, RecordingMmu)
    return mm.mmu


@pytest.fixture
def data_file(tmp_path: Path) -> Iterator[MappedFile]:
    """A writable file of 2.5 pages: "A" * 4096, "B" * 4096, "C" * 2048."""
    path = tmp_path / "data"
    path.write_bytes(b"A" * P + b"B" * P + b"C" * (P // 2))
    fd = os.open(path, os.O_RDWR)
    mf = MappedFile(fd, str(path), writable=True).get()
    os.close(fd)
    yield mf
    mf.put()


def map_anon(mm: Mm, first: int, last: int, prot: int = RW, flags: int | None = None) -> Vma:
    vma = Vma(BASE + first * P, BASE + last * P, prot)
    if flags is not None:
        vma.flags = flags
    return mm.insert_vma(vma)


def fault(exc: pytest.ExceptionInfo[GuestFault]) -> tuple[int, int, bool, bool]:
    f = exc.value
    return f.addr, f.access, f.mapped, f.bus


# -- demand paging -------------------------------------------------------------------


def test_anonymous_memory_is_demand_zero(mm: Mm) -> None:
    map_anon(mm, 0, 4)
    assert mm.pt == {}
    assert mm.read(BASE + P + 10, 20) == bytes(20)
    assert list(mm.pt) == [(BASE + P) >> PAGE_SHIFT]  # only the touched page
    assert mm.phys.allocated == 1
    mm.read(BASE + P, P)
    assert mm.phys.allocated == 1  # present now: no second frame


def test_pte_holds_frame_and_x86_perms(mm: Mm) -> None:
    map_anon(mm, 0, 1, PROT_READ)
    map_anon(mm, 1, 2, RW)
    map_anon(mm, 2, 3, PROT_EXEC)
    for i, perms in enumerate((READ, READ | WRITE, READ | EXEC)):
        pte = mm.handle_mm_fault(BASE + i * P, READ)
        assert pte & ~PAGE_MASK == perms
        assert mm.pt[(BASE + i * P) >> PAGE_SHIFT] == pte


def test_write_then_read_back(mm: Mm) -> None:
    map_anon(mm, 0, 1)
    mm.write(BASE + 100, b"hello")
    assert mm.read(BASE + 98, 9) == b"\0\0hello\0\0"


def test_read_and_write_across_page_boundaries(mm: Mm) -> None:
    map_anon(mm, 0, 4)
    data = bytes(range(256)) * 40  # 10240 bytes over three pages
    mm.write(BASE + 4000, data)
    assert mm.read(BASE + 4000, len(data)) == data
    assert mm.read(BASE + P - 1, 2) == data[95:97]
    assert len(mm.pt) == 4  # pages 0..3 were touched


@pytest.mark.parametrize(
    "prot, access, ok",
    [
        (PROT_READ, READ, True),
        (PROT_READ, WRITE, False),
        (PROT_READ, EXEC, False),
        (PROT_WRITE, READ, True),  # x86: write implies read
        (PROT_EXEC, READ, True),  # x86: exec implies read
        (PROT_EXEC, WRITE, False),
        (RW, EXEC, False),
        (PROT_NONE, READ, False),
        (PROT_NONE, WRITE, False),
    ],
)
def test_permission_faults_are_mapped(mm: Mm, prot: int, access: int, ok: bool) -> None:
    map_anon(mm, 0, 1, prot)
    if ok:
        mm.handle_mm_fault(BASE + 8, access)
        return
    with pytest.raises(GuestFault) as exc:
        mm.handle_mm_fault(BASE + 8, access)
    assert fault(exc) == (BASE + 8, access, True, False)  # SEGV_ACCERR


def test_fault_in_a_hole_is_not_mapped(mm: Mm) -> None:
    map_anon(mm, 0, 1)
    map_anon(mm, 2, 3)
    for addr in (BASE - 1, BASE + P, BASE + 2 * P - 1, BASE + 3 * P, 0):
        with pytest.raises(GuestFault) as exc:
            mm.handle_mm_fault(addr, READ)
        assert fault(exc) == (addr, READ, False, False)  # SEGV_MAPERR


def test_kernel_write_to_read_only_memory_faults(mm: Mm) -> None:
    map_anon(mm, 0, 1, PROT_READ)
    with pytest.raises(GuestFault) as exc:
        mm.write(BASE + 5, b"x")
    assert fault(exc) == (BASE + 5, WRITE, True, False)


def test_partial_write_leaves_the_bytes_before_the_bad_page(mm: Mm) -> None:
    map_anon(mm, 0, 1)
    with pytest.raises(GuestFault) as exc:
        mm.write(BASE + P - 3, b"abcdef")
    assert fault(exc) == (BASE + P, WRITE, False, False)  # the first byte that failed
    assert mm.read(BASE + P - 3, 3) == b"abc"


def test_partial_write_into_read_only_page(mm: Mm) -> None:
    map_anon(mm, 0, 1)
    map_anon(mm, 1, 2, PROT_READ)
    with pytest.raises(GuestFault) as exc:
        mm.write(BASE + P - 2, b"wxyz")
    assert fault(exc) == (BASE + P, WRITE, True, False)
    assert mm.read(BASE + P - 2, 4) == b"wx\0\0"


def test_read_across_into_a_hole_faults_at_the_edge(mm: Mm) -> None:
    map_anon(mm, 0, 1)
    with pytest.raises(GuestFault) as exc:
        mm.read(BASE + P - 1, 2)
    assert fault(exc) == (BASE + P, READ, False, False)


def test_read_and_write_of_nothing(mm: Mm) -> None:
    assert mm.read(BASE, 0) == b""
    mm.write(BASE, b"")  # no VMA needed for nothing


def test_out_of_memory_fault_is_sigbus() -> None:
    phys = PhysMem(limit=P)
    mm = Mm(phys)
    try:
        mm.insert_vma(Vma(BASE, BASE + 2 * P, RW))
        mm.write(BASE, b"x")
        with pytest.raises(GuestFault) as exc:
            mm.write(BASE + P, b"y")
        assert exc.value.bus and exc.value.mapped
    finally:
        mm.destroy()
        phys.close()


# -- file mappings ----------------------------------------------------------------------


def test_private_file_pages_are_read_on_first_touch(mm: Mm, data_file: MappedFile) -> None:
    mm.insert_vma(Vma(BASE, BASE + 3 * P, RW, file=data_file, pgoff=0).hold())
    os.pwrite(data_file.fd, b"before", P)  # changed before the page is touched: seen
    assert mm.read(BASE, 2) == b"AA"
    assert mm.read(BASE + P, 6) == b"before"
    mm.write(BASE, b"private")
    assert os.pread(data_file.fd, 7, 0) == b"A" * 7  # a private write never reaches the file


def test_private_file_mapping_at_an_offset(mm: Mm, data_file: MappedFile) -> None:
    mm.insert_vma(Vma(BASE, BASE + 2 * P, PROT_READ, file=data_file, pgoff=P).hold())
    assert mm.read(BASE, 1) == b"B"
    assert mm.read(BASE + P, 1) == b"C"


def test_last_partial_page_is_zero_filled_past_eof(mm: Mm, data_file: MappedFile) -> None:
    mm.insert_vma(Vma(BASE, BASE + 3 * P, PROT_READ, file=data_file).hold())
    tail = mm.read(BASE + 2 * P, P)
    assert tail == b"C" * (P // 2) + bytes(P // 2)


@pytest.mark.parametrize("shared", [False, True])
def test_page_past_eof_is_sigbus(mm: Mm, data_file: MappedFile, shared: bool) -> None:
    vma = Vma(BASE, BASE + 4 * P, RW, file=data_file)
    if shared:
        vma.flags |= VM_SHARED | VM_MAYSHARE
    mm.insert_vma(vma.hold())
    mm.read(BASE + 2 * P, 1)  # the partial last page is fine
    with pytest.raises(GuestFault) as exc:
        mm.read(BASE + 3 * P + 5, 1)
    assert fault(exc) == (BASE + 3 * P, READ, True, True)  # filemap_fault: VM_FAULT_SIGBUS
    with pytest.raises(GuestFault) as exc:
        mm.read(BASE + 3 * P - 2, 4)  # a kernel read running into it stops there
    assert exc.value.bus


def test_shared_file_writes_reach_the_file(mm: Mm, data_file: MappedFile) -> None:
    vma = Vma(BASE, BASE + 2 * P, RW, VM_SHARED | VM_MAYSHARE, file=data_file, pgoff=P)
    mm.insert_vma(vma.hold())
    mm.write(BASE + 3, b"shared")
    assert os.pread(data_file.fd, 9, P) == b"BBBshared"
    os.pwrite(data_file.fd, b"back", 2 * P)
    assert mm.read(BASE + P, 4) == b"back"
    assert not mm.phys.is_anon(mm.pt[BASE >> PAGE_SHIFT] >> PAGE_SHIFT)


# -- the TLB-fill hook --------------------------------------------------------------------


def test_fill_returns_pte_and_records_faults(mm: Mm) -> None:
    map_anon(mm, 0, 1, PROT_READ)
    pte = mm.fill(BASE + 1, READ)
    assert pte & ~PAGE_MASK == READ
    assert mm.fill(BASE + 2, READ) == pte  # present: the same PTE
    assert mm.fill(BASE + 3, WRITE) == 0
    assert mm.last_fault is not None
    assert (mm.last_fault.addr, mm.last_fault.access, mm.last_fault.mapped) == (BASE + 3, WRITE, True)
    assert mm.fill(BASE + P, READ) == 0
    assert mm.last_fault.mapped is False


def test_fill_for_exec_marks_code_frames(mm: Mm) -> None:
    map_anon(mm, 0, 1, PROT_READ | PROT_EXEC)
    pte = mm.fill(BASE, EXEC)
    assert pte & EXEC
    assert pte >> PAGE_SHIFT in mm.phys.code_pfns


def test_writing_code_drops_its_translations(mm: Mm, mmu: RecordingMmu) -> None:
    map_anon(mm, 0, 2, PROT_READ | PROT_WRITE | PROT_EXEC)
    mm.fill(BASE, EXEC)
    mm.write(BASE + P - 2, b"\x90\x90\x90\x90")
    assert mmu.code_flushes == [(BASE + P - 2, BASE + P)]  # only the page that held code


# -- zap_range and protect_ptes -------------------------------------------------------------


def test_zap_range_frees_frames_and_pages_come_back_zero(mm: Mm, mmu: RecordingMmu) -> None:
    map_anon(mm, 0, 4)
    mm.write(BASE, b"x" * 4 * P)
    assert mm.phys.allocated == 4
    mm.zap_range(BASE + P, BASE + 3 * P)
    assert mm.phys.allocated == 2
    assert sorted(mm.pt) == [BASE >> PAGE_SHIFT, (BASE >> PAGE_SHIFT) + 3]
    assert mmu.tlb_flushes == 1
    assert mmu.all_code_flushes == 0
    assert mm.read(BASE + P, 2) == b"\0\0"  # the VMA is still there: demand-zero again
    assert mm.read(BASE, 1) == b"x"


def test_zap_range_of_nothing_does_not_flush(mm: Mm, mmu: RecordingMmu) -> None:
    map_anon(mm, 0, 4)
    mm.zap_range(BASE, BASE + 4 * P)
    assert mmu.tlb_flushes == 0


def test_zap_range_with_code_drops_translations(mm: Mm, mmu: RecordingMmu) -> None:
    map_anon(mm, 0, 1, PROT_READ | PROT_EXEC)
    mm.fill(BASE, EXEC)
    mm.zap_range(BASE, BASE + P)
    assert mmu.all_code_flushes == 1
    assert mm.phys.code_pfns == set()


def test_zap_range_keeps_shared_file_frames(mm: Mm, data_file: MappedFile) -> None:
    vma = Vma(BASE, BASE + 2 * P, RW, VM_SHARED | VM_MAYSHARE, file=data_file)
    mm.insert_vma(vma.hold())
    mm.write(BASE, b"kept")
    mm.zap_range(BASE, BASE + 2 * P)
    assert mm.phys.allocated == 0
    assert mm.read(BASE, 4) == b"kept"  # the file's page, found again


def test_zap_range_over_a_large_sparse_range(mm: Mm) -> None:
    map_anon(mm, 0, 1)
    mm.write(BASE, b"x")
    mm.zap_range(0, 1 << 47)  # walks the page table, not 2**35 page numbers
    assert mm.pt == {}


def test_protect_ptes_changes_only_the_range(mm: Mm, mmu: RecordingMmu) -> None:
    map_anon(mm, 0, 3)
    mm.write(BASE, b"x" * 3 * P)
    mm.protect_ptes(BASE + P, BASE + 2 * P, PROT_READ)
    vpn = BASE >> PAGE_SHIFT
    assert [mm.pt[vpn + i] & ~PAGE_MASK for i in range(3)] == [READ | WRITE, READ, READ | WRITE]
    assert mmu.tlb_flushes == 1 and mmu.all_code_flushes == 0


def test_protect_ptes_dropping_exec_drops_code(mm: Mm, mmu: RecordingMmu) -> None:
    map_anon(mm, 0, 1, PROT_READ | PROT_EXEC)
    mm.fill(BASE, EXEC)
    mm.protect_ptes(BASE, BASE + P, PROT_READ)
    assert mmu.all_code_flushes == 1
    assert mm.pt[BASE >> PAGE_SHIFT] & ~PAGE_MASK == READ
    mm.protect_ptes(BASE, BASE + P, PROT_READ)  # no exec left to lose
    assert mmu.all_code_flushes == 1


def test_protect_ptes_over_a_large_sparse_range(mm: Mm) -> None:
    map_anon(mm, 0, 1)
    mm.write(BASE, b"x")
    mm.protect_ptes(0, 1 << 47, PROT_NONE)
    assert mm.pt[BASE >> PAGE_SHIFT] & ~PAGE_MASK == 0


# -- stack growth -------------------------------------------------------------------------


@pytest.fixture
def stack(mm: Mm) -> Vma:
    """A one-page VM_GROWSDOWN VMA at BASE + 1024 pages."""
    return map_anon(mm, 1024, 1025, RW, STACK_FLAGS)


def test_stack_grows_down_on_a_fault_below_it(mm: Mm, stack: Vma) -> None:
    top = stack.end
    mm.write(stack.start - 3 * P - 8, b"deep")
    assert (stack.start, stack.end) == (top - 5 * P, top)
    assert mm.vma_at(top - 5 * P) is stack
    assert mm.read(stack.start + P - 8, 4) == b"deep"


def test_stack_growth_stops_at_the_stack_limit(mm: Mm, stack: Vma) -> None:
    mm.stack_limit = 4 * P
    top = stack.end
    mm.read(top - 4 * P, 1)  # exactly the limit
    assert stack.start == top - 4 * P
    with pytest.raises(GuestFault) as exc:
        mm.read(top - 4 * P - 1, 1)
    assert fault(exc) == (top - 4 * P - 1, READ, False, False)
    assert stack.start == top - 4 * P


def test_stack_growth_keeps_the_guard_gap(mm: Mm, stack: Vma) -> None:
    below = map_anon(mm, 1024 - 256 - 10, 1024 - 256 - 5, PROT_READ)
    gap_floor = below.end + STACK_GUARD_GAP
    mm.read(gap_floor, 1)  # exactly stack_guard_gap above the VMA below: allowed
    assert stack.start == gap_floor
    with pytest.raises(GuestFault) as exc:
        mm.read(gap_floor - 1, 1)
    assert exc.value.mapped is False
    assert stack.start == gap_floor


def test_guard_gap_ignores_an_inaccessible_vma_below(mm: Mm, stack: Vma) -> None:
    map_anon(mm, 1000, 1001, PROT_NONE)  # vma_is_accessible() is false: no gap enforced
    mm.read(BASE + 1001 * P, 1)
    assert stack.start == BASE + 1001 * P


def test_guard_gap_ignores_a_growsdown_vma_below(mm: Mm, stack: Vma) -> None:
    # expand_downwards: the gap is enforced only when prev is not VM_GROWSDOWN.
    map_anon(mm, 1000, 1001, RW, STACK_FLAGS)
    mm.read(BASE + 1001 * P, 1)
    assert stack.start == BASE + 1001 * P


def test_stack_does_not_grow_below_mmap_min_addr(mm: Mm) -> None:
    # expand_downwards: address < mmap_min_addr -> -EPERM, so the fault is a SIGSEGV.
    low = mm.insert_vma(Vma(0x20000, 0x21000, RW, STACK_FLAGS))
    with pytest.raises(GuestFault):
        mm.read(mm.mmap_min_addr - P, 1)
    mm.read(mm.mmap_min_addr, 1)
    assert low.start == mm.mmap_min_addr


def test_a_vma_that_does_not_grow_down_is_not_extended(mm: Mm) -> None:
    vma = map_anon(mm, 10, 11)
    with pytest.raises(GuestFault) as exc:
        mm.read(vma.start - 1, 1)
    assert exc.value.mapped is False
    assert vma.start == BASE + 10 * P


# -- accessible() ---------------------------------------------------------------------------


def test_accessible_counts_bytes_without_faulting_pages_in(mm: Mm) -> None:
    map_anon(mm, 0, 2)
    map_anon(mm, 2, 3, PROT_READ)
    assert mm.accessible(BASE + 10, 100, READ) == 100
    assert mm.accessible(BASE + 10, 3 * P, READ) == 3 * P - 10
    assert mm.accessible(BASE + 10, 3 * P, WRITE) == 2 * P - 10  # stops at the read-only page
    assert mm.accessible(BASE + 2 * P, 10, WRITE) == 0
    assert mm.accessible(BASE - 10, 100, READ) == 0  # starts in a hole
    assert mm.accessible(BASE, 0, READ) == 0
    assert mm.pt == {}


def test_accessible_grows_the_stack(mm: Mm, stack: Vma) -> None:
    assert mm.accessible(stack.start - 2 * P, 3 * P, WRITE) == 3 * P
    assert stack.start == BASE + 1022 * P
