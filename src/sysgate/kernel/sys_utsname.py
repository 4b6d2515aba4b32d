"""uname and sysinfo: what the system is.

Counterpart: kernel/sys.c (newuname, sysinfo via do_sysinfo). The release string is
sysgate's own (the Linux release it follows, marked as sysgate), the node name is the
host's; memory figures are the host's, capped by the kernel's memory limit.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Annotated

from sysgate.arch.x86_64.structs import SYSINFO, pack_utsname
from sysgate.argtypes import struct_out
from sysgate.mm.uaccess import copy_to_user
from sysgate.syscall import syscall

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

UtsOut = Annotated[int, struct_out("struct new_utsname __user *", "new_utsname")]
SysinfoOut = Annotated[int, struct_out("struct sysinfo __user *", "sysinfo")]
UTS_VERSION = b"#1 SMP PREEMPT_DYNAMIC sysgate"
SI_LOAD_SHIFT = 16


def utsname_fields(t: Task) -> list[bytes]:
    k = t.kernel
    return [b"Linux", k.hostname, k.release, UTS_VERSION, t.abi.platform, k.domainname]


@syscall()
def sys_newuname(t: Task, name: UtsOut) -> int:
    """get name and information about current kernel"""
    copy_to_user(t.mm, name, pack_utsname(utsname_fields(t)))
    return 0


@syscall()
def sys_sysinfo(t: Task, info: SysinfoOut) -> int:
    """return system information"""
    uptime = time.clock_gettime_ns(getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC))
    loads = [int(x * (1 << SI_LOAD_SHIFT)) for x in os.getloadavg()]
    page = os.sysconf("SC_PAGE_SIZE")
    total = min(os.sysconf("SC_PHYS_PAGES") * page, t.kernel.phys.limit)
    free = min(os.sysconf("SC_AVPHYS_PAGES") * page, max(total - t.kernel.phys.allocated * page, 0))
    copy_to_user(t.mm, info, SYSINFO.pack(
        (uptime + 999_999_999) // 1_000_000_000, *loads, total, free, 0, 0, 0, 0,
        len(t.kernel.tasks), 0, 0, 1,
    ))
    return 0
