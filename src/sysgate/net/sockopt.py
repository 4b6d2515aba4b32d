"""setsockopt and getsockopt: the host socket holds the options.

Counterpart: net/core/sock.c (sk_setsockopt, sk_getsockopt, sock_set_timeout,
sock_get_timeout), net/ipv4/ip_sockglue.c, net/ipv4/tcp.c, net/ipv6/ipv6_sockglue.c.

Options are passed to the host socket as the guest's bytes (the layouts are x86-64
Linux's on both sides), so the host decides values, doubling of SO_SNDBUF/SO_RCVBUF,
ENOPROTOOPT and EINVAL. If sysgate cannot read all of the guest's optval, the host gets
a NULL optval of the same length and answers with the errno Linux gives for it (EFAULT
for an option it reads, ENOPROTOOPT for one it does not know). sysgate itself keeps:

- SO_RCVTIMEO / SO_SNDTIMEO (old and new): the host validates and stores them, sysgate
  keeps the time as the deadline of its waits (the host socket never blocks);
- SO_PASSCRED: also remembered, for SCM_CREDENTIALS in the guest's ids;
- SO_PEERCRED: the guest credentials of the peer of an AF_UNIX socket;
- SO_ATTACH_FILTER / SO_ATTACH_REUSEPORT_CBPF: the classic BPF program is copied out of
  guest memory and given to the host.

Refused (PARTIAL): SO_PEERPIDFD, SO_PASSPIDFD and TCP_ZEROCOPY_RECEIVE give
ENOPROTOOPT (they would hand the guest host pidfds or map host memory).
"""

from __future__ import annotations

import ctypes
import struct
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.mm.uaccess import copy_from_user, copy_to_user, get_user_s32, put_user_s32, readable_prefix
from sysgate.net import hostsock
from sysgate.uapi import socket as s
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task
    from sysgate.net.sock import Socket

MAX_OPTLEN = 1 << 16
"""The most sysgate copies for one option (more than any option Linux reads)."""
TIMEOS = {s.SO_RCVTIMEO_OLD: "rcvtimeo", s.SO_RCVTIMEO_NEW: "rcvtimeo",
          s.SO_SNDTIMEO_OLD: "sndtimeo", s.SO_SNDTIMEO_NEW: "sndtimeo"}
REFUSED = {(s.SOL_SOCKET, s.SO_PEERPIDFD), (s.SOL_SOCKET, s.SO_PASSPIDFD), (s.SOL_TCP, s.TCP_ZEROCOPY_RECEIVE)}
_FPROG = struct.Struct("<H6xQ")


def _timeo_ns(value: bytes) -> int:
    """sock_set_timeout's result in ns: 0 waits for ever, negative seconds do not wait."""
    sec, usec = struct.unpack("<qq", value[:16])
    if sec < 0:
        return 1
    if sec == 0 and usec == 0:
        return 0
    return int(sec) * 1_000_000_000 + int(usec) * 1000


def setsockopt(t: Task, sock: Socket, level: int, name: int, optval: int, optlen: int) -> None:
    if optlen < 0:
        raise KernelError(Errno.EINVAL)
    if (level, name) in REFUSED:
        raise KernelError(Errno.ENOPROTOOPT)
    want = min(optlen, MAX_OPTLEN)
    data: bytes | None = None
    if optval and readable_prefix(t.mm, optval, want) == want:
        data = copy_from_user(t.mm, optval, want)
    if level == s.SOL_SOCKET and name in (s.SO_ATTACH_FILTER, s.SO_ATTACH_REUSEPORT_CBPF) and data \
            and optlen >= _FPROG.size:
        _attach_filter(t, sock, name, data)
        return
    hostsock.setsockopt(sock.fd, level, name, data, optlen)
    if level != s.SOL_SOCKET or data is None:
        return
    if name in TIMEOS:
        setattr(sock, TIMEOS[name], _timeo_ns(data.ljust(16, b"\0")))
    elif name == s.SO_PASSCRED:
        sock.passcred = hostsock.getsockopt_int(sock.fd, s.SOL_SOCKET, s.SO_PASSCRED) != 0


def _attach_filter(t: Task, sock: Socket, name: int, data: bytes) -> None:
    """struct sock_fprog holds a pointer: the program is copied into sysgate's memory."""
    length, filt = _FPROG.unpack_from(data)
    prog = copy_from_user(t.mm, filt, length * 8) if length else b""
    buf = ctypes.create_string_buffer(prog, max(len(prog), 1))
    hostsock.setsockopt(sock.fd, s.SOL_SOCKET, name, _FPROG.pack(length, ctypes.addressof(buf)), _FPROG.size)


def getsockopt(t: Task, sock: Socket, level: int, name: int, optval: int, optlen_ptr: int) -> None:
    length = get_user_s32(t.mm, optlen_ptr)
    if length < 0:
        raise KernelError(Errno.EINVAL)
    if (level, name) in REFUSED:
        raise KernelError(Errno.ENOPROTOOPT)
    if level == s.SOL_SOCKET and name == s.SO_PEERCRED and sock.unix is not None \
            and sock.unix.peer_cred is not None:
        c = sock.unix.peer_cred
        value = struct.pack("<iII", c.pid, c.uid, c.gid)[: min(length, 12)]
    else:
        value = hostsock.getsockopt(sock.fd, level, name, min(length, MAX_OPTLEN))
    copy_to_user(t.mm, optval, value)
    put_user_s32(t.mm, optlen_ptr, len(value))
