"""open, openat, creat, openat2, close, close_range: open flags, modes, struct open_how,
and the directory descriptor of the *at calls.

Counterpart: strace's open.c (print_dirfd, sprint_open_modes, tprint_open_modes,
decode_open, print_open_how), printmode.c (print_numeric_umode_t), close_range.c and
the tables xlat/open_access_modes.in, open_mode_flags.in, open_resolve_flags.in,
close_range_flags.in. The open flags print as the access mode first and then the
other flags in strace's order (O_SYNC before O_DSYNC, O_TMPFILE before O_DIRECTORY);
open's mode only when O_CREAT or O_TMPFILE asks for one.
"""

from __future__ import annotations

import struct

from sysgate.syscall import Param
from sysgate.trace.printers import Ctx, addr, flags_printer, printer, umode
from sysgate.trace.xlat import Xlat, comment, printflags
from sysgate.uapi import fcntl as o

OPEN_ACCESS_MODES = Xlat.names(o, "O_RDONLY O_WRONLY O_RDWR O_ACCMODE")
OPEN_MODE_FLAGS = Xlat.names(
    o,
    "O_CREAT O_EXCL O_NOCTTY O_TRUNC O_APPEND O_NONBLOCK O_SYNC __O_SYNC O_DSYNC O_DIRECT O_LARGEFILE"
    " O_NOFOLLOW O_NOATIME O_CLOEXEC O_PATH O_TMPFILE __O_TMPFILE O_DIRECTORY FASYNC",
)
OPEN_RESOLVE_FLAGS = Xlat.names(
    o, "RESOLVE_NO_XDEV RESOLVE_NO_MAGICLINKS RESOLVE_NO_SYMLINKS RESOLVE_BENEATH RESOLVE_IN_ROOT RESOLVE_CACHED"
)
CLOSE_RANGE_FLAGS = Xlat.names(o, "CLOSE_RANGE_UNSHARE CLOSE_RANGE_CLOEXEC")

OPEN_HOW = struct.Struct("<QQQ")
"""struct open_how: flags, mode, resolve (OPEN_HOW_SIZE_VER0, 24 bytes)."""


def sprint_open_modes(flags: int) -> str:
    """sprint_open_modes: the access mode by name, then the other flags, then the bits no
    name covers in hex (`O_RDONLY|0x40000000`)."""
    text = OPEN_ACCESS_MODES.lookup(flags & o.O_ACCMODE) or ""
    rest = flags & ~o.O_ACCMODE
    if not rest:
        return text
    return f"{text}|{printflags('abbrev', OPEN_MODE_FLAGS, rest)}"


def open_modes(style: str, flags: int) -> str:
    """tprint_open_modes: the names (-X abbrev), the number (raw), or both (verbose)."""
    if style == "abbrev":
        return sprint_open_modes(flags)
    number = f"{flags:#x}" if flags else "0"
    return number if style == "raw" else number + comment(sprint_open_modes(flags))


@printer("open_flags")
def p_open_flags(ctx: Ctx, v: int, p: Param) -> str:
    return open_modes(ctx.opts.xlat_style, v & 0xFFFFFFFF)


@printer("open_mode")
def p_open_mode(ctx: Ctx, v: int, p: Param) -> str | None:
    """open's mode: printed only when the flags create a file (O_CREAT or O_TMPFILE)."""
    if not ctx.arg("flags") & (o.O_CREAT | o.__O_TMPFILE):
        return None
    return umode(v & 0xFFFF)


@printer("struct open_how")
def p_open_how(ctx: Ctx, v: int, p: Param) -> str:
    """print_open_how: {flags=..., mode=..., resolve=...}; mode only when the flags create a
    file or it is not 0; bytes past the 24 strace knows shown in hex when any is not 0."""
    size = ctx.arg("usize")
    if size < OPEN_HOW.size:
        return addr(v)
    raw = ctx.read(v, OPEN_HOW.size)
    if raw is None:
        return addr(v)
    flags, mode, resolve = OPEN_HOW.unpack(raw)
    style = ctx.opts.xlat_style
    fields = [f"flags={open_modes(style, flags)}"]
    if flags & (o.O_CREAT | o.__O_TMPFILE) or mode:
        fields.append(f"mode={umode(mode)}")
    fields.append(f"resolve={printflags(style, OPEN_RESOLVE_FLAGS, resolve, 'RESOLVE_???')}")
    if size > OPEN_HOW.size:
        extra = _nonzero_bytes(ctx, v, OPEN_HOW.size, min(size, 4096))
        if extra is not None:
            fields.append(extra)
    return "{" + ", ".join(fields) + "}"


def _nonzero_bytes(ctx: Ctx, base: int, start: int, total: int) -> str | None:
    """print_nonzero_bytes: the bytes start..total-1 of a structure larger than strace
    knows, in hex, when any of them is not 0; "???" when they cannot be read."""
    data = ctx.read(base + start, total - start)
    if data is None:
        return "???"
    if not any(data):
        return None
    limit = ctx.opts.string_limit
    text = "".join(f"\\x{c:02x}" for c in data[:limit])
    return f'/* bytes {start}..{total - 1} */ "{text}"' + ("..." if len(data) > limit else "")


flags_printer("close_range_flags", CLOSE_RANGE_FLAGS, "CLOSE_RANGE_???")
