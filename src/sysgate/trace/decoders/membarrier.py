"""membarrier: the command, its flags, the CPU, and MEMBARRIER_CMD_QUERY's answer.

Counterpart: strace's membarrier.c and xlat/membarrier_cmds.in, membarrier_flags.in.
strace 6.1 does not know MEMBARRIER_CMD_GET_REGISTRATIONS (`0x200 /* MEMBARRIER_CMD_??? */`).
The CPU is printed only with MEMBARRIER_CMD_FLAG_CPU; a successful query's mask is
printed in hex followed by the commands it holds.
"""

from __future__ import annotations

from sysgate.syscall import Param
from sysgate.trace.printers import U64, Ctx, flags_printer, printer, r_dec, ret_printer
from sysgate.trace.xlat import Xlat, printflags, printxval
from sysgate.uapi import membarrier as mb

MEMBARRIER_CMDS = Xlat.names(
    mb,
    "MEMBARRIER_CMD_QUERY MEMBARRIER_CMD_GLOBAL MEMBARRIER_CMD_GLOBAL_EXPEDITED "
    "MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED MEMBARRIER_CMD_PRIVATE_EXPEDITED "
    "MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE "
    "MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ "
    "MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ",
)
MEMBARRIER_FLAGS = Xlat.names(mb, "MEMBARRIER_CMD_FLAG_CPU")


@printer("membarrier_cmd")
def p_membarrier_cmd(ctx: Ctx, v: int, p: Param) -> str:
    """printxval of the int command, widened as strace widens it (-1 is 0xffffffff)."""
    return printxval(ctx.opts.xlat_style, MEMBARRIER_CMDS, v & 0xFFFFFFFF, "MEMBARRIER_CMD_???")


flags_printer("membarrier_flags", MEMBARRIER_FLAGS, "MEMBARRIER_CMD_FLAG_???")


@printer("membarrier_cpu")
def p_membarrier_cpu(ctx: Ctx, v: int, p: Param) -> str | None:
    """The CPU, only when MEMBARRIER_CMD_FLAG_CPU says it is used."""
    return str(v) if ctx.arg("flags") & mb.MEMBARRIER_CMD_FLAG_CPU else None


@ret_printer("membarrier")
def r_membarrier(ctx: Ctx, v: int) -> str:
    """MEMBARRIER_CMD_QUERY's mask: hex and the commands (RVAL_HEX | RVAL_STR)."""
    if ctx.arg("cmd") != mb.MEMBARRIER_CMD_QUERY or not v:
        return r_dec(ctx, v)
    return f"{v & U64:#x} ({printflags(ctx.opts.xlat_style, MEMBARRIER_CMDS, v)})"
