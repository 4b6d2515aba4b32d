"""-k: DWARF call frame information, read from .eh_frame and .debug_frame.

Counterpart: libunwind 1.6's dwarf/Gfind_proc_info-lsb.c (finding the FDE of an address
through .eh_frame_hdr's sorted table), dwarf/Gparser.c (running the CIE's and FDE's
instructions up to an address, then applying the row: the CFA, each register's rule, the
return address) and dwarf/Gexpr.c (DWARF expressions, which glibc's signal trampoline
uses). pyelftools parses the sections (CIE and FDE headers, augmentations, instruction
operands, expressions); the row is computed here, because pyelftools' decoder stops at
DW_CFA_GNU_args_size and scales DW_CFA_def_cfa_sf by the wrong factor.

A CallFrameTable finds the FDE of a link-time address: by bisection in .eh_frame_hdr's
table when there is one (only the FDEs asked for are parsed), else by an index of every
FDE made once (static non-PIE programs have .eh_frame but no .eh_frame_hdr).

Registers are numbered as DWARF does on x86-64: 0 rax, 1 rdx, 2 rcx, 3 rbx, 4 rsi,
5 rdi, 6 rbp, 7 rsp, 8-15 r8-r15, 16 the return address (rip).
"""

from __future__ import annotations

import bisect
import io
import itertools
import struct
from collections.abc import Callable, Sequence
from typing import Any

from elftools.dwarf.callframe import FDE, CallFrameInfo
from elftools.dwarf.dwarf_expr import DWARFExprParser
from elftools.dwarf.structs import DWARFStructs

MASK64 = (1 << 64) - 1
RSP = 7
RBP = 6
RIP = 16
NREGS = 17
_MAX_EXPR_STEPS = 1000
_ROW_CACHE = 4096

Regs = list[int | None]
"""A frame's registers by DWARF number (None: not known in this frame)."""
ReadWord = Callable[[int, int], int]
"""Reads `size` bytes of guest memory at an address, little-endian; raises if it cannot."""


class CfiError(Exception):
    """The unwind information cannot be applied (a bad rule, an unknown operation)."""


# -- rows: the rules at one address ------------------------------------------------------

Rule = tuple[Any, ...]
"""("off", n) saved at CFA+n; ("valoff", n) is CFA+n; ("reg", r) in register r;
("expr", e) at the address e computes; ("valexpr", e) is what e computes; ("undef",);
("same",)."""


class Row:
    """The CFA rule and the register rules at one address (a row of the CFI table)."""

    __slots__ = ("cfa", "regs")

    def __init__(self, cfa: Rule | None = None, regs: dict[int, Rule] | None = None) -> None:
        self.cfa = cfa  # ("reg", r, offset) or ("expr", e)
        self.regs: dict[int, Rule] = regs if regs is not None else {}

    def copy(self) -> Row:
        return Row(self.cfa, dict(self.regs))


def _expr(arg: Any) -> bytes:
    return bytes(arg)


def run_instructions(instructions: Sequence[tuple[int, list[Any]]], row: Row, initial: Row | None,
                     loc: int, pc: int | None, caf: int, daf: int) -> Row:
    """Execute CFA instructions on `row` until the location passes `pc` (DWARF 6.4.2).

    `initial` is the row after the CIE's initial instructions (what DW_CFA_restore goes
    back to); `pc` None runs them all (the CIE's own). Returns the row in force at pc.
    """
    stack: list[Row] = []
    for opcode, args in instructions:
        if opcode in (0x40, 0x02, 0x03, 0x04):  # advance_loc, advance_loc1/2/4
            loc += args[0] * caf
            if pc is not None and loc > pc:
                break
        elif opcode == 0x01:  # set_loc
            loc = args[0]
            if pc is not None and loc > pc:
                break
        elif opcode in (0x80, 0x05, 0x11):  # offset, offset_extended, offset_extended_sf
            row.regs[args[0]] = ("off", args[1] * daf)
        elif opcode == 0x2F:  # GNU_negative_offset_extended
            row.regs[args[0]] = ("off", -args[1] * daf)
        elif opcode in (0x14, 0x15):  # val_offset, val_offset_sf
            row.regs[args[0]] = ("valoff", args[1] * daf)
        elif opcode in (0xC0, 0x06):  # restore, restore_extended
            rule = initial.regs.get(args[0]) if initial is not None else None
            if rule is None:
                row.regs.pop(args[0], None)
            else:
                row.regs[args[0]] = rule
        elif opcode == 0x07:  # undefined
            row.regs[args[0]] = ("undef",)
        elif opcode == 0x08:  # same_value
            row.regs[args[0]] = ("same",)
        elif opcode == 0x09:  # register
            row.regs[args[0]] = ("reg", args[1])
        elif opcode == 0x0A:  # remember_state
            stack.append(row.copy())
        elif opcode == 0x0B:  # restore_state
            if not stack:
                raise CfiError("DW_CFA_restore_state without DW_CFA_remember_state")
            saved = stack.pop()
            row.cfa, row.regs = saved.cfa, saved.regs
        elif opcode == 0x0C:  # def_cfa
            row.cfa = ("reg", args[0], args[1])
        elif opcode == 0x12:  # def_cfa_sf
            row.cfa = ("reg", args[0], args[1] * daf)
        elif opcode == 0x0D:  # def_cfa_register
            row.cfa = ("reg", args[0], row.cfa[2] if row.cfa is not None and row.cfa[0] == "reg" else 0)
        elif opcode in (0x0E, 0x13):  # def_cfa_offset, def_cfa_offset_sf
            if row.cfa is None or row.cfa[0] != "reg":
                raise CfiError("DW_CFA_def_cfa_offset without a register CFA")
            row.cfa = ("reg", row.cfa[1], args[0] * (daf if opcode == 0x13 else 1))
        elif opcode == 0x0F:  # def_cfa_expression
            row.cfa = ("expr", _expr(args[0]))
        elif opcode == 0x10:  # expression
            row.regs[args[0]] = ("expr", _expr(args[1]))
        elif opcode == 0x16:  # val_expression
            row.regs[args[0]] = ("valexpr", _expr(args[1]))
        elif opcode in (0x00, 0x2E):  # nop, GNU_args_size
            pass
        else:
            raise CfiError(f"unknown CFA instruction {opcode:#x}")
    return row


class Fde:
    """One FDE with what its CIE says: the range it covers and its rows."""

    __slots__ = ("_rows", "caf", "cie_instructions", "daf", "end", "instructions", "ra_column",
                 "signal_frame", "start", "structs")

    def __init__(self, entry: Any) -> None:
        cie = entry.cie
        self.start: int = entry.header["initial_location"]
        self.end: int = self.start + entry.header["address_range"]
        self.caf: int = cie.header["code_alignment_factor"]
        self.daf: int = cie.header["data_alignment_factor"]
        self.ra_column: int = cie.header["return_address_register"]
        augmentation = cie.header.get("augmentation") or b""
        self.signal_frame = b"S" in augmentation  # the 'S' augmentation: a signal trampoline
        self.cie_instructions = [(int(i.opcode), list(i.args)) for i in cie.instructions]
        self.instructions = [(int(i.opcode), list(i.args)) for i in entry.instructions]
        self.structs: DWARFStructs = entry.structs
        self._rows: dict[int, Row] = {}

    def row_at(self, pc: int) -> Row:
        """The rules in force at link-time address `pc`."""
        row = self._rows.get(pc)
        if row is None:
            initial = run_instructions(self.cie_instructions, Row(), None, self.start, None, self.caf, self.daf)
            row = run_instructions(self.instructions, initial.copy(), initial, self.start, pc, self.caf, self.daf)
            if len(self._rows) < _ROW_CACHE:
                self._rows[pc] = row
        return row


class CallFrameTable:
    """The FDEs of one .eh_frame or .debug_frame section, found by address."""

    def __init__(self, data: bytes, address: int, eh_frame: bool,
                 index: tuple[list[int], list[int]] | None) -> None:
        structs = DWARFStructs(little_endian=True, dwarf_format=32, address_size=8)
        self._cfi = CallFrameInfo(io.BytesIO(data), len(data), address, structs, for_eh_frame=eh_frame)
        self._fdes: dict[int, Fde | None] = {}
        if index is None:
            index = self._scan()
        self._starts, self._offsets = index

    def _scan(self) -> tuple[list[int], list[int]]:
        """An index of every FDE (start address, section offset), sorted by address."""
        found = []
        for entry in self._cfi.get_entries():
            if isinstance(entry, FDE):
                fde = Fde(entry)
                self._fdes[entry.offset] = fde
                found.append((fde.start, entry.offset))
        found.sort()
        return [s for s, _ in found], [o for _, o in found]

    def __len__(self) -> int:
        return len(self._starts)

    def find(self, pc: int) -> Fde | None:
        """The FDE whose range holds link-time address `pc`, or None."""
        i = bisect.bisect_right(self._starts, pc) - 1
        if i < 0:
            return None
        offset = self._offsets[i]
        if offset not in self._fdes:
            entry = self._cfi._parse_entry_at(offset)
            self._fdes[offset] = Fde(entry) if isinstance(entry, FDE) else None
        fde = self._fdes[offset]
        if fde is None or not fde.start <= pc < fde.end:
            return None
        return fde


def _read_encoded(data: bytes, pos: int, encoding: int, field_addr: int, data_base: int) -> tuple[int, int]:
    """A DW_EH_PE-encoded value of .eh_frame_hdr at `pos`: (value, position after it)."""
    formats = {0x00: "<Q", 0x02: "<H", 0x03: "<I", 0x04: "<Q", 0x0A: "<h", 0x0B: "<i", 0x0C: "<q"}
    fmt = formats.get(encoding & 0x0F)
    if fmt is None:
        raise CfiError(f"unsupported pointer encoding {encoding:#x}")
    (value,) = struct.unpack_from(fmt, data, pos)
    modifier = encoding & 0x70
    if modifier == 0x10:  # pcrel
        value += field_addr
    elif modifier == 0x30:  # datarel: from the start of .eh_frame_hdr
        value += data_base
    elif modifier != 0:
        raise CfiError(f"unsupported pointer encoding {encoding:#x}")
    return value & MASK64, pos + struct.calcsize(fmt)


def hdr_index(hdr: bytes, hdr_addr: int, eh_addr: int) -> tuple[list[int], list[int]] | None:
    """.eh_frame_hdr's binary search table as (start addresses, .eh_frame offsets), or None
    if the section has no table libunwind could search (then every FDE is indexed)."""
    if len(hdr) < 4 or hdr[0] != 1:
        return None
    _, ptr_enc, count_enc, table_enc = hdr[:4]
    if ptr_enc == 0xFF or count_enc == 0xFF or table_enc != 0x3B:  # datarel|sdata4, as ld writes it
        return None
    _, pos = _read_encoded(hdr, 4, ptr_enc, hdr_addr + 4, hdr_addr)
    count, pos = _read_encoded(hdr, pos, count_enc, hdr_addr + pos, hdr_addr)
    if pos + 8 * count > len(hdr):
        return None
    pairs = struct.unpack_from(f"<{2 * count}i", hdr, pos)
    starts = [(hdr_addr + pairs[2 * k]) & MASK64 for k in range(count)]
    offsets = [hdr_addr + pairs[2 * k + 1] - eh_addr for k in range(count)]
    if any(a > b for a, b in itertools.pairwise(starts)):
        return None
    return starts, offsets


def find_table(section: tuple[bytes, int], hdr: tuple[bytes, int] | None, eh_frame: bool) -> CallFrameTable | None:
    """The table of .eh_frame (with .eh_frame_hdr if present) or .debug_frame; None if empty."""
    data, address = section
    if not data:
        return None
    index = hdr_index(hdr[0], hdr[1], address) if hdr is not None else None
    table = CallFrameTable(data, address, eh_frame, index)
    return table if len(table) else None


# -- applying a row: the caller's registers --------------------------------------------------


def apply_row(fde: Fde, row: Row, regs: Regs, read: ReadWord) -> tuple[Regs, int] | None:
    """The caller's registers and this frame's CFA, or None at the end of the stack.

    The stack ends where the return address is undefined (glibc's _start says so) and,
    as libunwind's x86-64 unw_step has it, where rbp is: a NULL rbp location.
    """
    cfa_rule = row.cfa
    if cfa_rule is None:
        raise CfiError("no CFA rule")
    if cfa_rule[0] == "reg":
        base = regs[cfa_rule[1]] if cfa_rule[1] < NREGS else None
        if base is None:
            raise CfiError(f"CFA register {cfa_rule[1]} is not known")
        cfa = (base + cfa_rule[2]) & MASK64
    else:
        cfa = evaluate(cfa_rule[1], regs, read, fde.structs, [])
    new: Regs = list(regs)
    new[RSP] = cfa
    for column, rule in row.regs.items():
        target = RIP if column == fde.ra_column else column
        if target >= NREGS:
            continue
        kind = rule[0]
        if kind == "undef":
            if target in (RIP, RBP):
                return None
            new[target] = None
        elif kind == "same":
            new[target] = regs[target]
        elif kind == "off":
            new[target] = read((cfa + rule[1]) & MASK64, 8)
        elif kind == "valoff":
            new[target] = (cfa + rule[1]) & MASK64
        elif kind == "reg":
            new[target] = regs[rule[1]] if rule[1] < NREGS else None
        elif kind == "expr":
            new[target] = read(evaluate(rule[1], regs, read, fde.structs, [cfa]), 8)
        else:  # "valexpr"
            new[target] = evaluate(rule[1], regs, read, fde.structs, [cfa])
    if fde.ra_column not in row.regs:
        new[RIP] = regs[RIP]  # no rule: the same value
    return new, cfa


def _signed(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


def evaluate(expr: bytes, regs: Regs, read: ReadWord, structs: DWARFStructs, stack: list[int]) -> int:
    """A DWARF expression's value (DWARF 2.5), on the stack given (the CFA, for a rule)."""
    ops = DWARFExprParser(structs).parse_expr(expr)
    where = {op.offset: i for i, op in enumerate(ops)}
    i = steps = 0
    while i < len(ops):
        steps += 1
        if steps > _MAX_EXPR_STEPS:
            raise CfiError("DWARF expression does not end")
        op = ops[i]
        code, args = op.op, op.args
        i += 1
        if 0x30 <= code <= 0x4F:  # lit0..lit31
            stack.append(code - 0x30)
        elif 0x70 <= code <= 0x8F or code == 0x92:  # breg0..breg31, bregx
            reg, offset = (code - 0x70, args[0]) if code != 0x92 else (args[0], args[1])
            value = regs[reg] if reg < NREGS else None
            if value is None:
                raise CfiError(f"register {reg} is not known")
            stack.append((value + offset) & MASK64)
        elif code == 0x03 or 0x08 <= code <= 0x11:  # addr, const*
            stack.append(args[0] & MASK64)
        elif code in (0x06, 0x94):  # deref, deref_size
            stack.append(read(stack.pop(), 8 if code == 0x06 else args[0]))
        elif code == 0x23:  # plus_uconst
            stack.append((stack.pop() + args[0]) & MASK64)
        elif code == 0x12:  # dup
            stack.append(stack[-1])
        elif code == 0x13:  # drop
            stack.pop()
        elif code == 0x14:  # over
            stack.append(stack[-2])
        elif code == 0x15:  # pick
            stack.append(stack[-1 - args[0]])
        elif code == 0x16:  # swap
            stack[-1], stack[-2] = stack[-2], stack[-1]
        elif code == 0x17:  # rot
            stack[-1], stack[-2], stack[-3] = stack[-2], stack[-3], stack[-1]
        elif code in (0x19, 0x1F, 0x20):  # abs, neg, not
            v = stack.pop()
            stack.append((abs(_signed(v)) if code == 0x19 else -v if code == 0x1F else ~v) & MASK64)
        elif code in _BINARY:
            b, a = stack.pop(), stack.pop()
            stack.append(_BINARY[code](a, b) & MASK64)
        elif code in (0x2F, 0x28):  # skip, bra
            if code == 0x2F or stack.pop() != 0:
                target = op.offset + 3 + args[0]
                if target not in where and target != len(expr):
                    raise CfiError("DWARF branch into an operation")
                i = where.get(target, len(ops))
        elif code == 0x96:  # nop
            pass
        else:
            raise CfiError(f"unsupported DWARF operation {op.op_name}")
    if not stack:
        raise CfiError("DWARF expression leaves nothing")
    return stack[-1]


def _div(a: int, b: int) -> int:
    if b == 0:
        raise CfiError("DWARF division by zero")
    q = abs(_signed(a)) // abs(_signed(b))
    return q if (_signed(a) < 0) == (_signed(b) < 0) else -q


def _mod(a: int, b: int) -> int:
    if b == 0:
        raise CfiError("DWARF division by zero")
    return a % b


_BINARY: dict[int, Callable[[int, int], int]] = {
    0x1A: lambda a, b: a & b,
    0x1B: _div,
    0x1C: lambda a, b: a - b,
    0x1D: _mod,
    0x1E: lambda a, b: a * b,
    0x21: lambda a, b: a | b,
    0x22: lambda a, b: a + b,
    0x24: lambda a, b: a << b if b < 64 else 0,
    0x25: lambda a, b: a >> b,
    0x26: lambda a, b: _signed(a) >> min(b, 63),
    0x27: lambda a, b: a ^ b,
    0x29: lambda a, b: int(a == b),
    0x2A: lambda a, b: int(_signed(a) >= _signed(b)),
    0x2B: lambda a, b: int(_signed(a) > _signed(b)),
    0x2C: lambda a, b: int(_signed(a) <= _signed(b)),
    0x2D: lambda a, b: int(_signed(a) < _signed(b)),
    0x2E: lambda a, b: int(a != b),
}
