"""Control messages: SCM_RIGHTS and SCM_CREDENTIALS between guest sockets.

Counterpart: net/core/scm.c (__scm_send, scm_fp_copy, scm_check_creds, put_cmsg,
scm_detach_fds) and include/net/scm.h (scm_recv).

A guest descriptor is a sysgate File, which may have no host descriptor at all (a
/proc file, an epoll instance, a memfd of sysgate's), so a File cannot travel as a
host fd. It travels as a token: for each File sent, sysgate makes a host memfd, keeps
File by the memfd's inode in TOKENS, and sends the memfd with a real SCM_RIGHTS on the
host socket. The host kernel thus keeps the files with the data, with its own rules
(which message they belong to, where a stream read stops, MSG_PEEK duplicating them,
what a closed socket drops). The receiver maps each memfd it gets back to its File
and installs that File: the same open file description, as Linux passes it. A host
descriptor that is no token (sent by a host process) is installed as a new file over
it. A peeked message leaves the File in TOKENS for the real receive.

Known gap: a message still queued when its receiving socket is closed takes its tokens
with it, and the Files it carried stay referenced by TOKENS until sysgate exits.
"""

from __future__ import annotations

import os
import stat as host_stat
import struct
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.host import status_flags_from_host
from sysgate.uapi import socket as s
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.fs.file import File
    from sysgate.kernel.task import Task
    from sysgate.net.sock import Socket, Ucred

CMSGHDR = struct.Struct("<QiI")
"""struct cmsghdr on x86-64: size_t cmsg_len, int cmsg_level, int cmsg_type."""
UCRED = struct.Struct("<iII")

TOKENS: dict[tuple[int, int], File] = {}
"""(st_dev, st_ino) of a host memfd in flight -> the File it stands for (holding a reference)."""


def cmsg_align(n: int) -> int:
    return (n + 7) & ~7


def cmsg_len(n: int) -> int:
    return CMSGHDR.size + n


def cmsg_space(n: int) -> int:
    return CMSGHDR.size + cmsg_align(n)


def cmsg(level: int, type_: int, data: bytes) -> bytes:
    """One control message, padded to CMSG_SPACE."""
    return CMSGHDR.pack(cmsg_len(len(data)), level, type_) + data + b"\0" * (cmsg_align(len(data)) - len(data))


def parse(control: bytes) -> list[tuple[int, int, bytes]]:
    """for_each_cmsghdr with CMSG_OK: (level, type, data) of each message; EINVAL for a
    header whose length is short or runs past the buffer."""
    out = []
    off = 0
    while len(control) - off >= CMSGHDR.size:
        length, level, type_ = CMSGHDR.unpack_from(control, off)
        if length < CMSGHDR.size or length > len(control) - off:
            raise KernelError(Errno.EINVAL)
        out.append((level, type_, control[off + CMSGHDR.size : off + length]))
        off += cmsg_align(length)
    return out


# -- sending --------------------------------------------------------------------------


def _token(file: File) -> int:
    fd = os.memfd_create("sysgate-scm", os.MFD_CLOEXEC)
    st = os.fstat(fd)
    TOKENS[(st.st_dev, st.st_ino)] = file.get()
    return fd


def check_creds(t: Task, data: bytes) -> None:
    """scm_check_creds: a sender may only claim its own pid and ids unless privileged."""
    if len(data) != UCRED.size:
        raise KernelError(Errno.EINVAL)
    pid, uid, gid = UCRED.unpack(data)
    c = t.cred
    root = c.capable()
    if (pid == t.pid or root) and (uid in (c.uid, c.euid, c.suid) or root) \
            and (gid in (c.gid, c.egid, c.sgid) or root):
        if pid != t.pid and pid not in t.kernel.tasks:
            raise KernelError(Errno.ESRCH)
        return
    raise KernelError(Errno.EPERM)


def unix_send_control(t: Task, control: bytes) -> tuple[bytes, list[int]]:
    """__scm_send for an AF_UNIX socket: the host control message carrying a token per
    file passed, and the token descriptors (closed by the caller once sent). Other
    levels are ignored, as unix sockets ignore them; unknown SOL_SOCKET types are EINVAL."""
    files: list[File] = []
    for level, type_, data in parse(control):
        if level != s.SOL_SOCKET:
            continue
        if type_ == s.SCM_RIGHTS:
            num = len(data) // 4
            if num <= 0:
                continue
            if num + len(files) > s.SCM_MAX_FD:
                raise KernelError(Errno.EINVAL)
            for (fd,) in struct.iter_unpack("<i", data[: num * 4]):
                if fd < 0:
                    raise KernelError(Errno.EBADF)
                files.append(t.files.get(fd))
        elif type_ == s.SCM_CREDENTIALS:
            check_creds(t, data)
        else:
            raise KernelError(Errno.EINVAL)
    if not files:
        return b"", []
    tokens = [_token(f) for f in files]
    return cmsg(s.SOL_SOCKET, s.SCM_RIGHTS, struct.pack(f"<{len(tokens)}i", *tokens)), tokens


def unsent(tokens: list[int]) -> None:
    """The send failed: drop the tokens and the references they held."""
    for fd in tokens:
        _claim(fd, peek=False)
        os.close(fd)


def sent(tokens: list[int]) -> None:
    """The host holds the tokens now: close sysgate's copies."""
    for fd in tokens:
        os.close(fd)


# -- receiving ----------------------------------------------------------------------


def _claim(fd: int, peek: bool) -> File | None:
    st = os.fstat(fd)
    key = (st.st_dev, st.st_ino)
    if peek:
        f = TOKENS.get(key)
        return f.get() if f is not None else None
    return TOKENS.pop(key, None)  # the reference moves to the caller


def _host_file(fd: int) -> File:
    """A descriptor a host process passed: a new open file over it."""
    import fcntl as host_fcntl

    from sysgate.fs.hostfs import HostFile
    from sysgate.host import fd_path
    from sysgate.net import hostsock
    from sysgate.net.sock import Socket

    st = os.fstat(fd)
    flags = status_flags_from_host(host_fcntl.fcntl(fd, host_fcntl.F_GETFL)) & ~0o4000
    if host_stat.S_ISSOCK(st.st_mode):
        host_fcntl.fcntl(fd, host_fcntl.F_SETFL, host_fcntl.fcntl(fd, host_fcntl.F_GETFL) | os.O_NONBLOCK)
        return Socket(fd, hostsock.getsockopt_int(fd, s.SOL_SOCKET, s.SO_DOMAIN),
                      hostsock.getsockopt_int(fd, s.SOL_SOCKET, s.SO_TYPE),
                      hostsock.getsockopt_int(fd, s.SOL_SOCKET, s.SO_PROTOCOL), flags)
    return HostFile(fd, flags, fd_path(fd) or "")


def _files_of(data: bytes, peek: bool) -> list[File]:
    out: list[File] = []
    for (fd,) in struct.iter_unpack("<i", data[: len(data) // 4 * 4]):
        f = _claim(fd, peek)
        if f is None:
            out.append(_host_file(fd).get())
            continue
        os.close(fd)
        out.append(f)
    return out


def discard(control: bytes) -> None:
    """Received control data nobody takes (read(), recv without msg_control): the files
    go (scm_destroy)."""
    if not control:
        return
    for level, type_, data in parse(control):
        if level == s.SOL_SOCKET and type_ == s.SCM_RIGHTS:
            for f in _files_of(data, peek=False):
                f.put()


def put_cmsg(out: bytearray, room: int, level: int, type_: int, data: bytes) -> tuple[int, bool]:
    """put_cmsg: append one message within `room` bytes; (bytes used, truncated)."""
    length = cmsg_len(len(data))
    if room < CMSGHDR.size:
        return 0, True
    msg = CMSGHDR.pack(length, level, type_) + data
    truncated = room < length
    used = min(cmsg_space(len(data)), room)
    out += (msg + b"\0" * (cmsg_align(len(data)) - len(data)))[:used]
    return used, truncated


def unix_recv_control(t: Task, sock: Socket, host_control: bytes, room: int, has_control: bool,
                      cloexec: bool, peek: bool, peer: Ucred | None) -> tuple[bytes, bool]:
    """scm_recv: the guest's control data (credentials if SO_PASSCRED, then the passed
    files installed as new descriptors, as many as fit and the table allows) and whether
    it was cut (MSG_CTRUNC). `peer` replaces the host's credentials (which are sysgate's
    for a guest sender)."""
    msgs = parse(host_control) if host_control else []
    out = bytearray()
    ctrunc = False
    for level, type_, data in msgs:
        if level == s.SOL_SOCKET and type_ == s.SCM_RIGHTS:
            files = _files_of(data, peek)
            if not has_control:
                ctrunc = True
                for f in files:
                    f.put()
                continue
            left = room - len(out)
            fdmax = min(max((left - CMSGHDR.size) // 4, 0) if left > CMSGHDR.size else 0, len(files))
            fds: list[int] = []
            for f in files[:fdmax]:
                try:
                    fds.append(t.files.add(f, t.group.nofile(), cloexec))
                except KernelError:
                    break
            for f in files:
                f.put()  # installed ones hold their own reference now
            if fds:
                length = cmsg_len(4 * len(fds))
                space = min(cmsg_space(4 * len(fds)), left)
                body = CMSGHDR.pack(length, s.SOL_SOCKET, s.SCM_RIGHTS) + struct.pack(f"<{len(fds)}i", *fds)
                out += (body + b"\0" * 8)[:space]
            if len(fds) < len(files) or (files and fdmax <= 0):
                ctrunc = True
        elif level == s.SOL_SOCKET and type_ == s.SCM_CREDENTIALS:
            if not has_control:
                ctrunc = True
                continue
            if peer is not None:
                if UCRED.unpack(data[: UCRED.size])[0] == os.getpid():
                    data = UCRED.pack(peer.pid, peer.uid, peer.gid)
            _, cut = put_cmsg(out, room - len(out), level, type_, data)
            ctrunc |= cut
        else:
            if not has_control:
                continue
            _, cut = put_cmsg(out, room - len(out), level, type_, data)
            ctrunc |= cut
    return bytes(out), ctrunc


def inet_recv_control(host_control: bytes, room: int) -> tuple[bytes, bool]:
    """IP-level control messages, copied with put_cmsg's truncation."""
    out = bytearray()
    ctrunc = False
    for level, type_, data in parse(host_control) if host_control else []:
        _, cut = put_cmsg(out, room - len(out), level, type_, data)
        ctrunc |= cut
    return bytes(out), ctrunc
