"""stat, lstat, fstat, newfstatat, access, faccessat, faccessat2: struct stat, file modes,
device numbers, times, the AT_* flags and the access modes.

Counterpart: strace's stat.c and print_struct_stat.c (struct stat: `{st_mode=S_IFREG|0644,
st_size=12, ...}`, or every field with -v), printmode.c (print_symbolic_mode_t),
print_dev_t.c (`makedev(0x1, 0x3)`), util.c (sprinttime_nsec: the local time in a
comment after a number of seconds), access.c, and the tables xlat/at_flags.in,
modetypes.in, access_modes.in, faccessat_flags.in.
"""

from __future__ import annotations

import struct

from sysgate.syscall import Param
from sysgate.trace.decoders.time import sprinttime
from sysgate.trace.printers import Ctx, addr, flags_printer, printer, umode
from sysgate.trace.xlat import Xlat, comment
from sysgate.uapi import fcntl as o
from sysgate.uapi import stat as s

AT_FLAGS = Xlat.names(
    o, "AT_SYMLINK_NOFOLLOW AT_REMOVEDIR AT_SYMLINK_FOLLOW AT_NO_AUTOMOUNT AT_EMPTY_PATH AT_RECURSIVE"
)
"""at_flags: the table of every *at call's flags (so 0x200 reads AT_REMOVEDIR everywhere)."""
FACCESSAT_FLAGS = Xlat.names(o, "AT_SYMLINK_NOFOLLOW AT_EACCESS AT_EMPTY_PATH")
ACCESS_MODES = Xlat.names(o, "F_OK R_OK W_OK X_OK")
MODETYPES = Xlat.names(s, "S_IFREG S_IFSOCK S_IFIFO S_IFLNK S_IFDIR S_IFBLK S_IFCHR")

STAT = struct.Struct("<QQQIII4xQQQQqQqQqQ24x")
"""struct stat (x86-64): st_dev, st_ino, st_nlink, st_mode, st_uid, st_gid, st_rdev,
st_size, st_blksize, st_blocks, st_atime, st_atime_nsec, st_mtime, st_mtime_nsec, st_ctime,
st_ctime_nsec; strace reads every field unsigned but the seconds."""


def time_comment(sec: int, nsec: int = 0, width: int = 9) -> str:
    """tprints_comment(sprinttime_nsec(...)): ` /* <local time> */`, or nothing."""
    return comment(sprinttime(sec, nsec, 10**width - 1 if width else 0, width))


def symbolic_mode(style: str, mode: int) -> str:
    """print_symbolic_mode_t: `S_IFREG|S_ISUID|0755` (a mode with no type: `0644`); -X raw
    the octal number, verbose the number then the names in a comment."""
    number = umode(mode)
    if mode & s.S_IFMT:
        ifmt = MODETYPES.lookup(mode & s.S_IFMT)
        if ifmt is None:
            return number
    else:
        ifmt = ""
    if style == "raw":
        return number
    names = (
        ifmt + ("|" if ifmt else "")
        + ("S_ISUID|" if mode & s.S_ISUID else "")
        + ("S_ISGID|" if mode & s.S_ISGID else "")
        + ("S_ISVTX|" if mode & s.S_ISVTX else "")
        + umode(mode & ~(s.S_IFMT | s.S_ISUID | s.S_ISGID | s.S_ISVTX))
    )
    return names if style == "abbrev" else number + comment(names)


def dev_major(dev: int) -> int:
    """glibc's major(): the 12 low bits at 8, the rest from bit 32."""
    return ((dev >> 8) & 0xFFF) | ((dev >> 32) & ~0xFFF & 0xFFFFFFFF)


def dev_minor(dev: int) -> int:
    """glibc's minor(): the 8 low bits, the rest from bit 12."""
    return (dev & 0xFF) | ((dev >> 12) & ~0xFF & 0xFFFFFFFF)


def hexval(v: int) -> str:
    """PRINT_VAL_X: `%#llx` (0 is plain "0")."""
    return f"{v:#x}" if v else "0"


def print_dev(style: str, dev: int) -> str:
    """print_dev_t: `makedev(0x1, 0x3)`; -X raw the number, verbose both."""
    number = hexval(dev)
    if style == "raw":
        return number
    text = f"makedev({hexval(dev_major(dev))}, {hexval(dev_minor(dev))})"
    return text if style == "abbrev" else number + comment(text)


def print_struct_stat(ctx: Ctx, raw: bytes) -> str:
    """print_struct_stat: the mode and the size (or the device of a device file), then
    `...`; with -v every field, the times with their dates in a comment."""
    (dev, ino, nlink, mode, uid, gid, rdev, size, blksize, blocks,
     atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns) = STAT.unpack(raw)
    style = ctx.opts.xlat_style
    fields: list[str] = []
    if ctx.opts.verbose:
        fields += [f"st_dev={print_dev(style, dev)}", f"st_ino={ino}", f"st_mode={symbolic_mode(style, mode)}",
                   f"st_nlink={nlink}", f"st_uid={uid}", f"st_gid={gid}", f"st_blksize={blksize}",
                   f"st_blocks={blocks}"]
    else:
        fields.append(f"st_mode={symbolic_mode(style, mode)}")
    if mode & s.S_IFMT in (s.S_IFCHR, s.S_IFBLK):
        fields.append(f"st_rdev={print_dev(style, rdev)}")
    else:
        fields.append(f"st_size={size}")
    if not ctx.opts.verbose:
        return "{" + ", ".join(fields) + ", ...}"
    for name, sec, nsec in (("atime", atime, atime_ns), ("mtime", mtime, mtime_ns), ("ctime", ctime, ctime_ns)):
        fields.append(f"st_{name}={sec}{time_comment(sec, nsec)}")
        fields.append(f"st_{name}_nsec={nsec}")
    return "{" + ", ".join(fields) + "}"


@printer("struct stat")
def p_stat(ctx: Ctx, v: int, p: Param) -> str:
    raw = ctx.read(v, STAT.size)
    return addr(v) if raw is None else print_struct_stat(ctx, raw)


flags_printer("at_flags", AT_FLAGS, "AT_???")


flags_printer("access_mode", ACCESS_MODES, "?_OK")


flags_printer("faccessat_flags", FACCESSAT_FLAGS, "AT_???")
