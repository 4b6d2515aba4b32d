"""-k: one step up the stack through code that has no unwind information.

Counterpart: the fallbacks of libunwind 1.6's x86_64/Gstep.c, taken when dwarf_step
finds no FDE: a signal trampoline (x86_64_handle_signal_frame: the registers the kernel
saved in the rt_sigframe), a PLT entry (is_plt_entry: the return address is on top of
the stack) and the rbp frame chain when rbp points a little above the stack pointer.
Where libunwind gives up, sysgate goes on as stack scanners do: the first word above
the stack pointer that is a return address (it follows a call instruction), preferring
one whose call goes to the function the frame is in. Debian's musl is built without
unwind tables, so this is how a musl program's frames are found; glibc's code all has
CFI and never comes here. A frame in the program's entry code (musl's _start) is the
last.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Protocol

from sysgate.trace.cfi import MASK64, NREGS, RBP, RIP, RSP, Regs

SIGRETURN_CODE = bytes.fromhex("48c7c00f0000000f05")
"""mov $15, %rax; syscall: the rt_sigreturn trampoline (glibc's and musl's __restore_rt)."""
UC_MCONTEXT = 40
"""offsetof(struct ucontext, uc_mcontext): after uc_flags, uc_link and uc_stack."""
SIGCONTEXT_REGS = {8: 0, 9: 8, 10: 16, 11: 24, 12: 32, 13: 40, 14: 48, 15: 56, 5: 64, 4: 72,
                   6: 80, 3: 88, 1: 96, 0: 104, 2: 112, 7: 120, 16: 128}
"""struct sigcontext (arch/x86/include/uapi/asm/sigcontext.h): DWARF register -> offset."""
FRAME_CHAIN_LIMIT = 0x4000
"""libunwind: rbp is a frame pointer if it is at most this far above the CFA; also how
far up the stack a return address is looked for."""
_ENTRY_CODE = 64
_SCAN_PAST_FALLBACK = 0x400


class Unreadable(Exception):
    """Guest memory the unwinder cannot read: the walk ends there."""


class Memory(Protocol):
    """What the heuristics need of the guest: its memory and what its code is."""

    def word(self, addr: int, size: int = 8) -> int:
        """`size` bytes at `addr`, little-endian; Unreadable if not readable."""

    def code(self, addr: int, size: int) -> bytes:
        """Up to `size` readable bytes at `addr` (fewer at the end of a mapping, or none)."""

    def code_pointers(self, addr: int, count: int) -> Iterator[tuple[int, int]]:
        """(slot, word) for the words among the `count` from `addr` (as far as memory is
        readable) that point into executable mappings."""

    def executable(self, addr: int) -> bool:
        """Whether `addr` is in an executable mapping."""

    def function_start(self, addr: int) -> int | None:
        """The address of the function symbol `addr` is in, if its module names one."""

    def entry_point(self, addr: int) -> int | None:
        """Where the module `addr` is in starts the program (e_entry, loaded), if it is one."""


def step_without_cfi(mem: Memory, regs: Regs, cfa: int | None, pc: int) -> tuple[Regs, int, bool] | None:
    """The caller's registers, this frame's CFA, and whether the caller's address is a
    return address; None where the stack ends. `pc` is the frame's address (less one
    for a return address)."""
    ip, rsp, rbp = regs[RIP], regs[RSP], regs[RBP]
    if ip is None or rsp is None:
        return None
    code = mem.code(ip, 16)
    if code.startswith(SIGRETURN_CODE):
        base = rsp + UC_MCONTEXT
        new: Regs = [None] * NREGS
        for reg, offset in SIGCONTEXT_REGS.items():
            new[reg] = mem.word(base + offset)
        sp = new[RSP]
        assert sp is not None
        return new, sp, False  # the interrupted address is exact: no call before it
    if is_plt_entry(code):
        new = list(regs)
        new[RIP] = mem.word(rsp)
        new[RSP] = rsp + 8
        return new, rsp + 8, True
    if in_entry_code(mem, pc):
        return None
    base_cfa = cfa if cfa is not None else rsp
    if rbp is not None and base_cfa <= rbp <= base_cfa + FRAME_CHAIN_LIMIT:
        try:
            ret = mem.word(rbp + 8)
        except Unreadable:
            ret = 0
        if ret and call_before(mem, ret) is not None:
            new = list(regs)
            new[RIP] = ret
            new[RBP] = mem.word(rbp)
            new[RSP] = rbp + 16
            return new, rbp + 16, True
    found = scan_for_return(mem, pc, rsp)
    if found is None:
        return None
    slot, ret = found
    new = list(regs)
    new[RIP] = ret
    new[RSP] = slot + 8
    return new, slot + 8, True


def is_plt_entry(code: bytes) -> bool:
    """libunwind's is_plt_entry: jmp *disp(%rip); push $n; jmp rel32."""
    if len(code) < 16:
        return False
    w0: int
    w1: int
    w0, w1 = struct.unpack_from("<QQ", code)
    return (w0 & 0xFFFF) == 0x25FF and ((w0 >> 48) & 0xFF) == 0x68 and ((w1 >> 24) & 0xFF) == 0xE9


def call_before(mem: Memory, addr: int) -> int | None:
    """If the bytes before `addr` are a call instruction: its target for a direct call
    (e8 rel32), -1 for an indirect one (ff /2, any addressing form); None if not."""
    if not mem.executable(addr):
        return None
    for size in range(7, 1, -1):  # the longest call form that fits after the mapping's start
        code = mem.code(addr - size, size)
        if len(code) == size:
            break
    else:
        return None
    code = bytes(7 - size) + code
    if code[2] == 0xE8:
        return (addr + int.from_bytes(code[3:], "little", signed=True)) & MASK64
    if any(_indirect_call_length(code, start) == 7 - start for start in range(6)):
        return -1
    return None


def _indirect_call_length(code: bytes, pos: int) -> int:
    """The length of `call *r/m64` (an optional REX prefix, ff, ModRM with reg 2, SIB,
    displacement) starting at code[pos], or 0 if the bytes there are not one."""
    start = pos
    if 0x40 <= code[pos] <= 0x4F:
        pos += 1
    if pos + 1 >= len(code) or code[pos] != 0xFF or (code[pos + 1] >> 3) & 7 != 2:
        return 0
    modrm = code[pos + 1]
    mod, rm = modrm >> 6, modrm & 7
    pos += 2
    if mod != 3 and rm == 4:  # a SIB byte
        if pos >= len(code):
            return 0
        if mod == 0 and code[pos] & 7 == 5:
            pos += 4  # no base: disp32
        pos += 1
    if mod == 0 and rm == 5:
        pos += 4  # rip-relative disp32
    pos += {1: 1, 2: 4}.get(mod, 0)
    return pos - start


def scan_for_return(mem: Memory, pc: int, rsp: int) -> tuple[int, int] | None:
    """The first stack slot from `rsp` up (at most FRAME_CHAIN_LIMIT bytes) that holds a
    return address from a call of the function `pc` is in, else (if none is found a
    little above it) the first that holds any return address: (slot, return address)."""
    here = mem.function_start(pc)
    fallback = None
    for slot, word in mem.code_pointers(rsp, FRAME_CHAIN_LIMIT // 8):
        if fallback is not None and slot - fallback[0] > _SCAN_PAST_FALLBACK:
            break
        target = call_before(mem, word)
        if target is None:
            continue
        if here is not None and target == here:
            return slot, word
        if fallback is None:
            fallback = (slot, word)
    return fallback


def in_entry_code(mem: Memory, pc: int) -> bool:
    """Whether `pc` is in the code the program starts at: at or past e_entry with no
    function symbol between (musl's _start is not a function symbol)."""
    entry = mem.entry_point(pc)
    if entry is None or pc < entry:
        return False
    start = mem.function_start(pc)
    return start <= entry if start is not None else pc - entry < _ENTRY_CODE
