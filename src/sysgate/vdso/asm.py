"""A tiny x86-64 assembler: the instructions sysgate's vDSO is written in.

Counterpart: none in the kernel (it is the toolchain that builds arch/x86/entry/vdso);
this is what lets the vDSO's machine code live in the repository as source. Only the
forms the vDSO uses are here, each encoded as the Intel SDM gives it:

- operands are register names ("rax", "r9d") or `Mem(base, disp)` for [base + disp],
  `Mem("rip", target=label-or-offset)` for a RIP-relative reference;
- `cond` jumps and `jmp` take a label and always use rel32, so the size of an
  instruction never depends on where its target is;
- `finish()` resolves labels and returns the bytes; `labels` maps each label to its
  offset from the start (the image's link address of the code is `origin`).

tests/unit/vdso/test_asm.py checks every form against objdump's disassembly.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

REG64 = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
         "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
REG32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
         "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"]
CONDITIONS = {"o": 0, "no": 1, "b": 2, "ae": 3, "e": 4, "ne": 5, "be": 6, "a": 7,
              "s": 8, "ns": 9, "p": 10, "np": 11, "l": 12, "ge": 13, "le": 14, "g": 15}


class AsmError(Exception):
    """An instruction this assembler cannot encode (a bug in the vDSO's source)."""


@dataclass(frozen=True, slots=True)
class Mem:
    """A memory operand: [base + disp], or with base "rip" the address `target`
    (a label, or an offset from the code's origin) reached RIP-relatively."""

    base: str
    disp: int = 0
    target: str | int | None = None


def reg(name: str) -> tuple[int, bool]:
    """(number, is 64-bit) of a register name."""
    if name in REG64:
        return REG64.index(name), True
    if name in REG32:
        return REG32.index(name), False
    raise AsmError(f"unknown register {name!r}")


def _imm32(value: int, wide: bool) -> bytes:
    """An imm32 field; with a 64-bit operand the CPU sign-extends it, so it must fit."""
    if wide and not -(1 << 31) <= value < 1 << 31:
        raise AsmError(f"{value:#x} does not fit a sign-extended imm32")
    if not -(1 << 31) <= value < 1 << 32:
        raise AsmError(f"{value:#x} does not fit an imm32")
    return struct.pack("<I", value & 0xFFFFFFFF)


class Asm:
    """Machine code being assembled, with labels and the fixups that wait for them."""

    def __init__(self, origin: int = 0) -> None:
        self.origin = origin
        self.code = bytearray()
        self.labels: dict[str, int] = {}
        self._fixups: list[tuple[int, str | int, int]] = []  # (disp32 position, target, end of insn)

    # -- encoding helpers -------------------------------------------------------

    def _emit(self, *parts: bytes | int) -> None:
        for p in parts:
            if isinstance(p, int):
                self.code.append(p)
            else:
                self.code += p

    def _insn(self, opcode: bytes, regfield: int, rm: str | Mem, wide: bool, imm: bytes = b"",
              prefix: bytes = b"") -> None:
        """One ModRM instruction: `regfield` is a register number or an opcode extension."""
        rex = 0x48 if wide else 0
        if regfield & 8:
            rex |= 0x44
        if isinstance(rm, str):
            num, _ = reg(rm)
            if num & 8:
                rex |= 0x41
            modrm = bytes([0xC0 | (regfield & 7) << 3 | (num & 7)])
            self._emit(prefix, bytes([rex]) if rex else b"", opcode, modrm, imm)
            return
        if rm.base == "rip":
            if rm.target is None:
                raise AsmError("a RIP-relative operand needs a target")
            self._emit(prefix, bytes([rex]) if rex else b"", opcode, (regfield & 7) << 3 | 5)
            pos = len(self.code)
            self._emit(b"\0\0\0\0", imm)
            self._fixups.append((pos, rm.target, len(self.code)))
            return
        num, wide_base = reg(rm.base)
        if not wide_base:
            raise AsmError("addresses are 64-bit registers")
        if num & 8:
            rex |= 0x41
        if rm.disp == 0 and num & 7 != 5:
            mod, disp = 0, b""
        elif -128 <= rm.disp < 128:
            mod, disp = 1, struct.pack("<b", rm.disp)
        else:
            mod, disp = 2, struct.pack("<i", rm.disp)
        sib = b"\x24" if num & 7 == 4 else b""  # rsp/r12 as a base need a SIB byte
        self._emit(prefix, bytes([rex]) if rex else b"", opcode, mod << 6 | (regfield & 7) << 3 | (num & 7),
                   sib, disp, imm)

    def _width(self, *names: str) -> bool:
        widths = {reg(n)[1] for n in names}
        if len(widths) != 1:
            raise AsmError(f"operand sizes differ: {names}")
        return widths.pop()

    # -- labels -------------------------------------------------------------------

    def label(self, name: str) -> None:
        if name in self.labels:
            raise AsmError(f"label {name!r} defined twice")
        self.labels[name] = len(self.code)

    def here(self) -> int:
        return len(self.code)

    def finish(self) -> bytes:
        """The code with every reference resolved."""
        for pos, target, end in self._fixups:
            if isinstance(target, str):
                if target not in self.labels:
                    raise AsmError(f"undefined label {target!r}")
                dest = self.labels[target]
            else:
                dest = target - self.origin  # an offset from the image's start
            self.code[pos : pos + 4] = struct.pack("<i", dest - end)
        return bytes(self.code)

    # -- instructions ---------------------------------------------------------------

    def mov(self, dst: str | Mem, src: str | Mem | int) -> None:
        if isinstance(src, int):
            if isinstance(dst, str) and not reg(dst)[1]:
                num = reg(dst)[0]  # mov r32, imm32 (B8+r): zero-extends into the 64-bit register
                self._emit(b"\x41" if num & 8 else b"", 0xB8 + (num & 7), struct.pack("<I", src & 0xFFFFFFFF))
            else:  # mov r/m, imm32 (C7 /0), sign-extended for a 64-bit register
                wide = isinstance(dst, str) and reg(dst)[1]
                self._insn(b"\xc7", 0, dst, wide, _imm32(src, wide))
        elif isinstance(src, str):
            self._insn(b"\x89", reg(src)[0], dst, reg(src)[1])  # mov r/m, r
        elif isinstance(dst, str):
            self._insn(b"\x8b", reg(dst)[0], src, reg(dst)[1])  # mov r, r/m
        else:
            raise AsmError("mov from memory to memory")

    def lea(self, dst: str, src: Mem) -> None:
        self._insn(b"\x8d", reg(dst)[0], src, reg(dst)[1])

    def _alu(self, ext: int, op_rm_r: int, dst: str | Mem, src: str | Mem | int) -> None:
        """add/or/adc/sub/xor/cmp: ext is the /digit of the 0x81/0x83 forms."""
        if isinstance(src, int):
            wide = isinstance(dst, str) and reg(dst)[1]
            if -128 <= src < 128:
                self._insn(b"\x83", ext, dst, wide, struct.pack("<b", src))
            else:
                self._insn(b"\x81", ext, dst, wide, _imm32(src, wide))
        elif isinstance(src, str):
            if isinstance(dst, str):
                self._width(dst, src)
            self._insn(bytes([op_rm_r]), reg(src)[0], dst, reg(src)[1])  # op r/m, r
        elif isinstance(dst, str):
            self._insn(bytes([op_rm_r + 2]), reg(dst)[0], src, reg(dst)[1])  # op r, r/m
        else:
            raise AsmError("memory operands on both sides")

    def add(self, dst: str | Mem, src: str | Mem | int) -> None:
        self._alu(0, 0x01, dst, src)

    def or_(self, dst: str | Mem, src: str | Mem | int) -> None:
        self._alu(1, 0x09, dst, src)

    def adc(self, dst: str | Mem, src: str | Mem | int) -> None:
        self._alu(2, 0x11, dst, src)

    def sub(self, dst: str | Mem, src: str | Mem | int) -> None:
        self._alu(5, 0x29, dst, src)

    def xor(self, dst: str | Mem, src: str | Mem | int) -> None:
        self._alu(6, 0x31, dst, src)

    def cmp(self, dst: str | Mem, src: str | Mem | int) -> None:
        self._alu(7, 0x39, dst, src)

    def test(self, dst: str | Mem, src: str | int) -> None:
        if isinstance(src, int):  # test r/m, imm32 (F7 /0)
            wide = isinstance(dst, str) and reg(dst)[1]
            self._insn(b"\xf7", 0, dst, wide, _imm32(src, wide))
        else:
            self._insn(b"\x85", reg(src)[0], dst, reg(src)[1])

    def shl(self, dst: str, count: int | str) -> None:
        """shl r, imm8 (C1 /4) or shl r, cl (D3 /4)."""
        if isinstance(count, int):
            self._insn(b"\xc1", 4, dst, reg(dst)[1], bytes([count]))
        elif count == "cl":
            self._insn(b"\xd3", 4, dst, reg(dst)[1])
        else:
            raise AsmError("shift counts are an immediate or cl")

    def shrd(self, dst: str, src: str) -> None:
        """shrd dst, src, cl: dst takes the low bits of src:dst >> cl (0F AD /r)."""
        self._insn(b"\x0f\xad", reg(src)[0], dst, self._width(dst, src))

    def mul(self, src: str | Mem) -> None:
        """Unsigned rdx:rax = rax * src (F7 /4)."""
        self._insn(b"\xf7", 4, src, isinstance(src, Mem) or reg(src)[1])

    def div(self, src: str) -> None:
        """Unsigned rax = rdx:rax / src, rdx = remainder (F7 /6)."""
        self._insn(b"\xf7", 6, src, reg(src)[1])

    def jcc(self, cond: str, target: str) -> None:
        self._emit(0x0F, 0x80 + CONDITIONS[cond])
        pos = len(self.code)
        self._emit(b"\0\0\0\0")
        self._fixups.append((pos, target, len(self.code)))

    def jmp(self, target: str) -> None:
        self._emit(0xE9)
        pos = len(self.code)
        self._emit(b"\0\0\0\0")
        self._fixups.append((pos, target, len(self.code)))

    def rdtsc(self) -> None:
        self._emit(0x0F, 0x31)

    def lfence(self) -> None:
        self._emit(0x0F, 0xAE, 0xE8)

    def pause(self) -> None:
        self._emit(0xF3, 0x90)

    def syscall(self) -> None:
        self._emit(0x0F, 0x05)

    def ret(self) -> None:
        self._emit(0xC3)

    def align(self, boundary: int, fill: int = 0xCC) -> None:
        """Pad with `fill` (int3) up to a multiple of `boundary` from the origin."""
        while (self.origin + len(self.code)) % boundary:
            self.code.append(fill)
