"""futex: the operation by name and, for each operation, only the arguments it uses.

Counterpart: strace's futex.c (do_futex) and its tables futexops, futexbitset,
futexwakeops and futexwakecmps. strace picks the arguments by `op & 127` (the command
with FUTEX_CLOCK_REALTIME left in the way, so an op with it set that the table does not
name falls back to the printing of its command bits): FUTEX_WAIT shows val and the
timeout, FUTEX_WAKE only val, the requeues val, val2 (the timeout register as a
number) and uaddr2, FUTEX_WAKE_OP decodes val3's operation and comparison, and an
unknown command shows everything raw. Every argument is printed at entry.
"""

from __future__ import annotations

import struct

from sysgate.syscall import Param
from sysgate.trace.decoders.time import print_timespec
from sysgate.trace.printers import U32, Ctx, addr, print_array, printer, xval, xval_printer
from sysgate.trace.xlat import Xlat, comment, printflags, printxval
from sysgate.uapi import futex as fx

_PRIV = fx.FUTEX_PRIVATE_FLAG
_RT = fx.FUTEX_CLOCK_REALTIME
FUTEXOPS = Xlat.of([
    (fx.FUTEX_WAIT, "FUTEX_WAIT"), (fx.FUTEX_WAKE, "FUTEX_WAKE"), (fx.FUTEX_FD, "FUTEX_FD"),
    (fx.FUTEX_REQUEUE, "FUTEX_REQUEUE"), (fx.FUTEX_CMP_REQUEUE, "FUTEX_CMP_REQUEUE"),
    (fx.FUTEX_WAKE_OP, "FUTEX_WAKE_OP"), (fx.FUTEX_LOCK_PI, "FUTEX_LOCK_PI"),
    (fx.FUTEX_UNLOCK_PI, "FUTEX_UNLOCK_PI"), (fx.FUTEX_TRYLOCK_PI, "FUTEX_TRYLOCK_PI"),
    (fx.FUTEX_WAIT_BITSET, "FUTEX_WAIT_BITSET"), (fx.FUTEX_WAKE_BITSET, "FUTEX_WAKE_BITSET"),
    (fx.FUTEX_WAIT_REQUEUE_PI, "FUTEX_WAIT_REQUEUE_PI"), (fx.FUTEX_CMP_REQUEUE_PI, "FUTEX_CMP_REQUEUE_PI"),
    (fx.FUTEX_LOCK_PI2, "FUTEX_LOCK_PI2"),
    (fx.FUTEX_WAIT | _PRIV, "FUTEX_WAIT_PRIVATE"), (fx.FUTEX_WAKE | _PRIV, "FUTEX_WAKE_PRIVATE"),
    (fx.FUTEX_FD | _PRIV, "FUTEX_FD|FUTEX_PRIVATE_FLAG"),
    (fx.FUTEX_REQUEUE | _PRIV, "FUTEX_REQUEUE_PRIVATE"), (fx.FUTEX_CMP_REQUEUE | _PRIV, "FUTEX_CMP_REQUEUE_PRIVATE"),
    (fx.FUTEX_WAKE_OP | _PRIV, "FUTEX_WAKE_OP_PRIVATE"), (fx.FUTEX_LOCK_PI | _PRIV, "FUTEX_LOCK_PI_PRIVATE"),
    (fx.FUTEX_UNLOCK_PI | _PRIV, "FUTEX_UNLOCK_PI_PRIVATE"), (fx.FUTEX_TRYLOCK_PI | _PRIV, "FUTEX_TRYLOCK_PI_PRIVATE"),
    (fx.FUTEX_WAIT_BITSET | _PRIV, "FUTEX_WAIT_BITSET_PRIVATE"),
    (fx.FUTEX_WAKE_BITSET | _PRIV, "FUTEX_WAKE_BITSET_PRIVATE"),
    (fx.FUTEX_WAIT_REQUEUE_PI | _PRIV, "FUTEX_WAIT_REQUEUE_PI_PRIVATE"),
    (fx.FUTEX_CMP_REQUEUE_PI | _PRIV, "FUTEX_CMP_REQUEUE_PI_PRIVATE"),
    (fx.FUTEX_LOCK_PI2 | _PRIV, "FUTEX_LOCK_PI2_PRIVATE"),
    (fx.FUTEX_WAIT | _RT, "FUTEX_WAIT|FUTEX_CLOCK_REALTIME"),
    (fx.FUTEX_WAIT | _PRIV | _RT, "FUTEX_WAIT_PRIVATE|FUTEX_CLOCK_REALTIME"),
    (fx.FUTEX_WAIT_BITSET | _RT, "FUTEX_WAIT_BITSET|FUTEX_CLOCK_REALTIME"),
    (fx.FUTEX_WAIT_BITSET | _PRIV | _RT, "FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME"),
    (fx.FUTEX_WAIT_REQUEUE_PI | _RT, "FUTEX_WAIT_REQUEUE_PI|FUTEX_CLOCK_REALTIME"),
    (fx.FUTEX_WAIT_REQUEUE_PI | _PRIV | _RT, "FUTEX_WAIT_REQUEUE_PI_PRIVATE|FUTEX_CLOCK_REALTIME"),
])
FUTEXBITSET = Xlat.names(fx, "FUTEX_BITSET_MATCH_ANY")
WAKEOPS = Xlat.names(fx, "FUTEX_OP_SET FUTEX_OP_ADD FUTEX_OP_OR FUTEX_OP_ANDN FUTEX_OP_XOR")
WAKECMPS = Xlat.names(fx, "FUTEX_OP_CMP_EQ FUTEX_OP_CMP_NE FUTEX_OP_CMP_LT FUTEX_OP_CMP_LE FUTEX_OP_CMP_GT "
                      "FUTEX_OP_CMP_GE")

# Which arguments each command shows, after uaddr and op (do_futex's switch).
_REQUEUES = {fx.FUTEX_REQUEUE, fx.FUTEX_CMP_REQUEUE, fx.FUTEX_CMP_REQUEUE_PI, fx.FUTEX_WAKE_OP}
_NO_VAL = {fx.FUTEX_LOCK_PI, fx.FUTEX_LOCK_PI2, fx.FUTEX_UNLOCK_PI, fx.FUTEX_TRYLOCK_PI}
_TIMEOUT = {fx.FUTEX_WAIT, fx.FUTEX_LOCK_PI, fx.FUTEX_LOCK_PI2, fx.FUTEX_WAIT_BITSET, fx.FUTEX_WAIT_REQUEUE_PI}
_NO_TIMEOUT = {fx.FUTEX_FD, fx.FUTEX_WAKE, fx.FUTEX_WAKE_BITSET, fx.FUTEX_UNLOCK_PI, fx.FUTEX_TRYLOCK_PI}
_UADDR2 = _REQUEUES | {fx.FUTEX_WAIT_REQUEUE_PI}
_KNOWN = set(range(fx.FUTEX_LOCK_PI2 + 1))


def _cmd(ctx: Ctx) -> int:
    return ctx.arg("op") & 127


xval_printer("futex_op", FUTEXOPS, "FUTEX_???")


@printer("futex_val")
def p_futex_val(ctx: Ctx, v: int, p: Param) -> str | None:
    return None if _cmd(ctx) in _NO_VAL else str(v & U32)


@printer("futex_timeout")
def p_futex_timeout(ctx: Ctx, v: int, p: Param) -> str | None:
    """The timeout, or for the requeues val2 (how many to requeue) held in its register."""
    cmd = _cmd(ctx)
    if cmd in _TIMEOUT:
        return print_timespec(ctx, v)
    if cmd in _REQUEUES:
        return str(v & U32)
    if cmd in _NO_TIMEOUT:
        return None
    return addr(v)


@printer("futex_uaddr2")
def p_futex_uaddr2(ctx: Ctx, v: int, p: Param) -> str | None:
    cmd = _cmd(ctx)
    return addr(v) if cmd in _UADDR2 or cmd not in _KNOWN else None


@printer("futex_val3")
def p_futex_val3(ctx: Ctx, v: int, p: Param) -> str | None:
    cmd = _cmd(ctx)
    style = ctx.opts.xlat_style
    if cmd in (fx.FUTEX_WAIT_BITSET, fx.FUTEX_WAKE_BITSET):
        return printxval(style, FUTEXBITSET, v & U32)
    if cmd in (fx.FUTEX_CMP_REQUEUE, fx.FUTEX_CMP_REQUEUE_PI):
        return str(v & U32)
    if cmd == fx.FUTEX_WAKE_OP:
        return sprint_wake_op(style, v & U32)
    if cmd in _KNOWN:
        return None
    return xval(v & U32)


def _xval_known(style: str, xlat: Xlat, value: int) -> tuple[str, bool]:
    """printxval with no default, and whether strace counts the value as named (never under -X raw)."""
    return printxval(style, xlat, value), style != "raw" and xlat.lookup(value) is not None


def sprint_wake_op(style: str, val3: int) -> str:
    """FUTEX_WAKE_OP's encoded operation:
    `[FUTEX_OP_OPARG_SHIFT<<28|]OP<<28|OPARG<<12|CMP<<24|CMPARG`, with a comment after an
    operation or comparison the table does not name (and after every one under -X raw)."""
    out = ""
    if (val3 >> 28) & fx.FUTEX_OP_OPARG_SHIFT:
        out += printxval(style, Xlat.names(fx, "FUTEX_OP_OPARG_SHIFT"), fx.FUTEX_OP_OPARG_SHIFT) + "<<28|"
    text, named = _xval_known(style, WAKEOPS, (val3 >> 28) & 7)
    out += text + "<<28" + ("" if named else comment("FUTEX_OP_???")) + "|"
    out += xval((val3 >> 12) & 0xFFF) + "<<12|"
    text, named = _xval_known(style, WAKECMPS, (val3 >> 24) & 0xF)
    out += text + "<<24" + ("" if named else comment("FUTEX_OP_CMP_???")) + "|"
    return out + xval(val3 & 0xFFF)


# -- futex_waitv --------------------------------------------------------------------------

FUTEX_WAITER_FLAGS = Xlat.of([(2, "FUTEX_32"), (fx.FUTEX_PRIVATE_FLAG, "FUTEX_PRIVATE_FLAG")])
"""strace's futex_waiter_flags: FUTEX2_SIZE_U32 under its first name, FUTEX_32."""
FUTEX_WAITV_MAX = 128


@printer("futex_waitv")
def p_futex_waitv(ctx: Ctx, v: int, p: Param) -> str:
    """print_waiter_array: `[{val=0x1, uaddr=0x..., flags=FUTEX_32|FUTEX_PRIVATE_FLAG}, ...]`,
    with `__reserved=` only when it is set, and at most FUTEX_WAITV_MAX elements."""
    style = ctx.opts.xlat_style

    def waiter(data: bytes) -> str:
        val, uaddr, flags, reserved = struct.unpack("<QQII", data)
        flag_text = printflags(style, FUTEX_WAITER_FLAGS, flags, "FUTEX_???")
        text = f"{{val={xval(val)}, uaddr={addr(uaddr)}, flags={flag_text}"
        if reserved:
            text += f", __reserved={xval(reserved)}"
        return text + "}"

    nr = ctx.arg("nr_futexes") & U32
    text = print_array(ctx, v, min(nr, FUTEX_WAITV_MAX), 24, waiter)
    if nr > FUTEX_WAITV_MAX and text.endswith("}]"):
        text = text[:-1] + ", ...]"  # print_waiter stops after FUTEX_WAITV_MAX
    return text
