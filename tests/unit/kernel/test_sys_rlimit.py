"""Resource limits and usage: prlimit64, getrlimit, setrlimit, getrusage (kernel/sys.c)."""

from __future__ import annotations

import resource as host_resource

import pytest

from sysgate.fs.fdtable import NR_OPEN
from sysgate.kernel.task import Task
from sysgate.uapi import resource as r
from sysgate.uapi.errno import Errno
from tests.conftest import KERNEL_ADDR, RO_PAGE, UNMAPPED, USER_BUF, put_str, sys
from tests.unit.guestmem import peek, poke

NEW = USER_BUF + 0x100
OLD = USER_BUF + 0x200
INF = r.RLIM_INFINITY


def host_limit(res: int) -> tuple[int, int]:
    cur, mx = host_resource.getrlimit(res)
    return (INF if cur < 0 else cur, INF if mx < 0 else mx)


@pytest.mark.parametrize("res", range(r.RLIM_NLIMITS))
def test_getrlimit_is_inherited_from_the_host(task: Task, res: int) -> None:
    assert sys(task, "getrlimit", res, OLD) == 0
    assert peek(task, OLD, "QQ") == host_limit(res)


def test_setrlimit_then_getrlimit(task: Task) -> None:
    poke(task, NEW, "QQ", 100, 200)
    assert sys(task, "setrlimit", r.RLIMIT_NOFILE, NEW) == 0
    assert sys(task, "getrlimit", r.RLIMIT_NOFILE, OLD) == 0
    assert peek(task, OLD, "QQ") == (100, 200)
    assert task.group.nofile() == 100


def test_getrlimit_errors(task: Task) -> None:
    assert sys(task, "getrlimit", r.RLIM_NLIMITS, OLD) == -Errno.EINVAL
    assert sys(task, "getrlimit", r.RLIM_NLIMITS, KERNEL_ADDR) == -Errno.EINVAL  # before the copy
    assert sys(task, "getrlimit", -1, OLD) == -Errno.EINVAL
    for bad in (KERNEL_ADDR, UNMAPPED, RO_PAGE):
        assert sys(task, "getrlimit", r.RLIMIT_CPU, bad) == -Errno.EFAULT


def test_setrlimit_errors_in_linux_order(task: Task) -> None:
    assert sys(task, "setrlimit", r.RLIM_NLIMITS, UNMAPPED) == -Errno.EFAULT  # the copy comes first
    poke(task, NEW, "QQ", 1, 2)
    assert sys(task, "setrlimit", r.RLIM_NLIMITS, NEW) == -Errno.EINVAL
    poke(task, NEW, "QQ", 3, 2)
    assert sys(task, "setrlimit", r.RLIMIT_CORE, NEW) == -Errno.EINVAL  # cur > max
    poke(task, NEW, "QQ", 10, NR_OPEN + 1)
    assert sys(task, "setrlimit", r.RLIMIT_NOFILE, NEW) == -Errno.EPERM  # above fs.nr_open, even for root
    poke(task, NEW, "QQ", 10, NR_OPEN)
    assert sys(task, "setrlimit", r.RLIMIT_NOFILE, NEW) == 0


def test_raising_the_hard_limit_needs_privilege(task: Task) -> None:
    poke(task, NEW, "QQ", 10, 20)
    assert sys(task, "setrlimit", r.RLIMIT_CORE, NEW) == 0
    task.cred.euid = 1000
    poke(task, NEW, "QQ", 10, 21)
    assert sys(task, "setrlimit", r.RLIMIT_CORE, NEW) == -Errno.EPERM
    poke(task, NEW, "QQ", 20, 20)  # the soft limit up to the hard one is allowed
    assert sys(task, "setrlimit", r.RLIMIT_CORE, NEW) == 0
    poke(task, NEW, "QQ", 5, 15)  # and lowering the hard limit
    assert sys(task, "setrlimit", r.RLIMIT_CORE, NEW) == 0
    assert task.group.rlimits[r.RLIMIT_CORE] == (5, 15)


def test_prlimit64_reads_and_writes_at_once(task: Task) -> None:
    before = task.group.rlimits[r.RLIMIT_CORE]
    poke(task, NEW, "QQ", 7, 9)
    assert sys(task, "prlimit64", 0, r.RLIMIT_CORE, NEW, OLD) == 0
    assert peek(task, OLD, "QQ") == before  # the old value
    assert sys(task, "prlimit64", task.pid, r.RLIMIT_CORE, 0, OLD) == 0
    assert peek(task, OLD, "QQ") == (7, 9)
    assert sys(task, "prlimit64", 0, r.RLIMIT_CORE, 0, 0) == 0


def test_prlimit64_errors_in_linux_order(task: Task) -> None:
    assert sys(task, "prlimit64", 0x7FFFFFF0, r.RLIM_NLIMITS, UNMAPPED, OLD) == -Errno.EFAULT  # copy first
    poke(task, NEW, "QQ", 1, 2)
    assert sys(task, "prlimit64", 0x7FFFFFF0, r.RLIM_NLIMITS, NEW, OLD) == -Errno.ESRCH  # then the task
    assert sys(task, "prlimit64", 0, r.RLIM_NLIMITS, NEW, OLD) == -Errno.EINVAL
    assert sys(task, "prlimit64", 0, r.RLIM_NLIMITS, 0, KERNEL_ADDR) == -Errno.EINVAL
    assert sys(task, "prlimit64", 0, r.RLIMIT_CORE, KERNEL_ADDR, 0) == -Errno.EFAULT
    assert sys(task, "prlimit64", 0, r.RLIMIT_CORE, 0, KERNEL_ADDR) == -Errno.EFAULT


def test_prlimit64_sets_the_limit_even_if_the_old_one_cannot_be_stored(task: Task) -> None:
    """do_prlimit succeeds first; only then the copy of the old value fails."""
    poke(task, NEW, "QQ", 3, 4)
    assert sys(task, "prlimit64", 0, r.RLIMIT_CORE, NEW, RO_PAGE) == -Errno.EFAULT
    assert task.group.rlimits[r.RLIMIT_CORE] == (3, 4)


def test_rlimit_nofile_limits_descriptors(task: Task) -> None:
    poke(task, NEW, "QQ", 3, 3)
    assert sys(task, "setrlimit", r.RLIMIT_NOFILE, NEW) == 0
    assert sys(task, "open", put_str(task, "/dev/null"), 0, 0) == -Errno.EMFILE
    assert sys(task, "dup", 0) == -Errno.EMFILE
    poke(task, NEW, "QQ", 4, 4)
    assert sys(task, "setrlimit", r.RLIMIT_NOFILE, NEW) == 0
    assert sys(task, "dup", 0) == 3


def test_rlimit_stack_sets_the_stack_growth_limit(task: Task) -> None:
    poke(task, NEW, "QQ", 1 << 20, INF)
    assert sys(task, "setrlimit", r.RLIMIT_STACK, NEW) == 0
    assert task.mm.stack_limit == 1 << 20
    poke(task, NEW, "QQ", INF, INF)
    assert sys(task, "setrlimit", r.RLIMIT_STACK, NEW) == 0
    assert task.mm.stack_limit == 1 << 62


@pytest.mark.parametrize("who", [r.RUSAGE_SELF, r.RUSAGE_THREAD])
def test_getrusage_self(task: Task, who: int) -> None:
    before = host_resource.getrusage(host_resource.RUSAGE_SELF)
    assert sys(task, "getrusage", who, USER_BUF) == 0
    after = host_resource.getrusage(host_resource.RUSAGE_SELF)
    f = peek(task, USER_BUF, "qqqq14q")
    utime = f[0] + f[1] / 1e6
    assert before.ru_utime - 1e-6 <= utime <= after.ru_utime + 1e-6
    assert 0 <= f[1] < 1_000_000 and 0 <= f[3] < 1_000_000
    assert f[4] == after.ru_maxrss or f[4] == before.ru_maxrss


def test_getrusage_children_is_zero(task: Task) -> None:
    task.mm.write(USER_BUF, b"\xff" * 144)
    assert sys(task, "getrusage", r.RUSAGE_CHILDREN, USER_BUF) == 0
    assert task.mm.read(USER_BUF, 144) == bytes(144)


def test_getrusage_errors(task: Task) -> None:
    for who in (2, -2, 0x7FFFFFFF):
        assert sys(task, "getrusage", who, USER_BUF) == -Errno.EINVAL
    assert sys(task, "getrusage", 2, UNMAPPED) == -Errno.EINVAL  # before the copy
    for bad in (KERNEL_ADDR, UNMAPPED, RO_PAGE):
        assert sys(task, "getrusage", r.RUSAGE_SELF, bad) == -Errno.EFAULT
        assert sys(task, "getrusage", r.RUSAGE_CHILDREN, bad) == -Errno.EFAULT
