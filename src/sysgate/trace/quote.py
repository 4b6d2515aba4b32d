"""Strings as strace prints them: quoted, escaped, cut at -s with "...".

Counterpart: strace's util.c (string_quote, print_quoted_string_ex, printstr_ex,
printpathn) and ucopy.c (umoven, umovestr). The rules:
`"` and `\\` are escaped, \\f \\n \\r \\t \\v have their C escapes, other unprintable
bytes are octal (the shortest form, unless a digit 0-7 follows: then three digits);
with -x a string holding any byte that is neither printable ASCII nor whitespace is
printed all in \\xNN, with -xx every string is, and with --strings-in-hex=non-ascii-chars
only the unprintable bytes are. A buffer longer than -s is cut and followed by "...".

Memory is read as strace reads it: a buffer is fetched whole (-s bytes and one more),
and if any of it cannot be read strace prints the address instead of a partial string.
"""

from __future__ import annotations

from collections.abc import Callable

HEXSTR_NONE, HEXSTR_NON_ASCII, HEXSTR_ALL, HEXSTR_NON_ASCII_CHARS = 0, 1, 2, 3
"""The -x levels (strace's enum xflag_opts, in its order): none, -x, -xx,
--strings-in-hex=non-ascii-chars."""
PATH_MAX = 4096
Reader = Callable[[int, int], bytes | None]
"""read(addr, n): the bytes, or None if the address cannot be read."""

_ESCAPES = {0x22: '\\"', 0x5C: "\\\\", 0x0C: "\\f", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x0B: "\\v"}


def _printable(c: int) -> bool:
    return 0x20 <= c < 0x7F


def _needs_hex(body: bytes) -> bool:
    """-x: any byte that is neither printable ASCII nor whitespace (\\t \\n \\v \\f \\r)."""
    return any(c > 0x7E or (c < 0x20 and not 9 <= c <= 13) for c in body)


def _octal(c: int, digit_follows: bool) -> str:
    """sprint_byte_oct: \\ooo before an octal digit, else the fewest digits."""
    return "\\" + (f"{c:03o}" if digit_follows else f"{c:o}")


def quote_bytes(body: bytes, xflag: int, escape: bytes = b"", quotes: bool = True) -> str:
    """string_quote on exactly `body` (no NUL handling): the quoted text.

    `escape` lists printable characters to escape as unprintable ones (printfd's "<>"),
    `quotes` False leaves out the surrounding double quotes
    (QUOTE_OMIT_LEADING_TRAILING_QUOTES).
    """
    q = '"' if quotes else ""
    if xflag == HEXSTR_ALL or (xflag == HEXSTR_NON_ASCII and _needs_hex(body)):
        return q + "".join(f"\\x{c:02x}" for c in body) + q
    out = [q]
    last = len(body) - 1
    for i, c in enumerate(body):
        esc = _ESCAPES.get(c)
        if esc is not None:
            out.append(esc)
        elif _printable(c) and c not in escape:
            out.append(chr(c))
        elif xflag == HEXSTR_NON_ASCII_CHARS:
            out.append(f"\\x{c:02x}")
        else:
            out.append(_octal(c, i < last and 0x30 <= body[i + 1] <= 0x37))
    out.append(q)
    return "".join(out)


def string_quote(data: bytes, xflag: int, zero_terminated: bool = False) -> tuple[str, bool]:
    """Quote `data`; the second value says whether no NUL ended a zero-terminated string
    (string_quote's return value: 1 when a NUL-terminated string was cut)."""
    if zero_terminated:
        nul = data.find(0)
        if nul >= 0:
            return quote_bytes(data[:nul], xflag), False
    return quote_bytes(data, xflag), True


def quote_fd_path(path: str | bytes, xflag: int) -> str:
    """A descriptor's path as -y shows it inside <...>: escaped, no quotes, `<` and `>`
    escaped too (print_quoted_string_in_angle_brackets)."""
    raw = path.encode("utf-8", "surrogateescape") if isinstance(path, str) else path
    return quote_bytes(raw, xflag, escape=b"<>", quotes=False)


def printstr(read: Reader, addr: int, length: int, limit: int, xflag: int) -> str:
    """A buffer of `length` bytes (printstr_ex without QUOTE_0_TERMINATED, i.e. printstrn).

    strace fetches min(length, limit + 1) bytes at once; if any of them is unreadable
    the address is printed, even when the -s bytes shown would have been readable.
    """
    if not addr:
        return "NULL"
    size = min(length, limit + 1)
    data = read(addr, size) if size else b""  # fetching nothing always succeeds
    if data is None:
        return f"{addr:#x}"
    return quote_bytes(data[:limit], xflag) + ("..." if length > limit else "")


def printstr_nul(read: Reader, addr: int, limit: int, xflag: int) -> str:
    """A NUL-terminated string cut at -s (printstr_ex with QUOTE_0_TERMINATED)."""
    if not addr:
        return "NULL"
    data = read_cstring(read, addr, limit + 1)
    if data is None:
        return f"{addr:#x}"
    if 0 in data:
        return quote_bytes(data[: data.index(0)], xflag)
    return quote_bytes(data[:limit], xflag) + "..."


def printpath(read: Reader, addr: int, xflag: int, path_max: int = PATH_MAX) -> str:
    """A path: up to PATH_MAX - 1 bytes, not cut at -s; "..." if it is longer (printpathn)."""
    return printpathn(read, addr, path_max - 1, xflag)


def printpathn(read: Reader, addr: int, n: int, xflag: int) -> str:
    """A path of at most `n` bytes (n is capped at PATH_MAX - 1); "..." if it is longer."""
    if not addr:
        return "NULL"
    n = min(n, PATH_MAX - 1)
    data = read_cstring(read, addr, n + 1)
    if data is None:
        return f"{addr:#x}"
    if 0 in data:
        return quote_bytes(data[: data.index(0)], xflag)
    return quote_bytes(data[:n], xflag) + "..."


def read_cstring(read: Reader, addr: int, maxlen: int) -> bytes | None:
    """Up to `maxlen` bytes at `addr`, stopping after a NUL; None if they cannot be read.

    Reads page by page, as umovestr does, so a string that ends just before an unmapped
    page is read whole; a string that runs into one without a NUL is unreadable (None),
    as umovestr fails then and strace prints the address.
    """
    out = bytearray()
    while len(out) < maxlen:
        step = min(4096 - (addr + len(out)) % 4096, maxlen - len(out))
        chunk = read(addr + len(out), step)
        if chunk is None:
            return None
        nul = chunk.find(0)
        if nul >= 0:
            out += chunk[: nul + 1]
            return bytes(out)
        out += chunk
    return bytes(out)
