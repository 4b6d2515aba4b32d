"""ELF header checks: the errno of each thing load_elf_binary refuses before loading."""

from __future__ import annotations

import pytest

from sysgate.errors import KernelError
from sysgate.exec.elf import parse_elf, parse_interp, total_mapping_size
from sysgate.uapi.errno import Errno
from tests.guest.elfcraft import EM_AARCH64, ET_DYN, ET_EXEC, ET_REL, PT_LOAD, Elf, Segment


def errno_of(fn: object, data: bytes) -> Errno | None:
    assert callable(fn)
    try:
        fn(data)
    except KernelError as exc:
        return exc.errno
    return None


def test_a_program_parses() -> None:
    elf = parse_elf(Elf().build())
    assert (elf.type, elf.machine, elf.entry, elf.phnum) == (ET_EXEC, 62, 0x401000, 1)
    assert elf.loads[0].type == PT_LOAD and elf.loads[0].vaddr == 0x400000


@pytest.mark.parametrize(("data", "errno"), [
    (b"", Errno.ENOEXEC),
    (b"#!/bin/sh\n", Errno.ENOEXEC),
    (b"\x7fELF\x02\x01", Errno.ENOEXEC),  # the rest reads as zeros: e_type 0
    (Elf(e_type=ET_REL).build(), Errno.ENOEXEC),
    (Elf(machine=EM_AARCH64).build(), Errno.ENOEXEC),
    (Elf(phentsize=32).build(), Errno.ENOEXEC),
    (Elf(segments=[]).build(), Errno.ENOEXEC),  # no program headers at all
    (Elf().build()[:80], Errno.ENOEXEC),  # the table is cut short: load_elf_phdrs fails
    (Elf(ei_class=1).build(), None),  # elf_check_arch looks at e_machine only
])
def test_program_errors(data: bytes, errno: Errno | None) -> None:
    assert errno_of(parse_elf, data) == errno


@pytest.mark.parametrize(("data", "errno"), [
    (b"\x7fELF" + bytes(20), Errno.EIO),  # shorter than an ELF header: elf_read's -EIO
    (b"x" * 64, Errno.ELIBBAD),
    (Elf(machine=EM_AARCH64).build(), Errno.ELIBBAD),
    (Elf(phentsize=32).build(), Errno.ELIBBAD),
    (Elf().build()[:80], Errno.ELIBBAD),
    (Elf(e_type=ET_REL).build(), None),  # the type is load_elf_interp's to check, later
    (Elf(e_type=ET_DYN, interp=b"/x").build(), None),  # its own PT_INTERP is ignored
])
def test_interpreter_errors(data: bytes, errno: Errno | None) -> None:
    assert errno_of(parse_interp, data) == errno


def test_program_headers_past_the_first_bytes_are_read() -> None:
    data = Elf().build()
    seen = []

    def read_at(off: int, size: int) -> bytes:
        seen.append((off, size))
        return data[off : off + size]

    assert parse_elf(data[:64], read_at).phnum == 1
    assert seen == [(64, 56)]


def test_total_mapping_size_spans_lowest_to_highest() -> None:
    segs = parse_elf(Elf(segments=[Segment(offset=0x1000, vaddr=0x402000, filesz=0x10, memsz=0x3000),
                                   Segment(offset=0, vaddr=0x400100, filesz=0x10)]).build()).loads
    assert total_mapping_size(segs) == 0x405000 - 0x400000
    assert total_mapping_size([]) == 0
