"""Process groups and sessions: setpgid and setsid.

Counterpart: kernel/sys.c (SYSCALL_DEFINE2(setpgid), ksys_setsid). A process group is
named by its leader's pid and lives as long as a process (a zombie too) carries its
pgid; a session likewise. sysgate has no controlling terminals, so setsid has no tty
to drop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sysgate.argtypes import PidT
from sysgate.errors import KernelError
from sysgate.syscall import syscall
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task, ThreadGroup


def _is_session_leader(g: ThreadGroup) -> bool:
    return g.sid == g.tgid  # signal->leader: only setsid (or being the first process) makes one


def _pgrp_exists(t: Task, pgid: int) -> ThreadGroup | None:
    """A process (a zombie counts) whose process group is `pgid` (pid_task(pgrp, PIDTYPE_PGID))."""
    for other in t.kernel.tasks.values():
        if other.group.pgid == pgid and not other.group.reaped:
            return other.group
    return None


@syscall()
def sys_setpgid(t: Task, pid: PidT, pgid: PidT) -> int:
    """set process group"""
    me = t.group
    if not pid:
        pid = me.tgid
    if not pgid:
        pgid = pid
    if pgid < 0:
        raise KernelError(Errno.EINVAL)
    p = t.kernel.tasks.get(pid)
    if p is None or p.group.reaped:
        raise KernelError(Errno.ESRCH)
    g = p.group
    if g.leader is not p:
        raise KernelError(Errno.EINVAL)  # a thread other than the leader
    if g.parent is me:
        if g.sid != me.sid:
            raise KernelError(Errno.EPERM)
        if g.did_exec:
            raise KernelError(Errno.EACCES)
    elif g is not me:
        raise KernelError(Errno.ESRCH)
    if _is_session_leader(g):
        raise KernelError(Errno.EPERM)
    if pgid != pid:
        other = _pgrp_exists(t, pgid)
        if other is None or other.sid != me.sid:
            raise KernelError(Errno.EPERM)
    g.pgid = pgid
    return 0


@syscall()
def sys_setsid(t: Task) -> int:
    """creates a session and sets the process group ID"""
    g = t.group
    if _is_session_leader(g) or _pgrp_exists(t, g.tgid) is not None:
        raise KernelError(Errno.EPERM)
    g.sid = g.pgid = g.tgid
    return g.tgid
