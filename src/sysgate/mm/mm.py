"""The address space of a process: VMAs, the page table, and page faults.

Counterpart: include/linux/mm_types.h (struct mm_struct), mm/memory.c (handle_mm_fault)
and arch/x86/mm/fault.c. The page table is a dict from virtual page number to a PTE,
`(pfn << 12) | perms`, with perms the x86 access bits (1 read, 2 write, 4 execute). The
CPU's TLB-fill hook calls `fill()` on a TLB miss; a missing PTE inside a VMA is a page
fault that allocates the page (anonymous memory is demand-zero, private file pages are
read in on first touch), and an address outside every VMA, or an access the VMA does
not allow, is a SIGSEGV for the guest. The kernel's own accesses to user memory
(sysgate.mm.uaccess) take the same path, so they fault pages in exactly as Linux does.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Protocol

from sysgate.errors import GuestFault, KernelError
from sysgate.mm.physmem import PAGE_MASK, PAGE_SHIFT, PAGE_SIZE, PhysMem
from sysgate.mm.vma import Vma, uc_perms
from sysgate.uapi.errno import Errno

TASK_SIZE_MAX = (1 << 47) - PAGE_SIZE
"""The top of user space with 4-level paging (arch/x86/include/asm/page_64_types.h)."""
STACK_GUARD_GAP = 256 << PAGE_SHIFT
"""mm/mmap.c: stack_guard_gap, 256 pages: kept free below a stack that grows down."""

READ, WRITE, EXEC = 1, 2, 4


class Mmu(Protocol):
    """What the address space tells the CPU when translations or code change."""

    def flush_tlb(self) -> None:
        """Forget every cached translation (after PTEs were removed or restricted)."""

    def flush_code(self, start: int, end: int) -> None:
        """Drop translated code for virtual [start, end): its bytes were rewritten."""

    def flush_all_code(self) -> None:
        """Drop all translated code (frames that held code were freed)."""


class NoMmu:
    """The Mmu of an address space no CPU runs (unit tests, a process being built)."""

    def flush_tlb(self) -> None:
        pass

    def flush_code(self, start: int, end: int) -> None:
        pass

    def flush_all_code(self) -> None:
        pass


class Mm:
    """One address space."""

    def __init__(self, phys: PhysMem, task_size: int = TASK_SIZE_MAX) -> None:
        self.phys = phys
        self.task_size = task_size
        self.mmu: Mmu = NoMmu()
        self.pt: dict[int, int] = {}
        self.vmas: list[Vma] = []
        self._starts: list[int] = []
        self.mmap_base = task_size
        self.mmap_min_addr = 65536  # vm.mmap_min_addr (Debian's CONFIG_DEFAULT_MMAP_MIN_ADDR)
        self.may_map_low = False  # CAP_SYS_RAWIO: may map below mmap_min_addr
        self.stack_limit = 8 << 20  # RLIMIT_STACK, kept current by setrlimit
        self.start_brk = self.brk = 0
        self.start_code = self.end_code = self.start_data = self.end_data = 0
        self.start_stack = 0
        self.arg_start = self.arg_end = self.env_start = self.env_end = 0
        self.last_fault: GuestFault | None = None
        self.hiwater_vm = 0  # the peak size and resident set, in pages (VmPeak, VmHWM)
        self.hiwater_rss = 0
        self.vdso = 0  # mm->context.vdso: where the vDSO is mapped (0: none)
        self.vsyscall = False  # MM_CONTEXT_HAS_VSYSCALL: the gate area [vsyscall] exists
        self.users = 1  # tasks using this address space (mm_users: CLONE_VM, vfork)

    _INHERITED = ("mmap_base", "mmap_min_addr", "may_map_low", "stack_limit", "start_brk", "brk",
                  "start_code", "end_code", "start_data", "end_data", "start_stack", "arg_start",
                  "arg_end", "env_start", "env_end", "hiwater_vm", "hiwater_rss", "vdso", "vsyscall")

    def dup(self) -> Mm:
        """fork's copy of this address space (dup_mmap).

        The child gets the same VMAs. Private pages (anonymous memory, private copies of
        file pages, the vDSO's pages) are copied now, which is what copy-on-write
        amounts to once either side writes; pages that are shared by nature (a file
        mapped MAP_SHARED, shared anonymous memory, the vvar page) stay the same frames.
        MemoryError when the frames run out (fork's ENOMEM).
        """
        new = Mm(self.phys, self.task_size)
        for name in self._INHERITED:
            setattr(new, name, getattr(self, name))
        new.vmas = [Vma(v.start, v.end, v.prot, v.flags, v.file, v.pgoff, v.name, v.special).hold()
                    for v in self.vmas]
        new._reindex()
        phys = self.phys
        pt = new.pt
        try:
            for vpn, pte in self.pt.items():
                pfn = pte >> PAGE_SHIFT
                if phys.is_anon(pfn):
                    copy = phys.alloc()
                    phys.page(copy)[:] = phys.page(pfn)
                    pte = (copy << PAGE_SHIFT) | (pte & ~PAGE_MASK)
                pt[vpn] = pte
        except MemoryError:
            new.destroy()
            raise
        return new

    # -- VMA list ---------------------------------------------------------------

    def find_vma(self, addr: int) -> Vma | None:
        """The first VMA ending above `addr` (it may start above it), as find_vma()."""
        i = bisect_right(self._starts, addr) - 1
        if i >= 0 and self.vmas[i].end > addr:
            return self.vmas[i]
        if i + 1 < len(self.vmas):
            return self.vmas[i + 1]
        return None

    def vma_at(self, addr: int) -> Vma | None:
        """The VMA containing `addr`, if any."""
        i = bisect_right(self._starts, addr) - 1
        if i >= 0 and self.vmas[i].end > addr:
            return self.vmas[i]
        return None

    def prev_vma(self, vma: Vma) -> Vma | None:
        i = self.vmas.index(vma)
        return self.vmas[i - 1] if i > 0 else None

    def vmas_in(self, start: int, end: int) -> list[Vma]:
        """The VMAs overlapping [start, end), lowest first."""
        i = max(bisect_right(self._starts, start) - 1, 0)
        out = []
        for vma in self.vmas[i:]:
            if vma.start >= end:
                break
            if vma.end > start:
                out.append(vma)
        return out

    def _reindex(self) -> None:
        self._starts = [v.start for v in self.vmas]

    def insert_vma(self, vma: Vma) -> Vma:
        """Add a VMA over a free range, merging with equal neighbours as Linux does."""
        i = bisect_right(self._starts, vma.start)
        self.vmas.insert(i, vma)
        self._merge_around(i)
        self._reindex()
        return vma

    def _merge_around(self, i: int) -> None:
        """Merge vmas[i] with its neighbours where vma_merge() would."""
        if i + 1 < len(self.vmas) and self.vmas[i].can_merge(self.vmas[i + 1]):
            self.vmas[i].end = self.vmas[i + 1].end
            self.vmas.pop(i + 1).release()
        if i > 0 and self.vmas[i - 1].can_merge(self.vmas[i]):
            self.vmas[i - 1].end = self.vmas[i].end
            self.vmas.pop(i).release()

    def split_range(self, start: int, end: int) -> list[Vma]:
        """Split VMAs so that [start, end) is covered by whole VMAs; return those.

        A special mapping ([vdso], [vvar]) refuses to be split: EINVAL, before anything
        changed (special_mapping_split).
        """
        for cut in (start, end):
            i = bisect_right(self._starts, cut) - 1
            if i >= 0 and self.vmas[i].start < cut < self.vmas[i].end and self.vmas[i].special is not None:
                raise KernelError(Errno.EINVAL)
        for cut in (start, end):
            i = bisect_right(self._starts, cut) - 1
            if i >= 0 and self.vmas[i].start < cut < self.vmas[i].end:
                self.vmas.insert(i + 1, self.vmas[i].split_at(cut))
                self._reindex()
        return self.vmas_in(start, end)

    def merge_range(self, start: int, end: int) -> None:
        """Merge what can be merged in and around [start, end) after a change."""
        i = max(bisect_right(self._starts, start) - 2, 0)
        while i < len(self.vmas) - 1 and self.vmas[i].start <= end:
            if self.vmas[i].can_merge(self.vmas[i + 1]):
                self.vmas[i].end = self.vmas[i + 1].end
                self.vmas.pop(i + 1).release()
            else:
                i += 1
        self._reindex()

    def remove_range(self, start: int, end: int) -> None:
        """Unmap [start, end): drop the VMAs, their PTEs and anonymous frames."""
        doomed = self.split_range(start, end)
        if doomed:  # update_hiwater_vm: the peak is kept when the size is about to drop
            self.hiwater_vm = max(self.hiwater_vm, sum(v.end - v.start for v in self.vmas) >> PAGE_SHIFT)
        for vma in doomed:
            self.vmas.remove(vma)
        self._reindex()
        self.zap_range(start, end)
        for vma in doomed:
            vma.release()

    # -- the page table ---------------------------------------------------------

    def zap_range(self, start: int, end: int) -> None:
        """Remove the PTEs of [start, end) and free their anonymous frames (zap_page_range)."""
        pt = self.pt
        first, last = start >> PAGE_SHIFT, end >> PAGE_SHIFT
        if last - first <= len(pt):
            vpns = [v for v in range(first, last) if v in pt]
        else:
            vpns = [v for v in pt if first <= v < last]
        if not vpns:
            return
        self.hiwater_rss = max(self.hiwater_rss, len(pt))  # update_hiwater_rss, before the drop
        phys = self.phys
        freed = []
        code = False
        for vpn in vpns:
            pfn = pt.pop(vpn) >> PAGE_SHIFT
            if phys.is_anon(pfn):
                freed.append(pfn)
            if pfn in phys.code_pfns:
                phys.code_pfns.discard(pfn)
                code = True
        self.mmu.flush_tlb()
        if code:
            self.mmu.flush_all_code()
        phys.free(freed)

    def protect_ptes(self, start: int, end: int, prot: int) -> None:
        """Give the PTEs of [start, end) the access `prot` allows (after mprotect)."""
        perms = uc_perms(prot)
        pt = self.pt
        code = self.phys.code_pfns
        lost_code = False
        first, last = start >> PAGE_SHIFT, end >> PAGE_SHIFT
        keys = range(first, last) if last - first <= len(pt) else list(pt)
        for vpn in keys:
            pte = pt.get(vpn)
            if pte is not None and first <= vpn < last:
                pt[vpn] = (pte & PAGE_MASK) | perms
                if not perms & EXEC and pte & EXEC and (pte >> PAGE_SHIFT) in code:
                    lost_code = True
        self.mmu.flush_tlb()
        if lost_code:
            # Translated code of a page that is no longer executable must go too.
            self.mmu.flush_all_code()

    def fill(self, vaddr: int, access: int) -> int:
        """The TLB-fill hook: the PTE for an access, or 0 after recording a fault."""
        pte = self.pt.get(vaddr >> PAGE_SHIFT)
        if pte is None or not pte & access:
            try:
                pte = self.handle_mm_fault(vaddr, access)
            except GuestFault as fault:
                self.last_fault = fault
                return 0
        if access == EXEC:
            self.phys.code_pfns.add(pte >> PAGE_SHIFT)
        return pte

    def handle_mm_fault(self, addr: int, access: int) -> int:
        """Make the page at `addr` present for `access`, or raise GuestFault."""
        vma = self.find_vma(addr)
        if vma is None or vma.start > addr:
            if vma is None or not vma.growsdown or not self.expand_stack(vma, addr):
                raise GuestFault(addr, access, mapped=False)
        perms = uc_perms(vma.prot)
        if not perms & access:
            raise GuestFault(addr, access, mapped=True)
        vpn = addr >> PAGE_SHIFT
        pte = self.pt.get(vpn)
        if pte is not None:
            pte = (pte & PAGE_MASK) | perms
        else:
            pte = (self._populate(vma, addr & PAGE_MASK) << PAGE_SHIFT) | perms
        self.pt[vpn] = pte
        return pte

    def _populate(self, vma: Vma, page: int) -> int:
        """A frame for a page not yet present: zero, file data, the file's own page, or
        the page a special mapping provides."""
        if vma.special is not None:
            try:
                pfn = vma.special.fault(self.phys, vma.file_offset(page))
            except MemoryError:
                raise GuestFault(page, WRITE, mapped=True, bus=True) from None
            if pfn is None:
                raise GuestFault(page, READ, mapped=True, bus=True)  # VM_FAULT_SIGBUS
            return pfn
        if vma.file is None:
            return self._alloc_frame(page)
        offset = vma.file_offset(page)
        if offset >= vma.file.size():
            # Past the end of the file (rounded up to a page): SIGBUS, as filemap_fault.
            raise GuestFault(page, READ, mapped=True, bus=True)
        if vma.shared:
            return vma.file.shared_pfn(self.phys, offset)
        pfn = self._alloc_frame(page)
        data = vma.file.read_page(offset)
        self.phys.page(pfn)[: len(data)] = data
        return pfn

    def _alloc_frame(self, page: int) -> int:
        try:
            return self.phys.alloc()
        except MemoryError:
            # Out of memory: the kernel's OOM killer would pick a victim; we report SIGBUS
            # for the faulting access, which a guest cannot mistake for success.
            raise GuestFault(page, WRITE, mapped=True, bus=True) from None

    def expand_stack(self, vma: Vma, addr: int) -> bool:
        """Grow a VM_GROWSDOWN VMA down to `addr` if the stack limit and guard gap allow."""
        new_start = addr & PAGE_MASK
        if new_start < self.mmap_min_addr:
            return False  # expand_downwards: -EPERM below vm.mmap_min_addr
        if vma.end - new_start > self.stack_limit:
            return False
        prev = self.prev_vma(vma)
        # The gap is kept only from an accessible VMA that is not itself a stack.
        if prev is not None and not prev.growsdown and prev.prot and new_start - prev.end < STACK_GUARD_GAP:
            return False
        vma.start = new_start
        self._reindex()
        return True

    # -- the kernel's accesses (used by uaccess) --------------------------------

    def _pte(self, addr: int, access: int) -> int:
        pte = self.pt.get(addr >> PAGE_SHIFT)
        if pte is None or not pte & access:
            pte = self.handle_mm_fault(addr, access)
        return pte

    def read(self, addr: int, size: int) -> bytes:
        """Read guest memory as the kernel does; raise GuestFault at the first bad byte."""
        out = bytearray()
        phys = self.phys
        while size > 0:
            off = addr & (PAGE_SIZE - 1)
            step = min(size, PAGE_SIZE - off)
            pfn = self._pte(addr, READ) >> PAGE_SHIFT
            out += phys.page(pfn)[off : off + step]
            addr += step
            size -= step
        return bytes(out)

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        """Write guest memory as the kernel does; raise GuestFault at the first bad byte.

        Bytes before the bad page are written, as a faulting copy_to_user leaves them.
        """
        view = memoryview(data)
        phys = self.phys
        pos = 0
        while pos < len(view):
            off = addr & (PAGE_SIZE - 1)
            step = min(len(view) - pos, PAGE_SIZE - off)
            pfn = self._pte(addr, WRITE) >> PAGE_SHIFT
            phys.page(pfn)[off : off + step] = view[pos : pos + step]
            if pfn in phys.code_pfns:
                self.mmu.flush_code(addr, addr + step)
            addr += step
            pos += step

    def accessible(self, addr: int, size: int, access: int) -> int:
        """How many bytes from `addr` (at most `size`) VMAs allow `access` to.

        This walks VMAs without faulting pages in, so probing a large buffer costs
        nothing; a later copy into the range faults in only what it touches.
        """
        pos = addr
        end = addr + size
        while pos < end:
            vma = self.find_vma(pos)
            if vma is None or (vma.start > pos and not (vma.growsdown and self.expand_stack(vma, pos))):
                break
            if not uc_perms(vma.prot) & access:
                break
            pos = vma.end
        return min(pos, end) - addr if pos > addr else 0

    def destroy(self) -> None:
        """Unmap everything (exit_mmap)."""
        self.remove_range(0, 1 << 64)
