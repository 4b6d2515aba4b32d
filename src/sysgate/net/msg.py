"""struct user_msghdr: what sendmsg and recvmsg read from and write back to the guest.

Counterpart: net/socket.c (__copy_msghdr, copy_msghdr_from_user, ____sys_recvmsg's
write-back of msg_namelen, msg_flags and msg_controllen).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.mm.uaccess import copy_from_user, copy_to_user, put_user_s32, put_user_u64, readable_prefix
from sysgate.net import scm, unix
from sysgate.uapi import socket as s
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task
    from sysgate.net.sock import Received, Socket

MSGHDR = struct.Struct("<Qi4xQQQQi4x")
"""struct user_msghdr on x86-64: name, namelen, iov, iovlen, control, controllen, flags."""
UIO_MAXIOV = 1024


@dataclass(slots=True)
class Msg:
    """A user_msghdr read in: the name (bytes to send, or where to write the sender's),
    the iovec segments, and the control buffer."""

    name_ptr: int
    name: bytes | None
    namelen: int
    segs: list[tuple[int, int]]
    data: bytes
    control: int
    controllen: int

    @property
    def size(self) -> int:
        return sum(n for _, n in self.segs)


def copy_msghdr(t: Task, umsg: int, send: bool) -> Msg:
    """copy_msghdr_from_user: EFAULT, EINVAL for a negative name length, EMSGSIZE for too
    many segments, then the iovec checks."""
    from sysgate.fs.sys_read_write import import_iovec

    name, namelen, iov, iovlen, control, controllen, _flags = MSGHDR.unpack(copy_from_user(t.mm, umsg, MSGHDR.size))
    if not name:
        namelen = 0
    if namelen < 0:
        raise KernelError(Errno.EINVAL)
    namelen = min(namelen, s.SOCKADDR_STORAGE_SIZE)
    addr: bytes | None = None
    if send and name and namelen:
        addr = copy_from_user(t.mm, name, namelen)
    if iovlen > UIO_MAXIOV:
        raise KernelError(Errno.EMSGSIZE)
    segs = import_iovec(t, iov, iovlen) if iovlen else []
    data = b""
    if send:
        parts = []
        for base, n in segs:
            got = readable_prefix(t.mm, base, n)
            parts.append(copy_from_user(t.mm, base, got))
            if got < n:
                if not any(parts):
                    raise KernelError(Errno.EFAULT)
                break
        data = b"".join(parts)
    return Msg(name, addr, namelen, segs, data, control, controllen)


def scatter(t: Task, segs: list[tuple[int, int]], data: bytes) -> None:
    off = 0
    for base, n in segs:
        if off >= len(data):
            break
        chunk = data[off : off + n]
        copy_to_user(t.mm, base, chunk)
        off += len(chunk)


def put_recv_result(t: Task, sock: Socket, umsg: int, m: Msg, r: Received, flags: int) -> int:
    """____sys_recvmsg after the protocol: data, the sender's address, control messages,
    msg_flags and msg_controllen written back; the length received."""
    scatter(t, m.segs, r.data)
    if m.name_ptr:
        from sysgate.net.sys_socket import move_addr_to_user

        name = unix.guest_name(r.name) if sock.unix is not None else r.name
        move_addr_to_user(t, name, m.name_ptr, umsg + 8)
    cloexec = bool(flags & s.MSG_CMSG_CLOEXEC)
    room = m.controllen if m.control else 0
    if sock.unix is not None:
        peer = unix.sender_cred(t, sock, r.name)
        ctl, ctrunc = scm.unix_recv_control(t, sock, r.control, room, bool(m.control), cloexec,
                                            bool(flags & s.MSG_PEEK), peer)
    else:
        ctl, ctrunc = scm.inet_recv_control(r.control, room)
    if ctl:
        copy_to_user(t.mm, m.control, ctl)
    msg_flags = (r.flags & ~s.MSG_CTRUNC) | (s.MSG_CTRUNC if ctrunc else 0) | (flags & s.MSG_CMSG_CLOEXEC)
    put_user_s32(t.mm, umsg + 48, msg_flags)
    put_user_u64(t.mm, umsg + 40, len(ctl))
    return r.length
