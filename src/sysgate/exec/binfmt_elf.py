"""Loading an ELF program into a fresh address space.

Counterpart: fs/binfmt_elf.c (load_elf_binary, elf_load, elf_map, load_elf_interp,
create_elf_tables' auxiliary vector). ET_EXEC programs go where their headers say; PIE
programs with an interpreter at ELF_ET_DYN_BASE; static PIE programs and interpreters
run directly (`ld.so PROG`) go into the mmap area, with the break moved to
ELF_ET_DYN_BASE, as Linux 6.12 does.

Randomisation follows the task's personality as in Linux (sysgate.exec.layout): without
ADDR_NO_RANDOMIZE (`sysgate run --aslr`) the mmap base, the stack top, the PIE load
address and the break move by Linux's amounts; with it (the default, as under
`setarch -R`) every address is reproducible.

Everything here runs after execve's point of no return: a KernelError from
load_elf_binary kills the new program with SIGSEGV (see sysgate.kernel.exec).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sysgate.errors import GuestFault, KernelError
from sysgate.exec.elf import (
    ET_DYN,
    ET_EXEC,
    PF_R,
    PF_W,
    PF_X,
    PT_GNU_STACK,
    PT_INTERP,
    ElfFile,
    Phdr,
    maximum_alignment,
    parse_elf,
    parse_interp,
    total_mapping_size,
)
from sysgate.exec.layout import (
    ELF_ET_DYN_BASE,
    STACK_TOP,
    Randomness,
    arch_align_stack,
    arch_mmap_rnd,
    arch_randomize_brk,
    mmap_base,
    pf_randomize,
    randomize_stack_top,
)
from sysgate.exec.stack import create_elf_tables, setup_stack
from sysgate.mm.mm import Mm
from sysgate.mm.mmap import FileMapping, do_mmap, do_munmap
from sysgate.mm.physmem import PAGE_MASK, PAGE_SIZE, page_align
from sysgate.mm.vma import BRK_FLAGS, Vma
from sysgate.uapi import auxvec as at
from sysgate.uapi.errno import Errno
from sysgate.uapi.mman import MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE
from sysgate.uapi.personality import ADDR_NO_RANDOMIZE, MMAP_PAGE_ZERO
from sysgate.vdso.vma import arch_setup_additional_pages

if TYPE_CHECKING:
    from sysgate.fs.file import File

BINPRM_BUF_SIZE = 256
ELF_MIN_ALIGN = PAGE_SIZE
U64 = (1 << 64) - 1


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


def parse_interp_image(file: File, machine: int) -> ElfFile:
    """The interpreter's header and program headers (ELIBBAD if unusable, see parse_interp)."""
    head = read_file_at(file, 0, BINPRM_BUF_SIZE)
    return parse_interp(head, lambda off, size: read_file_at(file, off, size), machine)


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
        if off & (PAGE_SIZE - 1) or off < 0:
            raise KernelError(Errno.EINVAL)  # vm_mmap: p_offset and p_vaddr disagree within the page
        page = addr & PAGE_MASK
        if total_size:
            map_addr = do_mmap(mm, page, page_align(total_size), prot, flags, mapping, off)
            if page_align(total_size) > size:
                do_munmap(mm, map_addr + size, page_align(total_size) - size)
        else:
            map_addr = do_mmap(mm, page, size, prot, flags, mapping, off)
        zero_start = map_addr + off_in_page + ph.filesz
        zero_end = map_addr + off_in_page + ph.memsz
        if ph.memsz > ph.filesz and zero_start & (PAGE_SIZE - 1):
            # padzero: clear the rest of the last file page; a failure (the page lies
            # past the end of the file) matters only for a writable segment.
            try:
                mm.write(zero_start, bytes(PAGE_SIZE - (zero_start & (PAGE_SIZE - 1))))
            except GuestFault:
                if prot & PROT_WRITE:
                    raise KernelError(Errno.EFAULT) from None
    else:
        map_addr = zero_start = addr & PAGE_MASK
        zero_end = zero_start + off_in_page + ph.memsz
    if ph.memsz > ph.filesz:
        start, end = page_align(zero_start), page_align(zero_end)
        if end > start:
            # vm_brk_flags: anonymous read-write memory (executable if the segment is).
            mm.remove_range(start, end)
            mm.insert_vma(Vma(start, end, PROT_READ | PROT_WRITE | (prot & PROT_EXEC), BRK_FLAGS))
    return map_addr


def check_segment(mm: Mm, k: int, ph: Phdr, errno: Errno) -> None:
    """A segment whose end would pass TASK_SIZE, or whose file part exceeds its memory
    part: load_elf_binary says EINVAL (checking the unbiased p_vaddr), load_elf_interp
    ENOMEM (the biased one)."""
    task_size = mm.task_size
    if k >= task_size or ph.filesz > ph.memsz or ph.memsz > task_size or task_size - ph.memsz < k:
        raise KernelError(errno)


def map_program(mm: Mm, image: ExecImage, rng: Randomness | None) -> int:
    """load_elf_binary's loop over the program's PT_LOADs; returns the load bias.

    The first PT_LOAD decides where everything goes: ET_EXEC where it says; a PIE with
    an interpreter at ELF_ET_DYN_BASE (+ arch_mmap_rnd when randomising) aligned to its
    largest p_align; a static PIE or an interpreter run as a program wherever mmap puts
    it, found by a trial mapping first when it asks for more than page alignment.
    """
    elf = image.elf
    mapping = FileMapping(image.file.mapping, readable=True, writable=False)
    loads = elf.loads
    load_bias = 0
    first = True
    for ph in loads:
        prot = make_prot(ph.flags)
        flags = MAP_PRIVATE
        total = 0
        if not first:
            flags |= MAP_FIXED
        elif elf.type == ET_EXEC:
            flags |= MAP_FIXED_NOREPLACE
        else:
            total = total_mapping_size(loads)
            if not total:
                raise KernelError(Errno.EINVAL)
            alignment = maximum_alignment(loads)
            if image.interp is not None:
                load_bias = ELF_ET_DYN_BASE + arch_mmap_rnd(rng)
                if alignment:
                    load_bias &= ~(alignment - 1)
                flags |= MAP_FIXED_NOREPLACE
            elif alignment > ELF_MIN_ALIGN:
                load_bias = elf_load(mm, mapping, 0, ph, prot, flags, total)
                do_munmap(mm, load_bias, total)
                load_bias &= ~(alignment - 1)
                flags |= MAP_FIXED_NOREPLACE
            load_bias = (load_bias - ph.vaddr) & PAGE_MASK
        got = elf_load(mm, mapping, (load_bias + ph.vaddr) & U64, ph, prot, flags, total)
        if first and elf.type == ET_DYN:
            load_bias += got - ((load_bias + ph.vaddr) & PAGE_MASK)
        first = False
        check_segment(mm, ph.vaddr, ph, Errno.EINVAL)
    return load_bias


def load_elf_interp(mm: Mm, interp: ExecImage, no_base: int) -> int:
    """Map the interpreter; return its load address (AT_BASE).

    An interpreter that is not ET_EXEC or ET_DYN fails with load_elf_interp's ~0UL,
    which execve reports as EPERM; one without PT_LOAD with EINVAL. Its own PT_INTERP,
    if it has one, is ignored, as in Linux.
    """
    elf = interp.elf
    if elf.type not in (ET_EXEC, ET_DYN):
        raise KernelError(Errno.EPERM)
    loads = elf.loads
    total = total_mapping_size(loads)
    if not total:
        raise KernelError(Errno.EINVAL)
    mapping = FileMapping(interp.file.mapping, readable=True, writable=False)
    load_addr = 0
    load_addr_set = False
    for ph in loads:
        flags = MAP_PRIVATE
        if elf.type == ET_EXEC or load_addr_set:
            flags |= MAP_FIXED
        elif no_base:
            load_addr = -ph.vaddr & U64
        map_addr = elf_load(mm, mapping, (load_addr + ph.vaddr) & U64, ph, make_prot(ph.flags), flags, total)
        total = 0
        if not load_addr_set and elf.type == ET_DYN:
            load_addr = (map_addr - (ph.vaddr & PAGE_MASK)) & U64
            load_addr_set = True
        check_segment(mm, (load_addr + ph.vaddr) & U64, ph, Errno.ENOMEM)
    return load_addr


def load_elf_binary(mm: Mm, image: ExecImage, filename: bytes, argv: list[bytes],
                    envp: list[bytes], cred: tuple[int, int, int, int], hwcap: int,
                    hwcap2: int, minsigstksz: int, random16: bytes,
                    personality: int = ADDR_NO_RANDOMIZE, rng: Randomness | None = None) -> LoadResult:
    """Map the program (and its interpreter) into the empty `mm` and build its stack.

    `personality` is the task's after execve's changes: its ADDR_NO_RANDOMIZE decides
    whether `rng` randomises the layout, and MMAP_PAGE_ZERO maps page 0 as SVr4 did.
    """
    elf = image.elf
    rnd = rng if pf_randomize(personality) else None
    exec_stack = any(p.type == PT_GNU_STACK and p.flags & PF_X for p in elf.phdrs)
    mm.mmap_base = mmap_base(mm.stack_limit, rnd=arch_mmap_rnd(rnd), randomize=rnd is not None)
    stack_top = page_align(arch_align_stack(rnd, randomize_stack_top(rnd, STACK_TOP)))  # setup_arg_pages
    strings = setup_stack(mm, stack_top, filename, argv, envp, exec_stack)
    loads = elf.loads
    load_bias = map_program(mm, image, rnd)
    phdr_addr = 0
    for ph in loads:
        if ph.offset <= elf.phoff < ph.offset + ph.filesz:
            phdr_addr = elf.phoff - ph.offset + ph.vaddr
    phdr_addr = (phdr_addr + load_bias) & U64
    entry = (elf.entry + load_bias) & U64
    base = 0
    if image.interp is not None:
        base = load_elf_interp(mm, image.interp, load_bias)
        start = (base + image.interp.elf.entry) & U64
    else:
        start = entry
    if start >= mm.task_size:  # BAD_ADDR(elf_entry)
        raise KernelError(Errno.EINVAL)
    vdso = arch_setup_additional_pages(mm)  # [vvar], [vdso] and the vsyscall page
    uid, euid, gid, egid = cred
    auxv = [
        (at.AT_SYSINFO_EHDR, vdso),  # ARCH_DLINFO comes first
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
    sp = create_elf_tables(mm, strings, b"x86_64", random16, auxv, arch_align_stack(rnd, strings.p))
    set_mm_fields(mm, elf, load_bias, image.interp is None, rnd)
    if personality & MMAP_PAGE_ZERO:
        # SVr4 mapped page 0 read-only; Linux tries and ignores failure (EPERM below
        # vm.mmap_min_addr without CAP_SYS_RAWIO). Differences from Linux: not sealed.
        try:
            do_mmap(mm, 0, PAGE_SIZE, PROT_READ | PROT_EXEC, MAP_FIXED | MAP_PRIVATE, None, 0)
        except KernelError:
            pass
    return LoadResult(start, sp)


def set_mm_fields(mm: Mm, elf: ElfFile, load_bias: int, no_interp: bool, rng: Randomness | None) -> None:
    """The code, data and break boundaries /proc and brk(2) use (load_elf_binary's end).

    The break follows the highest segment; a static PIE's (or an interpreter run as a
    program) moves to ELF_ET_DYN_BASE, out of the mmap area. When randomising, it then
    starts a page further and anywhere in the next 1 GiB (arch_randomize_brk).
    """
    loads = elf.loads
    mm.start_code = min((load_bias + p.vaddr for p in loads if p.flags & PF_X), default=0)
    mm.end_code = max((load_bias + p.vaddr + p.filesz for p in loads if p.flags & PF_X), default=0)
    mm.start_data = max((load_bias + p.vaddr for p in loads), default=0)
    mm.end_data = max((load_bias + p.vaddr + p.filesz for p in loads), default=0)
    elf_brk = max((load_bias + p.vaddr + p.memsz for p in loads), default=0)
    brk_moved = False
    if elf.type == ET_DYN and no_interp:
        elf_brk = ELF_ET_DYN_BASE
        brk_moved = True
    mm.start_brk = mm.brk = page_align(elf_brk)
    if rng is not None:
        if not brk_moved:
            mm.start_brk = mm.brk = mm.brk + PAGE_SIZE
        mm.start_brk = mm.brk = arch_randomize_brk(rng, mm.brk)
