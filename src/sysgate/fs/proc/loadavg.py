"""/proc/loadavg: the load averages, running and total tasks, and the last pid.

Counterpart: fs/proc/loadavg.c (loadavg_proc_show). The averages are sysinfo's, in
the same fixed point, so the two always agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sysgate.kernel.sys_utsname import FSHIFT, do_sysinfo

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

FIXED_1 = 1 << FSHIFT


def _load(x: int) -> str:
    """LOAD_INT(x).LOAD_FRAC(x)"""
    return "%d.%02d" % (x >> FSHIFT, ((x & (FIXED_1 - 1)) * 100) >> FSHIFT)


def nr_running(t: Task) -> int:
    """Tasks able to run: sysgate's one CPU runs one task at a time; the others wait."""
    return sum(1 for x in t.kernel.tasks.values() if x.exit_code is None and x is t.kernel.current)


def show_loadavg(t: Task) -> bytes:
    si = do_sysinfo(t.kernel)
    k = t.kernel
    last_pid = k.next_pid - 1
    loads = " ".join(_load(x) for x in si.avenrun)
    return f"{loads} {nr_running(t)}/{len(k.tasks)} {last_pid}\n".encode()
