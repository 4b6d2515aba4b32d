"""-k's parts one by one: symbol look-up as libunwind does it, the CFI rows, DWARF
expressions, .eh_frame_hdr, and the walk's endings and fallbacks on a hand-made stack.

Programs are compiled at test time (gcc, musl-gcc; skipped where missing); whole runs
compared with the host's strace -k are in tests/trace/test_stack.py.
"""

from __future__ import annotations

import io
import lzma
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from elftools.elf.elffile import ELFFile

from sysgate.kernel.task import Task
from sysgate.mm.vma import Vma
from sysgate.trace import symbols, unwind
from sysgate.trace.cfi import (
    MASK64,
    NREGS,
    RIP,
    RSP,
    CallFrameTable,
    CfiError,
    Row,
    apply_row,
    evaluate,
    find_table,
    run_instructions,
)
from sysgate.trace.nocfi import SIGRETURN_CODE, UC_MCONTEXT, call_before
from sysgate.trace.symbols import FunctionSymbols, load_module_path
from sysgate.trace.unwind import MAX_FRAMES, capture_stack, walk
from sysgate.uapi.mman import PROT_EXEC, PROT_READ, PROT_WRITE
from tests.unit.trace.conftest import traced

PROGRAM = r"""
#include <stdio.h>
#include <unistd.h>
__attribute__((noinline)) void leaf(const char *s) { fputs(s, stdout); fflush(stdout); }
__attribute__((noinline)) void middle(const char *s) { leaf(s); asm volatile(""); }
int main(void) { middle("hello\n"); write(1, "bye\n", 4); return 0; }
"""


@pytest.fixture(scope="module")
def compile_c(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """compile_c(name, *flags, compiler="gcc"): PROGRAM built with those flags."""
    out = tmp_path_factory.mktemp("unwind")
    source = out / "prog.c"
    source.write_text(PROGRAM)

    def build(name: str, *flags: str, compiler: str = "gcc") -> Path:
        if shutil.which(compiler) is None:
            pytest.skip(f"{compiler} is not installed")
        exe = out / name
        if not exe.exists():
            subprocess.run([compiler, "-O1", *flags, "-o", str(exe), str(source)], check=True)
        return exe

    return build


def _nm(path: Path) -> dict[str, int]:
    with open(path, "rb") as f:
        tab = ELFFile(f).get_section_by_name(".symtab")
        assert tab is not None
        return {s.name: s["st_value"] for s in tab.iter_symbols() if s["st_info"]["type"] == "STT_FUNC"}


# -- names ---------------------------------------------------------------------------------------


def test_first_symbol_of_an_address_wins() -> None:
    # libunwind keeps the first strictly closer symbol: of two at one address, the first seen.
    syms = FunctionSymbols([(0x100, False, "__write"), (0x100, False, "write"), (0x200, False, "other")])
    assert syms.nearest(0x110, 0) == (0x10, 0, "__write")
    assert syms.nearest(0x1110, 0x1000) == (0x10, 0, "__write")  # moved by the load bias
    assert syms.nearest(0x250, 0) == (0x50, 2, "other")


def test_no_symbol_below_an_address() -> None:
    assert FunctionSymbols([(0x100, False, "f")]).nearest(0xFF, 0) is None
    assert FunctionSymbols([]).nearest(0x100, 0) is None


def test_absolute_symbols_are_not_moved() -> None:
    syms = FunctionSymbols([(0x5000, True, "abs"), (0x100, False, "rel")])
    assert syms.nearest(0x5008, 0x1000) == (8, 0, "abs")  # rel is at 0x1100: farther
    assert syms.nearest(0x1108, 0x1000) == (8, 1, "rel")


def test_module_names_functions(compile_c: Callable[..., Path]) -> None:
    exe = compile_c("static", "-static")
    module = load_module_path(str(exe))
    assert module is not None
    nm = _nm(exe)
    text = next(s for s in module.segments if s.executable)
    start = 0x400000 + text.offset - text.offset % 0x1000  # where Linux maps the segment
    main = nm["main"]
    assert module.proc_name(main, start, text.offset & ~0xFFF) == ("main", 0)
    assert module.proc_name(main + 5, start, text.offset & ~0xFFF) == ("main", 5)
    assert load_module_path(str(exe)) is module  # parsed once


def test_module_of_a_pie_is_moved_by_its_mapping(compile_c: Callable[..., Path]) -> None:
    exe = compile_c("pie", "-fPIE", "-pie")
    module = load_module_path(str(exe))
    assert module is not None
    text = next(s for s in module.segments if s.executable)
    base = 0x555555554000
    map_start, map_offset = base + (text.vaddr & ~0xFFF), text.offset & ~0xFFF
    main = _nm(exe)["main"]
    assert module.load_bias(map_start, map_offset, base + main) == base
    assert module.proc_name(base + main + 3, map_start, map_offset) == ("main", 3)


def test_stripped_module_names_from_dynsym_only(compile_c: Callable[..., Path], tmp_path: Path) -> None:
    exe = compile_c("pie2", "-fPIE", "-pie")
    stripped = tmp_path / "stripped"
    subprocess.run(["strip", "--strip-all", str(exe), "-o", str(stripped)], check=True)
    module = load_module_path(str(stripped))
    assert module is not None
    text = next(s for s in module.segments if s.executable)
    base = 0x555555554000
    name = module.proc_name(base + _nm(exe)["main"], base + (text.vaddr & ~0xFFF), text.offset & ~0xFFF)
    # Only _init/_fini and the like are left: main is named after the nearest one, or not at all.
    assert name is None or name[0] != "main"


def test_minidebuginfo_names(compile_c: Callable[..., Path], tmp_path: Path) -> None:
    if shutil.which("objcopy") is None:
        pytest.skip("objcopy is not installed")
    exe = compile_c("pie3", "-fPIE", "-pie")
    mini, stripped = tmp_path / "mini", tmp_path / "prog"
    subprocess.run(["objcopy", "--only-keep-debug", str(exe), str(mini)], check=True)
    (tmp_path / "mini.xz").write_bytes(lzma.compress(mini.read_bytes()))
    subprocess.run(["strip", "--strip-all", str(exe), "-o", str(stripped)], check=True)
    subprocess.run(["objcopy", "--add-section", f".gnu_debugdata={tmp_path / 'mini.xz'}", str(stripped)], check=True)
    module = load_module_path(str(stripped))
    assert module is not None
    text = next(s for s in module.segments if s.executable)
    base = 0x555555554000
    main = _nm(exe)["leaf"]
    assert module.proc_name(base + main + 1, base + (text.vaddr & ~0xFFF), text.offset & ~0xFFF) == ("leaf", 1)


def test_debuglink_file_replaces_the_names(compile_c: Callable[..., Path], tmp_path: Path) -> None:
    """libunwind takes the .gnu_debuglink file's symbols with that file's program headers;
    objcopy --only-keep-debug zeroes their offsets, so a PIE's code is not named (as
    strace -k shows), a non-PIE program's (load offset 0) is."""
    if shutil.which("objcopy") is None:
        pytest.skip("objcopy is not installed")
    for name, flags, base in (("pie4", ("-fPIE", "-pie"), 0x555555554000), ("nopie", ("-no-pie",), 0)):
        exe = compile_c(name, *flags)
        debug, stripped = tmp_path / f"{name}.debug", tmp_path / name
        subprocess.run(["objcopy", "--only-keep-debug", str(exe), str(debug)], check=True)
        subprocess.run(["strip", "--strip-all", str(exe), "-o", str(stripped)], check=True)
        subprocess.run(["objcopy", f"--add-gnu-debuglink={debug}", str(stripped)], check=True, cwd=tmp_path)
        module = load_module_path(str(stripped))
        assert module is not None
        assert module.names.size == debug.stat().st_size
        text = next(s for s in module.segments if s.executable)
        leaf = _nm(exe)["leaf"]
        got = module.proc_name(base + leaf + 2, base + (text.vaddr & ~0xFFF), text.offset & ~0xFFF)
        assert got == (None if base else ("leaf", 2))


def test_not_elf_or_damaged(tmp_path: Path, compile_c: Callable[..., Path]) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"#!/bin/sh\necho hi\n")
    assert load_module_path(str(junk)) is None
    truncated = tmp_path / "truncated"
    truncated.write_bytes(compile_c("static2", "-static").read_bytes()[:3000])
    assert load_module_path(str(truncated)) is None
    assert load_module_path(str(tmp_path / "missing")) is None
    assert load_module_path(str(tmp_path)) is None  # a directory


# -- CFI rows ----------------------------------------------------------------------------------------

CIE = [(0x0C, [7, 8]), (0x80, [16, 1])]  # def_cfa rsp+8; rip at cfa-8 (data alignment -8)


def _row(fde: list[tuple[int, list[int]]], pc: int, start: int = 0x1000) -> Row:
    initial = run_instructions(CIE, Row(), None, start, None, 1, -8)
    return run_instructions(fde, initial.copy(), initial, start, pc, 1, -8)


def test_rows_advance_with_the_location() -> None:
    fde = [(0x40, [1]), (0x0E, [16]), (0x80, [6, 2]), (0x40, [3]), (0x0D, [6])]
    assert _row(fde, 0x1000).cfa == ("reg", 7, 8)
    row = _row(fde, 0x1001)
    assert row.cfa == ("reg", 7, 16) and row.regs[6] == ("off", -16) and row.regs[16] == ("off", -8)
    assert _row(fde, 0x1004).cfa == ("reg", 6, 16)


def test_remember_restore_and_restore_to_the_cie() -> None:
    fde = [(0x40, [1]), (0x0E, [16]), (0x80, [16, 3]), (0x0A, []), (0x40, [1]), (0x0E, [8]), (0xC0, [16]),
           (0x40, [1]), (0x0B, [])]
    row = _row(fde, 0x1001)
    assert row.cfa == ("reg", 7, 16) and row.regs[16] == ("off", -24)
    row = _row(fde, 0x1002)
    assert row.cfa == ("reg", 7, 8) and row.regs[16] == ("off", -8)  # restored to the CIE's rule
    row = _row(fde, 0x1003)
    assert row.cfa == ("reg", 7, 16) and row.regs[16] == ("off", -24)  # the remembered row


def test_signed_and_extended_forms() -> None:
    fde = [(0x12, [6, -2]), (0x11, [3, 2]), (0x2E, [16]), (0x14, [12, 1]), (0x09, [13, 14]),
           (0x07, [15]), (0x08, [3]), (0x2F, [14, 1])]
    row = _row(fde, 0x1000)
    assert row.cfa == ("reg", 6, 16)  # def_cfa_sf is scaled by the data alignment factor
    assert row.regs[3] == ("same",)
    assert row.regs[12] == ("valoff", -8)
    assert row.regs[13] == ("reg", 14)
    assert row.regs[15] == ("undef",)
    assert row.regs[14] == ("off", 8)


def test_bad_instructions() -> None:
    with pytest.raises(CfiError):
        _row([(0x0B, [])], 0x1000)  # restore_state with nothing remembered
    with pytest.raises(CfiError):
        _row([(0x3F, [])], 0x1000)  # not an instruction
    with pytest.raises(CfiError):
        run_instructions([(0x0E, [8])], Row(), None, 0, 0, 1, -8)  # an offset without a register CFA


FDE_LIKE = SimpleNamespace(ra_column=16, structs=None)


def _structs() -> object:
    from elftools.dwarf.structs import DWARFStructs

    return DWARFStructs(little_endian=True, dwarf_format=32, address_size=8)


def _regs(**named: int) -> list[int | None]:
    regs: list[int | None] = [None] * NREGS
    order = ["rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp"] + [f"r{i}" for i in range(8, 16)] + ["rip"]
    for name, value in named.items():
        regs[order.index(name)] = value
    return regs


def _memory(words: dict[int, int]) -> Callable[[int, int], int]:
    def read(addr: int, size: int) -> int:
        if addr not in words:
            raise KeyError(addr)
        return words[addr] & ((1 << (8 * size)) - 1)

    return read


def test_apply_row_gives_the_caller() -> None:
    fde = SimpleNamespace(ra_column=16, structs=_structs())
    row = Row(("reg", 7, 16), {16: ("off", -8), 6: ("off", -16), 12: ("valoff", 0), 13: ("reg", 3)})
    regs = _regs(rsp=0x7000, rbp=1, rbx=5, rip=0x401000)
    new, cfa = apply_row(fde, row, regs, _memory({0x7008: 0x402000, 0x7000: 0x7100}))  # type: ignore[arg-type]
    assert cfa == 0x7010
    assert (new[RIP], new[RSP], new[6], new[12], new[13]) == (0x402000, 0x7010, 0x7100, 0x7010, 5)


def test_apply_row_ends_the_stack() -> None:
    fde = SimpleNamespace(ra_column=16, structs=_structs())
    regs = _regs(rsp=0x7000, rip=0x401000)
    assert apply_row(fde, Row(("reg", 7, 8), {16: ("undef",)}), regs, _memory({})) is None  # type: ignore[arg-type]
    assert apply_row(fde, Row(("reg", 7, 8), {16: ("off", -8), 6: ("undef",)}), regs,  # type: ignore[arg-type]
                     _memory({0x7000: 1})) is None
    with pytest.raises(CfiError):
        apply_row(fde, Row(("reg", 3, 8), {}), regs, _memory({}))  # type: ignore[arg-type]  # rbx unknown
    with pytest.raises(CfiError):
        apply_row(fde, Row(None, {}), regs, _memory({}))  # type: ignore[arg-type]


def test_expressions_as_glibc_signal_frames_use_them() -> None:
    # __restore_rt: CFA = *(rsp + 160) (uc_mcontext.rsp); rip at rsp + 168.
    structs = _structs()
    regs = _regs(rsp=0x7000)
    read = _memory({0x70A0: 0x9000})
    assert evaluate(bytes([0x77, 0xA0, 0x01, 0x06]), regs, read, structs, []) == 0x9000  # type: ignore[arg-type]
    assert evaluate(bytes([0x77, 0xA8, 0x01]), regs, read, structs, []) == 0x70A8  # type: ignore[arg-type]
    assert evaluate(bytes([0x23, 0x10]), regs, read, structs, [0x100]) == 0x110  # type: ignore[arg-type]


def test_expression_arithmetic_and_branches() -> None:
    structs = _structs()
    regs = _regs()
    read = _memory({})

    def ev(code: list[int], stack: list[int] | None = None) -> int:
        return evaluate(bytes(code), regs, read, structs, stack or [])  # type: ignore[arg-type]

    assert ev([0x35, 0x33, 0x1C]) == 2  # 5 - 3
    assert ev([0x33, 0x35, 0x1C]) == MASK64 - 1  # 3 - 5 wraps
    assert ev([0x36, 0x32, 0x1B]) == 3  # 6 / 2
    assert ev([0x38, 0x11, 0x7E, 0x1B]) == MASK64 - 3  # 8 / -2, signed
    assert ev([0x31, 0x28, 0x04, 0x00, 0x37, 0x2F, 0x01, 0x00, 0x39]) == 9  # bra taken: lit9
    assert ev([0x30, 0x28, 0x04, 0x00, 0x37, 0x2F, 0x01, 0x00, 0x39]) == 7  # not taken: lit7, skip
    assert ev([0x34, 0x12, 0x22]) == 8  # dup, plus
    assert ev([0x31, 0x32, 0x16, 0x1C]) == 1  # swap
    assert ev([0x31, 0x32, 0x2D]) == 1  # 1 < 2


@pytest.mark.parametrize("code", [
    [0x31, 0x30, 0x1B],  # division by zero
    [0xE0],  # an operation CFI has no use for (DW_OP_lo_user)
    [0x96],  # leaves nothing
    [0x2F, 0xFD, 0xFF],  # skip -3: back to itself forever
    [0x70, 0x00],  # breg0: rax is not known
])
def test_bad_expressions(code: list[int]) -> None:
    with pytest.raises(CfiError):
        evaluate(bytes(code), _regs(), _memory({}), _structs(), [])  # type: ignore[arg-type]


def test_eh_frame_hdr_finds_what_a_full_scan_finds(compile_c: Callable[..., Path]) -> None:
    exe = compile_c("spie", "-static-pie", "-fPIE")
    with open(exe, "rb") as f:
        elf = ELFFile(f)
        eh = elf.get_section_by_name(".eh_frame")
        hdr = elf.get_section_by_name(".eh_frame_hdr")
        assert eh is not None and hdr is not None
        fast = find_table((eh.data(), eh["sh_addr"]), (hdr.data(), hdr["sh_addr"]), eh_frame=True)
        slow = CallFrameTable(eh.data(), eh["sh_addr"], True, None)
    assert fast is not None and len(fast) == len(slow) > 100
    for name, addr in _nm(exe).items():
        a, b = fast.find(addr + 1), slow.find(addr + 1)
        assert (a is None) == (b is None), name
        if a is not None and b is not None:
            assert (a.start, a.end, a.instructions) == (b.start, b.end, b.instructions), name


def test_static_program_without_eh_frame_hdr_is_indexed(compile_c: Callable[..., Path]) -> None:
    exe = compile_c("static3", "-static")
    module = load_module_path(str(exe))
    assert module is not None and module.eh_frame is not None
    fde = module.eh_frame.find(_nm(exe)["main"])
    assert fde is not None and fde.start == _nm(exe)["main"]
    assert module.eh_frame.find(0x10) is None


# -- the walk, on a hand-made address space ---------------------------------------------------------

CODE = 0x20000000
STACK = 0x20100000


@pytest.fixture
def jit(task: Task) -> Task:
    """A named executable mapping (no ELF file behind it) and a stack page."""
    task.mm.insert_vma(Vma(CODE, CODE + 0x1000, PROT_READ | PROT_WRITE | PROT_EXEC, name="[jit]"))
    task.mm.insert_vma(Vma(STACK, STACK + 0x2000, PROT_READ | PROT_WRITE))
    return task


def _regs_at(ip: int, rsp: int, rbp: int | None = None) -> list[int | None]:
    return _regs(rip=ip, rsp=rsp, rbp=rbp if rbp is not None else 0)


def test_address_in_no_mapping(task: Task) -> None:
    assert walk(task.mm, _regs_at(0x12345000, 0)) == [" > unexpected_backtracing_error [0x12345000]"]
    assert walk(task.mm, _regs_at(0, 0)) == []


def test_address_in_anonymous_unnamed_code(task: Task) -> None:
    task.mm.insert_vma(Vma(CODE, CODE + 0x1000, PROT_READ | PROT_EXEC))
    assert walk(task.mm, _regs_at(CODE + 8, 0)) == [f" > unexpected_backtracing_error [0x{CODE + 8:x}]"]


def test_address_in_data_is_not_code(task: Task) -> None:
    task.mm.insert_vma(Vma(CODE, CODE + 0x1000, PROT_READ | PROT_WRITE, name="[heap]"))
    assert walk(task.mm, _regs_at(CODE + 8, 0)) == [f" > unexpected_backtracing_error [0x{CODE + 8:x}]"]


def test_frame_without_a_name(jit: Task) -> None:
    regs = _regs_at(CODE + 0x10, 0x30000000)  # the stack pointer is not readable: one frame
    assert walk(jit.mm, regs) == [" > [jit]() [0x10]"]
    assert walk(jit.mm, regs, queued=True) == [" > [jit](+0x0) [0x10]"]  # exit_group's capture


def test_stack_scan_and_the_frame_limit(jit: Task) -> None:
    # A call at CODE (e8 to itself), returning to CODE+5; the stack full of that address.
    jit.mm.write(CODE, bytes([0xE8, 0xFB, 0xFF, 0xFF, 0xFF, 0xC3]))
    jit.mm.write(STACK, struct.pack("<1024Q", *[CODE + 5] * 1024))
    lines = walk(jit.mm, _regs_at(CODE + 0x40, STACK))
    assert len(lines) == MAX_FRAMES + 1
    assert lines[0] == " > [jit]() [0x40]"
    assert lines[1] == " > [jit]() [0x5]"
    assert lines[-1] == " > too many stack frames"


def test_stack_scan_ends_where_memory_does(jit: Task) -> None:
    jit.mm.write(CODE, bytes([0xE8, 0xFB, 0xFF, 0xFF, 0xFF, 0xC3]))
    jit.mm.write(STACK + 0x2000 - 16, struct.pack("<2Q", CODE + 5, CODE + 5))
    lines = walk(jit.mm, _regs_at(CODE + 0x40, STACK + 0x2000 - 16))
    assert lines == [" > [jit]() [0x40]", " > [jit]() [0x5]", " > [jit]() [0x5]"]


def test_signal_trampoline_without_cfi(jit: Task) -> None:
    jit.mm.write(CODE + 0x100, SIGRETURN_CODE)
    ucontext = STACK + 0x100
    sigcontext = bytearray(256)
    struct.pack_into("<Q", sigcontext, 120, STACK + 0x1000)  # rsp
    struct.pack_into("<Q", sigcontext, 128, CODE + 0x200)  # rip: where the signal came
    jit.mm.write(ucontext + UC_MCONTEXT, bytes(sigcontext))
    lines = walk(jit.mm, _regs_at(CODE + 0x100, ucontext))
    # The interrupted address is exact: the frame after the trampoline is not a return address.
    assert lines[:2] == [" > [jit]() [0x100]", " > [jit]() [0x200]"]


def test_plt_entry_without_cfi(jit: Task) -> None:
    plt = bytes.fromhex("ff25e2491300" "68ae030000" "e900c5ffff") + b"\x90" * 8
    jit.mm.write(CODE + 0x300, plt)
    jit.mm.write(STACK, struct.pack("<Q", CODE + 0x405))
    lines = walk(jit.mm, _regs_at(CODE + 0x300, STACK))
    assert lines[:2] == [" > [jit]() [0x300]", " > [jit]() [0x405]"]


def test_frame_pointer_chain(jit: Task) -> None:
    jit.mm.write(CODE + 0x500, bytes([0xE8, 0, 0, 0, 0]))  # a call ending at 0x505
    frame = STACK + 0x800
    jit.mm.write(frame, struct.pack("<QQ", 0, CODE + 0x505))
    lines = walk(jit.mm, _regs_at(CODE + 0x10, STACK, rbp=frame))
    assert lines[:2] == [" > [jit]() [0x10]", " > [jit]() [0x505]"]


def test_walk_never_raises(jit: Task) -> None:
    jit.mm.write(CODE, bytes(range(256)) * 16)
    jit.mm.write(STACK, bytes(range(256)) * 32)
    for ip in (CODE, CODE + 0x7F, CODE + 0xFFF, STACK, 1, MASK64):
        for rsp in (STACK, STACK + 0x1FF8, STACK + 0x1FFF, 0, MASK64 - 7):
            lines = walk(jit.mm, _regs_at(ip, rsp, rbp=rsp + 16))
            assert all(line.startswith(" > ") for line in lines)


def test_call_before_recognises_call_forms(jit: Task) -> None:
    mem = unwind.GuestMemory(jit.mm)
    forms = {
        "e8 00 00 00 00": 0x10 + 5,  # call rel32: its target
        "ff d0": -1,  # call *%rax
        "41 ff d3": -1,  # call *%r11
        "ff 50 08": -1,  # call *8(%rax)
        "ff 15 00 00 00 00": -1,  # call *0(%rip)
        "ff 14 c5 00 00 00 00": -1,  # call *0(,%rax,8)
        "ff 94 c8 00 00 00 00": -1,  # call *0(%rax,%rcx,8)
        "ff e0": None,  # jmp *%rax is not a call
        "90 90": None,
    }
    for text, expected in forms.items():
        code = bytes.fromhex(text)
        jit.mm.write(CODE, b"\xcc" * 32)
        jit.mm.write(CODE + 0x10, code)
        mem = unwind.GuestMemory(jit.mm)
        target = call_before(mem, CODE + 0x10 + len(code))
        assert (target - CODE if target is not None and target > 0 else target) == expected, text


def test_capture_needs_the_cpu(task: Task) -> None:
    assert capture_stack(task) == []  # unit tests run no CPU
    line = traced(task, "getpid", options=("-k",))
    assert line.startswith("getpid()") and " > " not in line


def test_modules_cached_per_file_version(compile_c: Callable[..., Path], tmp_path: Path) -> None:
    exe = tmp_path / "copy"
    exe.write_bytes(compile_c("static4", "-static").read_bytes())
    first = load_module_path(str(exe))
    assert first is not None and load_module_path(str(exe)) is first
    with open(exe, "r+b") as f:  # a new version of the file: parsed again
        f.seek(0, io.SEEK_END)
        f.write(b"\0")
    assert load_module_path(str(exe)) is not first
    assert symbols.parse_module(io.BytesIO(b"\x7fELF" + b"\0" * 60), 64, "x") is None


def _map_module(task: Task, exe: Path, base: int) -> tuple[int, int]:
    """Map `exe`'s code segment at `base` + its address, as ld.so would; (start, file offset)."""
    import os

    from sysgate.mm.vma import MappedFile

    with open(exe, "rb") as f:
        text = next(s for s in ELFFile(f).iter_segments() if s["p_type"] == "PT_LOAD" and s["p_flags"] & 1)
    fd = os.open(exe, os.O_RDONLY)
    try:
        file = MappedFile(fd, str(exe), writable=False)
    finally:
        os.close(fd)
    start = base + (text["p_vaddr"] & ~0xFFF)
    end = (base + text["p_vaddr"] + text["p_memsz"] + 0xFFF) & ~0xFFF
    task.mm.insert_vma(Vma(start, end, PROT_READ | PROT_EXEC, file=file.get(), pgoff=text["p_offset"] & ~0xFFF))
    return start, text["p_offset"] & ~0xFFF


def test_frames_in_a_mapped_module(jit: Task, compile_c: Callable[..., Path]) -> None:
    import os

    exe = compile_c("pie6", "-fPIE", "-pie")
    base = 0x555555554000
    start, offset = _map_module(jit, exe, base)
    nm = _nm(exe)
    ip = base + nm["leaf"] + 4
    jit.mm.write(STACK, bytes(64))  # no return address: the walk ends after the first frame
    lines = walk(jit.mm, _regs_at(ip, STACK))
    path = os.path.realpath(exe)
    assert lines == [f" > {path}(leaf+0x4) [0x{ip - start + offset:x}]"]


def test_damaged_unwind_information_ends_the_stack(jit: Task, compile_c: Callable[..., Path],
                                                   tmp_path: Path) -> None:
    exe = compile_c("pie7", "-fPIE", "-pie")
    module = load_module_path(str(exe))
    assert module is not None and module.eh_frame is not None
    fde = module.eh_frame.find(_nm(exe)["leaf"])
    assert fde is not None
    data = bytearray(exe.read_bytes())
    with open(exe, "rb") as f:
        eh = ELFFile(f).get_section_by_name(".eh_frame")
        assert eh is not None
    # leaf's FDE: its CIE pointer sent far outside the section.
    table = module.eh_frame
    fde_offset = table._offsets[table._starts.index(fde.start)]
    struct.pack_into("<I", data, eh["sh_offset"] + fde_offset + 4, 0x7FFFFFF0)
    damaged = tmp_path / "damaged"
    damaged.write_bytes(bytes(data))
    base = 0x555555554000
    _map_module(jit, damaged, base)
    ip = base + _nm(exe)["leaf"] + 4
    # A return address on the stack that a scan would take: the broken CFI must not fall back to it.
    jit.mm.write(CODE, bytes([0xE8, 0xFB, 0xFF, 0xFF, 0xFF, 0xC3]))
    jit.mm.write(STACK, struct.pack("<Q", CODE + 5))
    site = unwind.GuestMemory(jit.mm).site(ip, False)
    assert site is not None and site.broken and site.name == ("leaf", 4)
    assert walk(jit.mm, _regs_at(ip, STACK)) == [site.line(ip, False, False)]


def test_cxx_names_are_demangled() -> None:
    if symbols._demangler() is None:
        pytest.skip("no libstdc++ to demangle with")
    assert symbols.demangle("_ZN2ns1A1fEi") == "ns::A::f(int)"
    assert symbols.demangle("_ZNSt6vectorIiSaIiEE9push_backERKi") == (
        "std::vector<int, std::allocator<int> >::push_back(int const&)")
    assert symbols.demangle("main") == "main"
    assert symbols.demangle("_Z!!") == "_Z!!"  # not a mangled name after all
