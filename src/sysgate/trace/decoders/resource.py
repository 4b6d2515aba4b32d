"""Resource limits and usage, scheduling priority: rlimit resources, struct rlimit64,
getrusage's `who` and struct rusage, getpriority/setpriority's `which`.

Counterpart: strace's resource.c (print_rlim64_t, print_rlimit64, the getrlimit,
setrlimit, prlimit64, getrusage, getpriority and setpriority decoders) and
printrusage.c. A limit prints as `8192*1024` when it is a multiple of 1024 above 1024,
as RLIM64_INFINITY when unlimited; struct rusage stops after the two times with `...`
unless -v.
"""

from __future__ import annotations

import struct

from sysgate.syscall import Param
from sysgate.trace.decoders.time import fmt_timeval
from sysgate.trace.printers import U32, U64, Ctx, printer, umove, xval_printer
from sysgate.trace.xlat import Xlat, comment
from sysgate.uapi import resource as lr

RESOURCES = Xlat.names(lr, "RLIMIT_CPU RLIMIT_FSIZE RLIMIT_DATA RLIMIT_STACK RLIMIT_CORE RLIMIT_RSS RLIMIT_NPROC "
                       "RLIMIT_NOFILE RLIMIT_MEMLOCK RLIMIT_AS RLIMIT_LOCKS RLIMIT_SIGPENDING RLIMIT_MSGQUEUE "
                       "RLIMIT_NICE RLIMIT_RTPRIO RLIMIT_RTTIME")
USAGEWHO = Xlat.of((v & U32, n) for v, n in (
    (lr.RUSAGE_SELF, "RUSAGE_SELF"), (lr.RUSAGE_CHILDREN, "RUSAGE_CHILDREN"),
    (lr.RUSAGE_BOTH, "RUSAGE_BOTH"), (lr.RUSAGE_THREAD, "RUSAGE_THREAD"),
))
"""Values as strace's table holds them: 32-bit, so RUSAGE_CHILDREN is 0xffffffff."""
PRIORITIES = Xlat.names(lr, "PRIO_PROCESS PRIO_PGRP PRIO_USER")

RLIMIT64 = struct.Struct("<QQ")
RUSAGE = struct.Struct("<4q14q")
RUSAGE_COUNTERS = ("ru_maxrss", "ru_ixrss", "ru_idrss", "ru_isrss", "ru_minflt", "ru_majflt", "ru_nswap",
                   "ru_inblock", "ru_oublock", "ru_msgsnd", "ru_msgrcv", "ru_nsignals", "ru_nvcsw", "ru_nivcsw")


def sprint_rlim64(style: str, lim: int) -> str:
    """print_rlim64_t: RLIM64_INFINITY, `N*1024`, or the number (both under -X verbose)."""
    name = None
    if lim == lr.RLIM64_INFINITY:
        name = "RLIM64_INFINITY"
    elif lim > 1024 and lim % 1024 == 0:
        name = f"{lim // 1024}*1024"
    if name is None or style == "raw":
        return str(lim)
    return f"{lim}{comment(name)}" if style == "verbose" else name


xval_printer("rlimit_resource", RESOURCES, "RLIMIT_???")


@printer("struct rlimit64")
def p_rlimit64(ctx: Ctx, v: int, p: Param) -> str:
    """print_rlimit64: `{rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}`."""
    data = umove(ctx, v, RLIMIT64.size)
    if isinstance(data, str):
        return data
    cur, top = RLIMIT64.unpack(data)
    style = ctx.opts.xlat_style
    return f"{{rlim_cur={sprint_rlim64(style, cur)}, rlim_max={sprint_rlim64(style, top)}}}"


xval_printer("rusage_who", USAGEWHO, "RUSAGE_???")


@printer("struct rusage")
def p_rusage(ctx: Ctx, v: int, p: Param) -> str:
    """printrusage: the user and system times, then the counters only with -v."""
    data = umove(ctx, v, RUSAGE.size)
    if isinstance(data, str):
        return data
    f = RUSAGE.unpack(data)
    out = f"{{ru_utime={fmt_timeval(f[0], f[1])}, ru_stime={fmt_timeval(f[2], f[3])}, "
    if not ctx.opts.verbose:
        return out + "...}"
    return out + ", ".join(f"{n}={x & U64}" for n, x in zip(RUSAGE_COUNTERS, f[4:], strict=True)) + "}"


xval_printer("prio_which", PRIORITIES, "PRIO_???")
