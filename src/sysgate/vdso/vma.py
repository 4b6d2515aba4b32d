"""Mapping the vDSO and its vvar pages into a new program.

Counterpart: arch/x86/entry/vdso/vma.c (map_vdso, vdso_fault, vvar_fault, vdso_mremap)
and mm/mmap.c (_install_special_mapping). At exec, after the program and its
interpreter, map_vdso finds room for the vvar pages and the image together in the mmap
area (top-down, as get_unmapped_area does; the vDSO is not randomised separately in
Linux 6.12) and installs two special mappings:

    [vvar]  VVAR_PAGES pages, r--, VM_READ|VM_MAYREAD|VM_IO|VM_DONTDUMP|VM_PFNMAP:
            page 0 is the kernel's vvar page (one frame for every process, which only
            the kernel writes); pages 1-3 (pvclock, hvclock, time namespace) give
            SIGBUS, as on a host without them;
    [vdso]  the image, r-x, VM_MAYREAD|VM_MAYWRITE|VM_MAYEXEC: each process gets
            private copies of its pages on first touch, so a debugger's mprotect and
            write (MAYWRITE "to allow gdb to COW and set breakpoints") stays private.

arch_prctl(ARCH_MAP_VDSO_64) maps them again into a process that has neither
(map_vdso_once). Special mappings cannot be split (partial munmap, mprotect or mremap: EINVAL), grown
(mremap: EFAULT) or left behind (MREMAP_DONTUNMAP: EINVAL); they can be unmapped or
moved whole, and moving the vDSO updates mm.vdso as vdso_mremap does.
"""

from __future__ import annotations

import os
import weakref
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.mm.mmap import get_unmapped_area
from sysgate.mm.physmem import PAGE_SIZE, PhysMem
from sysgate.mm.vma import (
    VM_DONTDUMP,
    VM_DONTEXPAND,
    VM_IO,
    VM_MAYEXEC,
    VM_MAYREAD,
    VM_MAYWRITE,
    VM_PFNMAP,
    Vma,
)
from sysgate.uapi.errno import Errno
from sysgate.uapi.mman import PROT_EXEC, PROT_READ
from sysgate.vdso.image import vdso_image
from sysgate.vdso.timekeeping import Timekeeper
from sysgate.vdso.vvar import VVAR_PAGES, VVAR_SIZE, VdsoData, VvarPage

if TYPE_CHECKING:
    from sysgate.mm.mm import Mm

VDSO_FLAGS = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_DONTEXPAND
VVAR_FLAGS = VM_MAYREAD | VM_IO | VM_DONTDUMP | VM_PFNMAP | VM_DONTEXPAND

_vvar_frames: weakref.WeakKeyDictionary[PhysMem, int] = weakref.WeakKeyDictionary()


def vvar_frame(phys: PhysMem) -> int:
    """The pfn of the vvar page in `phys` (the kernel's __vvar_page), made at first use.

    It is a page of its own host mapping (a memfd), outside the frame allocator: it is
    never freed when a process unmaps it, and the kernel writes it through `phys.page`.
    """
    pfn = _vvar_frames.get(phys)
    if pfn is None:
        fd = os.memfd_create("sysgate-vvar", os.MFD_CLOEXEC)
        try:
            os.ftruncate(fd, PAGE_SIZE)
            pfn = phys.map_file(fd, 0, PAGE_SIZE, writable=True)
        finally:
            os.close(fd)
        VvarPage(phys.page(pfn)).update([VdsoData(), VdsoData()])  # no clock yet: syscalls
        _vvar_frames[phys] = pfn
    return pfn


class VdsoMapping:
    """vdso_mapping: the image's pages, copied into a fresh frame at each fault."""

    name = "[vdso]"

    def fault(self, phys: PhysMem, offset: int) -> int | None:
        data = vdso_image().data
        if offset >= len(data):
            return None  # past the image (a moved or grown mapping): SIGBUS
        pfn = phys.alloc()
        phys.page(pfn)[:] = data[offset : offset + PAGE_SIZE]
        return pfn

    def mremap(self, mm: Mm, vma: Vma) -> None:
        mm.vdso = vma.start


class VvarMapping:
    """vvar_mapping: page 0 is the vvar page; the others do not exist (SIGBUS)."""

    name = "[vvar]"

    def fault(self, phys: PhysMem, offset: int) -> int | None:
        if offset != 0:
            return None
        return vvar_frame(phys)

    def mremap(self, mm: Mm, vma: Vma) -> None:
        pass


VDSO_MAPPING = VdsoMapping()
VVAR_MAPPING = VvarMapping()


def map_vdso(mm: Mm, hint: int = 0) -> int:
    """Map [vvar] and [vdso] into `mm`, at `hint` if it is free; return the vDSO's
    address, AT_SYSINFO_EHDR. KernelError (ENOMEM) when there is no room."""
    size = vdso_image().size
    addr = get_unmapped_area(mm, hint, size + VVAR_SIZE, 0)
    text = addr + VVAR_SIZE
    mm.insert_vma(Vma(text, text + size, PROT_READ | PROT_EXEC, VDSO_FLAGS, name=VDSO_MAPPING.name,
                      special=VDSO_MAPPING))
    mm.insert_vma(Vma(addr, addr + VVAR_PAGES * PAGE_SIZE, PROT_READ, VVAR_FLAGS, name=VVAR_MAPPING.name,
                      special=VVAR_MAPPING))
    mm.vdso = text
    return text


def map_vdso_once(mm: Mm, hint: int) -> int:
    """arch_prctl(ARCH_MAP_VDSO_64) (CRIU restoring a process): EEXIST while a [vdso] or
    [vvar] is mapped, else map both and return the image's size (prctl_map_vdso)."""
    if any(v.special in (VDSO_MAPPING, VVAR_MAPPING) for v in mm.vmas):
        raise KernelError(Errno.EEXIST)
    map_vdso(mm, hint)
    return vdso_image().size


def arch_setup_additional_pages(mm: Mm) -> int:
    """What exec adds to every x86-64 program: the vDSO (its address is returned for
    AT_SYSINFO_EHDR) and the vsyscall gate area (arch_setup_new_exec)."""
    mm.vsyscall = True
    return map_vdso(mm)


def start_timekeeping(phys: PhysMem) -> Timekeeper:
    """Calibrate (once per process), publish the clocks in `phys`'s vvar page and keep
    them current until the returned Timekeeper is stopped."""
    from sysgate.cpu.tsc import read_tsc

    keeper = Timekeeper(VvarPage(phys.page(vvar_frame(phys))), read_tsc)
    keeper.start()
    return keeper
