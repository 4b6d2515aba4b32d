"""The kernel's /dev inside a root folder: drivers/char/mem.c's devices, random.c's, and
the /dev nodes (devtmpfs), each checked against what Linux (the host) gives."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from sysgate.drivers import devtmpfs
from sysgate.drivers.mem import POOL_READY_BITS, RNDADDTOENTCNT, RNDGETENTCNT
from sysgate.uapi import fcntl as o
from sysgate.uapi.errno import Errno
from tests.unit.fs.rootfixture import OUT, Confined, confined_task

DEVICES = [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)]


def open_dev(c: Confined, name: str, flags: int = o.O_RDWR) -> int:
    fd = c.call("openat", o.AT_FDCWD, f"/dev/{name}", flags, 0)
    assert fd >= 0, (name, fd)
    return fd


@pytest.mark.parametrize("name, major, minor", DEVICES)
def test_nodes_are_character_devices_like_linuxs(box: Confined, name: str, major: int, minor: int) -> None:
    assert box.call("stat", f"/dev/{name}", OUT) == 0
    st = box.t.mm.read(OUT, 144)
    mode = int.from_bytes(st[24:28], "little")
    rdev = int.from_bytes(st[40:48], "little")
    assert mode == stat.S_IFCHR | 0o666
    assert (os.major(rdev), os.minor(rdev)) == (major, minor)
    if os.path.exists(f"/dev/{name}") and name != "null":  # the host's own (its /dev/null may be odd)
        host = os.stat(f"/dev/{name}")
        assert host.st_rdev == rdev and stat.S_IMODE(host.st_mode) == 0o666


def test_the_nodes_exist_when_the_folders_dev_is_empty_and_are_listed(box: Confined) -> None:
    (box.root / "dev/shm").mkdir()
    (box.root / "dev/null").write_text("a file the folder had")
    fd = box.call("openat", o.AT_FDCWD, "/dev", o.O_RDONLY | o.O_DIRECTORY, 0)
    n = box.call("getdents64", fd, OUT, 4096)
    assert n > 0
    names = set()
    data, off = box.t.mm.read(OUT, n), 0
    while off < n:
        reclen = int.from_bytes(data[off + 16:off + 18], "little")
        names.add(data[off + 19:off + reclen].split(b"\0")[0])
        off += reclen
    assert names == {b".", b"..", b"shm"} | set(devtmpfs.NODES)
    assert box.read("/dev/null") == b""  # the kernel's, not the folder's file


def test_a_folder_without_dev_gets_the_kernels(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    t = confined_task(root)
    c = Confined(t, root, tmp_path)
    try:
        assert c.read("/dev/zero")[:4] == bytes(4)  # type: ignore[index]
        assert c.readlink("/dev/stdout") == b"/proc/self/fd/1"
        assert c.call("chdir", "/dev") == 0
        assert c.read("null") == b""
        assert c.call("chdir", "..") == 0
        assert c.getcwd() == b"/"
        assert c.call("mkdir", "/dev/x", 0o755) == -Errno.EACCES
        assert c.call("openat", o.AT_FDCWD, "/dev", o.O_WRONLY, 0) == -Errno.EISDIR
    finally:
        t.kernel.shutdown()


def test_null(box: Confined) -> None:
    fd = open_dev(box, "null")
    assert box.call("write", fd, OUT, 100) == 100
    assert box.call("read", fd, OUT, 100) == 0
    assert box.call("pwrite64", fd, OUT, 10, 1000) == 10
    assert box.call("lseek", fd, 123, 0) == 0  # null_lseek
    assert box.call("ioctl", fd, 0x541B, OUT) == -Errno.ENOTTY  # FIONREAD


def test_zero(box: Confined) -> None:
    fd = open_dev(box, "zero")
    box.t.mm.write(OUT, b"\xff" * 64)
    assert box.call("read", fd, OUT, 64) == 64
    assert box.t.mm.read(OUT, 64) == bytes(64)
    assert box.call("write", fd, OUT, 64) == 64
    assert box.call("lseek", fd, 5, 1) == 0


def test_full(box: Confined) -> None:
    fd = open_dev(box, "full")
    assert box.call("write", fd, OUT, 1) == -Errno.ENOSPC
    assert box.call("read", fd, OUT, 8) == 8
    assert box.t.mm.read(OUT, 8) == bytes(8)
    host = os.open("/dev/full", os.O_WRONLY)
    try:
        with pytest.raises(OSError) as exc:
            os.write(host, b"x")
        assert exc.value.errno == errno.ENOSPC
    finally:
        os.close(host)


@pytest.mark.parametrize("name", ["random", "urandom"])
def test_random(box: Confined, name: str) -> None:
    fd = open_dev(box, name)
    assert box.call("read", fd, OUT, 32) == 32
    first = box.t.mm.read(OUT, 32)
    assert box.call("read", fd, OUT, 32) == 32
    assert box.t.mm.read(OUT, 32) != first
    assert box.call("write", fd, OUT, 16) == 16
    assert box.call("ioctl", fd, RNDGETENTCNT, OUT) == 0
    assert int.from_bytes(box.t.mm.read(OUT, 4), "little") == POOL_READY_BITS
    assert box.call("ioctl", fd, 0x5401, OUT) == -Errno.EINVAL  # random_ioctl's default
    box.t.mm.write(OUT, (-1).to_bytes(4, "little", signed=True))
    assert box.call("ioctl", fd, RNDADDTOENTCNT, OUT) == (-Errno.EINVAL if os.geteuid() == 0 else -Errno.EPERM)


def test_rwf_nowait(box: Confined) -> None:
    """FMODE_NOWAIT: null, zero, random and urandom have it; full does not."""
    iov = OUT + 0x100
    box.t.mm.write(iov, OUT.to_bytes(8, "little") + (8).to_bytes(8, "little"))
    for name, ok in (("null", True), ("zero", True), ("urandom", True), ("full", False)):
        fd = open_dev(box, name)
        got = box.call("preadv2", fd, iov, 1, 0xFFFFFFFFFFFFFFFF, 0, 0x8)
        assert (got >= 0) == ok, (name, got)
        assert got >= 0 or got == -Errno.EOPNOTSUPP


def test_tty_is_the_controlling_terminal_or_enxio(box: Confined) -> None:
    try:
        os.close(os.open("/dev/tty", os.O_RDWR))
        expected = None
    except OSError as exc:
        expected = exc.errno
    fd = box.call("openat", o.AT_FDCWD, "/dev/tty", o.O_RDWR, 0)
    if expected is None:
        assert fd >= 0
    else:
        assert fd == -expected == -Errno.ENXIO


def test_stdio_links_lead_to_the_tasks_descriptors(box: Confined) -> None:
    assert box.readlink("/dev/stdin") == b"/proc/self/fd/0"
    assert box.readlink("/dev/fd") == b"/proc/self/fd"
    assert box.call("lstat", "/dev/stderr", OUT) == 0
    fd = box.call("openat", o.AT_FDCWD, "/dev/stdout", o.O_WRONLY, 0)
    assert fd >= 0
    assert box.call("write", fd, OUT, 3) == 3
    f = box.call("openat", o.AT_FDCWD, "/etc/passwd", o.O_RDONLY, 0)
    assert box.read(f"/dev/fd/{f}") == b"inside\n"


def test_open_flags_on_devices(box: Confined) -> None:
    assert box.call("openat", o.AT_FDCWD, "/dev/null", o.O_RDONLY | o.O_DIRECTORY, 0) == -Errno.ENOTDIR
    assert box.call("openat", o.AT_FDCWD, "/dev/null", o.O_WRONLY | o.O_CREAT | o.O_EXCL, 0o644) == -Errno.EEXIST
    assert box.call("openat", o.AT_FDCWD, "/dev/null", o.O_WRONLY | o.O_CREAT | o.O_TRUNC, 0o644) >= 0
    assert box.call("openat", o.AT_FDCWD, "/dev/stdin", o.O_RDONLY | o.O_NOFOLLOW, 0) == -Errno.ELOOP
    path = box.call("openat", o.AT_FDCWD, "/dev/zero", o.O_PATH, 0)
    assert box.call("read", path, OUT, 1) == -Errno.EBADF
    assert box.call("access", "/dev/null", 6) == 0
    assert box.call("access", "/dev/null", 1) == -Errno.EACCES


def test_statfs_of_dev_is_tmpfs(box: Confined) -> None:
    assert box.call("statfs", "/dev/null", OUT) == 0
    assert int.from_bytes(box.t.mm.read(OUT, 8), "little") == devtmpfs.TMPFS_MAGIC


def test_mmap_of_dev_zero_is_anonymous(box: Confined) -> None:
    from sysgate.uapi.mman import MAP_PRIVATE, PROT_READ, PROT_WRITE

    fd = open_dev(box, "zero")
    addr = box.call("mmap", 0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
    assert addr > 0
    assert box.t.mm.read(addr, 16) == bytes(16)
