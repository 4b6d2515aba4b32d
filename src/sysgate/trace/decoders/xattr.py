"""The xattr family: attribute values, name lists and setxattr's flags.

Counterpart: strace's xattr.c (print_xattr_val, print_xattr_list) and xlat/xattrflags.in.
A value is printed as a string of `size` bytes (the size argument for a set, the result
for a get) whose one trailing NUL is left out (QUOTE_OMIT_TRAILING_0), or as its address
when that size is past XATTR_SIZE_MAX (a failed get's -1 included). A list is the
buffer of names with their NULs, as many bytes as the call returned.
"""

from __future__ import annotations

from sysgate.argtypes import OUT, UserPtr
from sysgate.syscall import Param
from sysgate.trace import quote
from sysgate.trace.printers import Ctx, addr, flags_printer, printer
from sysgate.trace.xlat import Xlat
from sysgate.uapi import xattr as lx

XATTR_FLAGS = Xlat.names(lx, "XATTR_CREATE XATTR_REPLACE")


def _all_hex(body: bytes, xflag: int) -> bool:
    """string_quote's choice of printing every byte as \\xNN: -xx, or -x and a byte that is
    neither printable ASCII nor whitespace (a NUL included)."""
    if xflag == quote.HEXSTR_ALL:
        return True
    return xflag == quote.HEXSTR_NON_ASCII and any(c > 0x7E or (c < 0x20 and not 9 <= c <= 13) for c in body)


def print_xattr_val(ctx: Ctx, ptr: int, size: int) -> str:
    """print_xattr_val: printstr_ex(ptr, size, QUOTE_OMIT_TRAILING_0), or the address."""
    if size > lx.XATTR_SIZE_MAX or size < 0:
        return addr(ptr)
    if not ptr:
        return "NULL"
    limit = ctx.opts.string_limit
    data = ctx.read(ptr, min(size, limit + 1)) if size else b""
    if data is None:
        return addr(ptr)
    body = data[:limit]
    xflag = ctx.opts.xflag
    if not _all_hex(body, xflag) and body and body[-1] == 0:
        return quote.quote_bytes(body[:-1], xflag)  # string_quote stops at the last byte's NUL
    return quote.quote_bytes(body, xflag) + ("..." if size > limit else "")


@printer("xattr_value")
def p_xattr_value(ctx: Ctx, v: int, p: Param) -> str:
    """The value: on entry for a set (its size argument), on exit for a get (the result)."""
    out = isinstance(p.arg, UserPtr) and p.arg.direction is OUT
    size = ctx.ret if out else ctx.arg("size")
    return addr(v) if size is None else print_xattr_val(ctx, v, size)


@printer("xattr_list")
def p_xattr_list(ctx: Ctx, v: int, p: Param) -> str:
    """print_xattr_list: the names the call returned, or the address for a size of 0."""
    if not ctx.arg("size") or ctx.ret is None or ctx.failed:
        return addr(v)
    return quote.printstr(ctx.read, v, ctx.ret, ctx.opts.string_limit, ctx.opts.xflag)


flags_printer("xattr_flags", XATTR_FLAGS, "XATTR_???")
