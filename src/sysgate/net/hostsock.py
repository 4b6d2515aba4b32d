"""The host's socket calls, with raw addresses, options and control data.

Counterpart: none in Linux; this is sysgate's edge, as sysgate.host is for files. A
guest socket is a host socket, so the guest's sockaddr, option values and control
messages (x86-64 Linux layouts) are handed to the host's C library unchanged, and its
errors come back as Linux errnos (sysgate.host.host_check). Python's socket module is
not used because it decodes addresses and bounds option lengths its own way.

Every host socket sysgate makes is non-blocking and close-on-exec: a guest call that
would block waits in sysgate's scheduler, never in the host.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

from sysgate.host import host_check, libc_fn

_c_int, _c_void_p, _c_size_t = ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t
_socklen_p = ctypes.POINTER(ctypes.c_uint32)

HOST_SOCK_NONBLOCK = 0o4000
HOST_SOCK_CLOEXEC = 0o2000000
HOST_MSG_NOSIGNAL = 0x4000
HOST_MSG_DONTWAIT = 0x40


class _Iovec(ctypes.Structure):
    _fields_ = [("iov_base", _c_void_p), ("iov_len", _c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [
        ("msg_name", _c_void_p), ("msg_namelen", ctypes.c_uint32), ("msg_iov", ctypes.POINTER(_Iovec)),
        ("msg_iovlen", _c_size_t), ("msg_control", _c_void_p), ("msg_controllen", _c_size_t),
        ("msg_flags", _c_int),
    ]


def _fn(name: str, restype: Any, *argtypes: Any) -> Any:
    fn = libc_fn(name, restype, *argtypes)
    assert fn is not None, name
    return fn


_socket = _fn("socket", _c_int, _c_int, _c_int, _c_int)
_socketpair = _fn("socketpair", _c_int, _c_int, _c_int, _c_int, ctypes.POINTER(_c_int))
_bind = _fn("bind", _c_int, _c_int, ctypes.c_char_p, ctypes.c_uint32)
_connect = _fn("connect", _c_int, _c_int, ctypes.c_char_p, ctypes.c_uint32)
_listen = _fn("listen", _c_int, _c_int, _c_int)
_accept4 = _fn("accept4", _c_int, _c_int, _c_void_p, _socklen_p, _c_int)
_getsockname = _fn("getsockname", _c_int, _c_int, _c_void_p, _socklen_p)
_getpeername = _fn("getpeername", _c_int, _c_int, _c_void_p, _socklen_p)
_sendmsg = _fn("sendmsg", ctypes.c_ssize_t, _c_int, ctypes.POINTER(_Msghdr), _c_int)
_recvmsg = _fn("recvmsg", ctypes.c_ssize_t, _c_int, ctypes.POINTER(_Msghdr), _c_int)
_setsockopt = _fn("setsockopt", _c_int, _c_int, _c_int, _c_int, _c_void_p, ctypes.c_uint32)
_getsockopt = _fn("getsockopt", _c_int, _c_int, _c_int, _c_int, _c_void_p, _socklen_p)
_shutdown = _fn("shutdown", _c_int, _c_int, _c_int)


def socket(family: int, type_: int, protocol: int) -> int:
    return host_check(_socket(family, type_ | HOST_SOCK_NONBLOCK | HOST_SOCK_CLOEXEC, protocol))


def socketpair(family: int, type_: int, protocol: int) -> tuple[int, int]:
    sv = (_c_int * 2)()
    host_check(_socketpair(family, type_ | HOST_SOCK_NONBLOCK | HOST_SOCK_CLOEXEC, protocol, sv))
    return sv[0], sv[1]


def bind(fd: int, addr: bytes) -> None:
    host_check(_bind(fd, addr, len(addr)))


def connect(fd: int, addr: bytes) -> None:
    host_check(_connect(fd, addr, len(addr)))


def listen(fd: int, backlog: int) -> None:
    host_check(_listen(fd, backlog))


def accept(fd: int) -> tuple[int, bytes]:
    """A new non-blocking connection and the peer's address."""
    buf = ctypes.create_string_buffer(128)
    n = ctypes.c_uint32(128)
    new = host_check(_accept4(fd, ctypes.addressof(buf), ctypes.byref(n), HOST_SOCK_NONBLOCK | HOST_SOCK_CLOEXEC))
    return new, buf.raw[: min(n.value, 128)]


def _name(fn: Any, fd: int) -> bytes:
    buf = ctypes.create_string_buffer(128)
    n = ctypes.c_uint32(128)
    host_check(fn(fd, ctypes.addressof(buf), ctypes.byref(n)))
    return buf.raw[: min(n.value, 128)]


def getsockname(fd: int) -> bytes:
    return _name(_getsockname, fd)


def getpeername(fd: int) -> bytes:
    return _name(_getpeername, fd)


def sendmsg(fd: int, data: bytes, name: bytes | None, control: bytes, flags: int) -> int:
    """One host sendmsg of `data`; never raises SIGPIPE in sysgate (MSG_NOSIGNAL)."""
    buf = ctypes.create_string_buffer(data, len(data)) if data else None
    iov = _Iovec(ctypes.addressof(buf) if buf is not None else None, len(data))
    msg = _Msghdr()
    namebuf = ctypes.create_string_buffer(name, len(name)) if name else None
    if namebuf is not None and name:
        msg.msg_name, msg.msg_namelen = ctypes.addressof(namebuf), len(name)
    msg.msg_iov, msg.msg_iovlen = ctypes.pointer(iov), 1
    ctl = ctypes.create_string_buffer(control, len(control)) if control else None
    if ctl is not None:
        msg.msg_control, msg.msg_controllen = ctypes.addressof(ctl), len(control)
    return host_check(_sendmsg(fd, ctypes.byref(msg), flags | HOST_MSG_NOSIGNAL))


def recvmsg(fd: int, size: int, controllen: int, flags: int) -> tuple[bytes, int, bytes, bytes, int]:
    """One host recvmsg: (data, length the host reported, sender address, control data,
    msg_flags). The length is more than len(data) under MSG_TRUNC."""
    buf = ctypes.create_string_buffer(max(size, 1))
    iov = _Iovec(ctypes.addressof(buf), size)
    namebuf = ctypes.create_string_buffer(128)
    ctl = ctypes.create_string_buffer(max(controllen, 1))
    msg = _Msghdr()
    msg.msg_name, msg.msg_namelen = ctypes.addressof(namebuf), 128
    msg.msg_iov, msg.msg_iovlen = ctypes.pointer(iov), 1
    if controllen:
        msg.msg_control, msg.msg_controllen = ctypes.addressof(ctl), controllen
    n = host_check(_recvmsg(fd, ctypes.byref(msg), flags))
    return (buf.raw[: min(n, size)], n, namebuf.raw[: min(msg.msg_namelen, 128)],
            ctl.raw[: msg.msg_controllen] if controllen else b"", msg.msg_flags)


def setsockopt(fd: int, level: int, name: int, value: bytes | None, optlen: int) -> None:
    """setsockopt with the guest's bytes (None: a NULL optval of `optlen`)."""
    buf = ctypes.create_string_buffer(value, len(value)) if value else None
    host_check(_setsockopt(fd, level, name, ctypes.addressof(buf) if buf is not None else None, optlen))


def getsockopt(fd: int, level: int, name: int, optlen: int) -> bytes:
    """getsockopt into a buffer of `optlen` bytes; the bytes the host filled in."""
    buf = ctypes.create_string_buffer(max(optlen, 1))
    n = ctypes.c_uint32(optlen)
    host_check(_getsockopt(fd, level, name, ctypes.addressof(buf), ctypes.byref(n)))
    return buf.raw[: n.value]


def getsockopt_int(fd: int, level: int, name: int) -> int:
    return int.from_bytes(getsockopt(fd, level, name, 4)[:4].ljust(4, b"\0"), "little", signed=True)


def shutdown(fd: int, how: int) -> None:
    host_check(_shutdown(fd, how))


def close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
