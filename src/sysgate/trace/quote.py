"""Strings as strace prints them: quoted, escaped, cut at -s with "...".

Counterpart: strace's util.c (string_quote, printstr_ex, printpathn). The rules:
`"` and `\\` are escaped, \\f \\n \\r \\t \\v have their C escapes, other unprintable
bytes are octal (the shortest form, unless a digit follows); with -x a string holding
any byte that is neither printable ASCII nor whitespace is printed all in \\xNN, and
with -xx every string is. A string longer than -s is cut and followed by "...".
"""

from __future__ import annotations

from collections.abc import Callable

HEXSTR_NONE, HEXSTR_NON_ASCII, HEXSTR_ALL = 0, 1, 2
Reader = Callable[[int, int], bytes | None]
"""read(addr, n): the bytes, or None if the address cannot be read."""


def _printable(c: int) -> bool:
    return 0x20 <= c < 0x7F


def string_quote(data: bytes, xflag: int, zero_terminated: bool = False) -> tuple[str, bool]:
    """Quote `data`; the second value says whether no NUL ended a zero-terminated string."""
    if zero_terminated:
        nul = data.find(0)
        body, ended = (data[:nul], True) if nul >= 0 else (data, False)
    else:
        body, ended = data, False
    usehex = xflag == HEXSTR_ALL or (
        xflag == HEXSTR_NON_ASCII and any(c > 0x7E or (c < 0x20 and not 9 <= c <= 13) for c in body)
    )
    if usehex:
        return '"' + "".join(f"\\x{c:02x}" for c in body) + '"', not ended
    out = ['"']
    for i, c in enumerate(body):
        if c in (0x22, 0x5C):
            out.append("\\" + chr(c))
        elif c == 0x0C:
            out.append("\\f")
        elif c == 0x0A:
            out.append("\\n")
        elif c == 0x0D:
            out.append("\\r")
        elif c == 0x09:
            out.append("\\t")
        elif c == 0x0B:
            out.append("\\v")
        elif _printable(c):
            out.append(chr(c))
        else:
            digit_follows = i + 1 < len(body) and 0x30 <= body[i + 1] <= 0x37
            out.append("\\" + (f"{c:03o}" if digit_follows else f"{c:o}"))
    out.append('"')
    return "".join(out), not ended


def printstr(read: Reader, addr: int, length: int, limit: int, xflag: int) -> str:
    """A buffer of `length` bytes (printstr_ex without QUOTE_0_TERMINATED)."""
    if not addr:
        return "NULL"
    size = min(length, limit)
    data = read(addr, size)
    if data is None:
        return f"{addr:#x}"
    text, _ = string_quote(data, xflag)
    return text + ("..." if length > limit else "")


def printstr_nul(read: Reader, addr: int, limit: int, xflag: int) -> str:
    """A NUL-terminated string cut at -s (printstr_ex with QUOTE_0_TERMINATED)."""
    if not addr:
        return "NULL"
    data = read_cstring(read, addr, limit + 1)
    if data is None:
        return f"{addr:#x}"
    truncated = 0 not in data
    text, _ = string_quote(data[:limit] if truncated else data, xflag, zero_terminated=True)
    return text + ("..." if truncated else "")


def printpath(read: Reader, addr: int, xflag: int, path_max: int = 4096) -> str:
    """A path: the whole string up to PATH_MAX, not cut at -s (printpathn)."""
    if not addr:
        return "NULL"
    data = read_cstring(read, addr, path_max)
    if data is None:
        return f"{addr:#x}"
    text, unterminated = string_quote(data, xflag, zero_terminated=True)
    return text + ("..." if unterminated else "")


def read_cstring(read: Reader, addr: int, maxlen: int) -> bytes | None:
    """Up to `maxlen` bytes at `addr`, stopping after a NUL; None if the start is unreadable.

    Reads page by page, as umovestr does, so a string that ends just before an unmapped
    page is still read whole.
    """
    out = bytearray()
    while len(out) < maxlen:
        step = min(4096 - (addr + len(out)) % 4096, maxlen - len(out))
        chunk = read(addr + len(out), step)
        if chunk is None:
            return None if not out else bytes(out)
        nul = chunk.find(0)
        if nul >= 0:
            out += chunk[: nul + 1]
            return bytes(out)
        out += chunk
    return bytes(out)
