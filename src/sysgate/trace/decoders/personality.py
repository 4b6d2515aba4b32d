"""personality: the execution domain and its flags, as an argument and as the result.

Counterpart: strace's personality.c with xlat/personality_types.in and
personality_flags.in. The argument is `0xffffffff` when it only asks, else the type
(the low byte, `PER_LINUX32` or `0x1 /* PER_??? */`) and then `|` and the flags; the
result is its hex value with the same text in parentheses:
`personality(0xffffffff) = 0x40000 (PER_LINUX|ADDR_NO_RANDOMIZE)`.
"""

from __future__ import annotations

from sysgate.syscall import Param
from sysgate.trace.printers import Ctx, printer, ret_printer, xval
from sysgate.trace.xlat import Xlat, printflags, printxval
from sysgate.uapi import personality as per

PERSONALITY_TYPES = Xlat.names(
    per,
    "PER_LINUX PER_LINUX_32BIT PER_LINUX_FDPIC PER_SVR4 PER_SVR3 PER_SCOSVR3 PER_OSR5 PER_WYSEV386 "
    "PER_ISCR4 PER_BSD PER_SUNOS PER_XENIX PER_LINUX32 PER_LINUX32_3GB PER_IRIX32 PER_IRIXN32 "
    "PER_IRIX64 PER_RISCOS PER_SOLARIS PER_UW7 PER_OSF4 PER_HPUX PER_MASK",
)
"""strace's table holds the full values of the types that carry flags (PER_SVR4 is
0x4100001), which never equal a low byte: those print as `0x1 /* PER_??? */`."""
PERSONALITY_FLAGS = Xlat.names(
    per,
    "UNAME26 ADDR_NO_RANDOMIZE FDPIC_FUNCPTRS MMAP_PAGE_ZERO ADDR_COMPAT_LAYOUT READ_IMPLIES_EXEC "
    "ADDR_LIMIT_32BIT SHORT_INODE WHOLE_SECONDS STICKY_TIMEOUTS ADDR_LIMIT_3GB",
)


def personality_text(style: str, pers: int) -> str:
    """The type by name, then `|` and the flags if any are set."""
    text = printxval(style, PERSONALITY_TYPES, pers & per.PER_MASK, "PER_???")
    flags = pers & ~per.PER_MASK
    if flags:
        text += "|" + printflags(style, PERSONALITY_FLAGS, flags)
    return text


@printer("personality")
def p_personality(ctx: Ctx, v: int, p: Param) -> str:
    v &= 0xFFFFFFFF
    if v == 0xFFFFFFFF:
        return xval(v)
    return personality_text(ctx.opts.xlat_style, v)


@ret_printer("personality")
def r_personality(ctx: Ctx, v: int) -> str:
    """RVAL_HEX | RVAL_STR: `0x40000 (PER_LINUX|ADDR_NO_RANDOMIZE)`."""
    return f"{xval(v)} ({personality_text(ctx.opts.xlat_style, v & 0xFFFFFFFF)})"
