"""The per-thread registrations: set_tid_address, robust futex lists, rseq.

Counterpart: strace's get_robust_list.c, and the entries strace 6.1 decodes with
printargs (set_tid_address, rseq: every argument in hex, as its register holds it) or
like munmap (set_robust_list: address, length). rseq's structure is not decoded by
strace 6.1, so `rseq(0x4acca0, 0x20, 0, 0x53053053)`.
"""

from __future__ import annotations

import struct

from sysgate.syscall import Param
from sysgate.trace.printers import Ctx, addr, printer, umove, xval


@printer("printargs")
def p_printargs(ctx: Ctx, v: int, p: Param) -> str:
    """printargs: the argument in hex (`%#llx`, so zero is `0`), at its declared width:
    a 32-bit argument of -1 shows as 0xffffffff, as the register glibc's syscall()
    fills holds it."""
    bits = p.arg.bits or 64
    return xval(v & ((1 << bits) - 1))


@printer("printnum_ptr")
def p_printnum_ptr(ctx: Ctx, v: int, p: Param) -> str:
    """printnum_ptr: a pointer the kernel stored, `[0x7ffe...]` or `[NULL]`."""
    data = umove(ctx, v, 8)
    return data if isinstance(data, str) else f"[{addr(struct.unpack('<Q', data)[0])}]"


@printer("printnum_ulong")
def p_printnum_ulong(ctx: Ctx, v: int, p: Param) -> str:
    """printnum_ulong: an unsigned long the kernel stored, `[24]`."""
    data = umove(ctx, v, 8)
    return data if isinstance(data, str) else f"[{struct.unpack('<Q', data)[0]}]"
