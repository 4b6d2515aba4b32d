"""/proc/PID/maps and smaps, and the memory figures of status, stat and statm.

Counterpart: fs/proc/task_mmu.c (show_map_vma, get_vma_name, task_mem, task_statm,
show_smap) and the counters of include/linux/mm_types.h (total_vm, data_vm, exec_vm,
stack_vm, locked_vm; the rss counters) as mm/mmap.c's vm_stat_account keeps them.
The counters are computed from the VMAs and the page table when a file is read.

Differences from Linux: a private file page is copied into an anonymous frame at first
touch, so sysgate cannot tell a written private page from a read one: pages of private
file mappings count as file pages (RssFile) while the mapping is read-only and as
anonymous pages (RssAnon) while it is writable. smaps counts every resident page as
mapped once and referenced, anonymous pages as dirty and file pages as clean; there is
no swap.
"""

from __future__ import annotations

import ctypes
import os
from bisect import bisect_left
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sysgate.mm.physmem import PAGE_SHIFT, PAGE_SIZE
from sysgate.mm.vma import VM_GROWSDOWN, VM_LOCKED, VM_MAYSHARE, VM_SHARED, MappedFile
from sysgate.uapi.mman import PROT_EXEC, PROT_READ, PROT_WRITE

if TYPE_CHECKING:
    from sysgate.mm.mm import Mm
    from sysgate.mm.vma import Vma

TMPFS_MAGIC = 0x01021994
"""A page of a file on tmpfs (shmem, memfd, shared anonymous memory) is a shmem page."""
_NO_NAME = ("", "[heap]", "[stack]")
"""Vma.name values the heap/stack rules decide instead (vma_is_initial_heap/stack)."""


@dataclass(slots=True)
class MmCounters:
    """The figures task_mem and task_statm print, in pages (pgtables in bytes)."""

    total_vm: int = 0
    locked_vm: int = 0
    data_vm: int = 0
    exec_vm: int = 0
    stack_vm: int = 0
    anon: int = 0
    file: int = 0
    shmem: int = 0
    pgtables_bytes: int = 0
    hiwater_vm: int = 0
    hiwater_rss: int = 0

    @property
    def rss(self) -> int:
        return self.anon + self.file + self.shmem


def _is_shmem(file: MappedFile, cache: dict[int, bool]) -> bool:
    key = id(file)
    if key not in cache:
        cache[key] = _fstatfs_type(file.fd) == TMPFS_MAGIC
    return cache[key]


def _fstatfs_type(fd: int) -> int:
    from sysgate.fs.sys_statfs import host_statfs

    try:
        raw = host_statfs(fd)
    except Exception:  # noqa: BLE001 - a file we cannot ask about is not shmem
        return 0
    return ctypes.c_long.from_buffer_copy(raw[:8]).value


def _vm_write(vma: Vma) -> bool:
    return bool(vma.prot & PROT_WRITE)


def mm_counters(mm: Mm) -> MmCounters:
    """Count what mm_struct keeps: VMA pages by kind (vm_stat_account) and resident pages
    by kind (the MM_*PAGES counters), from the VMAs and the page table."""
    c = MmCounters()
    vpns = sorted(mm.pt)
    shmem_cache: dict[int, bool] = {}
    for vma in mm.vmas:
        pages = (vma.end - vma.start) >> PAGE_SHIFT
        c.total_vm += pages
        stack = bool(vma.flags & VM_GROWSDOWN)
        write = _vm_write(vma)
        if vma.flags & VM_LOCKED:
            c.locked_vm += pages
        if stack:
            c.stack_vm += pages
        elif write and not vma.flags & VM_SHARED:
            c.data_vm += pages
        elif vma.prot & PROT_EXEC and not write:
            c.exec_vm += pages
        present = bisect_left(vpns, vma.end >> PAGE_SHIFT) - bisect_left(vpns, vma.start >> PAGE_SHIFT)
        if vma.special is not None:  # [vdso], [vvar]: the kernel's pages, not anonymous
            c.file += present
        elif vma.file is None:
            c.anon += present
        elif _is_shmem(vma.file, shmem_cache):
            c.shmem += present
        elif vma.flags & VM_MAYSHARE or not write:
            c.file += present
        else:
            c.anon += present
    tables = 0
    for shift in (9, 18, 27):  # the PTE, PMD and PUD pages that map the present pages
        tables += len({v >> shift for v in vpns})
    c.pgtables_bytes = tables * PAGE_SIZE
    c.hiwater_vm = max(c.total_vm, mm.hiwater_vm)
    c.hiwater_rss = max(c.rss, mm.hiwater_rss)
    return c


def _kb(pages: int) -> int:
    return pages << (PAGE_SHIFT - 10)


def task_mem(mm: Mm) -> str:
    """The Vm* and Rss* lines of /proc/PID/status (task_mem, hugetlb_report_usage)."""
    c = mm_counters(mm)
    text = _page_align(mm.end_code) - (mm.start_code & ~(PAGE_SIZE - 1))
    text = min(text, c.exec_vm << PAGE_SHIFT)
    lib = (c.exec_vm << PAGE_SHIFT) - text
    lines = [
        ("VmPeak:\t", _kb(c.hiwater_vm)), ("VmSize:\t", _kb(c.total_vm)), ("VmLck:\t", _kb(c.locked_vm)),
        ("VmPin:\t", 0), ("VmHWM:\t", _kb(c.hiwater_rss)), ("VmRSS:\t", _kb(c.rss)),
        ("RssAnon:\t", _kb(c.anon)), ("RssFile:\t", _kb(c.file)), ("RssShmem:\t", _kb(c.shmem)),
        ("VmData:\t", _kb(c.data_vm)), ("VmStk:\t", _kb(c.stack_vm)), ("VmExe:\t", text >> 10),
        ("VmLib:\t", lib >> 10), ("VmPTE:\t", c.pgtables_bytes >> 10), ("VmSwap:\t", 0),
        ("HugetlbPages:\t", 0),
    ]
    return "".join(f"{label}{value:>8} kB\n" for label, value in lines)


def _page_align(n: int) -> int:
    return (n + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


def task_statm(mm: Mm) -> tuple[int, int, int, int, int]:
    """size, resident, shared, text, data in pages (task_statm)."""
    c = mm_counters(mm)
    shared = c.file + c.shmem
    text = (_page_align(mm.end_code) - (mm.start_code & ~(PAGE_SIZE - 1))) >> PAGE_SHIFT
    return c.total_vm, shared + c.anon, shared, text, c.data_vm + c.stack_vm


def show_statm(mm: Mm | None) -> bytes:
    """/proc/PID/statm: size resident shared text lib(0) data dt(0)."""
    if mm is None:
        return b"0 0 0 0 0 0 0\n"
    size, resident, shared, text, data = task_statm(mm)
    return b"%d %d %d %d 0 %d 0\n" % (size, resident, shared, text, data)


# -- maps ---------------------------------------------------------------------------------


def vma_name(mm: Mm, vma: Vma) -> str | None:
    """What get_vma_name names a mapping, in its order: the file's path; a special
    mapping's name ([vdso], [vvar]: vm_ops->name); [heap] for the VMA around the brk
    area; [stack] for the VMA holding the initial stack pointer; else a name the VMA was
    given ([anon:...]), or nothing."""
    if vma.file is not None:
        return vma.file.d_path().replace("\n", "\\012")  # seq_path(m, path, "\n")
    if vma.special is not None:
        return vma.special.name
    if vma.start < mm.brk and vma.end > mm.start_brk:
        return "[heap]"
    if vma.start <= mm.start_stack <= vma.end:
        return "[stack]"
    if vma.name not in _NO_NAME:
        return vma.name
    return None


def _flags(vma: Vma) -> str:
    return "".join((
        "r" if vma.prot & PROT_READ else "-",
        "w" if vma.prot & PROT_WRITE else "-",
        "x" if vma.prot & PROT_EXEC else "-",
        "s" if vma.flags & VM_MAYSHARE else "p",
    ))


def header(start: int, end: int, flags: str, pgoff: int, dev: int, ino: int) -> str:
    """show_vma_header_prefix: "start-end flags offset major:minor inode " (hex at least
    8 digits, device numbers at least 2)."""
    return "%08x-%08x %s %08x %02x:%02x %d " % (start, end, flags, pgoff, os.major(dev), os.minor(dev), ino)


def with_name(prefix: str, name: str | None) -> str:
    """seq_pad: the name starts in column 74 (the prefix padded to 25 + 6 * 8 - 1 = 72
    characters, then a space); a line without a name ends with the prefix's space."""
    if name is None:
        return prefix + "\n"
    return prefix.ljust(72) + " " + name + "\n"


def map_line(mm: Mm, vma: Vma) -> str:
    dev = ino = pgoff = 0
    if vma.file is not None:
        dev, ino, pgoff = vma.file.dev, vma.file.ino, vma.pgoff
    return with_name(header(vma.start, vma.end, _flags(vma), pgoff, dev, ino), vma_name(mm, vma))


def gate_line(mm: Mm) -> str:
    """The [vsyscall] line, which Linux prints after every VMA (the gate area is not in
    the VMA list): present when the address space has the vsyscall page."""
    if not mm.vsyscall:
        return ""
    start = 0xFFFFFFFFFF600000
    return with_name(header(start, start + PAGE_SIZE, "--xp", 0, 0, 0), "[vsyscall]")


def show_maps(mm: Mm) -> bytes:
    """/proc/PID/maps in Linux's format (show_map_vma for each VMA, then the gate area)."""
    return ("".join(map_line(mm, vma) for vma in mm.vmas) + gate_line(mm)).encode(errors="surrogateescape")


# -- smaps --------------------------------------------------------------------------------

_SMAP_FIELDS = ("Rss", "Pss", "Pss_Dirty", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty",
                "Referenced", "Anonymous", "KSM", "LazyFree", "AnonHugePages", "ShmemPmdMapped",
                "FilePmdMapped", "Shared_Hugetlb", "Private_Hugetlb", "Swap", "SwapPss", "Locked")


def _smap_body(size_kb: int, rss_kb: int, anon_kb: int, locked: bool) -> str:
    """The counters of one VMA: every page is mapped once (Private), anonymous pages are
    dirty, file pages clean."""
    values = dict.fromkeys(_SMAP_FIELDS, 0)
    values["Rss"] = values["Pss"] = values["Referenced"] = rss_kb
    values["Pss_Dirty"] = values["Private_Dirty"] = values["Anonymous"] = anon_kb
    values["Private_Clean"] = rss_kb - anon_kb
    values["Locked"] = rss_kb if locked else 0
    out = [f"{'Size:':<16}{size_kb:>8} kB\n", f"{'KernelPageSize:':<16}{4:>8} kB\n",
           f"{'MMUPageSize:':<16}{4:>8} kB\n"]
    out += [f"{name + ':':<16}{values[name]:>8} kB\n" for name in _SMAP_FIELDS]
    return "".join(out)


def show_smaps(mm: Mm) -> bytes:
    """/proc/PID/smaps (show_smap): each maps line, then its sizes, THPeligible and
    VmFlags."""
    vpns = sorted(mm.pt)
    out = []
    for vma in mm.vmas:
        present = bisect_left(vpns, vma.end >> PAGE_SHIFT) - bisect_left(vpns, vma.start >> PAGE_SHIFT)
        rss = _kb(present)
        if vma.file is None:
            anon = rss if vma.special is None else 0
        else:
            anon = rss if _vm_write(vma) and not vma.flags & VM_MAYSHARE else 0
        out.append(map_line(mm, vma))
        out.append(_smap_body(_kb((vma.end - vma.start) >> PAGE_SHIFT), rss, anon, bool(vma.flags & VM_LOCKED)))
        out.append(f"{'THPeligible:':<16}{0:>8}\n")
        out.append("VmFlags: " + vm_flags_names(vma) + "\n")
    return "".join(out).encode(errors="surrogateescape")


_VM_FLAG_NAMES = (  # show_smap_vma_flags, in bit order (include/linux/mm.h)
    (0x1, "rd"), (0x2, "wr"), (0x4, "ex"), (0x8, "sh"), (0x10, "mr"), (0x20, "mw"), (0x40, "me"),
    (0x80, "ms"), (0x100, "gd"), (0x200, "um"), (0x400, "pf"), (0x1000, "uw"), (0x2000, "lo"),
    (0x4000, "io"), (0x8000, "sr"), (0x10000, "rr"), (0x20000, "dc"), (0x40000, "de"), (0x80000, "lf"),
    (0x100000, "ac"), (0x200000, "nr"), (0x400000, "ht"), (0x800000, "sf"), (0x1000000, "ar"),
    (0x2000000, "wf"), (0x4000000, "dd"), (0x8000000, "sd"), (0x10000000, "mm"), (0x20000000, "hg"),
    (0x40000000, "nh"), (0x80000000, "mg"),
)


def vm_flags_names(vma: Vma) -> str:
    """The two-letter names of a VMA's flags, each followed by a space."""
    flags = vma.flags & ~0x7
    flags |= (0x1 if vma.prot & PROT_READ else 0) | (0x2 if vma.prot & PROT_WRITE else 0)
    flags |= 0x4 if vma.prot & PROT_EXEC else 0
    return "".join(name + " " for bit, name in _VM_FLAG_NAMES if flags & bit)
