"""Scheduling: CPU affinity masks and getcpu's results.

Counterpart: strace's affinity.c (print_affinitylist, sched_getaffinity,
sched_setaffinity) and getcpu.c. A mask prints as the list of its set CPUs, `[0 1]`;
strace reads at most the host's cpuset size of it (128 bytes, 1024 CPUs, unless the
host has more) and marks a longer mask with `...`.
"""

from __future__ import annotations

import struct

from sysgate.syscall import Param
from sysgate.trace.printers import U32, Ctx, addr, printer, umove

CPUSET_SIZE = 128
"""strace's get_cpuset_size(): the smallest mask the host's sched_getaffinity accepts,
from 128 bytes up; 128 on any host with at most 1024 CPUs."""
WORD = 8


@printer("cpumask")
def p_cpumask(ctx: Ctx, v: int, p: Param) -> str:
    """print_affinitylist: the mask of sched_setaffinity (its `len` bytes, at entry) or of
    sched_getaffinity (as many bytes as the call returned)."""
    length = (ctx.ret if ctx.exiting and ctx.ret is not None else ctx.arg("len")) & U32
    if (ctx.exiting and ctx.failed) or not v:
        return addr(v)
    if not length:
        return "[]"
    want = min(length, CPUSET_SIZE)
    size = -(-want // WORD) * WORD
    data = umove(ctx, v, want)
    if isinstance(data, str):
        return data
    bits = int.from_bytes(data, "little")
    cpus = [str(i) for i in range(size * 8) if bits >> i & 1]
    if size < length:
        cpus.append("...")
    return "[" + " ".join(cpus) + "]"


@printer("printnum_uint")
def p_printnum_uint(ctx: Ctx, v: int, p: Param) -> str:
    """printnum_int(..., "%u"): an unsigned int the kernel stored, `[0]`."""
    data = umove(ctx, v, 4)
    return data if isinstance(data, str) else f"[{struct.unpack('<I', data)[0]}]"
