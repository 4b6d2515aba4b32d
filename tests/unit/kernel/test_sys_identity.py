"""Process and user identity: getpid ... getgroups, getpgid, getsid (kernel/sys.c, kernel/groups.c)."""

from __future__ import annotations

import os

import pytest

from sysgate.kernel.kernel import FIRST_PID
from sysgate.kernel.task import Task, ThreadGroup
from sysgate.uapi.errno import Errno
from tests.conftest import EDGE, KERNEL_ADDR, RO_PAGE, UNMAPPED, USER_BUF, sys
from tests.unit.guestmem import peek, poke
from tests.unit.hostsys import host_sys, linux_only

NO_SUCH_PID = 0x7FFFFFF0


def test_pids_of_the_first_process(task: Task) -> None:
    assert sys(task, "getpid") == FIRST_PID == task.pid
    assert sys(task, "gettid") == FIRST_PID
    assert sys(task, "getppid") == 1  # sysgate itself plays init
    assert sys(task, "getpgrp") == FIRST_PID
    assert sys(task, "getpgid", 0) == FIRST_PID
    assert sys(task, "getpgid", FIRST_PID) == FIRST_PID
    assert sys(task, "getsid", 0) == FIRST_PID
    assert sys(task, "getsid", FIRST_PID) == FIRST_PID


def test_ids_are_the_hosts(task: Task) -> None:
    """The first guest runs with the credentials sysgate runs with."""
    assert sys(task, "getuid") == os.getuid()
    assert sys(task, "geteuid") == os.geteuid()
    assert sys(task, "getgid") == os.getgid()
    assert sys(task, "getegid") == os.getegid()


def test_ids_follow_the_task_credentials(task: Task) -> None:
    task.cred.uid, task.cred.euid, task.cred.gid, task.cred.egid = 1000, 1001, 2000, 2001
    assert [sys(task, n) for n in ("getuid", "geteuid", "getgid", "getegid")] == [1000, 1001, 2000, 2001]


@pytest.mark.parametrize("name", ["getresuid", "getresgid"])
def test_getres_writes_three_ids(task: Task, name: str) -> None:
    task.cred.uid, task.cred.euid, task.cred.suid = 11, 12, 13
    task.cred.gid, task.cred.egid, task.cred.sgid = 21, 22, 23
    assert sys(task, name, USER_BUF, USER_BUF + 4, USER_BUF + 8) == 0
    expect = (11, 12, 13) if name == "getresuid" else (21, 22, 23)
    assert peek(task, USER_BUF, "III") == expect


def test_getresuid_matches_host(task: Task) -> None:
    assert sys(task, "getresuid", USER_BUF, USER_BUF + 4, USER_BUF + 8) == 0
    assert peek(task, USER_BUF, "III") == os.getresuid()


@pytest.mark.parametrize("name", ["getresuid", "getresgid"])
@pytest.mark.parametrize("bad", [0, 1, 2])
@pytest.mark.parametrize("addr", [KERNEL_ADDR, UNMAPPED, RO_PAGE])
def test_getres_efault_stores_the_ids_before_the_bad_pointer(task: Task, name: str, bad: int, addr: int) -> None:
    """put_user one by one: the ids before the bad pointer are stored, the rest are not."""
    ptrs = [USER_BUF, USER_BUF + 4, USER_BUF + 8]
    poke(task, USER_BUF, "III", 0xAAAA, 0xAAAA, 0xAAAA)
    ptrs[bad] = addr
    assert sys(task, name, *ptrs) == -Errno.EFAULT
    got = peek(task, USER_BUF, "III")
    for i in range(3):
        assert (got[i] != 0xAAAA) == (i < bad)


def test_getgroups_count_and_list(task: Task) -> None:
    task.cred.groups = [10, 20, 30]
    assert sys(task, "getgroups", 0, 0) == 3  # the count, nothing written
    assert sys(task, "getgroups", 3, USER_BUF) == 3
    assert peek(task, USER_BUF, "III") == (10, 20, 30)
    assert sys(task, "getgroups", 100, USER_BUF) == 3  # a larger array is fine


def test_getgroups_errors(task: Task) -> None:
    task.cred.groups = [10, 20, 30]
    assert sys(task, "getgroups", -1, USER_BUF) == -Errno.EINVAL
    assert sys(task, "getgroups", 2, USER_BUF) == -Errno.EINVAL  # too small
    assert sys(task, "getgroups", 2, KERNEL_ADDR) == -Errno.EINVAL  # EINVAL before the copy
    assert sys(task, "getgroups", 3, KERNEL_ADDR) == -Errno.EFAULT
    assert sys(task, "getgroups", 3, UNMAPPED) == -Errno.EFAULT
    assert sys(task, "getgroups", 3, RO_PAGE) == -Errno.EFAULT
    assert sys(task, "getgroups", 3, EDGE + 0x1000 - 8) == -Errno.EFAULT  # the third one faults


def test_getgroups_without_groups_touches_nothing(task: Task) -> None:
    """groups_to_user copies nothing for an empty list: even a bad pointer is fine."""
    task.cred.groups = []
    assert sys(task, "getgroups", 5, KERNEL_ADDR) == 0


@linux_only
def test_getgroups_count_matches_host(task: Task) -> None:
    assert sys(task, "getgroups", 0, 0) == host_sys("getgroups", 0, 0) == len(os.getgroups())


@pytest.mark.parametrize("name", ["getpgid", "getsid"])
@pytest.mark.parametrize("pid", [NO_SUCH_PID, -1, -FIRST_PID])
def test_unknown_pid_is_esrch(task: Task, name: str, pid: int) -> None:
    assert sys(task, name, pid) == -Errno.ESRCH


@linux_only
@pytest.mark.parametrize("name", ["getpgid", "getsid"])
@pytest.mark.parametrize("pid", [NO_SUCH_PID, -1])
def test_unknown_pid_matches_host(task: Task, name: str, pid: int) -> None:
    assert sys(task, name, pid) == host_sys(name, pid)


def test_group_and_session_follow_the_thread_group(task: Task) -> None:
    task.group.pgid, task.group.sid = 77, 66
    task.group.parent = ThreadGroup(tgid=55, pgid=55, sid=55, rlimits=list(task.group.rlimits))
    assert sys(task, "getpgrp") == sys(task, "getpgid", 0) == sys(task, "getpgid", task.pid) == 77
    assert sys(task, "getsid", 0) == 66
    assert sys(task, "getppid") == 55
