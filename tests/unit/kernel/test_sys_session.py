"""setpgid and setsid (kernel/sys.c) on the first process; the guest test proc_wait covers
them across fork and exec, compared with Linux."""

from __future__ import annotations

from sysgate.kernel.kernel import FIRST_PID
from sysgate.kernel.task import Task
from sysgate.uapi.errno import Errno
from tests.conftest import sys


def test_first_process_is_a_session_leader(task: Task) -> None:
    assert sys(task, "setsid") == -Errno.EPERM
    assert sys(task, "setpgid", 0, 0) == -Errno.EPERM


def test_setpgid_checks_in_linux_order(task: Task) -> None:
    assert sys(task, "setpgid", 0, -1) == -Errno.EINVAL
    assert sys(task, "setpgid", 0x7FFFFFF0, 0) == -Errno.ESRCH
    assert sys(task, "setpgid", 1, 0) == -Errno.ESRCH  # sysgate itself, not a guest


def test_a_process_that_leads_nothing_may_start_a_session(task: Task) -> None:
    task.group.sid = task.group.pgid = 999  # as if it were a child in someone else's group
    assert sys(task, "setpgid", 0, 12345) == -Errno.EPERM  # no such group in the session
    assert sys(task, "setsid") == FIRST_PID
    assert (task.group.sid, task.group.pgid) == (FIRST_PID, FIRST_PID)
    assert sys(task, "getsid", 0) == FIRST_PID


def test_a_group_leader_may_not_start_a_session(task: Task) -> None:
    task.group.sid = 999
    assert task.group.pgid == FIRST_PID
    assert sys(task, "setsid") == -Errno.EPERM
    assert sys(task, "setpgid", 0, 0) == 0  # already its own group: nothing changes
    assert sys(task, "setpgid", FIRST_PID, FIRST_PID) == 0
