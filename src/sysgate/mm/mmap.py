"""Creating, changing and removing mappings: the work behind mmap, munmap, mprotect,
mremap and brk.

Counterpart: mm/mmap.c, mm/vma.c, mm/mprotect.c, mm/mremap.c and
arch/x86/kernel/sys_x86_64.c (the top-down search for a free range). Each function
checks its arguments in the order Linux does and raises KernelError with Linux's
errno; the handlers in sys_mmap.py only decode user arguments and call these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sysgate.errors import GuestFault, KernelError
from sysgate.mm.memfd import memfd_check_seals_mmap
from sysgate.mm.mm import STACK_GUARD_GAP, Mm
from sysgate.mm.physmem import PAGE_MASK, PAGE_SHIFT, PAGE_SIZE, page_align
from sysgate.mm.vma import (
    BRK_FLAGS,
    VM_ACCOUNT,
    VM_DONTEXPAND,
    VM_GROWSDOWN,
    VM_LOCKED,
    VM_MAYEXEC,
    VM_MAYREAD,
    VM_MAYSHARE,
    VM_MAYWRITE,
    VM_NORESERVE,
    VM_PFNMAP,
    VM_SHARED,
    MappedFile,
    Vma,
    shmem_file,
)
from sysgate.uapi.errno import Errno
from sysgate.uapi.mman import (
    MAP_32BIT,
    MAP_DROPPABLE,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_GROWSDOWN,
    MAP_HUGETLB,
    MAP_LOCKED,
    MAP_NORESERVE,
    MAP_POPULATE,
    MAP_PRIVATE,
    MAP_SHARED,
    MAP_SHARED_VALIDATE,
    MAP_SYNC,
    MAP_TYPE,
    MREMAP_DONTUNMAP,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    PROT_EXEC,
    PROT_READ,
    PROT_SEM,
    PROT_WRITE,
)

MAX_MAP_COUNT = 65530
"""sysctl vm.max_map_count (DEFAULT_MAX_MAP_COUNT)."""

LEGACY_MAP_MASK = 0x0F | 0x10 | 0x20 | 0x40 | 0x80 | 0x0100 | 0x0800 | 0x1000 | 0x2000 | 0x4000 | (
    0x8000 | 0x10000 | 0x20000 | 0x40000 | 0x4000000 | (21 | 30) << 26
)
"""include/linux/mman.h: the flags MAP_SHARED silently accepts (MAP_SHARED_VALIDATE rejects others),
MAP_ABOVE4G, MAP_UNINITIALIZED and MAP_HUGE_2MB | MAP_HUGE_1GB included."""


@dataclass(slots=True)
class FileMapping:
    """What a file contributes to mmap: the guest's access to it, and how to get the
    mapped file (asked for only once the checks that come first have passed, since a
    file that cannot be mapped fails with ENODEV after them)."""

    source: Callable[[], MappedFile]
    readable: bool
    writable: bool


def err(errno: Errno) -> KernelError:
    return KernelError(errno)


# -- finding room --------------------------------------------------------------


def _vm_start_gap(vma: Vma) -> int:
    if vma.flags & VM_GROWSDOWN:
        return max(vma.start - STACK_GUARD_GAP, 0)
    return vma.start


def unmapped_area_topdown(mm: Mm, length: int, low: int, high: int) -> int:
    """The highest free range of `length` bytes inside [low, high) (vm_unmapped_area)."""
    low = max(low, mm.mmap_min_addr)  # unmapped_area_topdown never goes below vm.mmap_min_addr
    gap_end = high
    for vma in reversed(mm.vmas):
        if vma.end > gap_end:
            gap_end = min(gap_end, _vm_start_gap(vma))
            continue
        if gap_end - vma.end >= length and gap_end - length >= low:
            return gap_end - length
        gap_end = min(gap_end, _vm_start_gap(vma))
    if gap_end - length >= low:
        return gap_end - length
    raise err(Errno.ENOMEM)


def unmapped_area_bottomup(mm: Mm, length: int, low: int, high: int) -> int:
    """The lowest free range of `length` bytes inside [low, high)."""
    start = max(low, mm.mmap_min_addr)
    for vma in mm.vmas:
        if vma.end <= start:
            continue
        if _vm_start_gap(vma) - start >= length:
            break
        start = max(start, vma.end)
    if start + length <= high:
        return start
    raise err(Errno.ENOMEM)


def get_unmapped_area(mm: Mm, addr: int, length: int, flags: int) -> int:
    """Where a new mapping goes (__get_unmapped_area + the x86-64 top-down search)."""
    if length > mm.task_size:
        raise err(Errno.ENOMEM)
    if not flags & MAP_FIXED:
        if addr:
            addr &= PAGE_MASK
            vma = mm.find_vma(addr)
            if (
                addr <= mm.task_size - length
                and addr >= mm.mmap_min_addr
                and (vma is None or addr + length <= _vm_start_gap(vma))
            ):
                return addr
        if flags & MAP_32BIT:
            # Legacy 2 GiB window, searched bottom-up (find_start_end in sys_x86_64.c).
            return unmapped_area_bottomup(mm, length, 0x40000000, 0x80000000)
        try:
            addr = unmapped_area_topdown(mm, length, PAGE_SIZE, mm.mmap_base)
        except KernelError:
            # A failed top-down search falls back to bottom-up from TASK_UNMAPPED_BASE.
            addr = unmapped_area_bottomup(mm, length, page_align(mm.task_size // 3), mm.task_size)
    if addr > mm.task_size - length:
        raise err(Errno.ENOMEM)
    if addr & ~PAGE_MASK:
        raise err(Errno.EINVAL)
    if addr < mm.mmap_min_addr and not mm.may_map_low:
        raise err(Errno.EPERM)  # security_mmap_addr: below vm.mmap_min_addr without CAP_SYS_RAWIO
    return addr


# -- mmap ------------------------------------------------------------------------


def do_mmap(
    mm: Mm, addr: int, length: int, prot: int, flags: int,
    file: FileMapping | None, offset: int,
) -> int:
    """Map a range (do_mmap + mmap_region); `offset` is in bytes and page-aligned."""
    if not length:
        raise err(Errno.EINVAL)
    prot &= PROT_READ | PROT_WRITE | PROT_EXEC  # calc_vm_prot_bits: other bits are ignored
    if flags & MAP_FIXED_NOREPLACE:
        flags |= MAP_FIXED
    if not flags & MAP_FIXED:
        addr &= PAGE_MASK
        if addr and addr < mm.mmap_min_addr:
            addr = page_align(mm.mmap_min_addr)  # round_hint_to_min
    length = page_align(length)
    if not length or length >= 1 << 64:
        raise err(Errno.ENOMEM)
    pgoff = offset >> PAGE_SHIFT
    if pgoff + (length >> PAGE_SHIFT) >= 1 << 64:
        raise err(Errno.EOVERFLOW)
    if len(mm.vmas) > MAX_MAP_COUNT:
        raise err(Errno.ENOMEM)
    vm_flags = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC
    if flags & MAP_GROWSDOWN:
        vm_flags |= VM_GROWSDOWN
    if flags & MAP_LOCKED:
        vm_flags |= VM_LOCKED
    if flags & MAP_NORESERVE:
        vm_flags |= VM_NORESERVE  # honoured: vm.overcommit_memory is not OVERCOMMIT_NEVER
    addr = get_unmapped_area(mm, addr, length, flags)
    if flags & MAP_FIXED_NOREPLACE and mm.vmas_in(addr, addr + length):
        raise err(Errno.EEXIST)
    if file is not None:
        if offset + length > (1 << 63) - 1:
            raise err(Errno.EOVERFLOW)  # file_mmap_ok: past MAX_LFS_FILESIZE
        kind = flags & MAP_TYPE
        if kind in (MAP_SHARED, MAP_SHARED_VALIDATE):
            mask = LEGACY_MAP_MASK
            if kind == MAP_SHARED:
                flags &= LEGACY_MAP_MASK
            if flags & ~mask or flags & MAP_SYNC:
                raise err(Errno.EOPNOTSUPP)
            if prot & PROT_WRITE and not file.writable:
                raise err(Errno.EACCES)
            vm_flags |= VM_SHARED | VM_MAYSHARE
            if not file.writable:
                vm_flags &= ~(VM_MAYWRITE | VM_SHARED)
        elif kind != MAP_PRIVATE:
            raise err(Errno.EINVAL)
        if not file.readable:
            raise err(Errno.EACCES)
        mapped = file.source()  # ENODEV (no ->mmap) comes before the VM_GROWSDOWN check
        if vm_flags & VM_GROWSDOWN:
            raise err(Errno.EINVAL)
        vm_flags = memfd_check_seals_mmap(mapped.fd, vm_flags, bool(prot & PROT_WRITE))  # a sealed memfd
    else:
        kind = flags & MAP_TYPE
        if kind == MAP_SHARED:
            if vm_flags & VM_GROWSDOWN:
                raise err(Errno.EINVAL)
            vm_flags |= VM_SHARED | VM_MAYSHARE
        elif kind == MAP_DROPPABLE:
            if flags & (MAP_LOCKED | MAP_HUGETLB) or vm_flags & VM_GROWSDOWN:
                raise err(Errno.EINVAL)  # a locked, huge or stack area cannot be droppable
        elif kind != MAP_PRIVATE:
            raise err(Errno.EINVAL)
    if prot & PROT_WRITE and not vm_flags & (VM_NORESERVE | VM_SHARED):
        # accountable_mapping: private writable memory is charged. The flag stays when
        # write is taken away, and VMAs differing in it never merge (as in /proc/PID/maps).
        vm_flags |= VM_ACCOUNT
    # mmap_region: a fixed mapping replaces whatever was there.
    mm.remove_range(addr, addr + length)
    vma = Vma(addr, addr + length, prot, vm_flags)
    if file is not None:
        vma.file = mapped
        vma.pgoff = offset
        vma.hold()
    elif vm_flags & VM_SHARED:
        vma.file = shmem_file(length).get()
    mm.insert_vma(vma)
    if flags & MAP_POPULATE:
        populate(mm, addr, addr + length)
    return addr


def populate(mm: Mm, start: int, end: int) -> None:
    """Fault in [start, end) as MAP_POPULATE does; a page that cannot be populated stops it."""
    vma = mm.vma_at(start)
    access = 2 if vma is not None and vma.prot & PROT_WRITE else 1
    for page in range(start, end, PAGE_SIZE):
        try:
            mm.handle_mm_fault(page, access)
        except GuestFault:
            break


# -- munmap ------------------------------------------------------------------------


def do_munmap(mm: Mm, start: int, length: int) -> None:
    """Unmap [start, start+length) (__vm_munmap)."""
    if start & ~PAGE_MASK or start > mm.task_size or length > mm.task_size - start:
        raise err(Errno.EINVAL)
    end = start + page_align(length)
    if end == start:
        raise err(Errno.EINVAL)
    mm.remove_range(start, end)


# -- mprotect ----------------------------------------------------------------------


def do_mprotect(mm: Mm, start: int, length: int, prot: int) -> None:
    """Change the protection of [start, start+length) (do_mprotect_pkey)."""
    grows = prot & (0x01000000 | 0x02000000)
    prot &= ~(0x01000000 | 0x02000000)
    if grows == 0x01000000 | 0x02000000:
        raise err(Errno.EINVAL)
    if start & ~PAGE_MASK:
        raise err(Errno.EINVAL)
    if not length:
        return
    end = start + page_align(length)
    if end <= start or end >= 1 << 64:
        raise err(Errno.ENOMEM)
    if prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM):
        raise err(Errno.EINVAL)
    vma = mm.find_vma(start)
    if vma is None:
        raise err(Errno.ENOMEM)
    if grows:
        if vma.start >= end:
            raise err(Errno.ENOMEM)
        start = vma.start
        if not vma.flags & VM_GROWSDOWN:
            raise err(Errno.EINVAL)
    elif vma.start > start:
        raise err(Errno.ENOMEM)
    prot &= PROT_READ | PROT_WRITE | PROT_EXEC
    pos = start
    for vma in mm.vmas_in(start, end):
        if vma.start > pos:
            break  # a hole: what came before it is changed, as in Linux
        may = ((vma.flags & VM_MAYREAD) and PROT_READ) | ((vma.flags & VM_MAYWRITE) and PROT_WRITE) | (
            (vma.flags & VM_MAYEXEC) and PROT_EXEC
        )
        if prot & ~may:
            _apply_prot(mm, start, pos, prot)
            raise err(Errno.EACCES)
        pos = vma.end
    _apply_prot(mm, start, min(pos, end), prot)
    if pos < end:
        raise err(Errno.ENOMEM)


def _apply_prot(mm: Mm, start: int, end: int, prot: int) -> None:
    if end <= start:
        return
    for vma in mm.split_range(start, end):
        if prot & PROT_WRITE and not (vma.prot & PROT_WRITE or vma.flags & (VM_ACCOUNT | VM_SHARED | VM_NORESERVE)):
            vma.flags |= VM_ACCOUNT  # mprotect_fixup charges memory that becomes writable
        vma.prot = prot
    mm.merge_range(start, end)
    mm.protect_ptes(start, end, prot)


# -- mremap ------------------------------------------------------------------------


def do_mremap(mm: Mm, addr: int, old_len: int, new_len: int, flags: int, new_addr: int) -> int:
    """Resize or move a mapping (SYSCALL_DEFINE5(mremap))."""
    if flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP):
        raise err(Errno.EINVAL)
    if flags & MREMAP_FIXED and not flags & MREMAP_MAYMOVE:
        raise err(Errno.EINVAL)
    if flags & MREMAP_DONTUNMAP and (not flags & MREMAP_MAYMOVE or old_len != new_len):
        raise err(Errno.EINVAL)
    if addr & ~PAGE_MASK:
        raise err(Errno.EINVAL)
    old_len, new_len = page_align(old_len), page_align(new_len)
    if not new_len or new_len >= 1 << 64:
        raise err(Errno.EINVAL)
    vma = mm.vma_at(addr)
    if vma is None:
        raise err(Errno.EFAULT)
    if flags & (MREMAP_FIXED | MREMAP_DONTUNMAP):
        return _mremap_to(mm, addr, old_len, new_addr, new_len, flags)
    if old_len >= new_len:
        if old_len > new_len:
            do_munmap(mm, addr + new_len, old_len - new_len)
        return addr
    vma = _vma_to_resize(mm, addr, old_len, new_len)
    if old_len == vma.end - addr:
        end = vma.end + new_len - old_len
        nxt = mm.find_vma(vma.end)
        if (nxt is None or nxt.start >= end) and end <= mm.task_size:
            vma.end = end
            mm.merge_range(vma.start, end)
            return addr
    if not flags & MREMAP_MAYMOVE:
        raise err(Errno.ENOMEM)
    target = get_unmapped_area(mm, 0, new_len, MAP_SHARED if vma.flags & VM_MAYSHARE else 0)
    return _move_vma(mm, vma, addr, old_len, new_len, target, flags)


def _vma_to_resize(mm: Mm, addr: int, old_len: int, new_len: int, flags: int = 0) -> Vma:
    vma = mm.vma_at(addr)
    if vma is None:
        raise err(Errno.EFAULT)
    if not old_len and not vma.flags & (VM_SHARED | VM_MAYSHARE):
        raise err(Errno.EINVAL)
    if flags & MREMAP_DONTUNMAP and vma.flags & (VM_DONTEXPAND | VM_PFNMAP):
        raise err(Errno.EINVAL)  # a special mapping cannot be left behind
    if old_len > vma.end - addr:
        raise err(Errno.EFAULT)
    if new_len != old_len and vma.flags & (VM_DONTEXPAND | VM_PFNMAP):
        raise err(Errno.EFAULT)
    return vma


def _mremap_to(mm: Mm, addr: int, old_len: int, new_addr: int, new_len: int, flags: int) -> int:
    if new_addr & ~PAGE_MASK:
        raise err(Errno.EINVAL)
    if new_len > mm.task_size or new_addr > mm.task_size - new_len:
        raise err(Errno.EINVAL)
    if addr + old_len > new_addr and new_addr + new_len > addr:
        raise err(Errno.EINVAL)
    if len(mm.vmas) + 2 >= MAX_MAP_COUNT - 3:
        raise err(Errno.ENOMEM)
    if flags & MREMAP_FIXED:
        do_munmap(mm, new_addr, new_len)
    if old_len > new_len:
        do_munmap(mm, addr + new_len, old_len - new_len)
        old_len = new_len
    vma = _vma_to_resize(mm, addr, old_len, new_len, flags)
    map_flags = (MAP_FIXED if flags & MREMAP_FIXED else 0) | (
        MAP_SHARED if vma.flags & VM_MAYSHARE else 0
    )
    target = get_unmapped_area(mm, new_addr, new_len, map_flags)
    if not flags & MREMAP_FIXED:
        new_addr = target
    return _move_vma(mm, vma, addr, old_len, new_len, new_addr, flags)


def _move_vma(mm: Mm, vma: Vma, addr: int, old_len: int, new_len: int, new_addr: int, flags: int) -> int:
    """Move the pages of [addr, addr+old_len) to new_addr and grow to new_len (move_vma)."""
    old_end = addr + old_len
    pieces = mm.split_range(addr, old_end) if old_len else [vma]
    # The new VMA continues the first piece's backing from addr.
    first = pieces[0]
    moved = Vma(new_addr, new_addr + new_len, first.prot, first.flags, first.file,
                first.file_offset(addr) if first.file or first.special else 0, first.name,
                first.special).hold()
    pt = mm.pt
    delta = (new_addr - addr) >> PAGE_SHIFT
    for vpn in [v for v in range(addr >> PAGE_SHIFT, old_end >> PAGE_SHIFT) if v in pt]:
        pt[vpn + delta] = pt.pop(vpn)
    mm.mmu.flush_tlb()
    if not flags & MREMAP_DONTUNMAP:
        for piece in pieces if old_len else []:
            mm.vmas.remove(piece)
            piece.release()
        mm._reindex()
    mm.insert_vma(moved)
    if moved.special is not None:
        moved.special.mremap(mm, moved)  # special_mapping_mremap: the vDSO's new home
    return new_addr


# -- brk -----------------------------------------------------------------------------


def do_brk(mm: Mm, brk: int, data_limit: int) -> int:
    """Move the program break (SYSCALL_DEFINE1(brk)); returns the resulting break."""
    origbrk = mm.brk
    if brk < mm.start_brk:
        return origbrk
    if data_limit != -1 and (brk - mm.start_brk) + (mm.end_data - mm.start_data) > data_limit:
        return origbrk
    newbrk, oldbrk = page_align(brk), page_align(mm.brk)
    if oldbrk == newbrk:
        mm.brk = brk
        return brk
    if brk <= mm.brk:
        vma = mm.find_vma(newbrk)
        if vma is None or vma.start >= oldbrk:
            return origbrk
        mm.brk = brk
        mm.remove_range(newbrk, oldbrk)
        return brk
    try:
        get_unmapped_area(mm, oldbrk, newbrk - oldbrk, MAP_FIXED)
    except KernelError:
        return origbrk
    nxt = mm.find_vma(oldbrk)
    if nxt is not None and nxt.start < newbrk + PAGE_SIZE + STACK_GUARD_GAP:
        if newbrk + PAGE_SIZE > _vm_start_gap(nxt):
            return origbrk
    heap = mm.vma_at(oldbrk - 1) if oldbrk > mm.start_brk else None
    if heap is not None and heap.name == "[heap]" and heap.end == oldbrk:
        heap.end = newbrk
        mm.merge_range(heap.start, newbrk)
    else:
        mm.insert_vma(Vma(oldbrk, newbrk, PROT_READ | PROT_WRITE, BRK_FLAGS, name="[heap]"))
    mm.brk = brk
    return brk
