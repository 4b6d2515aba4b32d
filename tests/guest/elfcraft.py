"""Small ELF executables made from a few bytes of Python, for execve's error paths.

Each file has one code page whose instructions are given as bytes; program headers
(PT_INTERP, PT_LOAD, others) are laid out as the caller asks, with fields that can be
broken on purpose (a wrong machine, a short file, a segment past the end). Nothing is
committed: tests write these into their tmp_path.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

ET_REL, ET_EXEC, ET_DYN = 1, 2, 3
EM_386, EM_X86_64, EM_AARCH64 = 3, 62, 183
PT_LOAD, PT_INTERP, PT_NOTE = 1, 3, 4
PF_X, PF_W, PF_R = 1, 2, 4
EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
PHDR = struct.Struct("<IIQQQQQQ")
CODE_OFFSET = 0x1000

EXIT_42 = bytes.fromhex("b83c000000bf2a0000000f05")
"""mov eax, 60 (exit); mov edi, 42; syscall."""
UD2 = bytes.fromhex("0f0b")


@dataclass
class Segment:
    """A program header; `vaddr`/`offset` default to the code page."""

    type: int = PT_LOAD
    flags: int = PF_R | PF_X
    offset: int = 0
    vaddr: int | None = None
    filesz: int | None = None
    memsz: int | None = None
    align: int = 0x1000


@dataclass
class Elf:
    """An x86-64 executable with one page of code at 0x1000 in the file."""

    e_type: int = ET_EXEC
    machine: int = EM_X86_64
    ei_class: int = 2
    code: bytes = EXIT_42
    interp: bytes | None = None  # the PT_INTERP string, a NUL is added unless interp_nul is False
    interp_nul: bool = True
    segments: list[Segment] | None = None  # default: one R+X PT_LOAD of the whole file
    phentsize: int = PHDR.size
    extra: list[Segment] = field(default_factory=list)

    @property
    def base(self) -> int:
        return 0x400000 if self.e_type == ET_EXEC else 0

    def build(self) -> bytes:
        interp = b"" if self.interp is None else self.interp + (b"\0" if self.interp_nul else b"")
        segments = list(self.segments) if self.segments is not None else [Segment()]
        phdrs = ([Segment(PT_INTERP, PF_R)] if self.interp is not None else []) + segments + self.extra
        interp_off = EHDR.size + PHDR.size * len(phdrs)
        size = CODE_OFFSET + len(self.code)
        table = b""
        for ph in phdrs:
            if ph.type == PT_INTERP:
                offset, vaddr, filesz, memsz = interp_off, self.base + interp_off, len(interp), len(interp)
            else:
                offset = ph.offset
                vaddr = self.base + offset if ph.vaddr is None else ph.vaddr
                filesz = size - offset if ph.filesz is None else ph.filesz
                memsz = filesz if ph.memsz is None else ph.memsz
            table += PHDR.pack(ph.type, ph.flags, offset, vaddr, vaddr, filesz, memsz, ph.align)
        ident = b"\x7fELF" + bytes([self.ei_class, 1, 1]) + bytes(9)
        header = EHDR.pack(ident, self.e_type, self.machine, 1, self.base + CODE_OFFSET, EHDR.size, 0, 0,
                           EHDR.size, self.phentsize, len(phdrs), 64, 0, 0)
        head = header + table + interp
        assert len(head) <= CODE_OFFSET
        return head.ljust(CODE_OFFSET, b"\0") + self.code

    def write(self, path: Path, mode: int = 0o755) -> Path:
        path.write_bytes(self.build())
        path.chmod(mode)
        return path
