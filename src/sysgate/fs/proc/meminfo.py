"""/proc/meminfo: the system's memory.

Counterpart: fs/proc/meminfo.c (meminfo_proc_show), with the lines a Debian amd64
6.12 kernel's configuration adds (zswap, memory failure, transparent huge pages,
hugetlb, x86's DirectMap). MemTotal, MemFree, Buffers, Shmem and the swap lines are
sysinfo(2)'s figures (sysgate.kernel.sys_utsname.do_sysinfo), so the two agree; the
page counts of the guest's processes (anonymous, file and shared memory, page tables,
committed memory) are summed from their address spaces. What sysgate's kernel does not
have (a slab allocator, swap, huge pages, writeback) reads 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sysgate.fs.proc.task_mmu import MmCounters, mm_counters
from sysgate.kernel.sys_utsname import do_sysinfo
from sysgate.mm.physmem import PAGE_SHIFT

if TYPE_CHECKING:
    from sysgate.kernel.kernel import Kernel
    from sysgate.kernel.task import Task

THREAD_SIZE_KB = 16
"""Each task's kernel stack (arch/x86/include/asm/page_64_types.h: 16 KiB)."""
VMALLOC_TOTAL_KB = 34359738367
"""4-level paging's vmalloc area (VMALLOC_TOTAL >> 10), as every x86-64 kernel prints."""
OVERCOMMIT_RATIO = 50
"""vm.overcommit_ratio's default: CommitLimit is half of RAM plus swap."""


def guest_counters(kernel: Kernel) -> MmCounters:
    """The counters of every distinct address space of the guest's tasks, added up."""
    total = MmCounters()
    seen: set[int] = set()
    for task in kernel.tasks.values():
        mm = task.mm
        if mm is None or id(mm) in seen:
            continue
        seen.add(id(mm))
        c = mm_counters(mm)
        total.anon += c.anon
        total.file += c.file
        total.shmem += c.shmem
        total.pgtables_bytes += c.pgtables_bytes
        total.data_vm += c.data_vm + c.stack_vm
    return total


def show_meminfo(t: Task) -> bytes:
    k = t.kernel
    si = do_sysinfo(k)
    c = guest_counters(k)

    def kb(pages: int) -> int:
        return pages << (PAGE_SHIFT - 10)

    total, free = si.totalram >> 10, si.freeram >> 10
    shmem = max(si.sharedram >> 10, kb(c.shmem))
    cached = kb(c.file) + shmem
    lines = [
        ("MemTotal:", total), ("MemFree:", free), ("MemAvailable:", free), ("Buffers:", si.bufferram >> 10),
        ("Cached:", cached), ("SwapCached:", 0),
        ("Active:", kb(c.anon) + cached), ("Inactive:", 0),
        ("Active(anon):", kb(c.anon) + shmem), ("Inactive(anon):", 0),
        ("Active(file):", kb(c.file)), ("Inactive(file):", 0), ("Unevictable:", 0), ("Mlocked:", 0),
        ("SwapTotal:", si.totalswap >> 10), ("SwapFree:", si.freeswap >> 10), ("Zswap:", 0), ("Zswapped:", 0),
        ("Dirty:", 0), ("Writeback:", 0), ("AnonPages:", kb(c.anon)), ("Mapped:", kb(c.file) + shmem),
        ("Shmem:", shmem), ("KReclaimable:", 0), ("Slab:", 0), ("SReclaimable:", 0), ("SUnreclaim:", 0),
        ("KernelStack:", THREAD_SIZE_KB * len(k.tasks)), ("PageTables:", c.pgtables_bytes >> 10),
        ("SecPageTables:", 0), ("NFS_Unstable:", 0), ("Bounce:", 0), ("WritebackTmp:", 0),
        ("CommitLimit:", total * OVERCOMMIT_RATIO // 100 + (si.totalswap >> 10)),
        ("Committed_AS:", kb(c.data_vm)), ("VmallocTotal:", VMALLOC_TOTAL_KB), ("VmallocUsed:", 0),
        ("VmallocChunk:", 0), ("Percpu:", 0),
    ]
    out = [f"{label:<16}{value:>8} kB\n" for label, value in lines]
    out.append(f"HardwareCorrupted: {0:>5} kB\n")
    out += [f"{label:<16}{0:>8} kB\n" for label in
            ("AnonHugePages:", "ShmemHugePages:", "ShmemPmdMapped:", "FileHugePages:", "FilePmdMapped:",
             "Unaccepted:")]
    out += [f"{label:<16}{0:>8}\n" for label in
            ("HugePages_Total:", "HugePages_Free:", "HugePages_Rsvd:", "HugePages_Surp:")]
    out += [f"{'Hugepagesize:':<16}{2048:>8} kB\n", f"{'Hugetlb:':<16}{0:>8} kB\n"]
    out += [f"{'DirectMap4k:':<16}{total:>8} kB\n", f"{'DirectMap2M:':<16}{0:>8} kB\n",
            f"{'DirectMap1G:':<16}{0:>8} kB\n"]
    return "".join(out).encode()
