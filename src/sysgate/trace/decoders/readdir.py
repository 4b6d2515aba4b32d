"""getdents, getdents64: the directory entries a call returned.

Counterpart: strace's xgetdents.c (decode_dents), dirent.c and dirent64.c, and the table
xlat/dirent_types.in. Without -v the buffer is its address and the number of entries
in a comment (`0x7ffd... /* 4 entries */`); with -v the entries themselves, d_type
after d_name for the old getdents (it is the last byte of the record there) and before
it for getdents64. Names are cut at 256 bytes, as strace does.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from sysgate.syscall import Param
from sysgate.trace import quote
from sysgate.trace.printers import Ctx, addr, printer
from sysgate.trace.xlat import Xlat, comment, printxval
from sysgate.uapi import stat as s

DIRENT_TYPES = Xlat.names(s, "DT_UNKNOWN DT_FIFO DT_CHR DT_DIR DT_BLK DT_REG DT_LNK DT_SOCK DT_WHT")
D_NAME_LEN_MAX = 256

DIRENT_HEAD = struct.Struct("<QQH")
"""struct linux_dirent up to d_name: d_ino, d_off, d_reclen."""
DIRENT64_HEAD = struct.Struct("<QQHB")
"""struct linux_dirent64 up to d_name: d_ino, d_off (read unsigned, as strace does),
d_reclen, d_type."""

Tail = Callable[[Ctx, int, tuple[int, ...], int], tuple[str, int]]


def printpathn(ctx: Ctx, where: int, n: int) -> tuple[str, int]:
    """printpathn: at most `n` bytes of a NUL-terminated name, with "..." when no NUL ends
    it within n + 1 bytes; also whether a NUL was seen (-1: unreadable)."""
    if not where:
        return "NULL", -1
    data = quote.read_cstring(ctx.read, where, n + 1)
    if data is None:
        return addr(where), -1
    nul = data.find(0)
    if nul >= 0:
        return quote.quote_bytes(data[:nul], ctx.opts.xflag), 1
    return quote.quote_bytes(data[:n], ctx.opts.xflag) + "...", 0


def _head(ino: int, off: int, reclen: int) -> str:
    return f"{{d_ino={ino}, d_off={off}, d_reclen={reclen}"


def _tail64(ctx: Ctx, where: int, head: tuple[int, ...], name_len: int) -> tuple[str, int]:
    """dirent64's decode_dentry_tail: d_type from the header, then d_name."""
    text = f", d_type={printxval(ctx.opts.xlat_style, DIRENT_TYPES, head[3], 'DT_???')}"
    rc = 0
    if name_len:
        name, rc = printpathn(ctx, where, min(name_len, D_NAME_LEN_MAX) - 1)
        text += f", d_name={name}"
    return text + "}", rc


def _tail(ctx: Ctx, where: int, head: tuple[int, ...], name_type_len: int) -> tuple[str, int]:
    """dirent's decode_dentry_tail: d_name, then d_type from the record's last byte."""
    text, rc = "", 0
    if name_type_len:
        name_len = name_type_len - 1
        if name_len:
            name, rc = printpathn(ctx, where, min(name_len, D_NAME_LEN_MAX) - 1)
            text += f", d_name={name}"
        byte = ctx.read(where + name_type_len - 1, 1)
        if byte is None:
            text += f", d_type={addr(where + name_type_len - 1)}"
            rc = -1
        else:
            text += f", d_type={printxval(ctx.opts.xlat_style, DIRENT_TYPES, byte[0], 'DT_???')}"
    return text + "}", rc


def decode_dents(ctx: Ctx, where: int, length: int, layout: struct.Struct, tail: Tail) -> str:
    """decode_dents: walk the records in the `length` bytes the call returned."""
    verbose = ctx.opts.verbose
    header = layout.size
    out = "" if verbose else addr(where)
    count = 0
    while True:
        if length < header:
            if verbose:
                if not length:
                    out += "["
                    count += 1
                else:
                    out += _hex_bytes(ctx, where, length)
            break
        raw = ctx.read(where, header)
        if raw is None:
            if verbose:
                out += f"...{comment(addr(where))}" if count else addr(where)
            break
        if verbose and not count:
            out += "["
        count += 1
        head = layout.unpack(raw)
        reclen = head[2]
        if verbose:
            out += _head(head[0], head[1], reclen)
        next_addr = next_len = 0
        if reclen > length:  # cannot happen, says strace
            out += comment(f"{'' if verbose else 'd_reclen '}{reclen - length} bytes overflow")
            reclen = length
        elif reclen < header:
            out += comment(f"{'' if verbose else 'd_reclen '}{header - reclen} bytes underflow")
            reclen = header
            next_len = length - header
        else:
            next_len = length - reclen
            if next_len:
                next_addr = where + reclen
        length = next_len
        if verbose:
            text, rc = tail(ctx, where + header, head, reclen - header)
            out += text
            if next_addr:
                out += ", "
                if rc < 0:
                    out += "..."
                    break
        if not next_addr:
            break
        where = next_addr
    if verbose:
        return out + ("]" if count else "")
    return out + comment(f"{count}{'+' if length else ''} entries")


def _hex_bytes(ctx: Ctx, where: int, length: int) -> str:
    """printstr_ex with QUOTE_FORCE_HEX: bytes too few to be a record."""
    limit = ctx.opts.string_limit
    data = ctx.read(where, min(length, limit))
    if data is None:
        return addr(where)
    return '"' + "".join(f"\\x{c:02x}" for c in data) + '"' + ("..." if length > limit else "")


def _dirents(ctx: Ctx, v: int, layout: struct.Struct, tail: Tail) -> str:
    ret = ctx.ret
    if ret is None or ctx.failed or ret > ctx.arg("count") & 0xFFFFFFFF:
        return addr(v)
    return decode_dents(ctx, v, ret, layout, tail)


@printer("struct linux_dirent64")
def p_dirent64(ctx: Ctx, v: int, p: Param) -> str:
    return _dirents(ctx, v, DIRENT64_HEAD, _tail64)


@printer("struct linux_dirent")
def p_dirent(ctx: Ctx, v: int, p: Param) -> str:
    return _dirents(ctx, v, DIRENT_HEAD, _tail)
