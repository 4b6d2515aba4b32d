"""Changing user and group identity: the set*uid and set*gid calls.

Counterpart: kernel/sys.c (__sys_setuid, __sys_setreuid, __sys_setresuid,
__sys_setfsuid and their gid twins). A task with CAP_SETUID (CAP_SETGID for the gid
calls; here: effective uid 0) may set any id; any other task may only move among its
real, effective and saved ids. The filesystem id follows the effective one.

Differences from Linux: the ids change what the guest sees (getuid, /proc, signal
permission checks, a file's owner as the kernel records it), but files on the host are
still opened with sysgate's own host ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import Arg
from sysgate.errors import KernelError
from sysgate.syscall import Support, syscall
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Cred, Task

Uid = Annotated[int, Arg("uid_t", 32, show="uid")]
Gid = Annotated[int, Arg("gid_t", 32, show="uid")]
KEEP = 0xFFFFFFFF  # (uid_t)-1: leave this id as it is
NOTE = "files on the host are still opened with sysgate's own ids"


def _ids(c: Cred, kind: str) -> tuple[int, int, int]:
    return (c.uid, c.euid, c.suid) if kind == "u" else (c.gid, c.egid, c.sgid)


def _set(c: Cred, kind: str, real: int, eff: int, saved: int) -> None:
    if kind == "u":
        c.uid, c.euid, c.suid, c.fsuid = real, eff, saved, eff
    else:
        c.gid, c.egid, c.sgid, c.fsgid = real, eff, saved, eff


def do_setresid(t: Task, kind: str, r: int, e: int, s: int) -> int:
    """__sys_setresuid / __sys_setresgid."""
    c = t.cred
    old = _ids(c, kind)
    if not c.capable():
        for v in (r, e, s):
            if v != KEEP and v not in old:
                raise KernelError(Errno.EPERM)
    _set(c, kind, old[0] if r == KEEP else r, old[1] if e == KEEP else e, old[2] if s == KEEP else s)
    return 0


def do_setreid(t: Task, kind: str, r: int, e: int) -> int:
    """__sys_setreuid / __sys_setregid: a new real id, or an effective id other than the
    old real one, also becomes the saved id."""
    c = t.cred
    ruid, euid, suid = _ids(c, kind)
    if not c.capable():
        if r != KEEP and r not in (ruid, euid):
            raise KernelError(Errno.EPERM)
        if e != KEEP and e not in (ruid, euid, suid):
            raise KernelError(Errno.EPERM)
    new_r = ruid if r == KEEP else r
    new_e = euid if e == KEEP else e
    new_s = new_e if r != KEEP or e not in (KEEP, ruid) else suid
    _set(c, kind, new_r, new_e, new_s)
    return 0


def do_setid(t: Task, kind: str, v: int) -> int:
    """__sys_setuid / __sys_setgid."""
    if v == KEEP:
        raise KernelError(Errno.EINVAL)  # uid_valid() fails for (uid_t)-1
    c = t.cred
    ruid, _, suid = _ids(c, kind)
    if c.capable():
        _set(c, kind, v, v, v)
    elif v in (ruid, suid):
        _set(c, kind, ruid, v, suid)
    else:
        raise KernelError(Errno.EPERM)
    return 0


def do_setfsid(t: Task, kind: str, v: int) -> int:
    """__sys_setfsuid / __sys_setfsgid: returns the old id; a refused change is silent."""
    c = t.cred
    old = c.fsuid if kind == "u" else c.fsgid
    if v != KEEP and (c.capable() or v in (*_ids(c, kind), old)):
        if kind == "u":
            c.fsuid = v
        else:
            c.fsgid = v
    return old


@syscall(support=Support.PARTIAL, note=NOTE)
def sys_setuid(t: Task, uid: Uid) -> int:
    """set user identity"""
    return do_setid(t, "u", uid)


@syscall(support=Support.PARTIAL, note=NOTE)
def sys_setgid(t: Task, gid: Gid) -> int:
    """set group identity"""
    return do_setid(t, "g", gid)


@syscall(support=Support.PARTIAL, note=NOTE)
def sys_setreuid(t: Task, ruid: Uid, euid: Uid) -> int:
    """set real and/or effective user ID"""
    return do_setreid(t, "u", ruid, euid)


@syscall(support=Support.PARTIAL, note=NOTE)
def sys_setregid(t: Task, rgid: Gid, egid: Gid) -> int:
    """set real and/or effective group ID"""
    return do_setreid(t, "g", rgid, egid)


@syscall(support=Support.PARTIAL, note=NOTE)
def sys_setresuid(t: Task, ruid: Uid, euid: Uid, suid: Uid) -> int:
    """set real, effective, and saved user ID"""
    return do_setresid(t, "u", ruid, euid, suid)


@syscall(support=Support.PARTIAL, note=NOTE)
def sys_setresgid(t: Task, rgid: Gid, egid: Gid, sgid: Gid) -> int:
    """set real, effective, and saved group ID"""
    return do_setresid(t, "g", rgid, egid, sgid)


@syscall(support=Support.PARTIAL, note=NOTE)
def sys_setfsuid(t: Task, uid: Uid) -> int:
    """set user identity used for filesystem checks"""
    return do_setfsid(t, "u", uid)


@syscall(support=Support.PARTIAL, note=NOTE)
def sys_setfsgid(t: Task, gid: Gid) -> int:
    """set group identity used for filesystem checks"""
    return do_setfsid(t, "g", gid)
