"""File attributes and names: chown's ids, fallocate's mode, renameat2's flags, the
times of utimensat/utimes/futimesat/utime, mknod's mode and device, getcwd's buffer.

Counterpart: strace's uid.c and fchownat.c (printuid), fallocate.c, renameat.c,
utimes.c, utime.c, print_timespec.h (print_timespec_t_utime: UTIME_NOW and UTIME_OMIT
by name), print_timeval.c (print_timeval_utimes), mknod.c, getcwd.c, and the tables
xlat/falloc_flags.in and rename_flags.in. A time is followed by its date in a comment.
"""

from __future__ import annotations

import struct

from sysgate.syscall import Param
from sysgate.trace.decoders.readdir import printpathn
from sysgate.trace.decoders.stat import print_dev, symbolic_mode, time_comment
from sysgate.trace.printers import Ctx, addr, flags_printer, printer
from sysgate.trace.xlat import Xlat, comment
from sysgate.uapi import fcntl as o
from sysgate.uapi import stat as s

FALLOC_FLAGS = Xlat.names(
    o,
    "FALLOC_FL_KEEP_SIZE FALLOC_FL_PUNCH_HOLE FALLOC_FL_NO_HIDE_STALE FALLOC_FL_COLLAPSE_RANGE"
    " FALLOC_FL_ZERO_RANGE FALLOC_FL_INSERT_RANGE FALLOC_FL_UNSHARE_RANGE",
)
RENAME_FLAGS = Xlat.names(o, "RENAME_NOREPLACE RENAME_EXCHANGE RENAME_WHITEOUT")

TIME_PAIR = struct.Struct("<qQqQ")
"""Two struct __kernel_timespec or __kernel_old_timeval: seconds (signed), then the
nanoseconds or microseconds (read unsigned, as strace does)."""
UTIMBUF = struct.Struct("<qq")
"""struct utimbuf: actime, modtime."""


@printer("uid")
def p_uid(ctx: Ctx, v: int, p: Param) -> str:
    """printuid: a uid_t or gid_t, -1 ("leave it") as -1."""
    v &= 0xFFFFFFFF
    return "-1" if v == 0xFFFFFFFF else str(v)


flags_printer("falloc_flags", FALLOC_FLAGS, "FALLOC_FL_???")


flags_printer("rename_flags", RENAME_FLAGS, "RENAME_??")


def _timespec_utime(style: str, sec: int, nsec: int) -> str:
    """print_timespec_t_utime: UTIME_NOW/UTIME_OMIT by name (-X as an xlat), any other
    time as {tv_sec=..., tv_nsec=...} and its date."""
    body = f"{{tv_sec={sec}, tv_nsec={nsec}}}"
    if nsec in (s.UTIME_NOW, s.UTIME_OMIT):
        name = "UTIME_NOW" if nsec == s.UTIME_NOW else "UTIME_OMIT"
        return {"abbrev": name, "raw": body}.get(style, body + comment(name))
    return body + time_comment(sec, nsec)


@printer("struct utimensat_times")
def p_utimensat_times(ctx: Ctx, v: int, p: Param) -> str:
    """utimensat's times: [atime, mtime], or NULL for "now"."""
    raw = ctx.read(v, TIME_PAIR.size) if v else None
    if raw is None:
        return addr(v)
    asec, ansec, msec, mnsec = TIME_PAIR.unpack(raw)
    style = ctx.opts.xlat_style
    return f"[{_timespec_utime(style, asec, ansec)}, {_timespec_utime(style, msec, mnsec)}]"


@printer("struct utimes_times")
def p_utimes_times(ctx: Ctx, v: int, p: Param) -> str:
    """print_timeval_utimes: utimes' and futimesat's [atime, mtime] with their dates."""
    raw = ctx.read(v, TIME_PAIR.size) if v else None
    if raw is None:
        return addr(v)
    asec, ausec, msec, musec = TIME_PAIR.unpack(raw)
    return (f"[{{tv_sec={asec}, tv_usec={ausec}}}{time_comment(asec, ausec, 6)}, "
            f"{{tv_sec={msec}, tv_usec={musec}}}{time_comment(msec, musec, 6)}]")


@printer("struct utimbuf")
def p_utimbuf(ctx: Ctx, v: int, p: Param) -> str:
    raw = ctx.read(v, UTIMBUF.size) if v else None
    if raw is None:
        return addr(v)
    actime, modtime = UTIMBUF.unpack(raw)
    return f"{{actime={actime}{time_comment(actime)}, modtime={modtime}{time_comment(modtime)}}}"


@printer("mknod_mode")
def p_mknod_mode(ctx: Ctx, v: int, p: Param) -> str:
    """mknod's mode with its file type by name (print_symbolic_mode_t of a umode_t)."""
    return symbolic_mode(ctx.opts.xlat_style, v & 0xFFFF)


@printer("mknod_dev")
def p_mknod_dev(ctx: Ctx, v: int, p: Param) -> str | None:
    """mknod's device: only for a character or block device (print_dev_t)."""
    if ctx.arg("mode") & s.S_IFMT not in (s.S_IFCHR, s.S_IFBLK):
        return None
    return print_dev(ctx.opts.xlat_style, v & 0xFFFFFFFF)


@printer("getcwd_buf")
def p_getcwd_buf(ctx: Ctx, v: int, p: Param) -> str:
    """The directory getcwd wrote: a path of the result's length less its NUL."""
    if ctx.ret is None or ctx.failed:
        return addr(v)
    return printpathn(ctx, v, max(ctx.ret - 1, 0))[0]
