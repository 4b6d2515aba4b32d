"""uname and sysinfo: what the system is.

Counterpart: kernel/sys.c (newuname, sysinfo via do_sysinfo). The release string is
sysgate's own (the Linux release it follows, marked as sysgate), the node name is the
host's; memory figures are the host's, capped by the kernel's memory limit.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from sysgate.arch.x86_64.structs import SYSINFO, pack_utsname
from sysgate.argtypes import struct_out
from sysgate.kernel.exec_domain import override_architecture, override_release
from sysgate.mm.uaccess import copy_to_user
from sysgate.syscall import syscall

if TYPE_CHECKING:
    from sysgate.kernel.kernel import Kernel
    from sysgate.kernel.task import Task

UtsOut = Annotated[int, struct_out("struct new_utsname __user *", "new_utsname")]
SysinfoOut = Annotated[int, struct_out("struct sysinfo __user *", "sysinfo")]
UTS_VERSION = b"#1 SMP PREEMPT_DYNAMIC sysgate"
SI_LOAD_SHIFT = 16
LINUX_VERSION_PATCHLEVEL = 12
"""The 12 of Linux 6.12, which UNAME26 turns into release 2.6.72."""


def utsname_fields(t: Task) -> list[bytes]:
    k = t.kernel
    return [b"Linux", k.hostname, k.release, UTS_VERSION, t.abi.platform, k.domainname]


@syscall()
def sys_newuname(t: Task, name: UtsOut) -> int:
    """get name and information about current kernel"""
    fields = utsname_fields(t)
    # The personality's view (kernel/sys.c: override_release, override_architecture).
    fields[2] = override_release(t.personality, fields[2], LINUX_VERSION_PATCHLEVEL)
    fields[4] = override_architecture(t.personality, fields[4])
    copy_to_user(t.mm, name, pack_utsname(fields))
    return 0


FSHIFT = 11
"""include/linux/sched/loadavg.h: the load averages are fixed-point with 11 bits of fraction."""


@dataclass(frozen=True, slots=True)
class SysInfo:
    """What do_sysinfo gathers, shared with /proc/uptime, /proc/loadavg and /proc/meminfo
    so that they agree with sysinfo(2)."""

    uptime_ns: int  # CLOCK_BOOTTIME
    avenrun: tuple[int, int, int]  # fixed-point, FSHIFT bits of fraction
    totalram: int  # bytes
    freeram: int
    sharedram: int
    bufferram: int
    totalswap: int
    freeswap: int
    procs: int


def do_sysinfo(kernel: Kernel) -> SysInfo:
    """The system's figures: the host's boot time and load (sysgate's CPU is the host's
    time-shared), memory capped by the kernel's memory limit, no swap, the guest's tasks."""
    uptime = time.clock_gettime_ns(getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC))
    one, five, fifteen = (round(x * (1 << FSHIFT)) for x in os.getloadavg())
    page = os.sysconf("SC_PAGE_SIZE")
    total = min(os.sysconf("SC_PHYS_PAGES") * page, kernel.phys.limit)
    free = min(os.sysconf("SC_AVPHYS_PAGES") * page, max(total - kernel.phys.allocated * page, 0))
    return SysInfo(uptime, (one, five, fifteen), total, free, 0, 0, 0, 0, len(kernel.tasks))


@syscall()
def sys_sysinfo(t: Task, info: SysinfoOut) -> int:
    """return system information"""
    si = do_sysinfo(t.kernel)
    loads = [x << (SI_LOAD_SHIFT - FSHIFT) for x in si.avenrun]
    copy_to_user(t.mm, info, SYSINFO.pack(
        (si.uptime_ns + 999_999_999) // 1_000_000_000, *loads, si.totalram, si.freeram, si.sharedram,
        si.bufferram, si.totalswap, si.freeswap, si.procs, 0, 0, 1,
    ))
    return 0
