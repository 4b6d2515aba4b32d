"""/proc/stat: CPU time by kind, interrupts, context switches, boot time, processes.

Counterpart: fs/proc/stat.c (show_stat). sysgate's kernel has one CPU (cpu0), so the
"cpu" line and the "cpu0" line are the same: user and system time are those the
guest has used (the sysgate process's, as getrusage reports them), idle is the rest
of the uptime (as /proc/uptime), and the kinds of time sysgate has no notion of
(nice, iowait, irq, softirq, steal, guest) are 0, as are the interrupt counts: the
emulated machine takes no interrupts.
"""

from __future__ import annotations

import resource as host_resource
from typing import TYPE_CHECKING

from sysgate.fs.proc.generic import boot_realtime_ns
from sysgate.fs.proc.loadavg import nr_running
from sysgate.fs.proc.uptime import NSEC_PER_SEC, idle_ns
from sysgate.kernel.sys_utsname import do_sysinfo

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

USER_HZ = 100
NR_IRQS_LEGACY = 16
NR_SOFTIRQS = 10


def _ticks(ns: int) -> int:
    return ns // (NSEC_PER_SEC // USER_HZ)


def show_stat(t: Task) -> bytes:
    k = t.kernel
    ru = host_resource.getrusage(host_resource.RUSAGE_SELF)
    user = int(ru.ru_utime * NSEC_PER_SEC)
    system = int(ru.ru_stime * NSEC_PER_SEC)
    idle = idle_ns(do_sysinfo(k).uptime_ns)
    times = " ".join(str(_ticks(x)) for x in (user, 0, system, idle, 0, 0, 0, 0, 0, 0))
    from sysgate.kernel.kernel import FIRST_PID

    lines = [
        f"cpu  {times}",
        f"cpu0 {times}",
        "intr 0" + " 0" * NR_IRQS_LEGACY,
        f"ctxt {ru.ru_nvcsw + ru.ru_nivcsw}",
        f"btime {boot_realtime_ns() // NSEC_PER_SEC}",
        f"processes {k.next_pid - FIRST_PID}",
        f"procs_running {nr_running(t)}",
        "procs_blocked 0",
        "softirq 0" + " 0" * NR_SOFTIRQS,
    ]
    return ("\n".join(lines) + "\n").encode()
