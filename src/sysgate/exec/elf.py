"""ELF headers: parsing and the checks load_elf_binary makes before loading.

Counterpart: include/uapi/linux/elf.h and the first part of fs/binfmt_elf.c
(load_elf_binary's consistency checks, load_elf_phdrs). Every failure is a KernelError
with the errno execve returns: ENOEXEC for a program that is not a loadable ELF file of
this architecture (a program header table cut short included), and for its interpreter
EIO when the file is shorter than an ELF header and ELIBBAD when it is not ELF, is for
another machine or has bad program headers.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
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
ReadAt = Callable[[int, int], bytes]
"""read_at(offset, size): bytes of the file (short at its end)."""
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


def _phdrs(data: bytes, read_at: ReadAt | None, phoff: int, phentsize: int, phnum: int) -> tuple[Phdr, ...] | None:
    """load_elf_phdrs: the program header table, or None if its entry size is not
    Elf64_Phdr's, it has no entries or more than 64 KiB of them, or it cannot be read whole."""
    if phentsize != PHDR64.size or phnum < 1 or phnum * PHDR64.size > 65536:
        return None
    size = phnum * PHDR64.size
    if phoff + size <= len(data):
        table = data[phoff : phoff + size]
    elif read_at is not None:
        try:
            table = read_at(phoff, size)
        except KernelError:
            return None
    else:
        table = b""
    if len(table) != size:
        return None
    return tuple(
        Phdr(p[0], p[1], p[2], p[3], p[5], p[6], p[7])
        for p in (PHDR64.unpack_from(table, i * PHDR64.size) for i in range(phnum))
    )


def _header(data: bytes) -> tuple[bytes, int, int, int, int, int, int]:
    """(e_ident, e_type, e_machine, e_entry, e_phoff, e_phentsize, e_phnum) of `data`,
    padded with zeros as the kernel's bprm->buf is."""
    f = EHDR64.unpack_from(data.ljust(EHDR64.size, b"\0"))
    return f[0], f[1], f[2], f[4], f[5], f[9], f[10]


def parse_elf(data: bytes, read_at: ReadAt | None = None, machine: int = EM_X86_64) -> ElfFile:
    """Check a program's ELF header (the first bytes of the file) and read its program headers.

    `read_at(offset, size)` reads more of the file when the program headers lie past
    `data`. Raises ENOEXEC for anything execve would not load, as load_elf_binary's
    first checks do (a program header table that cannot be read whole included).
    """
    if len(data) < 4 or data[:4] != ELFMAG:
        raise KernelError(Errno.ENOEXEC)
    _ident, e_type, e_machine, entry, phoff, phentsize, phnum = _header(data)
    if e_type not in (ET_EXEC, ET_DYN):
        raise KernelError(Errno.ENOEXEC)
    if e_machine != machine:  # elf_check_arch: the machine only, not EI_CLASS nor EI_DATA
        raise KernelError(Errno.ENOEXEC)
    phdrs = _phdrs(data, read_at, phoff, phentsize, phnum)
    if phdrs is None:
        raise KernelError(Errno.ENOEXEC)
    return ElfFile(e_type, e_machine, entry, phoff, phnum, phdrs)


def parse_interp(data: bytes, read_at: ReadAt | None = None, machine: int = EM_X86_64) -> ElfFile:
    """Check the header of a program's interpreter as load_elf_binary does before the
    point of no return: EIO if the file is shorter than an ELF header (elf_read), ELIBBAD
    if it is not ELF, is for another machine, or its program headers are bad. Its type
    is not checked here: load_elf_interp does that after the point of no return.
    """
    if len(data) < EHDR64.size:
        raise KernelError(Errno.EIO)
    if data[:4] != ELFMAG:
        raise KernelError(Errno.ELIBBAD)
    _ident, e_type, e_machine, entry, phoff, phentsize, phnum = _header(data)
    if e_machine != machine:  # elf_check_arch
        raise KernelError(Errno.ELIBBAD)
    phdrs = _phdrs(data, read_at, phoff, phentsize, phnum)
    if phdrs is None:
        raise KernelError(Errno.ELIBBAD)
    return ElfFile(e_type, e_machine, entry, phoff, phnum, phdrs)


def total_mapping_size(loads: list[Phdr]) -> int:
    """The span from the lowest PT_LOAD's page to the highest end of one (0 without any)."""
    if not loads:
        return 0
    return max(p.vaddr + p.memsz for p in loads) - min(p.vaddr & ~0xFFF for p in loads)


def maximum_alignment(loads: list[Phdr]) -> int:
    """The largest power-of-two p_align of the PT_LOADs, at least a page."""
    align = 0
    for p in loads:
        if p.align and p.align & (p.align - 1) == 0:
            align = max(align, p.align)
    return (align + 0xFFF) & ~0xFFF
