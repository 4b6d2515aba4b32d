"""What the system is: struct new_utsname (uname) and struct sysinfo.

Counterpart: strace's uname.c and sysinfo.c. uname shows sysname and nodename and
then `...` unless -v, which adds release, version, machine and domainname.
"""

from __future__ import annotations

import struct

from sysgate.syscall import Param
from sysgate.trace.printers import U64, Ctx, printer, umove
from sysgate.trace.quote import string_quote

UTS_FIELD = 65
UTS_NAMES = ("sysname", "nodename", "release", "version", "machine", "domainname")
SYSINFO = struct.Struct("<q3Q6QH6xQQI4x")
SYSINFO_NAMES = ("uptime", "loads", "totalram", "freeram", "sharedram", "bufferram", "totalswap", "freeswap",
                 "procs", "totalhigh", "freehigh", "mem_unit")


def quoted_cstring(data: bytes, xflag: int) -> str:
    """print_quoted_cstring: a NUL-terminated char array, `...` after it if no NUL ends it."""
    text, unterminated = string_quote(data, xflag, zero_terminated=True)
    return text + ("..." if unterminated else "")


@printer("struct new_utsname")
def p_utsname(ctx: Ctx, v: int, p: Param) -> str:
    data = umove(ctx, v, UTS_FIELD * len(UTS_NAMES))
    if isinstance(data, str):
        return data
    shown = UTS_NAMES if ctx.opts.verbose else UTS_NAMES[:2]
    fields = [f"{name}={quoted_cstring(data[i * UTS_FIELD:(i + 1) * UTS_FIELD], ctx.opts.xflag)}"
              for i, name in enumerate(shown)]
    if not ctx.opts.verbose:
        fields.append("...")
    return "{" + ", ".join(fields) + "}"


@printer("struct sysinfo")
def p_sysinfo(ctx: Ctx, v: int, p: Param) -> str:
    """`{uptime=.., loads=[a, b, c], totalram=.., ..., mem_unit=1}`, every field unsigned."""
    data = umove(ctx, v, SYSINFO.size)
    if isinstance(data, str):
        return data
    f = SYSINFO.unpack(data)
    values = [str(f[0] & U64), "[" + ", ".join(str(x) for x in f[1:4]) + "]", *(str(x & U64) for x in f[4:])]
    return "{" + ", ".join(f"{n}={x}" for n, x in zip(SYSINFO_NAMES, values, strict=True)) + "}"
