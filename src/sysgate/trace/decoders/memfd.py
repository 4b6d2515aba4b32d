"""memfd_create: the name and the MFD_* flags.

Counterpart: strace's memfd_create.c and xlat/memfd_create_flags.in, which in strace 6.1
has MFD_CLOEXEC, MFD_ALLOW_SEALING and MFD_HUGETLB only (MFD_NOEXEC_SEAL is `0x8`). The
name is a string of at most MFD_NAME_MAX_LEN + 1 bytes; a huge page size encoded in the
flags is printed as `21<<MFD_HUGE_SHIFT`; with -X verbose the number comes first and the
names follow in a comment.
"""

from __future__ import annotations

from sysgate.syscall import Param
from sysgate.trace import quote
from sysgate.trace.printers import Ctx, addr, printer, xval
from sysgate.trace.xlat import Xlat, printflags
from sysgate.uapi import memfd as mf

MEMFD_FLAGS = Xlat.names(mf, "MFD_CLOEXEC MFD_ALLOW_SEALING MFD_HUGETLB")


@printer("memfd_name")
def p_memfd_name(ctx: Ctx, v: int, p: Param) -> str:
    """printstr_ex(name, MFD_NAME_MAX_LEN + 1, QUOTE_0_TERMINATED)."""
    if not v:
        return "NULL"
    limit = ctx.opts.string_limit
    n = min(limit + 1, mf.MFD_NAME_MAX_LEN + 1)
    data = quote.read_cstring(ctx.read, v, n)
    if data is None:
        return addr(v)
    if 0 in data:
        return quote.quote_bytes(data[: data.index(0)], ctx.opts.xflag)
    return quote.quote_bytes(data[: min(n, limit)], ctx.opts.xflag) + "..."


@printer("memfd_flags")
def p_memfd_flags(ctx: Ctx, v: int, p: Param) -> str:
    flags = v & 0xFFFFFFFF
    style = ctx.opts.xlat_style
    if not flags or style == "raw":
        return xval(flags)
    mask = mf.MFD_HUGE_MASK << mf.MFD_HUGE_SHIFT
    huge, rest = flags & mask, flags & ~mask
    parts = []
    if rest or not huge:
        parts.append(printflags("abbrev", MEMFD_FLAGS, rest, "MFD_???"))
    if huge:
        parts.append(f"{huge >> mf.MFD_HUGE_SHIFT}<<MFD_HUGE_SHIFT")
    text = "|".join(parts)
    return f"{xval(flags)} /* {text} */" if style == "verbose" else text
