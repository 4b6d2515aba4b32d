"""Loading an ELF program into a fresh address space.

Counterpart: fs/binfmt_elf.c (load_elf_binary, elf_load, elf_map, load_elf_interp) and
arch/x86/mm/mmap.c (arch_pick_mmap_layout). ET_EXEC programs go where their headers
say; PIE programs with an interpreter at ELF_ET_DYN_BASE; static PIE programs and
interpreters run directly go into the mmap area, with the break moved to
ELF_ET_DYN_BASE, as Linux 6.12 does. Randomisation is off (as under `setarch -R`), so
addresses are reproducible.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.exec.elf import (
    ET_DYN,
    PF_R,
    PF_W,
    PF_X,
    PT_GNU_STACK,
    PT_INTERP,
    ElfFile,
    Phdr,
    maximum_alignment,
    parse_elf,
    total_mapping_size,
)
from sysgate.exec.stack import create_elf_tables, setup_stack
from sysgate.mm.mm import Mm
from sysgate.mm.mmap import FileMapping, do_mmap, do_munmap
from sysgate.mm.physmem import PAGE_MASK, PAGE_SIZE, page_align
from sysgate.mm.vma import Vma
from sysgate.uapi import auxvec as at
from sysgate.uapi.errno import Errno
from sysgate.uapi.mman import MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE

if TYPE_CHECKING:
    from sysgate.fs.file import File

BINPRM_BUF_SIZE = 256
DEFAULT_MAP_WINDOW = (1 << 47) - PAGE_SIZE
ELF_ET_DYN_BASE = DEFAULT_MAP_WINDOW // 3 * 2
STACK_TOP = DEFAULT_MAP_WINDOW
SIZE_128M = 128 << 20
STACK_GUARD_GAP = 256 * PAGE_SIZE


@dataclass(slots=True)
class ExecImage:
    """An opened program: its header, and the interpreter it names if any."""

    file: File
    elf: ElfFile
    interp: ExecImage | None = None


@dataclass(slots=True)
class LoadResult:
    """Where the new program starts."""

    entry: int
    sp: int


def read_file_at(file: File, offset: int, size: int) -> bytes:
    fd = file.host_fd
    if fd is None:
        raise KernelError(Errno.ENOEXEC)
    try:
        return os.pread(fd, size, offset)
    except OSError:
        raise KernelError(Errno.EIO) from None


def parse_image(file: File, machine: int) -> ElfFile:
    head = read_file_at(file, 0, BINPRM_BUF_SIZE)
    return parse_elf(head, lambda off, size: read_file_at(file, off, size), machine)


def interp_path(file: File, elf: ElfFile) -> bytes | None:
    """The PT_INTERP string, checked as load_elf_binary checks it."""
    for ph in elf.phdrs:
        if ph.type == PT_INTERP:
            if ph.filesz > 4096 or ph.filesz < 2:
                raise KernelError(Errno.ENOEXEC)
            data = read_file_at(file, ph.offset, ph.filesz)
            if len(data) != ph.filesz:
                raise KernelError(Errno.EIO)
            if data[-1] != 0:
                raise KernelError(Errno.ENOEXEC)
            return data[:-1]
    return None


def mmap_base(stack_limit: int, task_size: int = DEFAULT_MAP_WINDOW) -> int:
    """Top of the mmap area without randomisation (arch/x86/mm/mmap.c: mmap_base)."""
    gap = stack_limit
    pad = STACK_GUARD_GAP
    if gap + pad > gap:
        gap += pad
    gap = min(max(gap, SIZE_128M), task_size // 6 * 5)
    return page_align(task_size - gap)


def make_prot(p_flags: int) -> int:
    return (PROT_READ if p_flags & PF_R else 0) | (PROT_WRITE if p_flags & PF_W else 0) | (
        PROT_EXEC if p_flags & PF_X else 0
    )


def elf_load(mm: Mm, mapping: FileMapping, addr: int, ph: Phdr, prot: int, flags: int,
             total_size: int) -> int:
    """Map one PT_LOAD at `addr` and zero what lies past its file data (elf_load)."""
    off_in_page = ph.vaddr & (PAGE_SIZE - 1)
    if ph.filesz:
        size = page_align(ph.filesz + off_in_page)
        off = ph.offset - off_in_page
        page = addr & PAGE_MASK
        if total_size:
            map_addr = do_mmap(mm, page, page_align(total_size), prot, flags, mapping, off)
            if page_align(total_size) > size:
                do_munmap(mm, map_addr + size, page_align(total_size) - size)
        else:
            map_addr = do_mmap(mm, page, size, prot, flags, mapping, off)
        zero_start = map_addr + off_in_page + ph.filesz
        zero_end = map_addr + off_in_page + ph.memsz
        if ph.memsz > ph.filesz and prot & PROT_WRITE and zero_start & (PAGE_SIZE - 1):
            mm.write(zero_start, bytes(PAGE_SIZE - (zero_start & (PAGE_SIZE - 1))))  # padzero
    else:
        map_addr = zero_start = addr & PAGE_MASK
        zero_end = zero_start + off_in_page + ph.memsz
    if ph.memsz > ph.filesz:
        start, end = page_align(zero_start), page_align(zero_end)
        if end > start:
            # vm_brk_flags: anonymous read-write memory (executable if the segment is).
            mm.remove_range(start, end)
            mm.insert_vma(Vma(start, end, PROT_READ | PROT_WRITE | (prot & PROT_EXEC)))
    return map_addr


def load_segments(mm: Mm, image: ExecImage, load_bias: int, fixed_first: int) -> tuple[int, int]:
    """Map every PT_LOAD of `image`; return (load_bias, end of the last segment)."""
    f = image.file
    mapping = FileMapping(f.mapping, readable=True, writable=False)
    loads = image.elf.loads
    total = total_mapping_size(loads) if image.elf.type == ET_DYN else 0
    end = 0
    first = True
    for ph in loads:
        prot = make_prot(ph.flags)
        flags = MAP_PRIVATE | (fixed_first if first else MAP_FIXED)
        if ph.filesz > ph.memsz or ph.memsz > mm.task_size or mm.task_size - ph.memsz < ph.vaddr + load_bias:
            raise KernelError(Errno.EINVAL)
        got = elf_load(mm, mapping, load_bias + ph.vaddr, ph, prot, flags, total if first else 0)
        if first and image.elf.type == ET_DYN:
            load_bias += got - ((load_bias + ph.vaddr) & PAGE_MASK)
        first = False
        end = max(end, load_bias + ph.vaddr + ph.memsz)
    return load_bias, end


def load_elf_binary(mm: Mm, image: ExecImage, filename: bytes, argv: list[bytes],
                    envp: list[bytes], cred: tuple[int, int, int, int], hwcap: int,
                    hwcap2: int, minsigstksz: int, random16: bytes) -> LoadResult:
    """Map the program (and its interpreter) into the empty `mm` and build its stack."""
    elf = image.elf
    exec_stack = any(p.type == PT_GNU_STACK and p.flags & PF_X for p in elf.phdrs)
    mm.mmap_base = mmap_base(mm.stack_limit)
    strings = setup_stack(mm, STACK_TOP, filename, argv, envp, exec_stack)
    loads = elf.loads
    if not loads:
        raise KernelError(Errno.ENOEXEC)
    vaddr = loads[0].vaddr
    fixed = MAP_FIXED_NOREPLACE
    if elf.type == ET_DYN:
        if image.interp is not None:
            load_bias = ELF_ET_DYN_BASE
            align = maximum_alignment(loads)
            if align:
                load_bias &= ~(align - 1)
        else:
            load_bias = 0
            fixed = 0
        load_bias = (load_bias - vaddr) & PAGE_MASK
    else:
        load_bias = 0
    load_bias, elf_brk = load_segments(mm, image, load_bias, fixed)
    phdr_addr = 0
    for ph in loads:
        if ph.offset <= elf.phoff < ph.offset + ph.filesz:
            phdr_addr = elf.phoff - ph.offset + ph.vaddr + load_bias
    entry = elf.entry + load_bias
    base = 0
    if image.interp is not None:
        interp = image.interp
        if not interp.elf.loads:
            raise KernelError(Errno.ENOEXEC)
        base, _ = load_segments(mm, interp, 0, 0 if interp.elf.type == ET_DYN else MAP_FIXED)
        start = interp.elf.entry + base
    else:
        start = entry
    mm.start_code = min((load_bias + p.vaddr for p in loads if p.flags & PF_X), default=0)
    mm.end_code = max((load_bias + p.vaddr + p.filesz for p in loads if p.flags & PF_X), default=0)
    mm.start_data = max(load_bias + p.vaddr for p in loads)
    mm.end_data = max(load_bias + p.vaddr + p.filesz for p in loads)
    if elf.type == ET_DYN and image.interp is None:
        elf_brk = ELF_ET_DYN_BASE  # the break of a static PIE moves out of the mmap area
    mm.start_brk = mm.brk = page_align(elf_brk)
    uid, euid, gid, egid = cred
    auxv = [
        (at.AT_MINSIGSTKSZ, minsigstksz),
        (at.AT_HWCAP, hwcap),
        (at.AT_PAGESZ, PAGE_SIZE),
        (at.AT_CLKTCK, 100),
        (at.AT_PHDR, phdr_addr),
        (at.AT_PHENT, 56),
        (at.AT_PHNUM, elf.phnum),
        (at.AT_BASE, base),
        (at.AT_FLAGS, 0),
        (at.AT_ENTRY, entry),
        (at.AT_UID, uid),
        (at.AT_EUID, euid),
        (at.AT_GID, gid),
        (at.AT_EGID, egid),
        (at.AT_SECURE, 0),
        (at.AT_RANDOM, 0),
        (at.AT_HWCAP2, hwcap2),
        (at.AT_EXECFN, strings.exec_addr),
        (at.AT_PLATFORM, 0),
        (at.AT_RSEQ_FEATURE_SIZE, 28),
        (at.AT_RSEQ_ALIGN, 32),
    ]
    sp = create_elf_tables(mm, strings, b"x86_64", random16, auxv)
    return LoadResult(start, sp)
