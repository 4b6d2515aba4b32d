"""Pipes: pipe, pipe2.

Counterpart: fs/pipe.c (__do_pipe_flags, create_pipe_files, do_pipe2). A guest pipe
is a host pipe, each end a PipeFile (fs/pipe.py) whose host descriptor is always
O_NONBLOCK: a read or write that must wait makes the task wait, never sysgate. O_DIRECT
(packet mode), capacity and EPIPE are the host kernel's. As in Linux, the pipe is made
first, then two descriptors are reserved (EMFILE), then the pair is stored for the
guest; only if that store succeeds are the descriptors installed, so an EFAULT
leaves the table untouched.
"""

from __future__ import annotations

import os
import struct
from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import OUT, Arg, UserPtr
from sysgate.errors import KernelError
from sysgate.fs.pipe import create_pipe
from sysgate.host import kernel_error
from sysgate.mm.uaccess import copy_to_user
from sysgate.syscall import Support, syscall
from sysgate.uapi import fcntl as o
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

FdPairOut = Annotated[int, UserPtr("int __user *", show="fd_pair", direction=OUT)]
PipeFlags = Annotated[int, Arg("int", 32, True, show="open_mode_flags")]

O_NOTIFICATION_PIPE = o.O_EXCL
"""include/uapi/linux/watch_queue.h: pipe2's request for a notification pipe."""
FD_PAIR = struct.Struct("<ii")


def _host_pipe(flags: int) -> tuple[int, int]:
    host = os.O_CLOEXEC | os.O_NONBLOCK  # the guest's O_NONBLOCK is the File's
    if flags & o.O_DIRECT:
        host |= getattr(os, "O_DIRECT", 0)
    try:
        return os.pipe2(host)
    except OSError as exc:
        raise kernel_error(exc) from None


def do_pipe2(t: Task, fildes: int, flags: int) -> int:
    if flags & ~(o.O_CLOEXEC | o.O_NONBLOCK | o.O_DIRECT | O_NOTIFICATION_PIPE):
        raise KernelError(Errno.EINVAL)
    if flags & O_NOTIFICATION_PIPE:
        raise KernelError(Errno.ENOPKG)  # watch_queue_init without CONFIG_WATCH_QUEUE
    rfd, wfd = _host_pipe(flags)
    try:
        nofile = t.group.nofile()
        fdr = t.files.alloc_fd(0, nofile)
        fdw = t.files.alloc_fd(fdr + 1, nofile)  # fdr is the lowest free one, and taken
        copy_to_user(t.mm, fildes, FD_PAIR.pack(fdr, fdw))
    except KernelError:
        os.close(rfd)
        os.close(wfd)
        raise
    ino = os.fstat(rfd).st_ino
    cloexec = bool(flags & o.O_CLOEXEC)
    reader, writer = create_pipe(rfd, wfd, flags, f"pipe:[{ino}]")
    t.files.install(fdr, reader, cloexec)
    t.files.install(fdw, writer, cloexec)
    return 0


@syscall()
def sys_pipe(t: Task, fildes: FdPairOut) -> int:
    """create pipe"""
    return do_pipe2(t, fildes, 0)


@syscall(support=Support.PARTIAL,
         note="O_NOTIFICATION_PIPE gives ENOPKG, as on a kernel built without CONFIG_WATCH_QUEUE")
def sys_pipe2(t: Task, fildes: FdPairOut, flags: PipeFlags) -> int:
    """create pipe, with flags

    Differences from Linux: O_NOTIFICATION_PIPE (watch queues) is refused with ENOPKG,
    the answer of a kernel built without CONFIG_WATCH_QUEUE.
    """
    return do_pipe2(t, fildes, flags)
