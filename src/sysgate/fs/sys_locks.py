"""Whole-file advisory locks: flock.

Counterpart: fs/locks.c (sys_flock, flock_translate_cmd, flock_lock_inode). A flock lock
belongs to the open file description, so a host file's lock is the host's lock on the
File's own host descriptor: dup'd descriptors share it, a second open() of the same file
conflicts with it (in this guest or in any host process), and closing the last
descriptor releases it, all as on Linux. The kernel's own files (procfs) keep their
locks here, per inode, with the same rules.
"""

from __future__ import annotations

import fcntl as host_fcntl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import Arg, Fd
from sysgate.errors import KernelError
from sysgate.fs.file import FMODE_READ, FMODE_WRITE, File
from sysgate.fs.sys_read_write import fdget
from sysgate.host import kernel_error
from sysgate.kernel.wait import retry_later
from sysgate.syscall import Support, syscall
from sysgate.uapi import fcntl as o
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

FlockCmd = Annotated[int, Arg("unsigned int", 32, show="flock_cmd")]

_TYPES = {o.LOCK_SH: o.F_RDLCK, o.LOCK_EX: o.F_WRLCK, o.LOCK_UN: o.F_UNLCK}
"""flock_translate_cmd: the command without LOCK_NB, as a lock type."""
_HOST_CMDS = {o.LOCK_SH: host_fcntl.LOCK_SH, o.LOCK_EX: host_fcntl.LOCK_EX, o.LOCK_UN: host_fcntl.LOCK_UN}


@dataclass(slots=True)
class FlockContext:
    """The flock locks of one inode of the kernel's own (i_flctx's flc_flock list)."""

    holders: dict[int, tuple[File, int]] = field(default_factory=dict)  # id(file) -> (file, type)

    def prune(self) -> None:
        """Forget the locks of files closed since (locks_remove_flock at the last fput)."""
        for key in [k for k, (f, _) in self.holders.items() if f.refs <= 0]:
            del self.holders[key]


_KERNEL_LOCKS: dict[tuple[int, int, int], FlockContext] = {}
"""(kernel, st_dev, st_ino) -> the locks on that file of the kernel's own."""


def _flock_kernel_file(t: Task, file: File, kind: int, nonblock: bool) -> None:
    """flock_lock_inode for a file the host knows nothing about."""
    st = file.stat()
    key = (id(t.kernel), st.dev, st.ino)
    ctx = _KERNEL_LOCKS.setdefault(key, FlockContext())
    ctx.prune()
    try:
        _lock_kernel_inode(t, ctx, file, kind, nonblock)
    finally:
        if not ctx.holders:
            del _KERNEL_LOCKS[key]


def _lock_kernel_inode(t: Task, ctx: FlockContext, file: File, kind: int, nonblock: bool) -> None:
    """Take, convert or drop `file`'s lock among the inode's others (flock_lock_inode)."""
    mine = id(file)
    old = ctx.holders.get(mine)
    if old is not None and old[1] == kind:
        return
    ctx.holders.pop(mine, None)  # a change of type drops the old lock first, even if the new one fails
    if kind == o.F_UNLCK:
        return
    for _, held in ctx.holders.values():
        if o.F_WRLCK in (held, kind):
            # Another open file holds a conflicting lock: wait for its holder (another task).
            if nonblock:
                raise KernelError(Errno.EWOULDBLOCK)
            retry_later(t)
    ctx.holders[mine] = (file, kind)


@syscall(support=Support.PARTIAL,
         note="a blocked lock looks again every 10 ms instead of being woken when the holder unlocks")
def sys_flock(t: Task, fd: Fd, cmd: FlockCmd) -> int:
    """apply or remove an advisory lock on an open file"""
    if cmd & o.LOCK_MAND:
        return 0  # LOCK_MAND was removed: the request is ignored (with a warning in the log)
    kind = _TYPES.get(cmd & ~o.LOCK_NB)
    if kind is None:
        raise KernelError(Errno.EINVAL)
    file = fdget(t, fd)
    if kind != o.F_UNLCK and not file.f_mode & (FMODE_READ | FMODE_WRITE):
        raise KernelError(Errno.EBADF)
    nonblock = bool(cmd & o.LOCK_NB)
    host = file.host_fd
    if host is None:
        _flock_kernel_file(t, file, kind, nonblock)
        return 0
    try:
        # Never wait in the host: the holder may be another guest task, which must run.
        host_fcntl.flock(host, _HOST_CMDS[cmd & ~o.LOCK_NB] | host_fcntl.LOCK_NB)
    except BlockingIOError:
        if nonblock:
            raise KernelError(Errno.EWOULDBLOCK) from None
        retry_later(t)
    except OSError as exc:
        raise kernel_error(exc) from None
    return 0
