"""A socket as a File: sending, receiving and waiting over a host socket.

Counterpart: net/socket.c (sock_read_iter, sock_write_iter, sock_ioctl, sock_poll, the
socket file), include/net/sock.h and net/core/sock.c (sock_rcvtimeo, sock_sndtimeo,
sock_intr_errno), net/core/stream.c (sk_stream_error's SIGPIPE).

A guest socket is a host socket of the same family, type and protocol, so the
protocols (TCP, UDP, AF_UNIX streams, datagrams and packets, their buffers, errors and
shutdown rules) are the host kernel's. The host descriptor is always O_NONBLOCK; the
guest's O_NONBLOCK lives in f_flags. A call that would block a blocking guest socket
waits for the host descriptor in sysgate's scheduler (kernel.wait) and is run again:
a stream send keeps the bytes it sent so far in the call state, a MSG_WAITALL receive
the bytes it received. SO_RCVTIMEO / SO_SNDTIMEO become the wait's deadline; a wait
with one ends in EINTR on a signal, one without in -ERESTARTSYS (sock_intr_errno).

What differs from a plain host file is what sysgate keeps itself: the AF_UNIX names as
the guest gave them (sysgate.net.unix), the files passed with SCM_RIGHTS
(sysgate.net.scm) and the guest credentials SO_PEERCRED and SCM_CREDENTIALS report.
"""

from __future__ import annotations

import select
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.fs.file import FMODE_READ, FMODE_WRITE, RWF_NOWAIT
from sysgate.fs.hostfs import HostFile, host_poll
from sysgate.kernel.wait import block, signal_pending
from sysgate.net import hostsock
from sysgate.uapi import socket as s
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import O_NONBLOCK, O_RDWR

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

HOST_CONTROL_SIZE = 8192
"""The host control buffer of every receive: room for SCM_MAX_FD descriptors, credentials
and any IP-level message, so the host never truncates; Linux's truncation to the guest's
msg_controllen is applied afterwards (sysgate.net.scm)."""


@dataclass(frozen=True, slots=True)
class Ucred:
    """struct ucred: what SO_PEERCRED and SCM_CREDENTIALS report, in the guest's ids."""

    pid: int
    uid: int
    gid: int

    @classmethod
    def of(cls, t: Task) -> Ucred:
        return cls(t.pid, t.cred.euid, t.cred.egid)


@dataclass(slots=True)
class Received:
    """One receive: the data, the length to report (more than the data under MSG_TRUNC),
    the sender's host address, the host's control messages and msg_flags."""

    data: bytes
    length: int
    name: bytes
    control: bytes
    flags: int


@dataclass(slots=True)
class UnixState:
    """What sysgate keeps for an AF_UNIX socket (struct unix_sock's addr and peer creds)."""

    name: bytes | None = None  # the sockaddr_un the guest bound (sun_family first), as getsockname gives it
    host_name: bytes | None = None  # the sockaddr_un the host socket is bound to
    peer_cred: Ucred | None = None  # sk_peer_cred: the other end's (or the listener's) creator
    listen_cred: Ucred | None = None  # set by listen(): what a connecting socket gets as its peer's
    connecting: deque[Ucred] = field(default_factory=deque)  # creds of connects not yet accepted
    owner: Ucred | None = None  # the creator's, what a datagram it sends carries


class Socket(HostFile):
    """An open socket: a host socket of the same kind, always non-blocking on the host."""

    def __init__(self, hostfd: int, family: int, type_: int, protocol: int, flags: int) -> None:
        super().__init__(hostfd, O_RDWR | (flags & O_NONBLOCK), "")
        self.f_mode |= FMODE_READ | FMODE_WRITE
        self.host_nonblock = True
        self.family = family
        self.type = type_
        self.protocol = protocol
        self.ino = self._host_ino()
        self.path = f"socket:[{self.ino}]"
        self.rcvtimeo = 0  # ns, 0: wait for ever
        self.sndtimeo = 0
        self.passcred = False
        self.unix = UnixState() if family == s.AF_UNIX else None

    def _host_ino(self) -> int:
        import os

        return os.fstat(self.fd).st_ino

    def release(self) -> None:
        if self.unix is not None and self.unix.host_name is not None:
            from sysgate.net import unix

            unix.forget(self)
        super().release()

    def d_path(self) -> str:
        return self.path

    @property
    def stream(self) -> bool:
        return self.type == s.SOCK_STREAM

    def set_status_flags(self, flags: int) -> None:
        """F_SETFL: only the guest's view changes; the host socket stays non-blocking."""
        mask = O_NONBLOCK | 0o2000 | 0o40000 | 0o1000000
        self.f_flags = (flags & mask) | (self.f_flags & ~mask)

    # -- waiting --------------------------------------------------------------------

    def wait(self, t: Task, events: int, timeo_ns: int) -> None:
        """Sleep until the host socket reports `events`, for at most `timeo_ns` (0: no
        limit) across the re-runs of this call; EAGAIN once that time has passed."""
        st = t.call_state()
        now = time.monotonic_ns()
        if timeo_ns:
            if st.deadline is None:
                st.deadline = now + timeo_ns
            elif st.expired(now):
                raise KernelError(Errno.EAGAIN)
        restart = Errno.EINTR if timeo_ns else Errno.ERESTARTSYS
        block(t, host=((self.fd, events),), deadline=st.deadline, restart=restart)

    def timed_out(self, t: Task, timeo_ns: int) -> bool:
        """Whether this call's SO_*TIMEO deadline has passed (after a wait)."""
        if not timeo_ns:
            return False
        st = t.call_state()
        return st.expired(time.monotonic_ns())

    # -- sending ----------------------------------------------------------------------

    def send(self, t: Task, data: bytes, name: bytes | None, control: bytes, flags: int) -> int:
        """sock_sendmsg: a stream send writes everything before a blocking call returns
        (short on a signal or SO_SNDTIMEO after progress); the others send one message."""
        nonblock = bool(self.f_flags & O_NONBLOCK or flags & s.MSG_DONTWAIT)
        hflags = flags & ~(s.MSG_DONTWAIT | s.MSG_NOSIGNAL)
        state = {} if nonblock else t.call_state().data
        sent = int(state.get("sent", 0))
        while True:
            try:
                n = hostsock.sendmsg(self.fd, data[sent:], name, b"" if sent else control, hflags)
            except KernelError as exc:
                if exc.errno == Errno.EAGAIN and not nonblock:
                    if sent and (signal_pending(t) or self.timed_out(t, self.sndtimeo)):
                        return sent
                    state["sent"] = sent
                    try:
                        self.wait(t, select.POLLOUT, self.sndtimeo)
                    except KernelError:
                        if sent:
                            return sent
                        raise
                if exc.errno == Errno.EPIPE and self.type != s.SOCK_DGRAM and not flags & s.MSG_NOSIGNAL:
                    t.send_sigpipe()
                if sent:
                    return sent
                raise
            sent += n
            if sent >= len(data) or not self.stream or nonblock:
                return sent

    def write(self, t: Task, data: bytes) -> int:
        return self.send(t, data, None, b"", 0)

    def write_flags(self, t: Task, data: bytes, pos: int | None, flags: int) -> int:
        if pos is not None and pos != -1:
            raise KernelError(Errno.ESPIPE)
        return self.send(t, data, None, b"", s.MSG_DONTWAIT if flags & RWF_NOWAIT else 0)

    # -- receiving ----------------------------------------------------------------------

    def recv(self, t: Task, size: int, flags: int, control: bool = True) -> Received:
        """sock_recvmsg: one host receive; a blocking socket waits for data, and a stream
        receive with MSG_WAITALL gathers `size` bytes (kept across the waits)."""
        nonblock = bool(self.f_flags & O_NONBLOCK or flags & s.MSG_DONTWAIT)
        hflags = flags & ~(s.MSG_DONTWAIT | s.MSG_CMSG_CLOEXEC | s.MSG_WAITALL)
        waitall = bool(flags & s.MSG_WAITALL) and self.stream and not flags & (s.MSG_PEEK | s.MSG_TRUNC)
        state = {} if nonblock else t.call_state().data
        got: Received | None = state.get("got")
        ctl_size = HOST_CONTROL_SIZE if control else 0
        while True:
            have = len(got.data) if got is not None else 0
            try:
                r = Received(*hostsock.recvmsg(self.fd, size - have, ctl_size if got is None else 0, hflags))
            except KernelError as exc:
                if exc.errno != Errno.EAGAIN or nonblock:
                    if got is not None:
                        return got
                    raise
                if got is not None and (signal_pending(t) or self.timed_out(t, self.rcvtimeo)):
                    return got
                state["got"] = got
                try:
                    self.wait(t, select.POLLIN, self.rcvtimeo)
                except KernelError:
                    if got is not None:
                        return got
                    raise
            if got is None:
                got = r
            else:
                got.data += r.data
                got.length += r.length
            if not waitall or not r.data or len(got.data) >= size:
                return got

    def read(self, t: Task, count: int) -> bytes:
        from sysgate.net import scm

        r = self.recv(t, count, 0)
        scm.discard(r.control)
        return r.data

    def read_flags(self, t: Task, count: int, pos: int | None, flags: int) -> bytes:
        from sysgate.net import scm

        if pos is not None and pos != -1:
            raise KernelError(Errno.ESPIPE)
        r = self.recv(t, count, s.MSG_DONTWAIT if flags & RWF_NOWAIT else 0)
        scm.discard(r.control)
        return r.data

    # -- control ------------------------------------------------------------------------

    def ioctl(self, t: Task, cmd: int, arg: int) -> int:
        """sock_ioctl: SIOCOUTQ, SIOCOUTQNSD and SIOCATMARK from the host (FIONREAD is
        the generic ioctl's, readable_bytes)."""
        import fcntl as host_fcntl

        from sysgate.host import kernel_error
        from sysgate.mm.uaccess import put_user_s32

        if cmd not in (s.SIOCOUTQ, s.SIOCOUTQNSD, s.SIOCATMARK):
            raise KernelError(Errno.ENOTTY)
        buf = bytearray(4)
        try:
            host_fcntl.ioctl(self.fd, cmd, buf)
        except OSError as exc:
            raise kernel_error(exc) from None
        put_user_s32(t.mm, arg, int.from_bytes(buf, "little", signed=True))
        return 0

    def poll(self, t: Task | None) -> int:
        return host_poll(self.fd)

    @property
    def can_poll(self) -> bool:
        return True
