"""Constant tables and how the tracer prints them: values by name, flag sets OR-ed.

Counterpart: strace's xlat.c (printxvals_ex, printflags_ex) and its xlat/*.in tables.
A table lists (value, name) in the order strace's table does, because that order is
the order in which flag names come out (`O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC`); the values
come from sysgate.uapi, the Linux uapi constants. `-X raw` prints numbers only, `-X
verbose` the number followed by the names in a comment, `-X abbrev` (the default) the
names, with the bits no name covers in hex.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Xlat:
    """One table: (value, name) pairs in strace's order; `fmt` is how a bare value prints:
    "x" hex (flags, the default), "d" signed decimal, "u" unsigned decimal."""

    entries: tuple[tuple[int, str], ...]
    fmt: str = "x"

    @classmethod
    def of(cls, pairs: Iterable[tuple[int, str]], fmt: str = "x") -> Xlat:
        return cls(tuple(pairs), fmt)

    @classmethod
    def names(cls, module: object, names: str, fmt: str = "x") -> Xlat:
        """A table of the constants `names` (space-separated) of a uapi module, in that order."""
        return cls(tuple((int(getattr(module, n)), n) for n in names.split()), fmt)

    def lookup(self, value: int) -> str | None:
        for v, name in self.entries:
            if v == value:
                return name
        return None


def _val(value: int, fmt: str) -> str:
    if fmt == "d":
        return str(value)
    if fmt == "u":
        return str(value & 0xFFFFFFFFFFFFFFFF)
    return f"{value & 0xFFFFFFFFFFFFFFFF:#x}" if value else "0"


def comment(text: str | None) -> str:
    """tprints_comment: ` /* text */`, or nothing."""
    return f" /* {text} */" if text else ""


def printxval(style: str, xlat: Xlat | Iterable[Xlat], value: int, dflt: str | None = None,
              fmt: str | None = None) -> str:
    """printxvals_ex: one value by name (the first table that knows it), else the number
    with `dflt` in a comment (`0x1234 /* SIG_??? */`)."""
    tables = (xlat,) if isinstance(xlat, Xlat) else tuple(xlat)
    f = fmt or (tables[0].fmt if tables else "x")
    if style == "raw":
        return _val(value, f)
    for table in tables:
        name = table.lookup(value)
        if name is not None:
            return _val(value, f) + comment(name) if style == "verbose" else name
    return _val(value, f) + comment(dflt)


def printflags(style: str, xlat: Xlat | Iterable[Xlat], flags: int, dflt: str | None = None,
               fmt: str | None = None) -> str:
    """printflags_ex: the names of the set flags joined by `|`, in table order, then the bits
    left over in hex; an entry of value 0 names the empty set (`O_RDONLY`, `PROT_NONE`).
    Returns "" when nothing prints (no flags, no names, no `dflt`), as strace prints nothing."""
    tables = (xlat,) if isinstance(xlat, Xlat) else tuple(xlat)
    f = fmt or (tables[0].fmt if tables else "x")
    if style == "raw":
        return _val(flags, f) if flags or dflt else ""
    verbose = style == "verbose"
    out = _val(flags, f) if verbose and flags else ""
    names: list[str] = []
    for table in tables:
        for v, name in table.entries:
            if not (flags or not names):
                break
            if flags == v or (v and flags & v == v):
                if verbose and not flags and not names:
                    out += "0"
                names.append(name)
                flags &= ~v
            if not flags:
                break
    if names:
        text = "|".join(names) + ("|" + _val(flags, f) if flags else "")
        return out + (f" /* {text} */" if verbose else text)
    if flags:
        return (out if verbose else _val(flags, f)) + comment(dflt)
    return "0" if dflt else ""
