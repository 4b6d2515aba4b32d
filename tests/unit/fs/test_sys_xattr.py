"""The xattr family against the host: every call is made twice, by sysgate on files in the
task's cwd and by the host kernel on a copy of them, and the results (and the bytes a get
or list returns) must be equal. Then the checks Linux makes before the file system is
asked, in its order, and the kernel's own files (procfs), which have no attributes.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sysgate.kernel.task import Task
from sysgate.uapi import fcntl as o
from sysgate.uapi import xattr as x
from sysgate.uapi.errno import Errno
from tests.conftest import KERNEL_ADDR, UNMAPPED, USER_BUF, put_str, sys
from tests.unit.fs.conftest import OUT, as_nobody, long_name, needs_root, open_fd
from tests.unit.hostsys import host_sys, linux_only

pytestmark = linux_only

OUT_SIZE = 0x8000


class Out:
    """Where a get or list writes, `size` bytes (the same marker for both sides)."""

    def __init__(self, size: int) -> None:
        self.size = size


class Side:
    """One place the calls are made: the guest (sysgate) or the host kernel, each on its
    own tree of the same files."""

    def __init__(self, task: Task | None, root: Path) -> None:
        self.task = task
        self.root = root
        self.out = b""
        self._bufs: list[ctypes.Array[ctypes.c_char]] = []
        self._fds: list[int] = []
        self._rootfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._fds.append(self._rootfd)

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)

    def open(self, p: bytes, flags: int = o.O_RDONLY) -> int:
        if self.task is not None:
            return open_fd(self.task, p, flags)
        fd = os.open(p, flags | os.O_CLOEXEC, dir_fd=self._rootfd)
        self._fds.append(fd)
        return fd

    def call(self, name: str, *args: int | bytes | Out) -> int:
        """`name(args)`: bytes are NUL-terminated strings (names relative to the tree), an Out
        a buffer whose first bytes the call returns are kept in self.out."""
        raw: list[int] = []
        out: tuple[int, Out] | None = None
        for i, a in enumerate(args):
            if isinstance(a, bytes):
                raw.append(self._string(a, i))
            elif isinstance(a, Out):
                addr = OUT if self.task is not None else self._buffer(OUT_SIZE)
                out = (addr, a)
                raw.append(addr)
            else:
                raw.append(a)
        if self.task is not None:
            ret = sys(self.task, name, *raw)
        else:
            # Relative names from the tree, as the guest's from its cwd: the directories
            # above it (pytest's, mode 0700) play no part when the ids change.
            cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.fchdir(self._rootfd)
                ret = host_sys(name, *raw)
            finally:
                os.fchdir(cwd)
                os.close(cwd)
        self.out = b""
        if out is not None and ret > 0:
            addr, _ = out
            self.out = self.task.mm.read(addr, ret) if self.task is not None else ctypes.string_at(addr, ret)
        return ret

    def _string(self, s: bytes, slot: int) -> int:
        if self.task is not None:
            return put_str(self.task, s, USER_BUF + slot * 0x1000)
        return self._buffer(s + b"\0")

    def _buffer(self, data: bytes | int) -> int:
        size = data if isinstance(data, int) else len(data)
        buf = ctypes.create_string_buffer(size)
        if isinstance(data, bytes):
            buf.raw = data
        self._bufs.append(buf)
        return ctypes.addressof(buf)


def make_tree(root: Path) -> None:
    root.mkdir(exist_ok=True)
    (root / "f").write_bytes(b"data")
    (root / "f").chmod(0o644)
    (root / "d").mkdir()
    (root / "l").symlink_to("f")
    (root / "dangling").symlink_to("missing")
    (root / "secret").write_bytes(b"")
    (root / "secret").chmod(0o600)


@pytest.fixture
def sides(task: Task, tmp_path: Path) -> Iterator[tuple[Side, Side]]:
    make_tree(tmp_path)
    host = tmp_path / "host"
    make_tree(host)
    if not supports_user_xattrs(host / "f"):
        pytest.skip("the file system of the tests has no user extended attributes")
    guest_side, host_side = Side(task, tmp_path), Side(None, host)
    yield guest_side, host_side
    host_side.close()


def supports_user_xattrs(p: Path) -> bool:
    try:
        os.setxattr(p, "user.probe", b"1")
        os.removexattr(p, "user.probe")
    except OSError:
        return False
    return True


def same(sides: tuple[Side, Side], name: str, *args: int | bytes | Out) -> int:
    """Make the call on both sides; they must agree on the result and the bytes returned."""
    guest, host = sides
    ours = guest.call(name, *args)
    theirs = host.call(name, *args)
    assert (ours, guest.out) == (theirs, host.out), f"{name}{args}: sysgate {ours} {guest.out!r}, host {theirs}"
    return ours


NAME_255 = b"user." + b"n" * 250
NAME_256 = NAME_255 + b"n"

SET_GET_LIST = [
    ("setxattr", b"f", b"user.a", b"hello\0", 6, 0),
    ("setxattr", b"f", b"user.a", b"x", 1, x.XATTR_CREATE),  # EEXIST
    ("setxattr", b"f", b"user.b", b"x", 1, x.XATTR_REPLACE),  # ENODATA
    ("setxattr", b"f", b"user.b", b"bin\1\2", 5, x.XATTR_CREATE),
    ("setxattr", b"f", b"user.e", 0, 0, 0),  # an empty value: no value is read
    ("setxattr", b"f", b"user.a", b"x", 1, 4),  # EINVAL: unknown flags
    ("setxattr", b"f", b"", b"x", 1, 0),  # ERANGE: empty name
    ("setxattr", b"f", NAME_256, b"x", 1, 0),  # ERANGE: no NUL within 256 bytes
    ("setxattr", b"f", NAME_255, b"long", 4, 0),
    ("setxattr", b"f", b"user.", b"x", 1, 0),  # EINVAL from the file system: empty suffix
    ("setxattr", b"f", b"nope.x", b"x", 1, 0),  # EOPNOTSUPP: unknown namespace
    ("setxattr", b"f", b"user.big", b"x", x.XATTR_SIZE_MAX + 1, 0),  # E2BIG before the value is read
    ("setxattr", b"d", b"user.dir", b"on a directory", 14, 0),
    ("setxattr", b"l", b"user.via", b"followed", 8, 0),
    ("lsetxattr", b"l", b"user.link", b"x", 1, 0),  # EPERM: user attributes on a symlink
    ("setxattr", b"missing", b"user.a", b"x", 1, 0),  # ENOENT
    ("setxattr", b"f/x", b"user.a", b"x", 1, 0),  # ENOTDIR
    ("setxattr", b"dangling", b"user.a", b"x", 1, 0),  # ENOENT: followed
    ("getxattr", b"f", b"user.a", Out(64), 64),
    ("getxattr", b"f", b"user.a", 0, 0),  # the size only
    ("getxattr", b"f", b"user.a", Out(2), 2),  # ERANGE
    ("getxattr", b"f", b"user.a", Out(1 << 20), 1 << 20),  # cut to XATTR_SIZE_MAX
    ("getxattr", b"f", b"user.e", Out(8), 8),
    ("getxattr", b"f", b"user.e", 0, 8),  # empty value: nothing is written through NULL
    ("getxattr", b"f", NAME_255, Out(8), 8),
    ("getxattr", b"f", b"user.none", Out(8), 8),  # ENODATA
    ("getxattr", b"f", b"", Out(8), 8),  # ERANGE
    ("getxattr", b"f", b"security.selinux", Out(64), 64),
    ("getxattr", b"f", b"system.posix_acl_access", 0, 0),
    ("getxattr", b"l", b"user.a", Out(64), 64),  # through the link
    ("lgetxattr", b"l", b"user.a", Out(64), 64),  # the link's own: ENODATA
    ("getxattr", b"d", b"user.dir", Out(64), 64),
    ("getxattr", b"dangling", b"user.a", Out(8), 8),
    ("lgetxattr", b"dangling", b"user.a", Out(8), 8),
    ("getxattr", b"missing", b"user.a", Out(8), 8),
    ("listxattr", b"f", Out(4096), 4096),
    ("listxattr", b"f", 0, 0),
    ("listxattr", b"f", Out(3), 3),  # ERANGE
    ("listxattr", b"l", Out(4096), 4096),
    ("llistxattr", b"l", Out(4096), 4096),
    ("llistxattr", b"dangling", Out(4096), 4096),
    ("listxattr", b"dangling", Out(4096), 4096),
    ("listxattr", b"d", Out(1 << 20), 1 << 20),
    ("removexattr", b"f", b"user.b"),
    ("removexattr", b"f", b"user.b"),  # ENODATA
    ("removexattr", b"f", b""),  # ERANGE
    ("lremovexattr", b"l", b"user.a"),  # EPERM
    ("removexattr", b"l", b"user.via"),
    ("removexattr", b"missing", b"user.a"),
    ("listxattr", b"f", Out(4096), 4096),
]


def test_path_calls_match_the_host(sides: tuple[Side, Side]) -> None:
    results = [same(sides, *call) for call in SET_GET_LIST]
    # The sequence went where it was meant to: successes and each errno above.
    for errno in (Errno.EEXIST, Errno.ENODATA, Errno.EINVAL, Errno.ERANGE, Errno.EOPNOTSUPP, Errno.E2BIG,
                  Errno.EPERM, Errno.ENOENT, Errno.ENOTDIR):
        assert -errno in results, errno.name
    assert results[SET_GET_LIST.index(("getxattr", b"f", b"user.a", 0, 0))] == 6


def test_descriptor_calls_match_the_host(sides: tuple[Side, Side]) -> None:
    guest, host = sides
    fds = [(side.open(b"f", o.O_RDONLY), side.open(b"d", o.O_RDONLY | o.O_DIRECTORY), side.open(b"f", o.O_PATH))
           for side in sides]
    for i in range(2):
        for name, *rest in [("fsetxattr", b"user.k", b"value", 5, 0),
                            ("fsetxattr", b"user.k", b"v", 1, x.XATTR_CREATE),
                            ("fsetxattr", b"", b"v", 1, 0),
                            ("fgetxattr", b"user.k", Out(64), 64),
                            ("fgetxattr", b"user.k", Out(1), 1),
                            ("fgetxattr", b"user.zz", Out(8), 8),
                            ("flistxattr", Out(4096), 4096),
                            ("flistxattr", 0, 0),
                            ("fremovexattr", b"user.k"),
                            ("fremovexattr", b"user.k")]:
            assert isinstance(name, str)
            ours = guest.call(name, fds[0][i], *rest)
            theirs = host.call(name, fds[1][i], *rest)
            assert (ours, guest.out) == (theirs, host.out), (name, rest, ours, theirs)
    # O_PATH descriptors do not count in Linux 6.12 (CLASS(fd); 6.13 lets the f*xattr calls
    # take them, so a newer host is no oracle here); neither do closed ones.
    for name, args in [("fgetxattr", (b"user.k", Out(8), 8)), ("fsetxattr", (b"user.k", b"v", 1, 0)),
                       ("flistxattr", (Out(8), 8)), ("fremovexattr", (b"user.k",))]:
        assert guest.call(name, fds[0][2], *args) == -Errno.EBADF, name
    assert guest.call("fsetxattr", 99, b"user.k", b"v", 1, 0) == -Errno.EBADF


def test_pipes_have_no_attributes(task: Task) -> None:
    assert sys(task, "pipe", OUT) == 0
    rfd = int.from_bytes(task.mm.read(OUT, 4), "little")
    name, value = put_str(task, "user.a"), OUT + 64
    r, w = os.pipe()
    host_name, host_value = ctypes.create_string_buffer(b"user.a"), ctypes.create_string_buffer(64)
    hn, hv = ctypes.addressof(host_name), ctypes.addressof(host_value)
    try:
        assert sys(task, "fgetxattr", rfd, name, value, 8) == host_sys("fgetxattr", r, hn, hv, 8) == -Errno.ENODATA
        assert sys(task, "fsetxattr", rfd, name, value, 1, 0) == host_sys("fsetxattr", r, hn, hv, 1, 0)
        assert sys(task, "flistxattr", rfd, value, 64) == host_sys("flistxattr", r, hv, 64)
        assert sys(task, "fremovexattr", rfd, name) == host_sys("fremovexattr", r, hn)
    finally:
        os.close(r)
        os.close(w)


# -- the order of the checks --------------------------------------------------------------


@pytest.mark.parametrize("bad", [KERNEL_ADDR, UNMAPPED])
def test_get_walks_the_path_before_it_reads_the_name(task: Task, tmp_path: Path, bad: int) -> None:
    (tmp_path / "f").write_bytes(b"")
    os.setxattr(tmp_path / "f", "user.a", b"value")
    assert sys(task, "getxattr", bad, put_str(task, "user.a"), OUT, 8) == -Errno.EFAULT
    assert sys(task, "getxattr", put_str(task, "missing"), bad, OUT, 8) == -Errno.ENOENT
    assert sys(task, "getxattr", put_str(task, "f"), bad, OUT, 8) == -Errno.EFAULT
    assert sys(task, "listxattr", put_str(task, "missing"), bad, 8) == -Errno.ENOENT


@pytest.mark.parametrize("bad", [KERNEL_ADDR, UNMAPPED])
def test_get_writes_the_value_last(task: Task, tmp_path: Path, bad: int) -> None:
    (tmp_path / "f").write_bytes(b"")
    os.setxattr(tmp_path / "f", "user.a", b"value")
    os.setxattr(tmp_path / "f", "user.e", b"")
    f = put_str(task, "f")
    assert sys(task, "getxattr", f, put_str(task, "user.a", USER_BUF + 0x100), bad, 8) == -Errno.EFAULT
    # Nothing to copy, nothing to fault on: a missing attribute, an empty one, a size query.
    assert sys(task, "getxattr", f, put_str(task, "user.x", USER_BUF + 0x100), bad, 8) == -Errno.ENODATA
    assert sys(task, "getxattr", f, put_str(task, "user.e", USER_BUF + 0x100), bad, 8) == 0
    assert sys(task, "getxattr", f, put_str(task, "user.a", USER_BUF + 0x100), bad, 0) == 5
    assert sys(task, "getxattr", f, put_str(task, "user.a", USER_BUF + 0x100), bad, 2) == -Errno.ERANGE
    assert sys(task, "listxattr", f, bad, 64) == -Errno.EFAULT
    assert sys(task, "listxattr", f, bad, 0) > 0


@pytest.mark.parametrize("bad", [KERNEL_ADDR, UNMAPPED])
def test_set_and_remove_read_the_name_and_value_before_the_path(task: Task, bad: int) -> None:
    missing = put_str(task, "missing")
    name = put_str(task, "user.a", USER_BUF + 0x100)
    value = put_str(task, "v", USER_BUF + 0x200)
    assert sys(task, "setxattr", missing, name, value, 1, 8) == -Errno.EINVAL
    assert sys(task, "setxattr", missing, bad, value, 1, 0) == -Errno.EFAULT
    assert sys(task, "setxattr", missing, name, bad, 1, 0) == -Errno.EFAULT
    assert sys(task, "setxattr", missing, name, bad, x.XATTR_SIZE_MAX + 1, 0) == -Errno.E2BIG
    assert sys(task, "setxattr", missing, name, bad, 0, 0) == -Errno.ENOENT  # size 0: not read
    assert sys(task, "setxattr", bad, name, value, 1, 0) == -Errno.EFAULT
    assert sys(task, "lsetxattr", missing, bad, value, 1, 0) == -Errno.EFAULT
    assert sys(task, "removexattr", missing, bad) == -Errno.EFAULT
    assert sys(task, "lremovexattr", missing, put_str(task, "", USER_BUF + 0x300)) == -Errno.ERANGE
    assert sys(task, "removexattr", bad, name) == -Errno.EFAULT


def test_path_names(task: Task) -> None:
    name = put_str(task, "user.a", USER_BUF + 0x100)
    assert sys(task, "getxattr", put_str(task, ""), name, OUT, 8) == -Errno.ENOENT
    assert sys(task, "lgetxattr", long_name(task), name, OUT, 8) == -Errno.ENAMETOOLONG
    assert sys(task, "listxattr", long_name(task), OUT, 8) == -Errno.ENAMETOOLONG


def test_descriptor_before_name(task: Task, tmp_path: Path) -> None:
    assert sys(task, "fsetxattr", 99, KERNEL_ADDR, OUT, 1, 0) == -Errno.EBADF
    assert sys(task, "fremovexattr", 99, KERNEL_ADDR) == -Errno.EBADF
    assert sys(task, "fgetxattr", 99, KERNEL_ADDR, OUT, 1) == -Errno.EBADF
    assert sys(task, "flistxattr", 99, KERNEL_ADDR, 1) == -Errno.EBADF
    (tmp_path / "f").write_bytes(b"")
    fd = open_fd(task, "f")
    assert sys(task, "fsetxattr", fd, put_str(task, "user.a"), OUT, 1, 4) == -Errno.EINVAL
    assert sys(task, "fsetxattr", fd, KERNEL_ADDR, OUT, 1, 0) == -Errno.EFAULT


# -- credentials -------------------------------------------------------------------------------


@needs_root
def test_permissions_match_the_host(sides: tuple[Side, Side]) -> None:
    calls = [("setxattr", b"f", b"trusted.t", b"v", 1, 0),
             ("getxattr", b"f", b"trusted.t", Out(8), 8),
             ("setxattr", b"secret", b"user.s", b"v", 1, 0),
             ("listxattr", b"f", Out(256), 256)]
    for call in calls:
        same(sides, *call)  # as root
    guest, _ = sides
    assert guest.task is not None
    guest.root.chmod(0o755)
    with as_nobody(guest.task):
        for call in [*calls, ("getxattr", b"secret", b"user.s", Out(8), 8),
                     ("removexattr", b"f", b"trusted.t"), ("setxattr", b"f", b"user.n", b"v", 1, 0)]:
            same(sides, *call)


# -- the kernel's own files ------------------------------------------------------------------------

PROC_CALLS = [
    ("getxattr", b"/proc/self/maps", b"user.a", Out(8), 8),
    ("getxattr", b"/proc/self/maps", b"security.selinux", Out(8), 8),
    ("getxattr", b"/proc/self/maps", b"system.posix_acl_access", Out(8), 8),
    ("getxattr", b"/proc/self", b"user.a", Out(8), 8),
    ("lgetxattr", b"/proc/self/exe", b"user.a", Out(8), 8),  # a link: ENODATA
    ("lgetxattr", b"/proc/self/exe", b"trusted.a", Out(8), 8),
    ("listxattr", b"/proc/self/maps", Out(64), 64),
    ("llistxattr", b"/proc/self/exe", Out(64), 64),
    ("setxattr", b"/proc/self/maps", b"user.a", b"v", 1, 0),
    ("setxattr", b"/proc/self/maps", b"security.x", b"v", 1, 0),
    ("lsetxattr", b"/proc/self/exe", b"user.a", b"v", 1, 0),  # EPERM
    ("lremovexattr", b"/proc/self/exe", b"trusted.a"),
    ("removexattr", b"/proc/self/maps", b"user.a"),
]


@pytest.mark.parametrize("call", PROC_CALLS, ids=lambda c: f"{c[0]}-{c[1].decode()}-{c[2]!r}")
def test_procfs_has_no_attributes(sides: tuple[Side, Side], call: tuple[int | bytes | Out, ...]) -> None:
    name, *args = call
    assert isinstance(name, str)
    same(sides, name, *args)


def test_procfs_follows_to_host_files(task: Task, tmp_path: Path) -> None:
    """getxattr of /proc/self/exe or /proc/self/fd/N is that of the file the link leads to."""
    (tmp_path / "f").write_bytes(b"")
    os.setxattr(tmp_path / "f", "user.a", b"through")
    fd = open_fd(task, "f")
    n = sys(task, "getxattr", put_str(task, f"/proc/self/fd/{fd}"), put_str(task, "user.a", USER_BUF + 0x100),
            OUT, 64)
    assert (n, task.mm.read(OUT, 7)) == (7, b"through")
    assert sys(task, "lgetxattr", put_str(task, f"/proc/self/fd/{fd}"), put_str(task, "user.a", USER_BUF + 0x100),
               OUT, 64) == -Errno.ENODATA
