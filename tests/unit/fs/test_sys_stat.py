"""stat, lstat, fstat, newfstatat, statx, readlink, readlinkat, access, faccessat, faccessat2
(fs/stat.c, fs/open.c). The host's own answer for the same file is the oracle."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
from pathlib import Path

import pytest

from sysgate.kernel.task import Task
from sysgate.uapi import fcntl as o
from sysgate.uapi import stat as ls
from sysgate.uapi.errno import Errno
from tests.conftest import EDGE, KERNEL_ADDR, RO_PAGE, UNMAPPED, USER_BUF, sys
from tests.unit.fs.conftest import as_nobody, host_rc, long_name, name, needs_root, open_fd
from tests.unit.hostsys import addr, cbuf, host_sys, linux_only

AT = o.AT_FDCWD
OUT = USER_BUF + 0x8000
STAT = struct.Struct("<QQQIIIIQqqqQQQQQQ24x")
STATX_HEAD = struct.Struct("<IIQIIIH2xQQQQ")
BAD = (KERNEL_ADDR, UNMAPPED, RO_PAGE, EDGE + 0x1000 - 64)
BAD_NAME = (KERNEL_ADDR, UNMAPPED)


def unpack_stat(t: Task) -> dict[str, int]:
    (dev, ino, nlink, mode, uid, gid, _, rdev, size, blksize, blocks,
     asec, ansec, msec, mnsec, csec, cnsec) = STAT.unpack(t.mm.read(OUT, STAT.size))
    return {"dev": dev, "ino": ino, "nlink": nlink, "mode": mode, "uid": uid, "gid": gid, "rdev": rdev,
            "size": size, "blksize": blksize, "blocks": blocks, "mtime": msec * 10**9 + mnsec,
            "ctime": csec * 10**9 + cnsec, "atime": asec * 10**9 + ansec}


def host_stat(st: os.stat_result) -> dict[str, int]:
    return {"dev": st.st_dev, "ino": st.st_ino, "nlink": st.st_nlink, "mode": st.st_mode, "uid": st.st_uid,
            "gid": st.st_gid, "rdev": st.st_rdev, "size": st.st_size, "blksize": st.st_blksize,
            "blocks": st.st_blocks, "mtime": st.st_mtime_ns, "ctime": st.st_ctime_ns, "atime": st.st_atime_ns}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "f").write_bytes(b"x" * 5000)
    (tmp_path / "d").mkdir()
    (tmp_path / "link").symlink_to("f")
    (tmp_path / "dangling").symlink_to("nowhere")
    os.mkfifo(tmp_path / "fifo")
    return tmp_path


# -- stat, lstat, fstat, newfstatat ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["f", "d", "link", "fifo", "/dev/null", "/"])
def test_stat_matches_host(task: Task, tree: Path, path: str) -> None:
    assert sys(task, "stat", name(task, path), OUT) == 0
    assert unpack_stat(task) == host_stat(os.stat(tree / path))


@pytest.mark.parametrize("path", ["f", "link", "dangling", "d"])
def test_lstat_matches_host(task: Task, tree: Path, path: str) -> None:
    assert sys(task, "lstat", name(task, path), OUT) == 0
    assert unpack_stat(task) == host_stat(os.lstat(tree / path))


def test_fstat_matches_host(task: Task, tree: Path) -> None:
    fd = open_fd(task, "f")
    assert sys(task, "fstat", fd, OUT) == 0
    assert unpack_stat(task) == host_stat(os.stat(tree / "f"))
    assert sys(task, "fstat", 0, OUT) == 0  # /dev/null
    assert unpack_stat(task)["rdev"] == os.stat("/dev/null").st_rdev
    path = open_fd(task, "link", o.O_PATH | o.O_NOFOLLOW)
    assert sys(task, "fstat", path, OUT) == 0  # O_PATH descriptors will do
    assert unpack_stat(task) == host_stat(os.lstat(tree / "link"))


def test_newfstatat(task: Task, tree: Path) -> None:
    dfd = open_fd(task, "d", o.O_RDONLY | o.O_DIRECTORY)
    (tree / "d" / "g").write_bytes(b"gg")
    assert sys(task, "newfstatat", dfd, name(task, "g"), OUT, 0) == 0
    assert unpack_stat(task) == host_stat(os.stat(tree / "d" / "g"))
    assert sys(task, "newfstatat", AT, name(task, "link"), OUT, o.AT_SYMLINK_NOFOLLOW) == 0
    assert unpack_stat(task) == host_stat(os.lstat(tree / "link"))
    assert sys(task, "newfstatat", AT, name(task, "link"), OUT, o.AT_NO_AUTOMOUNT) == 0
    assert unpack_stat(task) == host_stat(os.stat(tree / "f"))


def test_newfstatat_empty_path(task: Task, tree: Path) -> None:
    fd = open_fd(task, "f")
    assert sys(task, "newfstatat", fd, name(task, ""), OUT, o.AT_EMPTY_PATH) == 0
    assert unpack_stat(task) == host_stat(os.stat(tree / "f"))
    assert sys(task, "newfstatat", fd, 0, OUT, o.AT_EMPTY_PATH) == 0  # NULL means "" (6.11+)
    assert sys(task, "newfstatat", AT, name(task, ""), OUT, o.AT_EMPTY_PATH) == 0  # the cwd
    assert unpack_stat(task) == host_stat(os.stat(tree))
    assert sys(task, "newfstatat", fd, name(task, ""), OUT, 0) == -Errno.ENOENT
    assert sys(task, "newfstatat", 99, name(task, ""), OUT, o.AT_EMPTY_PATH) == -Errno.EBADF
    assert sys(task, "newfstatat", fd, 0, OUT, 0) == -Errno.EFAULT


def test_stat_errors(task: Task, tree: Path) -> None:
    assert sys(task, "stat", name(task, "missing"), OUT) == -Errno.ENOENT
    assert sys(task, "stat", name(task, "dangling"), OUT) == -Errno.ENOENT
    assert sys(task, "stat", name(task, "f/x"), OUT) == -Errno.ENOTDIR
    assert sys(task, "stat", name(task, ""), OUT) == -Errno.ENOENT
    assert sys(task, "stat", long_name(task), OUT) == -Errno.ENAMETOOLONG
    assert sys(task, "fstat", 99, OUT) == -Errno.EBADF
    fd = open_fd(task, "f")
    assert sys(task, "newfstatat", fd, name(task, "x"), OUT, 0) == -Errno.ENOTDIR
    assert sys(task, "newfstatat", 99, name(task, "x"), OUT, 0) == -Errno.EBADF
    assert sys(task, "newfstatat", 99, name(task, "/"), OUT, 0) == 0  # absolute: dfd unused


@pytest.mark.parametrize("flags", [1, 0x200, 0x8000, 0x10000])
def test_newfstatat_flags_before_the_name(task: Task, tree: Path, flags: int) -> None:
    assert sys(task, "newfstatat", AT, name(task, "f"), OUT, flags) == -Errno.EINVAL
    assert sys(task, "newfstatat", AT, UNMAPPED, OUT, flags) == -Errno.EINVAL


@pytest.mark.parametrize("bad", BAD)
def test_stat_buffer_efault(task: Task, tree: Path, bad: int) -> None:
    assert sys(task, "stat", name(task, "f"), bad) == -Errno.EFAULT
    assert sys(task, "lstat", name(task, "f"), bad) == -Errno.EFAULT
    assert sys(task, "fstat", 0, bad) == -Errno.EFAULT
    assert sys(task, "newfstatat", AT, name(task, "f"), bad, 0) == -Errno.EFAULT


@pytest.mark.parametrize("bad", BAD_NAME)
def test_stat_name_efault(task: Task, tree: Path, bad: int) -> None:
    assert sys(task, "stat", bad, OUT) == -Errno.EFAULT
    assert sys(task, "lstat", bad, OUT) == -Errno.EFAULT
    assert sys(task, "newfstatat", AT, bad, OUT, 0) == -Errno.EFAULT
    assert sys(task, "stat", bad, KERNEL_ADDR) == -Errno.EFAULT


# -- statx --------------------------------------------------------------------------------------

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def host_statx(dirfd: int, path: bytes, flags: int, mask: int) -> bytes:
    buf = ctypes.create_string_buffer(256)
    assert _libc.statx(dirfd, path, flags, mask, buf) == 0, os.strerror(ctypes.get_errno())
    return buf.raw


def statx_fields(raw: bytes) -> dict[str, int]:
    mask, blksize, attrs, nlink, uid, gid, mode, ino, size, blocks, attrs_mask = STATX_HEAD.unpack_from(raw)
    rdev_major, rdev_minor, dev_major, dev_minor, mnt_id = struct.unpack_from("<IIIIQ", raw, 0x80)
    mtime = struct.unpack_from("<qI", raw, 0x70)
    return {"mask": mask, "blksize": blksize, "attrs": attrs, "nlink": nlink, "uid": uid, "gid": gid,
            "mode": mode, "ino": ino, "size": size, "blocks": blocks, "attrs_mask": attrs_mask,
            "rdev": (rdev_major, rdev_minor), "dev": (dev_major, dev_minor), "mnt_id": mnt_id, "mtime": mtime}


@linux_only
@pytest.mark.parametrize("path, flags", [("f", 0), ("link", 0), ("link", o.AT_SYMLINK_NOFOLLOW), ("d", 0),
                                         ("/dev/null", 0), ("fifo", o.AT_STATX_DONT_SYNC)])
@pytest.mark.parametrize("mask", [ls.STATX_BASIC_STATS, ls.STATX_TYPE, ls.STATX_BASIC_STATS | ls.STATX_BTIME,
                                  0x7FFFFFFF])
def test_statx_matches_host(task: Task, tree: Path, path: str, flags: int, mask: int) -> None:
    assert sys(task, "statx", AT, name(task, path), flags, mask, OUT) == 0
    host = host_statx(-100, os.fsencode(tree / path), flags, mask)
    assert statx_fields(task.mm.read(OUT, 256)) == statx_fields(host)


@linux_only
def test_statx_empty_path(task: Task, tree: Path) -> None:
    fd = open_fd(task, "f")
    host = host_statx(-100, os.fsencode(tree / "f"), 0, ls.STATX_BASIC_STATS)
    for filename, flags in ((name(task, ""), o.AT_EMPTY_PATH), (0, o.AT_EMPTY_PATH),
                            (name(task, ""), o.AT_EMPTY_PATH | o.AT_NO_AUTOMOUNT)):
        task.mm.write(OUT, bytes(256))
        assert sys(task, "statx", fd, filename, flags, ls.STATX_BASIC_STATS, OUT) == 0
        assert statx_fields(task.mm.read(OUT, 256)) == statx_fields(host)
    assert sys(task, "statx", fd, name(task, ""), 0, ls.STATX_BASIC_STATS, OUT) == -Errno.ENOENT
    assert sys(task, "statx", AT, name(task, ""), o.AT_EMPTY_PATH, ls.STATX_TYPE, OUT) == 0  # the cwd
    assert statx_fields(task.mm.read(OUT, 256))["ino"] == os.stat(tree).st_ino


def test_statx_errors(task: Task, tree: Path) -> None:
    f = name(task, "f")
    assert sys(task, "statx", AT, f, 0, ls.STATX__RESERVED, OUT) == -Errno.EINVAL
    assert sys(task, "statx", AT, UNMAPPED, 0, ls.STATX__RESERVED, OUT) == -Errno.EINVAL  # before the name
    assert sys(task, "statx", AT, f, o.AT_STATX_SYNC_TYPE, ls.STATX_BASIC_STATS, OUT) == -Errno.EINVAL
    assert sys(task, "statx", AT, f, 0x10000, ls.STATX_BASIC_STATS, OUT) == -Errno.EINVAL
    assert sys(task, "statx", AT, UNMAPPED, 0x10000, ls.STATX_BASIC_STATS, OUT) == -Errno.EINVAL
    assert sys(task, "statx", AT, name(task, "missing"), 0, ls.STATX_BASIC_STATS, OUT) == -Errno.ENOENT
    assert sys(task, "statx", 99, name(task, "f"), 0, ls.STATX_BASIC_STATS, OUT) == -Errno.EBADF
    assert sys(task, "statx", 99, 0, o.AT_EMPTY_PATH, ls.STATX_BASIC_STATS, OUT) == -Errno.EBADF
    for bad in BAD_NAME:
        assert sys(task, "statx", AT, bad, 0, ls.STATX_BASIC_STATS, OUT) == -Errno.EFAULT
    for bad in BAD:
        assert sys(task, "statx", AT, name(task, "f"), 0, ls.STATX_BASIC_STATS, bad) == -Errno.EFAULT


# -- readlink, readlinkat -----------------------------------------------------------------------


def test_readlink(task: Task, tree: Path) -> None:
    task.mm.write(OUT, b"\xff" * 16)
    assert sys(task, "readlink", name(task, "link"), OUT, 64) == 1
    assert task.mm.read(OUT, 2) == b"f\xff"  # no NUL is added
    assert sys(task, "readlink", name(task, "dangling"), OUT, 64) == 7
    assert task.mm.read(OUT, 7) == b"nowhere"
    assert sys(task, "readlink", name(task, "dangling"), OUT, 3) == 3  # truncated
    assert task.mm.read(OUT, 8) == b"nowhere\xff"[:3] + b"here\xff"
    assert sys(task, "readlink", name(task, "dangling"), EDGE + 0x1000 - 7, 7) == 7


def test_readlinkat(task: Task, tree: Path) -> None:
    (tree / "d" / "l2").symlink_to("../f")
    dfd = open_fd(task, "d", o.O_RDONLY | o.O_DIRECTORY)
    assert sys(task, "readlinkat", dfd, name(task, "l2"), OUT, 64) == 4
    assert task.mm.read(OUT, 4) == b"../f"
    assert sys(task, "readlinkat", AT, name(task, "link"), OUT, 64) == 1
    assert sys(task, "readlinkat", 99, name(task, "l2"), OUT, 64) == -Errno.EBADF


def test_readlinkat_empty_path_reads_the_link_behind_the_descriptor(task: Task, tree: Path) -> None:
    """do_readlinkat looks up with LOOKUP_EMPTY: "" means the O_PATH|O_NOFOLLOW fd's own link."""
    fd = open_fd(task, "dangling", o.O_PATH | o.O_NOFOLLOW)
    assert sys(task, "readlinkat", fd, name(task, ""), OUT, 64) == 7
    assert task.mm.read(OUT, 7) == b"nowhere"
    dfd = open_fd(task, "d", o.O_PATH)
    assert sys(task, "readlinkat", dfd, name(task, ""), OUT, 64) == -Errno.ENOENT  # not a link: ENOENT
    assert sys(task, "readlink", name(task, ""), OUT, 64) == -Errno.ENOENT


@linux_only
def test_readlinkat_empty_path_matches_host(tree: Path) -> None:
    fd = os.open(tree / "dangling", os.O_PATH | os.O_NOFOLLOW)
    dfd = os.open(tree / "d", os.O_PATH)
    empty, buf = cbuf(b"\0"), cbuf(64)
    try:
        assert host_sys("readlinkat", fd, addr(empty), addr(buf), 64) == 7
        assert host_sys("readlinkat", dfd, addr(empty), addr(buf), 64) == -Errno.ENOENT
    finally:
        os.close(fd)
        os.close(dfd)


def test_readlink_errors(task: Task, tree: Path) -> None:
    for size in (0, -1, -(1 << 31)):
        assert sys(task, "readlink", name(task, "link"), OUT, size) == -Errno.EINVAL
        assert sys(task, "readlink", UNMAPPED, KERNEL_ADDR, size) == -Errno.EINVAL  # bufsiz first
    assert sys(task, "readlink", name(task, "f"), OUT, 64) == -Errno.EINVAL  # not a link
    assert sys(task, "readlink", name(task, "d"), OUT, 64) == -Errno.EINVAL
    assert sys(task, "readlink", name(task, "missing"), OUT, 64) == -Errno.ENOENT
    for bad in BAD_NAME:
        assert sys(task, "readlink", bad, OUT, 64) == -Errno.EFAULT
    for bad in (KERNEL_ADDR, UNMAPPED, RO_PAGE, EDGE + 0x1000 - 6):
        assert sys(task, "readlink", name(task, "dangling"), bad, 64) == -Errno.EFAULT


@linux_only
def test_readlink_matches_host(task: Task, tree: Path) -> None:
    buf = cbuf(64)
    for path, size in (("link", 64), ("dangling", 3), ("f", 64), ("missing", 64), ("link", 0)):
        p = cbuf(os.fsencode(tree / path) + b"\0")
        assert sys(task, "readlink", name(task, str(tree / path)), OUT, size) == \
            host_sys("readlink", addr(p), addr(buf), size)


# -- access, faccessat, faccessat2 ----------------------------------------------------------------


def test_access(task: Task, tree: Path) -> None:
    assert sys(task, "access", name(task, "f"), o.F_OK) == 0
    assert sys(task, "access", name(task, "f"), o.R_OK | o.W_OK) == 0
    assert sys(task, "access", name(task, "missing"), o.F_OK) == -Errno.ENOENT
    assert sys(task, "access", name(task, "dangling"), o.F_OK) == -Errno.ENOENT
    assert sys(task, "access", name(task, "f/x"), o.F_OK) == -Errno.ENOTDIR
    assert sys(task, "access", name(task, ""), o.F_OK) == -Errno.ENOENT


@needs_root
def test_access_as_root(task: Task, tree: Path) -> None:
    """Root may read and write anything, but execute only what has an x bit."""
    (tree / "f").chmod(0)
    assert sys(task, "access", name(task, "f"), o.R_OK | o.W_OK) == 0
    assert sys(task, "access", name(task, "f"), o.X_OK) == -Errno.EACCES
    assert sys(task, "access", name(task, "d"), o.X_OK) == 0


@needs_root
def test_access_checks_the_real_ids_unless_at_eaccess(task: Task, tree: Path) -> None:
    """access() uses the real ids (root here); AT_EACCESS the effective ones (nobody)."""
    (tree / "f").chmod(0o604)
    tree.chmod(0o755)
    with as_nobody(task):
        assert sys(task, "access", name(task, "f"), o.W_OK) == 0
        assert sys(task, "faccessat2", AT, name(task, "f"), o.R_OK, o.AT_EACCESS) == 0
        assert sys(task, "faccessat2", AT, name(task, "f"), o.W_OK, o.AT_EACCESS) == -Errno.EACCES


@pytest.mark.parametrize("mode", [8, 0x10, -1])
def test_access_bad_mode_before_the_name(task: Task, mode: int) -> None:
    assert sys(task, "access", UNMAPPED, mode) == -Errno.EINVAL
    assert sys(task, "faccessat", AT, UNMAPPED, mode) == -Errno.EINVAL
    assert sys(task, "faccessat2", AT, UNMAPPED, mode, 0) == -Errno.EINVAL


def test_faccessat(task: Task, tree: Path) -> None:
    (tree / "d" / "g").write_bytes(b"")
    dfd = open_fd(task, "d", o.O_RDONLY | o.O_DIRECTORY)
    assert sys(task, "faccessat", dfd, name(task, "g"), o.R_OK) == 0
    assert sys(task, "faccessat", 99, name(task, "g"), o.R_OK) == -Errno.EBADF
    assert sys(task, "faccessat", open_fd(task, "f"), name(task, "g"), o.R_OK) == -Errno.ENOTDIR


def test_faccessat2_flags(task: Task, tree: Path) -> None:
    assert sys(task, "faccessat2", AT, name(task, "dangling"), o.F_OK, o.AT_SYMLINK_NOFOLLOW) == 0
    assert sys(task, "faccessat2", AT, name(task, "dangling"), o.F_OK, 0) == -Errno.ENOENT
    assert sys(task, "faccessat2", AT, name(task, "f"), o.R_OK, o.AT_EACCESS) == 0
    fd = open_fd(task, "f")
    assert sys(task, "faccessat2", fd, name(task, ""), o.R_OK, o.AT_EMPTY_PATH) == 0
    assert sys(task, "faccessat2", fd, name(task, ""), o.R_OK, 0) == -Errno.ENOENT
    assert sys(task, "faccessat2", 99, name(task, ""), o.R_OK, o.AT_EMPTY_PATH) == -Errno.EBADF
    for flags in (1, 0x400, 0x800, 0x2000, -1):
        assert sys(task, "faccessat2", AT, name(task, "f"), o.F_OK, flags) == -Errno.EINVAL
        assert sys(task, "faccessat2", AT, UNMAPPED, o.F_OK, flags) == -Errno.EINVAL


@pytest.mark.parametrize("bad", BAD_NAME)
def test_access_efault(task: Task, bad: int) -> None:
    assert sys(task, "access", bad, o.F_OK) == -Errno.EFAULT
    assert sys(task, "faccessat", AT, bad, o.F_OK) == -Errno.EFAULT
    assert sys(task, "faccessat2", AT, bad, o.F_OK, 0) == -Errno.EFAULT


@linux_only
@pytest.mark.parametrize("path, mode", [("f", o.F_OK), ("f", o.X_OK), ("d", o.W_OK | o.X_OK),
                                        ("missing", o.F_OK), ("dangling", o.R_OK), ("f/x", o.F_OK)])
def test_access_matches_host(task: Task, tree: Path, path: str, mode: int) -> None:
    assert sys(task, "access", name(task, path), mode) == host_rc(_host_access, tree / path, mode)


def _host_access(path: Path, mode: int) -> None:
    p = cbuf(os.fsencode(path) + b"\0")
    rc = host_sys("access", addr(p), mode)
    if rc < 0:
        raise OSError(-rc, os.strerror(-rc))
