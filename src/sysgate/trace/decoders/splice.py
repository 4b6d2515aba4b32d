"""sendfile and copy_file_range: the offsets they take by pointer.

Counterpart: strace's sendfile.c (sendfile64) and copy_file_range.c. sendfile shows the
input offset as the call found it and, when it moved data, as it left it:
`sendfile(1, 3, [0] => [123], 200) = 123`. copy_file_range shows both offsets as the
call found them (`[0]`), signed.

The pointers are declared as written by the kernel, so the tracer prints them when the
call returns; the value the call found is then worked back from the result, as the
kernel advances an offset by exactly the bytes it moved and writes back the same value
when it fails.
"""

from __future__ import annotations

from sysgate.syscall import Param
from sysgate.trace.printers import U64, Ctx, addr, fetch, printer


def _loff(ctx: Ctx, ptr: int) -> int | None:
    data = fetch(ctx, ptr, 8, ignore_syserror=True)
    return None if data is None else int.from_bytes(data, "little", signed=True)


def _moved(ctx: Ctx) -> int:
    """The bytes the call moved: its result when it succeeded, else 0."""
    return 0 if ctx.failed or ctx.ret is None else ctx.ret


@printer("sendfile_off")
def p_sendfile_off(ctx: Ctx, v: int, p: Param) -> str:
    """`[before] => [after]`, or `[offset]` if nothing moved; unsigned (%PRIu64)."""
    now = _loff(ctx, v)
    if now is None:
        return addr(v)
    moved = _moved(ctx)
    if not moved:
        return f"[{now % (U64 + 1)}]"
    return f"[{(now - moved) % (U64 + 1)}] => [{now % (U64 + 1)}]"


@printer("copy_off")
def p_copy_off(ctx: Ctx, v: int, p: Param) -> str:
    """`[offset]` as the call found it (printnum_int64 with %PRId64)."""
    now = _loff(ctx, v)
    if now is None:
        return addr(v)
    return f"[{now - _moved(ctx)}]"
