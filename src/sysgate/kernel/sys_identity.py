"""Process and user identity: pids, process groups, sessions, uids, gids, groups.

Counterpart: kernel/sys.c (getpid, getppid, getuid ..., getpgid, getsid, getresuid)
and kernel/groups.c (getgroups).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import OUT, Int, PidT, UserPtr
from sysgate.errors import KernelError
from sysgate.mm.uaccess import copy_to_user, put_user_u32
from sysgate.syscall import syscall
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

UidPtr = Annotated[int, UserPtr("uid_t __user *", show="uid_ptr", direction=OUT)]
GidPtr = Annotated[int, UserPtr("gid_t __user *", show="uid_ptr", direction=OUT)]
GroupList = Annotated[int, UserPtr("gid_t __user *", show="gid_array", direction=OUT)]
NGROUPS_MAX = 65536


@syscall()
def sys_getpid(t: Task) -> int:
    """get process identification"""
    return t.group.tgid


@syscall()
def sys_gettid(t: Task) -> int:
    """get thread identification"""
    return t.tid


@syscall()
def sys_getppid(t: Task) -> int:
    """get the parent's process identification"""
    return t.group.ppid


@syscall()
def sys_getuid(t: Task) -> int:
    """get real user identity"""
    return t.cred.uid


@syscall()
def sys_geteuid(t: Task) -> int:
    """get effective user identity"""
    return t.cred.euid


@syscall()
def sys_getgid(t: Task) -> int:
    """get real group identity"""
    return t.cred.gid


@syscall()
def sys_getegid(t: Task) -> int:
    """get effective group identity"""
    return t.cred.egid


@syscall()
def sys_getresuid(t: Task, ruidp: UidPtr, euidp: UidPtr, suidp: UidPtr) -> int:
    """get real, effective and saved user IDs"""
    c = t.cred
    put_user_u32(t.mm, ruidp, c.uid)
    put_user_u32(t.mm, euidp, c.euid)
    put_user_u32(t.mm, suidp, c.suid)
    return 0


@syscall()
def sys_getresgid(t: Task, rgidp: GidPtr, egidp: GidPtr, sgidp: GidPtr) -> int:
    """get real, effective and saved group IDs"""
    c = t.cred
    put_user_u32(t.mm, rgidp, c.gid)
    put_user_u32(t.mm, egidp, c.egid)
    put_user_u32(t.mm, sgidp, c.sgid)
    return 0


@syscall()
def sys_getgroups(t: Task, gidsetsize: Int, grouplist: GroupList) -> int:
    """get list of supplementary group IDs"""
    groups = t.cred.groups
    if gidsetsize < 0:
        raise KernelError(Errno.EINVAL)
    if gidsetsize == 0:
        return len(groups)
    if gidsetsize < len(groups):
        raise KernelError(Errno.EINVAL)
    copy_to_user(t.mm, grouplist, struct.pack(f"<{len(groups)}I", *groups))
    return len(groups)


def _group_of(t: Task, pid: int) -> Task:
    if pid == 0:
        return t
    found = t.kernel.task_by_pid(pid)
    if found is None:
        raise KernelError(Errno.ESRCH)
    return found


@syscall()
def sys_getpgid(t: Task, pid: PidT) -> int:
    """get process group"""
    return _group_of(t, pid).group.pgid


@syscall()
def sys_getpgrp(t: Task) -> int:
    """get the process group of the calling process"""
    return t.group.pgid


@syscall()
def sys_getsid(t: Task, pid: PidT) -> int:
    """get session ID"""
    return _group_of(t, pid).group.sid
