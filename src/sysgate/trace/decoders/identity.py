"""Identity: the uids and gids getresuid/getresgid stored, getgroups' list.

Counterpart: strace's uid.c (getresuid, getgroups, printuid) and util.c's print_array.
An id prints unsigned, except (uid_t) -1 which prints as -1. The pid-returning calls
(getpid, gettid, getpgid, ...) need nothing here: without --decode-pids their results
and pid arguments are plain decimal numbers.
"""

from __future__ import annotations

import struct

from sysgate.syscall import Param
from sysgate.trace.printers import U32, Ctx, addr, print_array, printer, umove

NGROUPS_MAX = 65536
"""sysconf(_SC_NGROUPS_MAX) on Linux: a longer list prints as its address."""


def printuid(uid: int) -> str:
    """printuid: unsigned, -1 as -1."""
    uid &= U32
    return "-1" if uid == U32 else str(uid)


@printer("uid_ptr")
def p_uid_ptr(ctx: Ctx, v: int, p: Param) -> str:
    """get_print_uid: `[0]`."""
    data = umove(ctx, v, 4)
    return data if isinstance(data, str) else f"[{printuid(struct.unpack('<I', data)[0])}]"


@printer("gid_array")
def p_gid_array(ctx: Ctx, v: int, p: Param) -> str:
    """getgroups' list at exit: as many gids as the call returned (print_groups)."""
    count = ctx.ret if ctx.ret is not None else 0
    if ctx.failed or count > NGROUPS_MAX:
        return addr(v)
    return print_array(ctx, v, count, 4, lambda b: printuid(struct.unpack("<I", b)[0]))
