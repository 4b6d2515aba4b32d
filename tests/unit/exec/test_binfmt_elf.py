"""execve's ELF loader on a real address space, without a CPU: where each kind of program
and its interpreter go, the auxiliary vector, the break, randomisation, and the errors
after the point of no return (fs/binfmt_elf.c: load_elf_binary, load_elf_interp)."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest

from sysgate.errors import KernelError
from sysgate.exec.layout import ELF_ET_DYN_BASE, STACK_TOP
from sysgate.kernel.exec import ExecResult, do_execve
from sysgate.kernel.task import Task
from sysgate.uapi import auxvec as at
from sysgate.uapi.errno import Errno
from sysgate.uapi.mman import PROT_EXEC, PROT_READ
from sysgate.uapi.personality import ADDR_NO_RANDOMIZE, MMAP_PAGE_ZERO, READ_IMPLIES_EXEC
from tests.guest.elfcraft import ET_DYN, ET_EXEC, ET_REL, PF_R, PF_W, PF_X, PT_NOTE, Elf, Segment

PIE_BASE = ELF_ET_DYN_BASE & ~0xFFF
MMAP_TOP = STACK_TOP - (128 << 20)
"""mmap_base with an 8 MiB stack limit and no randomisation."""


def execve(t: Task, path: Path, personality: int = ADDR_NO_RANDOMIZE, seed: int | None = None) -> ExecResult:
    t.personality = personality
    t.kernel.rng = random.Random(seed)  # noqa: S311 - addresses, not secrets
    t.group.rlimits[3] = (8 << 20, t.group.rlimits[3][1])  # RLIMIT_STACK
    return do_execve(t, str(path).encode(), [str(path).encode()], [b"A=1"])


def auxv(t: Task) -> dict[int, int]:
    words = struct.unpack(f"<{len(t.saved_auxv) // 8}Q", t.saved_auxv)
    return dict(zip(words[::2], words[1::2], strict=True))


def starts(t: Task) -> list[tuple[int, int, int, str]]:
    return [(v.start, v.end, v.prot, v.name) for v in t.mm.vmas]


def test_pie_with_interpreter(task: Task, tmp_path: Path) -> None:
    interp = Elf(e_type=ET_DYN).write(tmp_path / "ld.so")
    prog = Elf(e_type=ET_DYN, interp=str(interp).encode()).write(tmp_path / "prog")
    r = execve(task, prog)
    a = auxv(task)
    base = MMAP_TOP - 0x2000  # the interpreter: two pages at the top of the mmap area
    assert (a[at.AT_BASE], a[at.AT_ENTRY], a[at.AT_PHDR], a[at.AT_PHNUM]) == (base, PIE_BASE + 0x1000,
                                                                              PIE_BASE + 64, 2)
    assert r.entry == base + 0x1000 and r.fatal is None
    assert task.mm.start_brk == task.mm.brk == PIE_BASE + 0x2000
    assert task.mm.vma_at(PIE_BASE) is not None and task.mm.vma_at(base) is not None


def test_exec_program_at_its_address(task: Task, tmp_path: Path) -> None:
    r = execve(task, Elf().write(tmp_path / "prog"))
    a = auxv(task)
    assert (a[at.AT_BASE], a[at.AT_ENTRY], r.entry) == (0, 0x401000, 0x401000)
    assert task.mm.start_brk == 0x402000
    assert task.mm.vma_at(0x400000) is not None


def test_static_pie_goes_to_the_mmap_area_and_moves_the_break(task: Task, tmp_path: Path) -> None:
    r = execve(task, Elf(e_type=ET_DYN).write(tmp_path / "prog"))
    assert r.entry == MMAP_TOP - 0x2000 + 0x1000
    assert task.mm.start_brk == PIE_BASE + 0x1000  # ELF_ET_DYN_BASE page-aligned up: out of the mmap area
    assert auxv(task)[at.AT_BASE] == 0


def test_static_pie_with_large_alignment_is_aligned(task: Task, tmp_path: Path) -> None:
    prog = Elf(e_type=ET_DYN, segments=[Segment(flags=PF_R | PF_X, align=0x200000)]).write(tmp_path / "prog")
    r = execve(task, prog)
    load = r.entry - 0x1000
    assert load % 0x200000 == 0 and MMAP_TOP - 0x400000 <= load < MMAP_TOP


def test_bss_past_the_file_is_anonymous_and_zeroed(task: Task, tmp_path: Path) -> None:
    data = Segment(flags=PF_R | PF_W, offset=0x1000, vaddr=0x601000, filesz=0x8, memsz=0x3000)
    execve(task, Elf(segments=[Segment(), data]).write(tmp_path / "prog"))
    assert task.mm.read(0x601000, 8) == Elf().code[:8]
    assert task.mm.read(0x601008, 0x2FF8) == bytes(0x2FF8)  # padzero, then vm_brk_flags memory
    assert task.mm.start_brk == 0x604000


def test_randomised_layout_is_reproducible_and_in_range(task: Task, tmp_path: Path) -> None:
    interp = Elf(e_type=ET_DYN).write(tmp_path / "ld.so")
    prog = Elf(e_type=ET_DYN, interp=str(interp).encode()).write(tmp_path / "prog")
    layouts = []
    for seed in (1, 1, 2):
        execve(task, prog, personality=0, seed=seed)
        a = auxv(task)
        pie = a[at.AT_ENTRY] - 0x1000
        assert PIE_BASE <= pie < PIE_BASE + (1 << 40) and pie % 4096 == 0
        stack = task.mm.vma_at(task.mm.start_stack)
        assert stack is not None and STACK_TOP - (0x3FFFFF << 12) - 0x2000 <= stack.end <= STACK_TOP
        assert pie + 0x3000 <= task.mm.brk < pie + 0x3000 + (1 << 30)  # a page of gap, then 1 GiB
        layouts.append((pie, a[at.AT_BASE], stack.end, task.mm.brk, a[at.AT_RANDOM]))
    assert layouts[0] == layouts[1] != layouts[2]


def test_read_implies_exec_is_dropped_by_a_64_bit_exec(task: Task, tmp_path: Path) -> None:
    execve(task, Elf().write(tmp_path / "prog"), personality=ADDR_NO_RANDOMIZE | READ_IMPLIES_EXEC)
    assert task.personality == ADDR_NO_RANDOMIZE


@pytest.mark.parametrize("capable", [False, True])
def test_mmap_page_zero(capable: bool, task: Task, tmp_path: Path) -> None:
    """SVr4's read-only page 0: mapped only where mapping below mmap_min_addr is allowed."""
    task.cred.euid = 0 if capable else 1000
    execve(task, Elf().write(tmp_path / "prog"), personality=ADDR_NO_RANDOMIZE | MMAP_PAGE_ZERO)
    vma = task.mm.vma_at(0)
    if capable:
        assert vma is not None and (vma.start, vma.end, vma.prot) == (0, 0x1000, PROT_READ | PROT_EXEC)
    else:
        assert vma is None


def past_eof(d: Path) -> Path:
    data = Segment(flags=PF_R | PF_W, offset=0x1000, vaddr=0x601000, filesz=0x1800, memsz=0x5000)
    return Elf(segments=[Segment(), data]).write(d / "prog")


@pytest.mark.parametrize(("make", "errno"), [
    (lambda d: Elf(e_type=ET_DYN, interp=str(Elf(e_type=ET_REL).write(d / "i")).encode()).write(d / "prog"),
     Errno.EPERM),  # load_elf_interp's ~0UL
    (lambda d: Elf(e_type=ET_DYN, interp=str(Elf(e_type=ET_DYN, segments=[Segment(PT_NOTE, PF_R)]).write(
        d / "i")).encode()).write(d / "prog"), Errno.EINVAL),  # no PT_LOAD: total_size 0
    (lambda d: Elf(e_type=ET_DYN, interp=str(Elf(e_type=ET_EXEC, segments=[Segment(
        vaddr=0x7FFFFFFFE000, memsz=0x10000)]).write(d / "i")).encode()).write(d / "prog"),
     Errno.ENOMEM),  # an interpreter segment past TASK_SIZE
    (lambda d: Elf(segments=[Segment(filesz=0x2000, memsz=0x1000)]).write(d / "prog"), Errno.EINVAL),
    (past_eof, Errno.EFAULT),  # padzero in a page past the end of the file
    (lambda d: Elf(segments=[Segment(vaddr=STACK_TOP - 0x3000)]).write(d / "prog"), Errno.EEXIST),  # the stack
    (lambda d: Elf(segments=[Segment(offset=0x1000, vaddr=0x400100)]).write(d / "prog"), Errno.EINVAL),
])
def test_failures_after_the_point_of_no_return(make: object, errno: Errno, task: Task, tmp_path: Path) -> None:
    """The old program is gone, execve's errno is kept for the tracer, and the caller kills
    the process with SIGSEGV."""
    assert callable(make)
    old = task.mm
    r = execve(task, make(tmp_path))
    assert r.fatal is errno
    assert task.mm is not old


def test_failures_before_the_point_of_no_return_keep_the_old_program(task: Task, tmp_path: Path) -> None:
    old = task.mm
    prog = Elf(e_type=ET_DYN, interp=str(tmp_path / "missing").encode()).write(tmp_path / "prog")
    with pytest.raises(KernelError) as exc:
        execve(task, prog)
    assert exc.value.errno is Errno.ENOENT and task.mm is old
    bad = Elf(e_type=ET_DYN, interp=str(tmp_path / "prog").encode()).write(tmp_path / "p2")
    (tmp_path / "prog").write_bytes(b"#!/bin/sh\n")  # shorter than an ELF header
    with pytest.raises(KernelError) as exc:
        execve(task, bad)
    assert exc.value.errno is Errno.EIO and task.mm is old
    (tmp_path / "prog").write_bytes(b"#!/bin/sh\n" * 10)
    with pytest.raises(KernelError) as exc:
        execve(task, bad)
    assert exc.value.errno is Errno.ELIBBAD and task.mm is old
