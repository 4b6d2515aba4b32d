"""eventfd, eventfd2: a 64-bit counter as a file.

Counterpart: fs/eventfd.c. A read returns the counter and sets it to 0 (EFD_SEMAPHORE:
returns 1 and decrements it), and waits while it is 0; a write adds to it and waits while
the sum would reach ULLONG_MAX. Reads and writes move exactly 8 bytes (EINVAL otherwise;
writing ULLONG_MAX is EINVAL). Readable while the counter is non-zero, writable while
it is below ULLONG_MAX - 1, POLLERR at ULLONG_MAX (which only the kernel's own
eventfd_signal could reach).

Differences from Linux: sysgate's file operations receive the bytes a buffer could
supply, so a write whose 8-byte buffer is partly unreadable gives EINVAL rather than
EFAULT, and a read into an unwritable buffer gives EINVAL rather than EFAULT after
consuming the count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import Arg, UInt
from sysgate.errors import KernelError
from sysgate.fs.anon_inodes import AnonFile
from sysgate.fs.file import PollWait
from sysgate.kernel.wait import WaitQueue, block
from sysgate.syscall import syscall
from sysgate.uapi import poll as P
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

EfdFlags = Annotated[int, Arg("int", 32, True, show="efd_flags")]
ULLONG_MAX = (1 << 64) - 1
EFD_FLAGS_SET = P.EFD_SEMAPHORE | P.EFD_CLOEXEC | P.EFD_NONBLOCK
_ids = iter(range(1 << 31))


class EventFd(AnonFile):
    """struct eventfd_ctx and its file."""

    name = "eventfd"

    def __init__(self, count: int, flags: int) -> None:
        super().__init__(flags)
        self.count = count
        self.semaphore = bool(flags & P.EFD_SEMAPHORE)
        self.id = next(_ids)  # fdinfo's eventfd-id
        self.wqh = WaitQueue()
        self.seq = 0

    def _wake(self) -> None:
        self.seq += 1
        if self.wqh:
            self.wqh.wake_up()

    def do_read(self, t: Task, count: int, nonblock: bool) -> bytes:
        if count < 8:
            raise KernelError(Errno.EINVAL)
        if not self.count:
            if nonblock:
                raise KernelError(Errno.EAGAIN)
            block(t, queues=[self.wqh])
        value = 1 if self.semaphore else self.count
        self.count -= value
        self._wake()
        return value.to_bytes(8, "little")

    def write(self, t: Task, data: bytes) -> int:
        if len(data) != 8:
            raise KernelError(Errno.EINVAL)
        value = int.from_bytes(data, "little")
        if value == ULLONG_MAX:
            raise KernelError(Errno.EINVAL)
        if not ULLONG_MAX - self.count > value:
            if self.nonblock:
                raise KernelError(Errno.EAGAIN)
            block(t, queues=[self.wqh])
        self.count += value
        self._wake()
        return 8

    def write_flags(self, t: Task, data: bytes, pos: int | None, flags: int) -> int:
        if pos is not None:
            raise KernelError(Errno.ESPIPE)
        if flags & ~0x1:  # do_loop_readv_writev: only RWF_HIPRI without a ->write_iter
            raise KernelError(Errno.EOPNOTSUPP)
        return self.write(t, data)

    def poll(self, t: Task | None) -> int:
        events = 0
        if self.count > 0:
            events |= P.EPOLLIN
        if self.count == ULLONG_MAX:
            events |= P.EPOLLERR
        if ULLONG_MAX - 1 > self.count:
            events |= P.EPOLLOUT
        return events

    def poll_wait(self) -> PollWait:
        return [self.wqh], []

    def poll_seq(self) -> int:
        return self.seq


def do_eventfd(t: Task, count: int, flags: int) -> int:
    if flags & ~EFD_FLAGS_SET:
        raise KernelError(Errno.EINVAL)
    fd = t.files.alloc_fd(0, t.group.nofile())
    return t.files.install(fd, EventFd(count, flags), bool(flags & P.EFD_CLOEXEC))


@syscall(ret="fd")
def sys_eventfd(t: Task, count: UInt) -> int:
    """create a file descriptor for event notification"""
    return do_eventfd(t, count, 0)


@syscall(ret="fd")
def sys_eventfd2(t: Task, count: UInt, flags: EfdFlags) -> int:
    """create a file descriptor for event notification, with flags"""
    return do_eventfd(t, count, flags)
