"""uname and sysinfo (kernel/sys.c)."""

from __future__ import annotations

import os

import pytest

from sysgate.kernel.kernel import UTS_RELEASE
from sysgate.kernel.task import Task
from sysgate.uapi.errno import Errno
from tests.conftest import EDGE, KERNEL_ADDR, RO_PAGE, UNMAPPED, USER_BUF, sys
from tests.unit.guestmem import peek

BAD = (KERNEL_ADDR, UNMAPPED, RO_PAGE, EDGE + 0x1000 - 100)


def fields(t: Task) -> list[bytes]:
    raw = t.mm.read(USER_BUF, 6 * 65)
    return [raw[i * 65:(i + 1) * 65] for i in range(6)]


def test_uname(task: Task) -> None:
    task.mm.write(USER_BUF, b"\xff" * 400)
    assert sys(task, "uname", USER_BUF) == 0
    host = os.uname()
    out = fields(task)
    assert all(len(f) == 65 and f.endswith(b"\0") for f in out)
    sysname, nodename, release, version, machine, domain = (f.rstrip(b"\0") for f in out)
    assert sysname == b"Linux" == host.sysname.encode()
    assert nodename == host.nodename.encode()
    assert release == UTS_RELEASE.encode()
    assert version.startswith(b"#1 SMP PREEMPT_DYNAMIC")
    assert machine == b"x86_64" == host.machine.encode()
    assert domain == b"(none)"
    assert task.mm.read(USER_BUF + 390, 10) == b"\xff" * 10  # nothing beyond the struct


def test_uname_follows_the_kernel_names(task: Task) -> None:
    task.kernel.hostname = b"h" * 100  # truncated to 64 bytes and a NUL
    task.kernel.domainname = b"example.org"
    assert sys(task, "uname", USER_BUF) == 0
    out = fields(task)
    assert out[1] == b"h" * 64 + b"\0"
    assert out[5].rstrip(b"\0") == b"example.org"


@pytest.mark.parametrize("bad", BAD)
def test_uname_efault(task: Task, bad: int) -> None:
    assert sys(task, "uname", bad) == -Errno.EFAULT


def test_sysinfo(task: Task) -> None:
    task.mm.write(USER_BUF, b"\xff" * 112)
    assert sys(task, "sysinfo", USER_BUF) == 0
    uptime, l1, l5, l15, total, free, _, _, _, _, procs, _, _, unit = peek(task, USER_BUF, "q3Q6QH6xQQI")
    with open("/proc/uptime") as f:
        host_uptime = float(f.read().split()[0])
    assert abs(uptime - host_uptime) <= 2
    assert 0 < total <= task.kernel.phys.limit
    assert 0 <= free <= total
    assert procs == 1
    assert unit == 1
    assert task.mm.read(USER_BUF + 108, 4) == bytes(4)  # the padding is cleared (struct sysinfo _f)
    assert all(x >= 0 for x in (l1, l5, l15))


@pytest.mark.parametrize("bad", BAD)
def test_sysinfo_efault(task: Task, bad: int) -> None:
    assert sys(task, "sysinfo", bad) == -Errno.EFAULT
