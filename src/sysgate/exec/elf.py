"""ELF headers: parsing and the checks load_elf_binary makes before loading.

Counterpart: include/uapi/linux/elf.h and the first part of fs/binfmt_elf.c
(load_elf_binary's consistency checks, load_elf_phdrs). Every failure is a KernelError
with the errno execve returns: ENOEXEC for what is not a loadable ELF file of this
architecture, EIO for a file shorter than its headers say, EINVAL for bad segments.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from sysgate.errors import KernelError
from sysgate.uapi.errno import Errno

ELFMAG = b"\x7fELF"
ELFCLASS32, ELFCLASS64 = 1, 2
ET_EXEC, ET_DYN = 2, 3
EM_386, EM_X86_64 = 3, 62
PT_LOAD, PT_INTERP, PT_PHDR, PT_GNU_STACK = 1, 3, 6, 0x6474E551
PF_X, PF_W, PF_R = 1, 2, 4

EHDR64 = struct.Struct("<16sHHIQQQIHHHHHH")
PHDR64 = struct.Struct("<IIQQQQQQ")
MACHINES = {EM_386: "i386", EM_X86_64: "x86-64", 40: "ARM", 183: "AArch64", 243: "RISC-V",
            8: "MIPS", 20: "PowerPC", 21: "PowerPC64", 22: "S/390", 2: "SPARC"}


@dataclass(frozen=True, slots=True)
class Phdr:
    """One program header (Elf64_Phdr)."""

    type: int
    flags: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int
    align: int


@dataclass(frozen=True, slots=True)
class ElfFile:
    """The parts of an ELF executable the loader uses."""

    type: int
    machine: int
    entry: int
    phoff: int
    phnum: int
    phdrs: tuple[Phdr, ...]

    @property
    def loads(self) -> list[Phdr]:
        return [p for p in self.phdrs if p.type == PT_LOAD]


def describe_machine(header: bytes) -> str:
    """A name for the architecture of an ELF header, for error messages."""
    if len(header) < 20 or header[:4] != ELFMAG:
        return "not an ELF file"
    machine = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
    bits = {ELFCLASS32: "32-bit", ELFCLASS64: "64-bit"}.get(header[4], "unknown-class")
    return f"{bits} {MACHINES.get(machine, f'machine {machine}')}"


def parse_elf(data: bytes, read_at: object = None, machine: int = EM_X86_64) -> ElfFile:
    """Check an ELF header (the first bytes of the file) and read its program headers.

    `read_at(offset, size)` reads more of the file when the program headers lie past
    `data`. Raises ENOEXEC for anything execve would not load.
    """
    if len(data) < EHDR64.size or data[:4] != ELFMAG:
        raise KernelError(Errno.ENOEXEC)
    (ident, e_type, e_machine, _version, entry, phoff, _shoff, _flags, _ehsize,
     phentsize, phnum, _shentsize, _shnum, _shstrndx) = EHDR64.unpack_from(data)
    if e_type not in (ET_EXEC, ET_DYN):
        raise KernelError(Errno.ENOEXEC)
    if e_machine != machine or ident[4] != ELFCLASS64 or ident[5] != 1:
        raise KernelError(Errno.ENOEXEC)
    # load_elf_phdrs: the size must match, and the table must be of sane size.
    if phentsize != PHDR64.size or phnum < 1 or phnum * PHDR64.size > 65536:
        raise KernelError(Errno.ENOEXEC)
    size = phnum * PHDR64.size
    if phoff + size <= len(data):
        table = data[phoff : phoff + size]
    elif callable(read_at):
        table = read_at(phoff, size)
    else:
        table = b""
    if len(table) != size:
        raise KernelError(Errno.EIO)
    phdrs = tuple(
        Phdr(p[0], p[1], p[2], p[3], p[5], p[6], p[7])
        for p in (PHDR64.unpack_from(table, i * PHDR64.size) for i in range(phnum))
    )
    return ElfFile(e_type, e_machine, entry, phoff, phnum, phdrs)


def total_mapping_size(loads: list[Phdr]) -> int:
    """The span from the first PT_LOAD's page to the end of the last one."""
    if not loads:
        return 0
    first, last = loads[0], loads[-1]
    return last.vaddr + last.memsz - (first.vaddr & ~0xFFF)


def maximum_alignment(loads: list[Phdr]) -> int:
    """The largest power-of-two p_align of the PT_LOADs, at least a page."""
    align = 0
    for p in loads:
        if p.align and p.align & (p.align - 1) == 0:
            align = max(align, p.align)
    return (align + 0xFFF) & ~0xFFF
