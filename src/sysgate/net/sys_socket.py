"""The socket system calls.

Counterpart: net/socket.c (__sys_socket, __sys_socketpair, __sys_bind, __sys_listen,
__sys_accept4, __sys_connect, __sys_getsockname, __sys_getpeername, __sys_sendto,
__sys_recvfrom, __sys_setsockopt, __sys_getsockopt, __sys_shutdown, ___sys_sendmsg,
___sys_recvmsg, __sys_sendmmsg, do_recvmmsg, move_addr_to_kernel, move_addr_to_user),
with net/unix/af_unix.c and net/ipv4/af_inet.c's connect and accept waits.

AF_UNIX, AF_INET and AF_INET6 are served (sysgate.net.sock); the other families are
refused with EAFNOSUPPORT, as by a kernel built without them. The order of checks is
net/socket.c's: flags, descriptor (EBADF, ENOTSOCK), address length and copy
(EINVAL, EFAULT), then the protocol's answer, which is the host's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.host import errno_from_host
from sysgate.kernel.wait import block
from sysgate.mm.uaccess import copy_from_user, copy_to_user, get_user_s32, put_user_s32
from sysgate.net import hostsock, scm, sockopt, unix
from sysgate.net.args import (
    AddrIn,
    AddrLen,
    AddrLenPtr,
    AddrOut,
    AddrToIn,
    BufLenIn,
    BufLenOut,
    Family,
    FdPairOut,
    MmsghdrIn,
    MmsghdrOut,
    MsgFlags,
    MsghdrIn,
    MsghdrOut,
    OptLen,
    OptLenPtr,
    OptvalIn,
    OptvalOut,
    Protocol,
    RecvBuf,
    SendBuf,
    ShutHow,
    SockFd,
    SockLevel,
    SockOpt,
    SockType,
    TimespecIn,
    Vlen,
)
from sysgate.net.msg import copy_msghdr, put_recv_result
from sysgate.net.sock import Socket, Ucred
from sysgate.syscall import Support, syscall
from sysgate.uapi import socket as s
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import O_NONBLOCK

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

FAMILIES = (s.AF_UNIX, s.AF_INET, s.AF_INET6)
UIO_MAXIOV = 1024


def sockfd_lookup(t: Task, fd: int) -> Socket:
    """sockfd_lookup_light: EBADF, or ENOTSOCK for a file that is no socket."""
    f = t.files.get(fd)
    if not isinstance(f, Socket):
        raise KernelError(Errno.ENOTSOCK)
    return f


def move_addr_to_kernel(t: Task, uaddr: int, ulen: int) -> bytes:
    if ulen < 0 or ulen > s.SOCKADDR_STORAGE_SIZE:
        raise KernelError(Errno.EINVAL)
    return copy_from_user(t.mm, uaddr, ulen) if ulen else b""


def move_addr_to_user(t: Task, addr: bytes, uaddr: int, ulen: int) -> None:
    length = get_user_s32(t.mm, ulen)
    length = min(length, len(addr))
    if length < 0:
        raise KernelError(Errno.EINVAL)
    if length:
        copy_to_user(t.mm, uaddr, addr[:length])
    put_user_s32(t.mm, ulen, len(addr))


def _create(t: Task, family: int, type_: int, protocol: int) -> tuple[int, int, int]:
    """__sys_socket_create and __sock_create's checks; the flags, type and a host socket."""
    flags = type_ & ~s.SOCK_TYPE_MASK
    if flags & ~(s.SOCK_CLOEXEC | s.SOCK_NONBLOCK):
        raise KernelError(Errno.EINVAL)
    type_ &= s.SOCK_TYPE_MASK
    if family < 0 or family >= s.AF_MAX:
        raise KernelError(Errno.EAFNOSUPPORT)
    if type_ >= s.SOCK_MAX:
        raise KernelError(Errno.EINVAL)
    if family not in FAMILIES:
        raise KernelError(Errno.EAFNOSUPPORT)
    return flags, type_, hostsock.socket(family, type_, protocol)


def new_socket(t: Task, hostfd: int, family: int, type_: int, flags: int) -> Socket:
    protocol = hostsock.getsockopt_int(hostfd, s.SOL_SOCKET, s.SO_PROTOCOL)
    sock = Socket(hostfd, family, type_, protocol, flags)
    if sock.unix is not None:
        sock.unix.owner = Ucred.of(t)
    return sock


@syscall(ret="fd", support=Support.PARTIAL,
         note="AF_UNIX, AF_INET and AF_INET6 only (others: EAFNOSUPPORT); abstract AF_UNIX names are the host's")
def sys_socket(t: Task, family: Family, type: SockType, protocol: Protocol) -> int:  # noqa: A002
    """create an endpoint for communication"""
    flags, type_, hostfd = _create(t, family, type, protocol)
    try:
        sock = new_socket(t, hostfd, family, type_, flags)
    except BaseException:
        hostsock.close(hostfd)
        raise
    return t.files.add(sock, t.group.nofile(), bool(flags & s.SOCK_CLOEXEC))


@syscall()
def sys_socketpair(t: Task, family: Family, type: SockType, protocol: Protocol,  # noqa: A002
                   usockvec: FdPairOut) -> int:
    """create a pair of connected sockets"""
    flags = type & ~s.SOCK_TYPE_MASK
    if flags & ~(s.SOCK_CLOEXEC | s.SOCK_NONBLOCK):
        raise KernelError(Errno.EINVAL)
    nofile = t.group.nofile()
    fd1 = t.files.alloc_fd(0, nofile)
    fd2 = t.files.alloc_fd(fd1 + 1, nofile)
    put_user_s32(t.mm, usockvec, fd1)
    put_user_s32(t.mm, usockvec + 4, fd2)
    type_ = type & s.SOCK_TYPE_MASK
    if family < 0 or family >= s.AF_MAX:
        raise KernelError(Errno.EAFNOSUPPORT)
    if type_ >= s.SOCK_MAX:
        raise KernelError(Errno.EINVAL)
    if family not in FAMILIES:
        raise KernelError(Errno.EAFNOSUPPORT)
    if family != s.AF_UNIX:
        hostsock.close(hostsock.socket(family, type_, protocol))  # the protocol's own errors first
        raise KernelError(Errno.EOPNOTSUPP)  # inet: sock_no_socketpair
    a, b = hostsock.socketpair(family, type_, protocol)
    try:
        sa = new_socket(t, a, family, type_, flags)
    except BaseException:
        hostsock.close(a)
        hostsock.close(b)
        raise
    sb = new_socket(t, b, family, type_, flags)
    me = Ucred.of(t)
    for sk in (sa, sb):
        assert sk.unix is not None
        sk.unix.peer_cred = me
    cloexec = bool(flags & s.SOCK_CLOEXEC)
    t.files.install(fd1, sa, cloexec)
    t.files.install(fd2, sb, cloexec)
    return 0


@syscall()
def sys_bind(t: Task, fd: SockFd, umyaddr: AddrIn, addrlen: AddrLen) -> int:
    """bind a name to a socket"""
    sock = sockfd_lookup(t, fd)
    addr = move_addr_to_kernel(t, umyaddr, addrlen)
    if sock.unix is not None:
        unix.bind(t, sock, addr.ljust(s.SOCKADDR_STORAGE_SIZE, b"\0"), addrlen)
    else:
        hostsock.bind(sock.fd, addr)
    return 0


@syscall()
def sys_listen(t: Task, fd: SockFd, backlog: AddrLen) -> int:
    """listen for connections on a socket"""
    sock = sockfd_lookup(t, fd)
    hostsock.listen(sock.fd, backlog)
    if sock.unix is not None:
        sock.unix.listen_cred = Ucred.of(t)
    return 0


def do_accept(t: Task, fd: int, upeer: int, upeer_len: int, flags: int) -> int:
    """__sys_accept4: EINVAL flags, the socket, a free descriptor, the wait, the address."""
    if flags & ~(s.SOCK_CLOEXEC | s.SOCK_NONBLOCK):
        raise KernelError(Errno.EINVAL)
    sock = sockfd_lookup(t, fd)
    newfd = t.files.alloc_fd(0, t.group.nofile())
    while True:
        try:
            hostfd, peer = hostsock.accept(sock.fd)
            break
        except KernelError as exc:
            if exc.errno != Errno.EAGAIN or sock.f_flags & O_NONBLOCK:
                raise
            sock.wait(t, 0x1, sock.rcvtimeo)
    new = Socket(hostfd, sock.family, sock.type, sock.protocol, flags & s.SOCK_NONBLOCK)
    if sock.unix is not None:
        unix.accepted(sock, new)
        peer = unix.guest_name(peer)
    try:
        if upeer:
            move_addr_to_user(t, peer, upeer, upeer_len)
    except KernelError:
        new.get().put()  # the connection is dropped, as Linux does
        raise
    return t.files.install(newfd, new, bool(flags & s.SOCK_CLOEXEC))


@syscall(ret="fd")
def sys_accept(t: Task, fd: SockFd, upeer_sockaddr: AddrOut, upeer_addrlen: AddrLenPtr) -> int:
    """accept a connection on a socket"""
    return do_accept(t, fd, upeer_sockaddr, upeer_addrlen, 0)


@syscall(ret="fd")
def sys_accept4(t: Task, fd: SockFd, upeer_sockaddr: AddrOut, upeer_addrlen: AddrLenPtr, flags: SockType) -> int:
    """accept a connection on a socket, with flags"""
    return do_accept(t, fd, upeer_sockaddr, upeer_addrlen, flags)


def _inet_connect_rerun(t: Task, sock: Socket) -> int:
    """A blocking connect run again after its wait: the result, or another wait."""
    from sysgate.fs.hostfs import host_poll

    if not host_poll(sock.fd, 0x4) & (0x4 | 0x8 | 0x10):
        wait_connect(t, sock)
    err = hostsock.getsockopt_int(sock.fd, s.SOL_SOCKET, s.SO_ERROR)
    if err:
        # __inet_stream_connect's sock_error: the protocol disconnects (tcp_disconnect
        # forgets the source address connect chose), as a connect to AF_UNSPEC does.
        try:
            hostsock.connect(sock.fd, bytes(16))
        except KernelError:
            pass
        raise KernelError(errno_from_host(err))
    return 0


def wait_connect(t: Task, sock: Socket) -> None:
    t.call_state().data["connecting"] = True
    try:
        sock.wait(t, 0x4, sock.sndtimeo)
    except KernelError as exc:
        if exc.errno == Errno.EAGAIN:
            raise KernelError(Errno.EINPROGRESS) from None  # inet_stream_connect's timeout
        raise


@syscall()
def sys_connect(t: Task, fd: SockFd, uservaddr: AddrIn, addrlen: AddrLen) -> int:
    """initiate a connection on a socket"""
    sock = t.files.get(fd)
    addr = move_addr_to_kernel(t, uservaddr, addrlen)
    if not isinstance(sock, Socket):
        raise KernelError(Errno.ENOTSOCK)
    nonblock = bool(sock.f_flags & O_NONBLOCK)
    if sock.unix is not None:
        return _unix_connect(t, sock, addr, addrlen, nonblock)
    if not nonblock and t.call_state().data.get("connecting"):
        return _inet_connect_rerun(t, sock)
    try:
        hostsock.connect(sock.fd, addr)
    except KernelError as exc:
        if nonblock or exc.errno not in (Errno.EINPROGRESS, Errno.EALREADY):
            raise
        wait_connect(t, sock)
    return 0


def _unix_connect(t: Task, sock: Socket, addr: bytes, addrlen: int, nonblock: bool) -> int:
    if addrlen >= 2 and int.from_bytes(addr[:2], "little") == s.AF_UNSPEC and sock.type == s.SOCK_DGRAM:
        hostsock.connect(sock.fd, addr)  # unix_dgram_disconnect
        return 0
    try:
        unix.host_call(t, addr.ljust(s.SOCKADDR_STORAGE_SIZE, b"\0"), addrlen,
                       lambda a: hostsock.connect(sock.fd, a))
    except KernelError as exc:
        if exc.errno != Errno.EAGAIN or nonblock:
            raise
        # The listener's backlog is full: unix_wait_for_peer, polled (no host fd to wait on).
        block(t, deadline=time.monotonic_ns() + 10_000_000, restart=Errno.ERESTARTSYS)
    if sock.type != s.SOCK_DGRAM:
        unix.connected(t, sock)
    return 0


def _getname(t: Task, fd: int, usockaddr: int, usockaddr_len: int, peer: bool) -> int:
    sock = sockfd_lookup(t, fd)
    if sock.unix is not None:
        addr = unix.getname(sock, peer)
    else:
        addr = hostsock.getpeername(sock.fd) if peer else hostsock.getsockname(sock.fd)
    move_addr_to_user(t, addr, usockaddr, usockaddr_len)
    return 0


@syscall()
def sys_getsockname(t: Task, fd: SockFd, usockaddr: AddrOut, usockaddr_len: AddrLenPtr) -> int:
    """get socket name"""
    return _getname(t, fd, usockaddr, usockaddr_len, False)


@syscall()
def sys_getpeername(t: Task, fd: SockFd, usockaddr: AddrOut, usockaddr_len: AddrLenPtr) -> int:
    """get name of connected peer socket"""
    return _getname(t, fd, usockaddr, usockaddr_len, True)


def do_send(t: Task, sock: Socket, data: bytes, name: bytes | None, namelen: int, control: bytes,
            flags: int) -> int:
    """sock_sendmsg: control messages and the destination in the host's terms, then send."""
    tokens: list[int] = []
    if sock.unix is not None:
        host_control, tokens = scm.unix_send_control(t, control) if control else (b"", [])
    else:
        host_control = control
    try:
        if name and sock.unix is not None:
            n = 0

            def send_to(a: bytes) -> None:
                nonlocal n
                n = sock.send(t, data, a, host_control, flags)

            unix.host_call(t, name.ljust(s.SOCKADDR_STORAGE_SIZE, b"\0"), namelen, send_to)
        else:
            n = sock.send(t, data, name or None, host_control, flags)
    except BaseException:
        scm.unsent(tokens)
        raise
    scm.sent(tokens)
    return n


def _user_data(t: Task, buf: int, length: int) -> bytes:
    from sysgate.mm.uaccess import access_ok, readable_prefix

    if not access_ok(buf, length):
        raise KernelError(Errno.EFAULT)
    length = min(length, 0x7FFFF000)
    n = readable_prefix(t.mm, buf, length)
    if n < length and not n:
        raise KernelError(Errno.EFAULT)
    return copy_from_user(t.mm, buf, n)


@syscall()
def sys_sendto(t: Task, fd: SockFd, buff: SendBuf, len: BufLenIn, flags: MsgFlags, addr: AddrToIn,  # noqa: A002
               addr_len: AddrLen) -> int:
    """send a message on a socket"""
    data = _user_data(t, buff, len)
    sock = sockfd_lookup(t, fd)
    name = move_addr_to_kernel(t, addr, addr_len) if addr else None
    return do_send(t, sock, data, name, addr_len, b"", flags)


@syscall()
def sys_recvfrom(t: Task, fd: SockFd, ubuf: RecvBuf, size: BufLenOut, flags: MsgFlags, addr: AddrOut,
                 addr_len: AddrLenPtr) -> int:
    """receive a message from a socket"""
    from sysgate.mm.uaccess import access_ok

    if not access_ok(ubuf, size):
        raise KernelError(Errno.EFAULT)
    sock = sockfd_lookup(t, fd)
    r = sock.recv(t, min(size, 0x7FFFF000), flags)
    scm.discard(r.control)
    copy_to_user(t.mm, ubuf, r.data)
    if addr:
        name = unix.guest_name(r.name) if sock.unix is not None else r.name
        move_addr_to_user(t, name, addr, addr_len)
    return r.length


@syscall(support=Support.PARTIAL,
         note="SO_PEERPIDFD, SO_PASSPIDFD and TCP_ZEROCOPY_RECEIVE give ENOPROTOOPT")
def sys_setsockopt(t: Task, fd: SockFd, level: SockLevel, optname: SockOpt, optval: OptvalIn,
                   optlen: OptLen) -> int:
    """set options on sockets"""
    sockopt.setsockopt(t, sockfd_lookup(t, fd), level, optname, optval, optlen)
    return 0


@syscall(support=Support.PARTIAL,
         note="SO_PEERPIDFD, SO_PASSPIDFD and TCP_ZEROCOPY_RECEIVE give ENOPROTOOPT; "
         "SO_PEERGROUPS reports the host's groups")
def sys_getsockopt(t: Task, fd: SockFd, level: SockLevel, optname: SockOpt, optval: OptvalOut,
                   optlen: OptLenPtr) -> int:
    """get options on sockets"""
    sockopt.getsockopt(t, sockfd_lookup(t, fd), level, optname, optval, optlen)
    return 0


@syscall()
def sys_shutdown(t: Task, fd: SockFd, how: ShutHow) -> int:
    """shut down part of a full-duplex connection"""
    hostsock.shutdown(sockfd_lookup(t, fd).fd, how)
    return 0


def do_sendmsg(t: Task, fd: int, msg: int, flags: int) -> int:
    sock = sockfd_lookup(t, fd)
    m = copy_msghdr(t, msg, send=True)
    if m.controllen > 0x7FFFFFFF:
        raise KernelError(Errno.ENOBUFS)
    control = copy_from_user(t.mm, m.control, m.controllen) if m.controllen else b""
    return do_send(t, sock, m.data, m.name, m.namelen, control, flags)


def do_recvmsg(t: Task, fd: int, msg: int, flags: int) -> int:
    sock = sockfd_lookup(t, fd)
    m = copy_msghdr(t, msg, send=False)
    r = sock.recv(t, m.size, flags & ~s.MSG_CMSG_CLOEXEC)
    return put_recv_result(t, sock, msg, m, r, flags)


@syscall(support=Support.PARTIAL,
         note="SCM_CREDENTIALS a sender passes are checked, but the receiver sees the sending "
         "socket's creator's ids")
def sys_sendmsg(t: Task, fd: SockFd, msg: MsghdrIn, flags: MsgFlags) -> int:
    """send a message on a socket using a message structure"""
    return do_sendmsg(t, fd, msg, flags)


@syscall()
def sys_recvmsg(t: Task, fd: SockFd, msg: MsghdrOut, flags: MsgFlags) -> int:
    """receive a message from a socket"""
    return do_recvmsg(t, fd, msg, flags)


MMSGHDR_SIZE = 64


def _each_mmsg(t: Task, mmsg: int, vlen: int, one: Callable[[int, int], int],
               over: Callable[[], bool] = lambda: False) -> int:
    """The loop of sendmmsg and recvmmsg: `one(done, msghdr)` per message, its result in
    msg_len; an error after the first message ends the call with the count so far. The
    count survives a wait (the call runs again), each message's own progress does not."""
    st = t.call_state()
    done = int(st.data.get("mmsg", 0))
    while done < vlen:
        try:
            n = one(done, mmsg + done * MMSGHDR_SIZE)
        except KernelError:
            if done:
                return done
            raise
        put_user_s32(t.mm, mmsg + done * MMSGHDR_SIZE + 56, n)
        done += 1
        deadline = st.data.get("mmsg_deadline")
        st.data.clear()
        st.data["mmsg"] = done
        if deadline is not None:
            st.data["mmsg_deadline"] = deadline
        if over():
            break
    return done


@syscall()
def sys_sendmmsg(t: Task, fd: SockFd, mmsg: MmsghdrIn, vlen: Vlen, flags: MsgFlags) -> int:
    """send multiple messages on a socket"""
    sockfd_lookup(t, fd)
    return _each_mmsg(t, mmsg, min(vlen, UIO_MAXIOV), lambda done, hdr: do_sendmsg(t, fd, hdr, flags))


@syscall()
def sys_recvmmsg(t: Task, fd: SockFd, mmsg: MmsghdrOut, vlen: Vlen, flags: MsgFlags,
                 timeout: TimespecIn) -> int:
    """receive multiple messages on a socket"""
    import struct

    sockfd_lookup(t, fd)
    st = t.call_state()
    deadline = st.data.get("mmsg_deadline")
    if timeout and deadline is None:
        sec, nsec = struct.unpack("<qq", copy_from_user(t.mm, timeout, 16))
        if sec < 0 or not 0 <= nsec < 1_000_000_000:
            raise KernelError(Errno.EINVAL)
        deadline = st.data["mmsg_deadline"] = time.monotonic_ns() + sec * 1_000_000_000 + nsec

    def one(done: int, hdr: int) -> int:
        f = flags | (s.MSG_DONTWAIT if done and flags & s.MSG_WAITFORONE else 0)
        return do_recvmsg(t, fd, hdr, f & ~s.MSG_WAITFORONE)

    return _each_mmsg(t, mmsg, vlen, one, lambda: deadline is not None and time.monotonic_ns() >= deadline)
