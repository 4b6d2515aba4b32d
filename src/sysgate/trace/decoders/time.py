"""Clocks and times: clock ids, timespec, timeval, timezone, time_t, struct tms.

Counterpart: strace's time.c (printclockname, the clock_* and nanosleep decoders),
print_timespec.h, print_timeval.c, print_time.c (time), times.c, and util.c
(print_clock_t, sprinttime). Also the helpers the other decoders here share:
`umove` (umove_or_printaddr) and the timeval/timespec formatters.

The Debian build of strace 6.1 does not decode CPU-time and dynamic clock ids (it is
built without CLOCKID_TO_FD): a negative id prints as `0xfffffffa /* CLOCK_??? */`.
"""

from __future__ import annotations

import os
import struct
import time

from sysgate.syscall import Param
from sysgate.trace.printers import U64, Ctx, addr, flags_printer, printer, ret_printer, umove, xval_printer
from sysgate.trace.xlat import Xlat, comment
from sysgate.uapi import time as lt
from sysgate.uapi.errno import Errno

CLOCKNAMES = Xlat.names(lt, "CLOCK_REALTIME CLOCK_MONOTONIC CLOCK_PROCESS_CPUTIME_ID CLOCK_THREAD_CPUTIME_ID "
                        "CLOCK_MONOTONIC_RAW CLOCK_REALTIME_COARSE CLOCK_MONOTONIC_COARSE CLOCK_BOOTTIME "
                        "CLOCK_REALTIME_ALARM CLOCK_BOOTTIME_ALARM CLOCK_SGI_CYCLE CLOCK_TAI")
CLOCKFLAGS = Xlat.names(lt, "TIMER_ABSTIME")

TIMESPEC = struct.Struct("<qq")
TIMEVAL = struct.Struct("<qq")
TIMEZONE = struct.Struct("<ii")
TMS = struct.Struct("<4Q")
ERESTART = frozenset({Errno.ERESTARTSYS, Errno.ERESTARTNOINTR, Errno.ERESTARTNOHAND, Errno.ERESTART_RESTARTBLOCK})


# -- shared helpers ---------------------------------------------------------------------


def fmt_timespec(sec: int, nsec: int) -> str:
    """print_timespec_t: tv_sec signed, tv_nsec unsigned."""
    return f"{{tv_sec={sec}, tv_nsec={nsec & U64}}}"


def fmt_timeval(sec: int, usec: int) -> str:
    """print_timeval_t: tv_sec signed, tv_usec unsigned."""
    return f"{{tv_sec={sec}, tv_usec={usec & U64}}}"


def print_timespec(ctx: Ctx, address: int, ignore_error: bool = False) -> str:
    """print_timespec64: a struct __kernel_timespec in guest memory."""
    data = umove(ctx, address, TIMESPEC.size, ignore_error)
    return data if isinstance(data, str) else fmt_timespec(*TIMESPEC.unpack(data))


def print_timeval(ctx: Ctx, address: int) -> str:
    """print_timeval: a struct __kernel_old_timeval in guest memory."""
    data = umove(ctx, address, TIMEVAL.size)
    return data if isinstance(data, str) else fmt_timeval(*TIMEVAL.unpack(data))


def sprinttime(sec: int, part: int = 0, max_part: int = 0, width: int = 0) -> str | None:
    """sprinttime_ex: local time as ISO 8601 (`2024-11-25T06:39:41+0000`), with the
    fraction when `part` is set; None for the epoch itself and for what cannot be shown."""
    if (sec == 0 and part == 0) or part > max_part:
        return None
    try:
        tm = time.localtime(sec)
    except (OverflowError, OSError, ValueError):
        return None
    frac = f".{part:0{width}d}" if part else ""
    return time.strftime("%Y-%m-%dT%H:%M:%S", tm) + frac + time.strftime("%z", tm)


def _clk_tck() -> int:
    try:
        return os.sysconf("SC_CLK_TCK")
    except (ValueError, OSError):
        return -1


CLK_TCK = _clk_tck()


def print_clock_t(style: str, value: int) -> str:
    """print_clock_t: the tick count, and unless -X raw its value in seconds
    (`11 /* 0.11 s */`), the fraction as wide as the digits of CLK_TCK."""
    value &= U64
    if style == "raw" or CLK_TCK <= 0 or value == 0:
        return str(value)
    width = min(len(str(CLK_TCK)) - 1, 9)
    frac = f"{(value % CLK_TCK) / CLK_TCK:.{width}f}"
    return f"{value}{comment(str(value // CLK_TCK) + frac[1:] + ' s')}"


# -- clock ids and flags ------------------------------------------------------------------


# printclockname: a clock by name; CPU and fd clocks as numbers (see the module doc).
xval_printer("clockid", CLOCKNAMES, "CLOCK_???")


# clock_nanosleep's flags: TIMER_ABSTIME.
flags_printer("clock_flags", CLOCKFLAGS, "TIMER_???")


# -- structures -----------------------------------------------------------------------------


@printer("struct timespec")
def p_timespec(ctx: Ctx, v: int, p: Param) -> str:
    return print_timespec(ctx, v)


@printer("timespec_rem")
def p_timespec_rem(ctx: Ctx, v: int, p: Param) -> str:
    """nanosleep's and clock_nanosleep's remaining time: the kernel writes it only when a
    signal interrupts a relative sleep, so strace shows the structure only then (with the
    call's error set aside) and the address otherwise."""
    relative = not _flags_of(ctx)
    if ctx.ret is not None and -ctx.ret in ERESTART and relative:
        return print_timespec(ctx, v, ignore_error=True)
    return addr(v)


def _flags_of(ctx: Ctx) -> int:
    assert ctx.spec is not None
    return ctx.arg("flags") if any(q.name == "flags" for q in ctx.spec.params) else 0


@printer("struct timeval")
def p_timeval(ctx: Ctx, v: int, p: Param) -> str:
    return print_timeval(ctx, v)


@printer("struct timezone")
def p_timezone(ctx: Ctx, v: int, p: Param) -> str:
    data = umove(ctx, v, TIMEZONE.size)
    if isinstance(data, str):
        return data
    west, dst = TIMEZONE.unpack(data)
    return f"{{tz_minuteswest={west}, tz_dsttime={dst}}}"


@printer("time_t")
def p_time_t(ctx: Ctx, v: int, p: Param) -> str:
    """time's tloc: `[1732520381 /* 2024-11-25T07:39:41+0000 */]`."""
    data = umove(ctx, v, 8)
    if isinstance(data, str):
        return data
    (sec,) = struct.unpack("<q", data)
    return f"[{sec}{comment(sprinttime(sec))}]"


@ret_printer("time")
def r_time(ctx: Ctx, v: int) -> str:
    """time's result with the date it stands for: `1732520381 (2024-11-25T07:39:41+0000)`."""
    date = sprinttime(v)
    return f"{v} ({date})" if date else str(v)


@printer("struct tms")
def p_tms(ctx: Ctx, v: int, p: Param) -> str:
    data = umove(ctx, v, TMS.size)
    if isinstance(data, str):
        return data
    style = ctx.opts.xlat_style
    names = ("tms_utime", "tms_stime", "tms_cutime", "tms_cstime")
    fields = ", ".join(f"{n}={print_clock_t(style, x)}" for n, x in zip(names, TMS.unpack(data), strict=True))
    return "{" + fields + "}"
