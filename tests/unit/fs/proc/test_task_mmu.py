"""maps, smaps and the memory figures of status and statm (fs/proc/task_mmu.c)."""

from __future__ import annotations

import os
from pathlib import Path

from sysgate.fs.proc import task_mmu
from sysgate.fs.proc.task_mmu import mm_counters, show_maps, show_smaps, show_statm, task_mem
from sysgate.kernel.task import Task
from sysgate.mm.mm import Mm
from sysgate.mm.physmem import PhysMem
from sysgate.mm.vma import VM_GROWSDOWN, VM_MAYEXEC, VM_MAYREAD, VM_MAYSHARE, VM_MAYWRITE, VM_SHARED, MappedFile, Vma
from sysgate.uapi.mman import PROT_EXEC, PROT_READ, PROT_WRITE
from tests.unit.fs.proc.conftest import read_proc

RW, RX, R = PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC, PROT_READ
MAY = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC


class Special:
    """A special mapping as the vDSO code makes one: a name and pages."""

    def __init__(self, name: str) -> None:
        self.name = name

    def fault(self, phys: PhysMem, offset: int) -> int | None:
        return None

    def mremap(self, mm: Mm, vma: Vma) -> None:
        pass


def mapped(tmp_path: Path, data: bytes, name: str = "lib.so") -> MappedFile:
    path = tmp_path / name
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        return MappedFile(fd, str(path), writable=False, host_named=True)
    finally:
        os.close(fd)


def test_line_format(task: Task, tmp_path: Path) -> None:
    """show_vma_header_prefix, then the name in column 74 (seq_pad to 72 + a space)."""
    mm = task.mm
    f = mapped(tmp_path, b"x" * 0x3000)
    mm.insert_vma(Vma(0x400000, 0x401000, R, MAY, f.get(), 0x2000))
    line = task_mmu.map_line(mm, mm.vma_at(0x400000))  # type: ignore[arg-type]
    st = os.stat(tmp_path / "lib.so")
    prefix = "00400000-00401000 r--p 00002000 %02x:%02x %d " % (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    assert line == prefix.ljust(72) + " " + str(tmp_path / "lib.so") + "\n"
    anon = task_mmu.map_line(mm, mm.vma_at(0x10000000))  # type: ignore[arg-type]
    assert anon == "10000000-10010000 rw-p 00000000 00:00 0 \n"  # no name: the prefix's space ends it


def test_long_prefix_is_not_padded(task: Task) -> None:
    """A prefix of 72 characters or more gets just the one space before the name."""
    prefix = task_mmu.header(0x7FFFF7000000, 0x7FFFF7001000, "rw-p", 0x1234567890ABCDEF, 0xFE01, 12345678901234567890)
    assert len(prefix) > 72
    assert task_mmu.with_name(prefix, "[x]") == prefix + " [x]\n"


def test_names(task: Task, tmp_path: Path) -> None:
    mm = task.mm
    mm.start_brk, mm.brk = 0x600000, 0x601800
    mm.insert_vma(Vma(0x600000, 0x602000, RW))  # the brk area: [heap] whatever it is called
    mm.insert_vma(Vma(0x7FFFF0000000, 0x7FFFF0021000, RW, MAY | VM_GROWSDOWN))
    mm.start_stack = 0x7FFFF0020F00
    mm.insert_vma(Vma(0x7FFFF7FF0000, 0x7FFFF7FF2000, RX, MAY, special=Special("[vdso]")))
    mm.insert_vma(Vma(0x7FFFF7FE0000, 0x7FFFF7FE1000, RW, MAY, name="[anon:mine]"))
    named = {line[73:] for line in show_maps(mm).decode().splitlines() if len(line) > 73}
    assert named == {"[heap]", "[stack]", "[vdso]", "[anon:mine]"}


def test_file_names_escape_newlines(task: Task, tmp_path: Path) -> None:
    f = mapped(tmp_path, b"x" * 4096, "a\nb")
    task.mm.insert_vma(Vma(0x400000, 0x401000, R, MAY, f.get()))
    assert show_maps(task.mm).decode().splitlines()[0].endswith("/a\\012b")


def test_vsyscall_comes_last(task: Task) -> None:
    mm = task.mm
    assert "[vsyscall]" not in show_maps(mm).decode()
    mm.vsyscall = True
    last = show_maps(mm).decode().splitlines()[-1]
    assert last == "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0".ljust(72) + " [vsyscall]"


def test_shared_mappings_show_s(task: Task, tmp_path: Path) -> None:
    f = mapped(tmp_path, b"x" * 4096)
    task.mm.insert_vma(Vma(0x400000, 0x401000, R, MAY | VM_MAYSHARE, f.get()))
    assert show_maps(task.mm).decode().startswith("00400000-00401000 r--s ")


def test_counters_follow_vm_stat_account(task: Task, tmp_path: Path) -> None:
    mm = task.mm  # the fixture maps 64 KiB rw, 4 KiB r and 4 KiB rw
    f = mapped(tmp_path, b"x" * 0x4000)
    mm.insert_vma(Vma(0x400000, 0x402000, RX, MAY, f.get()))  # exec: 2 pages
    mm.insert_vma(Vma(0x7FFF0000000, 0x7FFF0004000, RW, MAY | VM_GROWSDOWN))  # stack: 4 pages
    mm.insert_vma(Vma(0x500000, 0x501000, RW, MAY | VM_SHARED | VM_MAYSHARE, f.get()))  # shared: no data
    c = mm_counters(mm)
    assert (c.total_vm, c.exec_vm, c.stack_vm, c.data_vm) == (16 + 1 + 1 + 2 + 4 + 1, 2, 4, 16 + 1)
    mm.write(0x10000000, b"a")  # one anonymous page
    mm.read(0x400000, 1)  # one file page
    c = mm_counters(mm)
    assert (c.anon, c.file, c.shmem) == (1, 1, 0)
    assert c.pgtables_bytes == 4 * 4096  # a PTE page for each of two 2 MiB regions, one PMD and one PUD


def test_peaks_stay_after_unmapping(task: Task) -> None:
    mm = task.mm
    mm.write(0x10000000, b"a" * 0x8000)
    before = mm_counters(mm)
    mm.remove_range(0x10000000, 0x10010000)
    after = mm_counters(mm)
    assert after.total_vm < before.total_vm and after.rss < before.rss
    assert (after.hiwater_vm, after.hiwater_rss) == (before.total_vm, before.rss)


def test_status_lines(task: Task) -> None:
    lines = task_mem(task.mm).splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "VmPeak", "VmSize", "VmLck", "VmPin", "VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem", "VmData",
        "VmStk", "VmExe", "VmLib", "VmPTE", "VmSwap", "HugetlbPages"]
    assert lines[1] == "VmSize:\t      72 kB"  # 18 pages, right-aligned in 8 columns


def test_statm(task: Task) -> None:
    task.mm.write(0x10000000, b"a")
    assert show_statm(task.mm) == b"18 1 0 0 0 17 0\n"
    assert show_statm(None) == b"0 0 0 0 0 0 0\n"
    assert read_proc(task, "/proc/self/statm").split()[0] == b"18"


def test_smaps_blocks(task: Task) -> None:
    task.mm.write(0x10000000, b"a")
    text = show_smaps(task.mm).decode()
    block = text.split("10000000-10010000 rw-p")[1].split("\n")[1:]
    assert block[0] == "Size:                 64 kB"
    assert block[3] == "Rss:                   4 kB"
    assert [b.split(":")[0] for b in block[:24]] == [
        "Size", "KernelPageSize", "MMUPageSize", "Rss", "Pss", "Pss_Dirty", "Shared_Clean", "Shared_Dirty",
        "Private_Clean", "Private_Dirty", "Referenced", "Anonymous", "KSM", "LazyFree", "AnonHugePages",
        "ShmemPmdMapped", "FilePmdMapped", "Shared_Hugetlb", "Private_Hugetlb", "Swap", "SwapPss", "Locked",
        "THPeligible", "VmFlags"]
    assert block[9] == "Private_Dirty:         4 kB"
    assert block[23] == "VmFlags: rd wr mr mw me "
