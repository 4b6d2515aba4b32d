"""AF_UNIX names: bind and connect through the kernel's path lookup.

Counterpart: net/unix/af_unix.c (unix_validate_addr, unix_mkname_bsd, unix_bind,
unix_autobind, unix_find_bsd, unix_getname, init_peercred, copy_peercred).

A path name is resolved by sysgate.fs.namei like every other path the guest names, so
a root folder confines it: bind creates the socket file in the directory the walk
found (parent_lookup, the last name never followed), connect and sendto reach the file
the walk found (lookup). The host is given the directory's descriptor through its
magic link (`/proc/self/fd/N/name`), or, for a name too long for that, bound or
connected from inside the directory. The host socket is thus bound to a host name the
guest never sees: sysgate keeps the guest's sockaddr_un (what getsockname returns)
and maps the host name back wherever the host reports one (getpeername, accept,
recvfrom). Abstract names and autobind are the host's: they live in the host's network
namespace, shared with host processes.

Credentials: every guest socket remembers its creator's pid/uid/gid; SO_PEERCRED and
SCM_CREDENTIALS report the guest's ids, never sysgate's host ones.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.fs import namei
from sysgate.net import hostsock
from sysgate.net.sock import Socket, Ucred
from sysgate.uapi import socket as s
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import AT_FDCWD

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

FAMILY = s.AF_UNIX.to_bytes(2, "little")
HOST_PATH_MAX = 108

NAMES: dict[bytes, Socket] = {}
"""The host path a guest socket is bound to -> that socket, while it lives."""


def validate(addr: bytes, addrlen: int) -> None:
    """unix_validate_addr."""
    if addrlen <= s.SUN_PATH_OFFSET or addrlen > s.SUN_PATH_OFFSET + s.UNIX_PATH_MAX:
        raise KernelError(Errno.EINVAL)
    if int.from_bytes(addr[:2], "little") != s.AF_UNIX:
        raise KernelError(Errno.EINVAL)


def bsd_path(addr: bytes, addrlen: int) -> bytes:
    """unix_mkname_bsd: the path, cut at addrlen and at its first NUL."""
    return addr[s.SUN_PATH_OFFSET:addrlen].split(b"\0", 1)[0]


def _host_sockaddr(path: bytes) -> bytes:
    return FAMILY + path


def _via_dir(where: namei.HostPath) -> bytes | None:
    """The host sockaddr naming `where`, or None if it must be reached from its directory."""
    if where.dirfd is None:
        path = where.path
    else:
        path = b"/proc/self/fd/%d/%s" % (where.dirfd, where.path)
    return _host_sockaddr(path) if len(path) < HOST_PATH_MAX else None


def _in_dir(dirfd: int | None, fn: object, name: bytes) -> None:
    """Run `fn(sockaddr of name)` with the host's cwd in `dirfd` (names too long for the
    /proc/self/fd form); the cwd is put back at once."""
    assert callable(fn)
    if dirfd is None:
        fn(_host_sockaddr(name))
        return
    saved = os.open(".", os.O_PATH | os.O_CLOEXEC)
    try:
        os.fchdir(dirfd)
        fn(_host_sockaddr(name))
    finally:
        os.fchdir(saved)
        os.close(saved)


def bind(t: Task, sock: Socket, addr: bytes, addrlen: int) -> None:
    """unix_bind: autobind for a bare family, an abstract name on the host, or a path."""
    st = sock.unix
    assert st is not None
    if addrlen == s.SUN_PATH_OFFSET and int.from_bytes(addr[:2], "little") == s.AF_UNIX:
        hostsock.bind(sock.fd, FAMILY)  # unix_autobind: the host picks the abstract name
        return
    validate(addr, addrlen)
    if addr[s.SUN_PATH_OFFSET] == 0:
        hostsock.bind(sock.fd, addr[:addrlen])
        return
    path = bsd_path(addr, addrlen)
    where = namei.parent_lookup(t, AT_FDCWD, path, busy=Errno.EADDRINUSE)
    dirfd = where.dirfd
    extra: list[int] = []
    try:
        host = _via_dir(where)
        while host is not None and host[2:] in NAMES and dirfd is not None:
            dirfd = os.dup(dirfd)  # another number, so the host name is unique among live sockets
            extra.append(dirfd)
            host = _host_sockaddr(b"/proc/self/fd/%d/%s" % (dirfd, where.path))
            if len(host) - 2 >= HOST_PATH_MAX:
                host = None
        if host is not None:
            hostsock.bind(sock.fd, host)
        else:
            _in_dir(dirfd, lambda a: hostsock.bind(sock.fd, a), where.path)
            host = _host_sockaddr(where.path)
    finally:
        for fd in extra:
            os.close(fd)
    st.name = FAMILY + path + b"\0"
    st.host_name = host[2:]
    NAMES[st.host_name] = sock


def connect_addr(t: Task, addr: bytes, addrlen: int) -> tuple[bytes | None, namei.HostPath | None]:
    """unix_find_other: the host sockaddr to connect or send to (abstract names as they
    are), and where the walk found a path name (its descriptors must outlive the host
    call; a host sockaddr of None means the name is too long to give from outside)."""
    validate(addr, addrlen)
    if addr[s.SUN_PATH_OFFSET] == 0:
        return addr[:addrlen], None
    path = bsd_path(addr, addrlen)
    where = namei.lookup(t, AT_FDCWD, path, follow=True)
    if not isinstance(where, namei.HostPath):
        raise KernelError(Errno.ECONNREFUSED)  # a kernel object: no socket inode
    return _via_dir(where), where


def host_call(t: Task, addr: bytes, addrlen: int, fn: object) -> None:
    """Call `fn(host sockaddr)` for a guest address: connect, or a sendto of a datagram."""
    assert callable(fn)
    host, where = connect_addr(t, addr, addrlen)
    if host is not None:
        fn(host)
    else:
        assert where is not None
        _in_dir(where.dirfd, fn, where.path)
    del where  # the walk's descriptors stay open until the host call is made


def forget(sock: Socket) -> None:
    if sock.unix is not None and sock.unix.host_name is not None:
        if NAMES.get(sock.unix.host_name) is sock:
            del NAMES[sock.unix.host_name]


def bound_socket(host_addr: bytes) -> Socket | None:
    """The guest socket bound to a host address the host reported, if any."""
    if len(host_addr) <= s.SUN_PATH_OFFSET or host_addr[2] == 0:
        return None
    return NAMES.get(host_addr[2:].split(b"\0", 1)[0])


def guest_name(host_addr: bytes) -> bytes:
    """The address the guest sees for one the host reports: a guest socket's own name for
    the host name sysgate bound it to; unnamed and abstract addresses as they are."""
    sock = bound_socket(host_addr)
    if sock is not None and sock.unix is not None and sock.unix.name is not None:
        return sock.unix.name
    return host_addr


def getname(sock: Socket, peer: bool) -> bytes:
    """unix_getname."""
    if not peer:
        st = sock.unix
        if st is not None and st.name is not None:
            return st.name
        return guest_name(hostsock.getsockname(sock.fd))
    return guest_name(hostsock.getpeername(sock.fd))


def connected(t: Task, sock: Socket) -> None:
    """After a stream or seqpacket connect: the peer's credentials are the listener's
    (init_peercred at listen), and the listener learns the connecting task's."""
    st = sock.unix
    assert st is not None
    try:
        listener = bound_socket(hostsock.getpeername(sock.fd))
    except KernelError:
        return
    if listener is not None and listener.unix is not None:
        st.peer_cred = listener.unix.listen_cred
        listener.unix.connecting.append(Ucred.of(t))


def accepted(listener: Socket, new: Socket) -> None:
    if listener.unix is not None and new.unix is not None and listener.unix.connecting:
        new.unix.peer_cred = listener.unix.connecting.popleft()


def sender_cred(t: Task, sock: Socket, host_addr: bytes) -> Ucred:
    """Whose credentials a received message carries: the sending guest socket's creator
    (found by its address), else the connected peer's, else the receiving task's own."""
    sender = bound_socket(host_addr) if host_addr else None
    if sender is not None and sender.unix is not None and sender.unix.owner is not None:
        return sender.unix.owner
    if sock.unix is not None and sock.unix.peer_cred is not None:
        return sock.unix.peer_cred
    return Ucred.of(t)
