"""The socket layer without Unicorn: control-message framing, AF_UNIX address rules,
option timeouts, and the socket calls on a FakeCpu task (errno order, SCM_RIGHTS of a
File with no host descriptor, names mapped back) and their trace lines."""

from __future__ import annotations

import struct

import pytest

from sysgate.errors import KernelError
from sysgate.net import scm, sockopt, unix
from sysgate.uapi import socket as s
from sysgate.uapi.errno import Errno
from tests.conftest import UNMAPPED, USER_BUF, sys
from tests.unit.trace.conftest import line, traced

SV = USER_BUF
ADDR = USER_BUF + 0x100
LEN = USER_BUF + 0x200
MSG = USER_BUF + 0x300
IOV = USER_BUF + 0x400
CTL = USER_BUF + 0x500
DATA = USER_BUF + 0x800


def test_parse_rejects_short_and_overlong_headers():
    good = scm.cmsg(s.SOL_SOCKET, s.SCM_RIGHTS, struct.pack("<i", 3))
    assert scm.parse(good) == [(s.SOL_SOCKET, s.SCM_RIGHTS, struct.pack("<i", 3))]
    with pytest.raises(KernelError) as e:
        scm.parse(struct.pack("<QiI", 8, 1, 1))
    assert e.value.errno == Errno.EINVAL
    with pytest.raises(KernelError):
        scm.parse(struct.pack("<QiI", 40, 1, 1) + b"\0" * 8)
    assert scm.parse(b"\0" * 15) == []  # no room for a header: no message


def test_put_cmsg_truncates_as_linux():
    out = bytearray()
    assert scm.put_cmsg(out, 12, 1, 2, b"abcd") == (0, True)  # no room for the header
    out = bytearray()
    used, cut = scm.put_cmsg(out, 18, 1, 2, b"abcd")
    assert (used, cut) == (18, True) and struct.unpack_from("<Q", out)[0] == 20  # cmsg_len stays whole
    out = bytearray()
    assert scm.put_cmsg(out, 64, 1, 2, b"abcd") == (24, False)


def test_unix_address_rules():
    addr = struct.pack("<H", s.AF_UNIX) + b"name\0junk"
    assert unix.bsd_path(addr, len(addr)) == b"name"
    for bad_len in (2, 1, 111):
        with pytest.raises(KernelError) as e:
            unix.validate(addr.ljust(128, b"\0"), bad_len)
        assert e.value.errno == Errno.EINVAL
    with pytest.raises(KernelError):
        unix.validate(struct.pack("<H", s.AF_INET) + b"x", 3)


def test_timeouts():
    assert sockopt._timeo_ns(struct.pack("<qq", 0, 0)) == 0  # wait for ever
    assert sockopt._timeo_ns(struct.pack("<qq", 1, 500)) == 1_000_500_000
    assert sockopt._timeo_ns(struct.pack("<qq", -1, 0)) == 1  # negative: do not wait


def test_socket_errno_order(task):
    assert sys(task, "socket", s.AF_INET, s.SOCK_STREAM | 0x10000000, 0) == -Errno.EINVAL
    assert sys(task, "socket", 4242, s.SOCK_STREAM, 0) == -Errno.EAFNOSUPPORT
    assert sys(task, "socket", s.AF_NETLINK, 99, 0) == -Errno.EINVAL  # the type is checked first
    assert sys(task, "socket", s.AF_NETLINK, s.SOCK_DGRAM, 0) == -Errno.EAFNOSUPPORT
    assert sys(task, "socketpair", s.AF_UNIX, s.SOCK_STREAM, 0, UNMAPPED) == -Errno.EFAULT
    assert sys(task, "bind", 0, ADDR, 16) == -Errno.ENOTSOCK
    assert sys(task, "bind", 77, ADDR, 16) == -Errno.EBADF


def test_scm_rights_passes_a_file_without_host_fd(task):
    from sysgate.fs.file import File

    assert sys(task, "socketpair", s.AF_UNIX, s.SOCK_DGRAM, 0, SV) == 0
    a, b = struct.unpack("<ii", task.mm.read(SV, 8))
    kernel_file = File(0, "anon_inode:[test]")
    fd = task.files.add(kernel_file, 1024)
    task.mm.write(DATA, b"x")
    task.mm.write(IOV, struct.pack("<QQ", DATA, 1))
    task.mm.write(CTL, scm.cmsg(s.SOL_SOCKET, s.SCM_RIGHTS, struct.pack("<i", fd)))
    task.mm.write(MSG, struct.pack("<Qi4xQQQQi4x", 0, 0, IOV, 1, CTL, 24, 0))
    assert sys(task, "sendmsg", a, MSG, 0) == 1
    task.files.close(fd)
    assert kernel_file.refs == 1  # held by the message in flight
    task.mm.write(CTL, bytes(24))
    task.mm.write(MSG, struct.pack("<Qi4xQQQQi4x", 0, 0, IOV, 1, CTL, 24, 0))
    assert sys(task, "recvmsg", b, MSG, s.MSG_CMSG_CLOEXEC) == 1
    ((_, _, data),) = scm.parse(task.mm.read(CTL, 20))
    new = struct.unpack("<i", data)[0]
    assert task.files.get(new) is kernel_file and new in task.files.cloexec and kernel_file.refs == 1
    flags = struct.unpack_from("<i", task.mm.read(MSG + 48, 4))[0]
    assert flags == s.MSG_CMSG_CLOEXEC


def test_unix_names_come_back_as_the_guest_gave_them(task, tmp_path):
    sock = sys(task, "socket", s.AF_UNIX, s.SOCK_DGRAM, 0)
    name = struct.pack("<H", s.AF_UNIX) + b"here.sock\0"
    task.mm.write(ADDR, name)
    assert sys(task, "bind", sock, ADDR, len(name)) == 0
    assert (tmp_path / "here.sock").is_socket()
    task.mm.write(LEN, struct.pack("<i", 128))
    assert sys(task, "getsockname", sock, ADDR + 0x40, LEN) == 0
    assert task.mm.read(LEN, 4) == struct.pack("<i", len(name))
    assert task.mm.read(ADDR + 0x40, len(name)) == name
    other = sys(task, "socket", s.AF_UNIX, s.SOCK_DGRAM, 0)
    assert sys(task, "bind", other, ADDR, len(name)) == -Errno.EADDRINUSE
    assert sys(task, "connect", other, ADDR, len(name)) == 0
    task.mm.write(LEN, struct.pack("<i", 128))
    assert sys(task, "getpeername", other, ADDR + 0x40, LEN) == 0
    assert task.mm.read(ADDR + 0x40, len(name)) == name


def test_trace_lines(task):
    assert traced(task, "socket", s.AF_INET, s.SOCK_STREAM | s.SOCK_CLOEXEC, 0) == line(
        "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP)", "3")
    task.mm.write(ADDR, struct.pack("<HH4s8x", s.AF_INET, 0, bytes([127, 0, 0, 1])))
    assert traced(task, "bind", 3, ADDR, 16) == line(
        'bind(3, {sa_family=AF_INET, sin_port=htons(0), sin_addr=inet_addr("127.0.0.1")}, 16)', "0")
    task.mm.write(ADDR, struct.pack("<H", s.AF_UNIX) + b"/x\0")
    assert "{sa_family=AF_UNIX, sun_path=\"/x\"}" in traced(task, "connect", 3, ADDR, 5)
    assert traced(task, "shutdown", 3, 1) == line(
        "shutdown(3, SHUT_WR)", "-1 ENOTCONN (Transport endpoint is not connected)")
    task.mm.write(DATA, struct.pack("<i", 1))
    assert traced(task, "setsockopt", 3, s.SOL_SOCKET, s.SO_REUSEADDR, DATA, 4) == line(
        "setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4)", "0")
    task.mm.write(LEN, struct.pack("<i", 4))
    assert traced(task, "getsockopt", 3, s.SOL_SOCKET, s.SO_TYPE, DATA, LEN) == line(
        "getsockopt(3, SOL_SOCKET, SO_TYPE, [1], [4])", "0")
    task.mm.write(LEN, struct.pack("<i", 128))
    out = traced(task, "getsockname", 3, ADDR, LEN)
    assert out.startswith("getsockname(3, {sa_family=AF_INET, sin_port=htons(") and "[128 => 16]) = 0" in out
