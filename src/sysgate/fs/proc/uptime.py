"""/proc/uptime: seconds since boot, and seconds the CPU spent idle.

Counterpart: fs/proc/uptime.c (uptime_proc_show). The uptime is sysinfo's (the
host's CLOCK_BOOTTIME); sysgate's one CPU was idle whenever it was not running the
guest, so idle time is the uptime less the CPU time the guest (the sysgate process)
has used, as /proc/stat's cpu line counts it.
"""

from __future__ import annotations

import resource as host_resource
from typing import TYPE_CHECKING

from sysgate.kernel.sys_utsname import do_sysinfo

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

NSEC_PER_SEC = 1_000_000_000


def busy_ns() -> int:
    """CPU time used by the guest: the sysgate process's user and system time."""
    ru = host_resource.getrusage(host_resource.RUSAGE_SELF)
    return int((ru.ru_utime + ru.ru_stime) * NSEC_PER_SEC)


def idle_ns(uptime_ns: int) -> int:
    return max(uptime_ns - busy_ns(), 0)


def _centi(ns: int) -> str:
    return "%d.%02d" % (ns // NSEC_PER_SEC, ns % NSEC_PER_SEC // (NSEC_PER_SEC // 100))


def show_uptime(t: Task) -> bytes:
    """"%lu.%02lu %lu.%02lu\\n": uptime and idle time, truncated to hundredths."""
    up = do_sysinfo(t.kernel).uptime_ns
    return f"{_centi(up)} {_centi(idle_ns(up))}\n".encode()
