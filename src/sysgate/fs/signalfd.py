"""signalfd, signalfd4: receiving signals by reading a file.

Counterpart: fs/signalfd.c. The file holds a set of signals; a read dequeues pending
signals of that set from the *reading* task (its own queue, then its process's, as
dequeue_signal does) and returns one struct signalfd_siginfo (128 bytes) for each, as many
as fit; it waits while none is pending. Readable while one is pending. Queuing a signal
wakes every signalfd reader and poller (one queue for the kernel, SIGNALFD_WQH, woken
from kernel/signal.py's complete_signal; Linux has one per sighand): they look again.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import Arg, IntFd, SizeT, UserPtr
from sysgate.errors import KernelError
from sysgate.fs.anon_inodes import AnonFile
from sysgate.fs.file import PollWait
from sysgate.kernel.signal import SigInfo, dequeue_signal, next_signal
from sysgate.kernel.wait import WaitQueue, block
from sysgate.mm.uaccess import copy_from_user
from sysgate.syscall import syscall
from sysgate.uapi import poll as P
from sysgate.uapi import signal as S
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

SIGNALFD_SIGINFO = struct.Struct("<IiiIIiIIIIiiQQQQHHiQI28x")
"""struct signalfd_siginfo (include/uapi/linux/signalfd.h): 128 bytes."""
assert SIGNALFD_SIGINFO.size == 128
SIGSET_SIZE = 8
ALL_SIGNALS = (1 << 64) - 1
SIGNALFD_WQH = WaitQueue()
"""sighand->signalfd_wqh, for every task: who waits for a signal to be queued."""
SfdFlags = Annotated[int, Arg("int", 32, True, show="sfd_flags")]
SigmaskIn = Annotated[int, UserPtr("sigset_t __user *", show="sigset_len:sizemask")]

# siginfo_layout (kernel/signal.c): which union member a (signo, code) pair fills.
_FAULT_LIMITS = {S.SIGILL: 11, S.SIGFPE: 15, S.SIGSEGV: 10, S.SIGBUS: 5, S.SIGTRAP: 6}
NSIGCHLD, NSIGSYS, NSIGPOLL = 6, 2, 6


def _layout(sig: int, code: int) -> str:
    if 0 < code < S.SI_KERNEL:
        if sig in _FAULT_LIMITS and code <= _FAULT_LIMITS[sig]:
            return "fault"
        if sig == S.SIGCHLD and code <= NSIGCHLD:
            return "chld"
        if sig == S.SIGSYS and code <= NSIGSYS:
            return "sys"
        if code <= NSIGPOLL:
            return "poll"
        return "kill"
    if code == S.SI_TIMER:
        return "timer"
    if code == S.SI_SIGIO:
        return "poll"
    return "rt" if code < 0 else "kill"


def signalfd_siginfo(info: SigInfo) -> bytes:
    """signalfd_copyinfo: the fields of the siginfo that the layout of its code fills."""
    raw = (info.raw or b"").ljust(128, b"\0")
    errno = struct.unpack_from("<i", raw, 4)[0]
    f = {"pid": 0, "uid": 0, "fd": 0, "tid": 0, "band": 0, "overrun": 0, "status": 0, "int": 0, "ptr": 0,
         "utime": 0, "stime": 0, "addr": 0, "syscall": 0, "call_addr": 0, "arch": 0}
    layout = _layout(info.signo, info.code)
    if layout in ("kill", "rt", "chld"):
        f["pid"], f["uid"] = info.pid, info.uid
        if info.raw:
            f["pid"], f["uid"] = struct.unpack_from("<iI", raw, 16)
    if layout in ("rt", "timer"):
        f["ptr"] = struct.unpack_from("<Q", raw, 24)[0]
        f["int"] = struct.unpack_from("<i", raw, 24)[0]
    if layout == "timer":
        f["tid"], f["overrun"] = struct.unpack_from("<iI", raw, 16)
    elif layout == "chld":
        f["status"] = struct.unpack_from("<i", raw, 24)[0]
        f["utime"], f["stime"] = struct.unpack_from("<QQ", raw, 32)
    elif layout == "poll":
        f["band"] = struct.unpack_from("<Q", raw, 16)[0] & 0xFFFFFFFF
        f["fd"] = struct.unpack_from("<i", raw, 24)[0]
    elif layout == "fault":
        f["addr"] = info.addr if info.addr is not None else struct.unpack_from("<Q", raw, 16)[0]
    elif layout == "sys":
        f["call_addr"] = struct.unpack_from("<Q", raw, 16)[0]
        f["syscall"], f["arch"] = struct.unpack_from("<iI", raw, 24)
    return SIGNALFD_SIGINFO.pack(
        info.signo, errno, info.code, f["pid"] & 0xFFFFFFFF, f["uid"], f["fd"], f["tid"] & 0xFFFFFFFF,
        f["band"], f["overrun"], 0, f["status"], f["int"], f["ptr"], f["utime"], f["stime"], f["addr"], 0, 0,
        f["syscall"], f["call_addr"], f["arch"])


class SignalFd(AnonFile):
    """struct signalfd_ctx and its file; `sigmask` is the set it does NOT read (as in Linux)."""

    name = "signalfd"

    def __init__(self, mask: int, flags: int) -> None:
        super().__init__(flags)
        self.sigmask = mask

    def _pending(self, t: Task) -> bool:
        return bool(next_signal(t.pending, self.sigmask) or next_signal(t.group.shared_pending, self.sigmask))

    def do_read(self, t: Task, count: int, nonblock: bool) -> bytes:
        n = count // SIGNALFD_SIGINFO.size
        if not n:
            raise KernelError(Errno.EINVAL)
        out = b""
        while len(out) < n * SIGNALFD_SIGINFO.size:
            info = dequeue_signal(t, self.sigmask)
            if info is None:
                if out:
                    break
                if nonblock:
                    raise KernelError(Errno.EAGAIN)
                block(t, queues=[SIGNALFD_WQH])
            out += signalfd_siginfo(info)
        return out

    def poll(self, t: Task | None) -> int:
        return P.EPOLLIN if t is not None and self._pending(t) else 0

    def poll_wait(self) -> PollWait:
        return [SIGNALFD_WQH], []


def signalfd_notify() -> None:
    """signalfd_notify: a signal was queued."""
    if SIGNALFD_WQH:
        SIGNALFD_WQH.wake_up()


def do_signalfd4(t: Task, ufd: int, mask: int, flags: int) -> int:
    if flags & ~(P.SFD_CLOEXEC | P.SFD_NONBLOCK):
        raise KernelError(Errno.EINVAL)
    mask &= ~(S.sigmask(S.SIGKILL) | S.sigmask(S.SIGSTOP))
    notmask = ~mask & ALL_SIGNALS
    if ufd == -1:
        fd = t.files.alloc_fd(0, t.group.nofile())
        return t.files.install(fd, SignalFd(notmask, flags), bool(flags & P.SFD_CLOEXEC))
    f2 = t.files.get(ufd)
    if not isinstance(f2, SignalFd):
        raise KernelError(Errno.EINVAL)
    f2.sigmask = notmask
    signalfd_notify()
    return ufd


def _mask(t: Task, user_mask: int, sizemask: int) -> int:
    if sizemask != SIGSET_SIZE:
        raise KernelError(Errno.EINVAL)
    return int.from_bytes(copy_from_user(t.mm, user_mask, SIGSET_SIZE), "little")


@syscall(ret="fd")
def sys_signalfd(t: Task, ufd: IntFd, user_mask: SigmaskIn, sizemask: SizeT) -> int:
    """create a file descriptor for accepting signals"""
    return do_signalfd4(t, ufd, _mask(t, user_mask, sizemask), 0)


@syscall(ret="fd")
def sys_signalfd4(t: Task, ufd: IntFd, user_mask: SigmaskIn, sizemask: SizeT, flags: SfdFlags) -> int:
    """create a file descriptor for accepting signals, with flags"""
    return do_signalfd4(t, ufd, _mask(t, user_mask, sizemask), flags)
