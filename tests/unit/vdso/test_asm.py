"""The vDSO's assembler: every instruction form it encodes, read back by objdump.

objdump (binutils) is the oracle: each case assembles one instruction and compares
objdump's Intel-syntax disassembly of the bytes with the instruction meant. A few
encodings are also pinned as bytes, so the tests still fail without binutils.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from sysgate.vdso.asm import Asm, AsmError, Mem

OBJDUMP = shutil.which("objdump")

Emit = Callable[[Asm], None]
CASES: list[tuple[Emit, str]] = [
    (lambda a: a.mov("eax", 1), "mov eax,0x1"),
    (lambda a: a.mov("r10d", 1), "mov r10d,0x1"),
    (lambda a: a.mov("ecx", 1_000_000_000), "mov ecx,0x3b9aca00"),
    (lambda a: a.mov("rax", -1), "mov rax,0xffffffffffffffff"),
    (lambda a: a.mov("rdx", "rax"), "mov rdx,rax"),
    (lambda a: a.mov("r9", "rax"), "mov r9,rax"),
    (lambda a: a.mov("rax", "r9"), "mov rax,r9"),
    (lambda a: a.mov("r9d", "edi"), "mov r9d,edi"),
    (lambda a: a.mov("ecx", "edi"), "mov ecx,edi"),
    (lambda a: a.mov("r10d", Mem("r8", 0)), "mov r10d,DWORD PTR [r8]"),
    (lambda a: a.mov("edx", Mem("r8", 16)), "mov edx,DWORD PTR [r8+0x10]"),
    (lambda a: a.mov("eax", Mem("r8", 216)), "mov eax,DWORD PTR [r8+0xd8]"),
    (lambda a: a.mov("r11", Mem("r9", 0)), "mov r11,QWORD PTR [r9]"),
    (lambda a: a.mov("rax", Mem("rsp", 8)), "mov rax,QWORD PTR [rsp+0x8]"),
    (lambda a: a.mov("rax", Mem("rbp", 0)), "mov rax,QWORD PTR [rbp+0x0]"),
    (lambda a: a.mov("rax", Mem("r13", -8)), "mov rax,QWORD PTR [r13-0x8]"),
    (lambda a: a.mov("rax", Mem("r12", 0)), "mov rax,QWORD PTR [r12]"),
    (lambda a: a.mov(Mem("rsi", 0), "rax"), "mov QWORD PTR [rsi],rax"),
    (lambda a: a.mov(Mem("rsi", 8), "rdx"), "mov QWORD PTR [rsi+0x8],rdx"),
    (lambda a: a.mov(Mem("rsi", 4), "eax"), "mov DWORD PTR [rsi+0x4],eax"),
    (lambda a: a.mov(Mem("rdi", 0), 0), "mov DWORD PTR [rdi],0x0"),
    (lambda a: a.lea("r8", Mem("r8", 24)), "lea r8,[r8+0x18]"),
    (lambda a: a.lea("r9", Mem("rip", target=0x100)), "lea r9,[rip+0xf9]"),
    (lambda a: a.lea("r8", Mem("rip", target=-0x4000 + 128)), "lea r8,[rip+0xffffffffffffc079]"),
    (lambda a: a.add("rax", "r11"), "add rax,r11"),
    (lambda a: a.add("r9", "r8"), "add r9,r8"),
    (lambda a: a.add("r9", 24), "add r9,0x18"),
    (lambda a: a.add("rax", 0x1000), "add rax,0x1000"),
    (lambda a: a.add("rax", Mem("r9", 8)), "add rax,QWORD PTR [r9+0x8]"),
    (lambda a: a.adc("rdx", 0), "adc rdx,0x0"),
    (lambda a: a.sub("rax", Mem("r8", 8)), "sub rax,QWORD PTR [r8+0x8]"),
    (lambda a: a.or_("rax", "rdx"), "or rax,rdx"),
    (lambda a: a.xor("eax", "eax"), "xor eax,eax"),
    (lambda a: a.xor("r10d", "r10d"), "xor r10d,r10d"),
    (lambda a: a.cmp("edi", 15), "cmp edi,0xf"),
    (lambda a: a.cmp(Mem("r8", 4), 1), "cmp DWORD PTR [r8+0x4],0x1"),
    (lambda a: a.cmp("r10d", Mem("r8", 0)), "cmp r10d,DWORD PTR [r8]"),
    (lambda a: a.test("eax", 0x8E3), "test eax,0x8e3"),
    (lambda a: a.test("r10d", 1), "test r10d,0x1"),
    (lambda a: a.test("rdi", "rdi"), "test rdi,rdi"),
    (lambda a: a.shl("rdx", 32), "shl rdx,0x20"),
    (lambda a: a.shl("r9", 4), "shl r9,0x4"),
    (lambda a: a.shl("eax", "cl"), "shl eax,cl"),
    (lambda a: a.shl("r10d", "cl"), "shl r10d,cl"),
    (lambda a: a.shrd("rax", "rdx"), "shrd rax,rdx,cl"),
    (lambda a: a.mul("rdx"), "mul rdx"),
    (lambda a: a.mul("rcx"), "mul rcx"),
    (lambda a: a.div("rcx"), "div rcx"),
    (lambda a: a.rdtsc(), "rdtsc"),
    (lambda a: a.lfence(), "lfence"),
    (lambda a: a.pause(), "pause"),
    (lambda a: a.syscall(), "syscall"),
    (lambda a: a.ret(), "ret"),
]


def disassemble(code: bytes, tmp: Path) -> list[str]:
    """objdump's instructions for raw x86-64 bytes, one string each, spaces squeezed."""
    assert OBJDUMP is not None
    blob = tmp / "code.bin"
    blob.write_bytes(code)
    out = subprocess.run([OBJDUMP, "-D", "-b", "binary", "-m", "i386:x86-64", "-M", "intel", str(blob)],
                         capture_output=True, text=True, check=True).stdout
    insns = []
    for line in out.splitlines():
        m = re.match(r"\s*[0-9a-f]+:\t(?:[0-9a-f]{2} )+\s*\t(.*)$", line)
        if m:
            insns.append(re.sub(r"\s+", " ", m.group(1).split("#")[0]).strip())
    return insns


@pytest.mark.skipif(OBJDUMP is None, reason="binutils' objdump is not installed")
@pytest.mark.parametrize("emit, text", CASES, ids=[c[1] for c in CASES])
def test_each_form_disassembles_to_the_instruction_meant(emit: Emit, text: str, tmp_path: Path) -> None:
    a = Asm()
    emit(a)
    assert disassemble(a.finish(), tmp_path) == [text]


def test_pinned_encodings() -> None:
    a = Asm()
    a.mov("r10d", Mem("r8", 0))
    a.shrd("rax", "rdx")
    a.lea("r8", Mem("rip", target=0x20))
    assert a.finish() == bytes.fromhex("458b10" "480fadd0" "4c8d0512000000")


@pytest.mark.skipif(OBJDUMP is None, reason="binutils' objdump is not installed")
def test_jumps_reach_their_labels_both_ways(tmp_path: Path) -> None:
    a = Asm()
    a.label("top")
    a.jcc("ne", "end")
    a.jcc("a", "top")
    a.jmp("top")
    a.label("end")
    a.ret()
    assert disassemble(a.finish(), tmp_path) == ["jne 0x11", "ja 0x0", "jmp 0x0", "ret"]


def test_rip_relative_targets_count_from_the_origin() -> None:
    """An int target is an offset from the image's start; the code sits at `origin`."""
    a = Asm(origin=0x600)
    a.lea("r8", Mem("rip", target=0))  # 7 bytes: rip after it is 0x607
    assert a.finish()[3:] == (-0x607).to_bytes(4, "little", signed=True)


def test_align_pads_with_int3() -> None:
    a = Asm(origin=0x5A0)
    a.ret()
    a.align(16)
    assert a.finish() == b"\xc3" + b"\xcc" * 15


@pytest.mark.parametrize("emit", [
    lambda a: a.mov("rax", 1 << 31),  # does not sign-extend to itself
    lambda a: a.add("rax", 1 << 40),
    lambda a: a.mov(Mem("rax", 0), Mem("rbx", 0)),
    lambda a: a.add(Mem("rax", 0), Mem("rbx", 0)),
    lambda a: a.add("rax", "ebx"),
    lambda a: a.mov("rax", Mem("eax", 0)),
    lambda a: a.mov("xmm0", 1),
    lambda a: a.shl("rax", "dl"),
    lambda a: a.lea("rax", Mem("rip")),
])
def test_what_it_cannot_encode_is_an_error(emit: Emit) -> None:
    a = Asm()
    with pytest.raises(AsmError):
        emit(a)


def test_labels_must_exist_and_be_unique() -> None:
    a = Asm()
    a.jmp("nowhere")
    with pytest.raises(AsmError):
        a.finish()
    a = Asm()
    a.label("x")
    with pytest.raises(AsmError):
        a.label("x")
