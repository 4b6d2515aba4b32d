"""Reading and writing: iovec arrays, lseek's whence, preadv2's RWF_* flags, offsets.

Counterpart: strace's io.c (readv, writev, preadv, pwritev, preadv2, pwritev2,
tprint_iov_upto), lseek.c and util.c (print_array_ex, printnum_*). The data of
read-like calls is printed when they return, as much as they transferred; that of
write-like calls when they are made, as much as was asked. Each iovec element's data
is cut at -s on its own, and an array longer than -s elements is cut with "..." unless
-v is given.
"""

from __future__ import annotations

from sysgate.argtypes import IN, UserPtr
from sysgate.syscall import Param
from sysgate.trace import quote
from sysgate.trace.printers import U64, Ctx, addr, flags_printer, print_array, printer, s64
from sysgate.trace.xlat import Xlat, printxval
from sysgate.uapi import fcntl as f

WHENCE = Xlat.names(f, "SEEK_SET SEEK_CUR SEEK_END SEEK_DATA SEEK_HOLE")
"""xlat/whence_codes.in."""
RWF = Xlat.of([(0x01, "RWF_HIPRI"), (0x02, "RWF_DSYNC"), (0x04, "RWF_SYNC"), (0x08, "RWF_NOWAIT"),
               (0x10, "RWF_APPEND")])
"""xlat/rwf_flags.in: strace 6.1 knows neither RWF_NOAPPEND nor RWF_ATOMIC."""
IOVEC_SIZE = 16


def print_iov(ctx: Ctx, vec: int, vlen: int, data_size: int | None, addresses: bool = False) -> str:
    """tprint_iov_upto: `[{iov_base="...", iov_len=5}, ...]`. Each element shows at most what
    is left of `data_size` bytes (None: all of it); `addresses` prints the bases as pointers
    (a failed readv)."""
    left = data_size

    def element(raw: bytes) -> str:
        nonlocal left
        base = int.from_bytes(raw[:8], "little")
        length = int.from_bytes(raw[8:], "little")
        n = length if left is None else min(length, left)
        if left is not None:
            left -= n
        if addresses:
            text = addr(base)
        else:
            text = quote.printstr(ctx.read, base, n, ctx.opts.string_limit, ctx.opts.xflag)
        return f"{{iov_base={text}, iov_len={length}}}"

    return print_array(ctx, vec, vlen, IOVEC_SIZE, element, ignore_syserror=True)


@printer("iovec")
def p_iovec(ctx: Ctx, v: int, p: Param) -> str:
    """An iovec array whose length is the parameter the declaration names; a write-like
    call's (IN) is shown whole at entry, a read-like call's up to the bytes it read."""
    assert isinstance(p.arg, UserPtr) and p.arg.size
    vlen = ctx.arg(p.arg.size) & U64
    if p.arg.direction is IN:
        return print_iov(ctx, v, vlen, None)
    if ctx.failed:
        return print_iov(ctx, v, vlen, None, addresses=True)
    return print_iov(ctx, v, vlen, ctx.ret)


@printer("whence")
def p_whence(ctx: Ctx, v: int, p: Param) -> str:
    return printxval(ctx.opts.xlat_style, WHENCE, v, "SEEK_???")


flags_printer("rwf", RWF, "RWF_???")


@printer("lld")
def p_lld(ctx: Ctx, v: int, p: Param) -> str:
    """A 64-bit offset in signed decimal, whatever the declared type (preadv's pos_l)."""
    return str(s64(v))


@printer("omit")
def p_omit(ctx: Ctx, v: int, p: Param) -> None:
    """An argument strace does not show (the high half of preadv's offset on x86-64)."""
    return None
