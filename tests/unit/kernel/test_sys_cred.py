"""set*uid / set*gid (kernel/sys.c): what a privileged and an unprivileged task may set."""

from __future__ import annotations

import pytest

from sysgate.kernel.task import Cred, Task
from sysgate.uapi.errno import Errno
from tests.conftest import sys

KEEP = -1


def ids(t: Task) -> tuple[int, ...]:
    c = t.cred
    return (c.uid, c.euid, c.suid, c.fsuid, c.gid, c.egid, c.sgid, c.fsgid)


def as_user(t: Task, uid: int = 1000, euid: int = 1001, suid: int = 1002) -> Task:
    t.cred = Cred(uid, euid, suid, euid, uid, euid, suid, euid, [])
    return t


def test_root_may_set_anything(task: Task) -> None:
    task.cred = Cred()
    assert sys(task, "setresuid", 5, 6, 7) == 0
    assert ids(task)[:4] == (5, 6, 7, 6)  # fsuid follows euid
    task.cred = Cred()
    assert sys(task, "setuid", 42) == 0
    assert ids(task)[:4] == (42, 42, 42, 42)
    assert sys(task, "setuid", 0) == -Errno.EPERM  # no longer privileged


def test_root_setgid_family(task: Task) -> None:
    task.cred = Cred()
    assert sys(task, "setresgid", 1, 2, 3) == 0
    assert ids(task)[4:] == (1, 2, 3, 2)
    assert sys(task, "setregid", 9, KEEP) == 0
    assert ids(task)[4:] == (9, 2, 2, 2)  # a new real id makes the effective one saved
    assert sys(task, "setgid", 8) == 0
    assert ids(task)[4:] == (8, 8, 8, 8)


@pytest.mark.parametrize("args", [(1003, KEEP, KEEP), (KEEP, 0, KEEP), (KEEP, KEEP, 5)])
def test_unprivileged_setresuid_only_among_its_ids(task: Task, args: tuple[int, int, int]) -> None:
    as_user(task)
    before = ids(task)
    assert sys(task, "setresuid", *args) == -Errno.EPERM
    assert ids(task) == before


def test_unprivileged_moves_among_its_ids(task: Task) -> None:
    as_user(task)
    assert sys(task, "setresuid", 1002, 1000, 1001) == 0
    assert ids(task)[:4] == (1002, 1000, 1001, 1000)
    assert sys(task, "setresuid", KEEP, KEEP, KEEP) == 0
    assert ids(task)[:4] == (1002, 1000, 1001, 1000)


def test_unprivileged_setreuid(task: Task) -> None:
    as_user(task)
    assert sys(task, "setreuid", 1002, KEEP) == -Errno.EPERM  # real: only the real or effective id
    assert sys(task, "setreuid", KEEP, 7) == -Errno.EPERM
    assert sys(task, "setreuid", KEEP, 1002) == 0  # effective may be the saved id
    assert ids(task)[:3] == (1000, 1002, 1002)  # != old real: saved follows
    assert sys(task, "setreuid", KEEP, 1000) == 0  # the old real id: saved stays
    assert ids(task)[:3] == (1000, 1000, 1002)


def test_unprivileged_setuid(task: Task) -> None:
    as_user(task)
    assert sys(task, "setuid", 1001) == -Errno.EPERM  # only the real or saved id
    assert sys(task, "setuid", 1002) == 0
    assert ids(task)[:4] == (1000, 1002, 1002, 1002)
    assert sys(task, "setgid", 5) == -Errno.EPERM
    assert sys(task, "setuid", KEEP) == -Errno.EINVAL
    assert sys(task, "setgid", KEEP) == -Errno.EINVAL


def test_setfsuid_returns_the_old_id_and_refuses_silently(task: Task) -> None:
    as_user(task)
    assert sys(task, "setfsuid", 7) == 1001
    assert task.cred.fsuid == 1001
    assert sys(task, "setfsuid", 1000) == 1001
    assert task.cred.fsuid == 1000
    assert sys(task, "setfsuid", KEEP) == 1000  # the way to read it
    assert sys(task, "setfsgid", 1002) == 1001
    assert task.cred.fsgid == 1002
