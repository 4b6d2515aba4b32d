"""getrandom: the bytes it returned, always in hex, and the GRND_* flags.

Counterpart: strace's getrandom.c. strace prints the whole call when it returns; the
buffer is quoted with QUOTE_FORCE_HEX (`"\\x3b\\x8a..."`, cut at -s), whatever -x says.
"""

from __future__ import annotations

from sysgate.syscall import Param
from sysgate.trace import quote
from sysgate.trace.printers import Ctx, addr, flags_printer, printer
from sysgate.trace.xlat import Xlat
from sysgate.uapi import random as lrandom

GETRANDOM_FLAGS = Xlat.names(lrandom, "GRND_NONBLOCK GRND_RANDOM GRND_INSECURE")


@printer("random_buf")
def p_random_buf(ctx: Ctx, v: int, p: Param) -> str:
    """The bytes the call wrote (as many as it returned), or the address if it failed."""
    if ctx.ret is None or ctx.failed:
        return addr(v)
    return quote.printstr(ctx.read, v, ctx.ret, ctx.opts.string_limit, quote.HEXSTR_ALL)


flags_printer("getrandom_flags", GETRANDOM_FLAGS, "GRND_???")
