"""chmod, chown, truncate, fallocate, utimensat and friends, umask."""

from __future__ import annotations

import os
import stat
import struct
import time
from pathlib import Path

import pytest

from sysgate.kernel.task import Task
from sysgate.uapi import fcntl as o
from sysgate.uapi.errno import Errno
from tests.conftest import KERNEL_ADDR, RO_PAGE, UNMAPPED, sys
from tests.unit.fs.conftest import OUT, as_nobody, host_rc, long_name, name, needs_root, open_fd

BAD_POINTERS = [KERNEL_ADDR, UNMAPPED]
UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2


@pytest.fixture
def f(tmp_path: Path) -> Path:
    p = tmp_path / "f"
    p.write_bytes(b"0123456789")
    p.chmod(0o644)
    return p


def mode_of(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


# -- chmod ----------------------------------------------------------------------------------


def test_chmod_sets_the_permission_bits_only(task: Task, f: Path) -> None:
    task.fs.umask = 0o777  # the umask plays no part
    assert sys(task, "chmod", name(task, "f"), stat.S_IFDIR | 0o4751) == 0
    assert os.lstat(f).st_mode == stat.S_IFREG | 0o4751


def test_fchmod_and_fchmodat(task: Task, f: Path, tmp_path: Path) -> None:
    fd = open_fd(task, "f")
    assert sys(task, "fchmod", fd, 0o600) == 0
    assert mode_of(f) == 0o600
    dfd = open_fd(task, ".", o.O_DIRECTORY)
    assert sys(task, "fchmodat", dfd, name(task, "f"), 0o640) == 0
    assert mode_of(f) == 0o640


def test_fchmod_needs_an_io_descriptor(task: Task, f: Path) -> None:
    assert sys(task, "fchmod", open_fd(task, "f", o.O_PATH), 0o600) == -Errno.EBADF
    assert sys(task, "fchmod", 99, 0o600) == -Errno.EBADF


def test_fchmodat2_nofollow_refuses_symlinks(task: Task, f: Path, tmp_path: Path) -> None:
    (tmp_path / "l").symlink_to("f")
    nofollow = o.AT_SYMLINK_NOFOLLOW
    assert sys(task, "fchmodat2", o.AT_FDCWD, name(task, "l"), 0o600, nofollow) == -Errno.EOPNOTSUPP
    assert sys(task, "fchmodat2", o.AT_FDCWD, name(task, "f"), 0o600, nofollow) == 0
    assert mode_of(f) == 0o600
    assert sys(task, "fchmodat2", o.AT_FDCWD, name(task, "l"), 0o640, 0) == 0
    assert mode_of(f) == 0o640


def test_fchmodat2_empty_path_works_on_o_path(task: Task, f: Path) -> None:
    fd = open_fd(task, "f", o.O_PATH)
    assert sys(task, "fchmodat2", fd, name(task, ""), 0o604, 0) == -Errno.ENOENT
    assert sys(task, "fchmodat2", fd, name(task, ""), 0o604, o.AT_EMPTY_PATH) == 0
    assert mode_of(f) == 0o604
    assert sys(task, "fchmodat2", 99, name(task, ""), 0o604, o.AT_EMPTY_PATH) == -Errno.EBADF


def test_fchmodat2_checks_flags_first(task: Task) -> None:
    assert sys(task, "fchmodat2", 99, KERNEL_ADDR, 0o600, 0x400) == -Errno.EINVAL


@pytest.mark.parametrize("path", ["missing", "f/x", "loop", "nodir/f"])
def test_chmod_errors_match_the_host(task: Task, f: Path, tmp_path: Path, path: str) -> None:
    (tmp_path / "loop").symlink_to("loop")
    want = host_rc(os.chmod, str(tmp_path / path), 0o600)
    assert want < 0
    assert sys(task, "chmod", name(task, path), 0o600) == want


def test_chmod_name_errors(task: Task) -> None:
    for bad in BAD_POINTERS:
        assert sys(task, "chmod", bad, 0o600) == -Errno.EFAULT
        assert sys(task, "fchmodat", o.AT_FDCWD, bad, 0o600) == -Errno.EFAULT
    assert sys(task, "chmod", name(task, ""), 0o600) == -Errno.ENOENT
    assert sys(task, "chmod", long_name(task), 0o600) == -Errno.ENAMETOOLONG
    assert sys(task, "fchmodat", 99, name(task, "f"), 0o600) == -Errno.EBADF


def test_chmod_of_someone_elses_file_is_eperm(task: Task, shared_tmp: Path) -> None:
    (shared_tmp / "f").write_bytes(b"")
    with as_nobody(task):
        assert sys(task, "chmod", name(task, "f"), 0o777) == -Errno.EPERM


def test_chmod_in_procfs(task: Task) -> None:
    assert sys(task, "chmod", name(task, "/proc/self/maps"), 0o777) == -Errno.EPERM  # proc_setattr


# -- chown ----------------------------------------------------------------------------------


@needs_root
def test_chown_family_as_root(task: Task, f: Path, tmp_path: Path) -> None:
    (tmp_path / "l").symlink_to("f")
    assert sys(task, "chown", name(task, "f"), 1000, 2000) == 0
    assert (os.stat(f).st_uid, os.stat(f).st_gid) == (1000, 2000)
    assert sys(task, "chown", name(task, "f"), -1, 3000) == 0  # (uid_t)-1 leaves the owner
    assert (os.stat(f).st_uid, os.stat(f).st_gid) == (1000, 3000)
    assert sys(task, "lchown", name(task, "l"), 1001, -1) == 0
    assert os.lstat(tmp_path / "l").st_uid == 1001 and os.stat(f).st_uid == 1000
    assert sys(task, "fchown", open_fd(task, "f"), 1002, -1) == 0
    assert os.stat(f).st_uid == 1002
    fd = open_fd(task, "f", o.O_PATH)
    assert sys(task, "fchownat", fd, name(task, ""), 1003, -1, o.AT_EMPTY_PATH) == 0
    assert os.stat(f).st_uid == 1003
    assert sys(task, "fchownat", o.AT_FDCWD, name(task, "l"), 1004, -1, o.AT_SYMLINK_NOFOLLOW) == 0
    assert os.lstat(tmp_path / "l").st_uid == 1004


def test_chown_errors(task: Task, f: Path) -> None:
    assert sys(task, "fchownat", 99, KERNEL_ADDR, 0, 0, 0x400) == -Errno.EINVAL
    for bad in BAD_POINTERS:
        assert sys(task, "chown", bad, 0, 0) == -Errno.EFAULT
        assert sys(task, "lchown", bad, 0, 0) == -Errno.EFAULT
        assert sys(task, "fchownat", o.AT_FDCWD, bad, 0, 0, 0) == -Errno.EFAULT
    assert sys(task, "chown", name(task, "missing"), 0, 0) == -Errno.ENOENT
    assert sys(task, "chown", name(task, ""), 0, 0) == -Errno.ENOENT
    assert sys(task, "fchownat", 99, name(task, "f"), 0, 0, 0) == -Errno.EBADF
    assert sys(task, "fchown", 99, 0, 0) == -Errno.EBADF
    assert sys(task, "fchown", open_fd(task, "f", o.O_PATH), 0, 0) == -Errno.EBADF


def test_chown_to_another_user_is_eperm(task: Task, shared_tmp: Path) -> None:
    (shared_tmp / "mine").write_bytes(b"")
    os.chown(shared_tmp / "mine", 65534, 65534)
    with as_nobody(task):
        assert sys(task, "chown", name(task, "mine"), 0, -1) == -Errno.EPERM
        assert sys(task, "chown", name(task, "mine"), -1, -1) == 0


# -- truncate, ftruncate --------------------------------------------------------------------


def test_truncate_and_ftruncate(task: Task, f: Path, tmp_path: Path) -> None:
    assert sys(task, "truncate", name(task, "f"), 4) == 0
    assert f.read_bytes() == b"0123"
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "g").write_bytes(b"abc")
    assert sys(task, "truncate", name(task, "sub/../sub/g"), 6) == 0
    assert (tmp_path / "sub" / "g").read_bytes() == b"abc\0\0\0"
    fd = open_fd(task, "f", o.O_RDWR)
    assert sys(task, "ftruncate", fd, 1) == 0
    assert f.read_bytes() == b"0"


def test_truncate_errors(task: Task, f: Path, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "p")
    (tmp_path / "d").mkdir()
    assert sys(task, "truncate", KERNEL_ADDR, -1) == -Errno.EINVAL
    for bad in BAD_POINTERS:
        assert sys(task, "truncate", bad, 0) == -Errno.EFAULT
    assert sys(task, "truncate", name(task, "d"), 0) == -Errno.EISDIR
    assert sys(task, "truncate", name(task, "p"), 0) == -Errno.EINVAL
    assert sys(task, "truncate", name(task, "missing"), 0) == -Errno.ENOENT
    assert sys(task, "truncate", name(task, "f/"), 0) == -Errno.ENOTDIR
    assert sys(task, "truncate", name(task, ""), 0) == -Errno.ENOENT


def test_truncate_without_write_permission_is_eacces(task: Task, shared_tmp: Path) -> None:
    (shared_tmp / "f").write_bytes(b"x")
    (shared_tmp / "f").chmod(0o644)
    with as_nobody(task):
        assert sys(task, "truncate", name(task, "f"), 0) == -Errno.EACCES


def test_ftruncate_errors(task: Task, f: Path, tmp_path: Path) -> None:
    assert sys(task, "ftruncate", 99, -1) == -Errno.EINVAL
    assert sys(task, "ftruncate", 99, 0) == -Errno.EBADF
    assert sys(task, "ftruncate", open_fd(task, "f", o.O_PATH), 0) == -Errno.EBADF
    assert sys(task, "ftruncate", open_fd(task, "f"), 0) == -Errno.EINVAL  # read-only
    assert sys(task, "ftruncate", open_fd(task, ".", o.O_DIRECTORY), 0) == -Errno.EINVAL
    assert sys(task, "pipe", OUT) == 0
    _, wfd = struct.unpack("<ii", task.mm.read(OUT, 8))
    assert sys(task, "ftruncate", wfd, 0) == -Errno.EINVAL


# -- fallocate ------------------------------------------------------------------------------


def test_fallocate_modes(task: Task, f: Path) -> None:
    fd = open_fd(task, "f", o.O_RDWR)
    assert sys(task, "fallocate", fd, 0, 0, 100) == 0
    assert f.stat().st_size == 100
    assert sys(task, "fallocate", fd, o.FALLOC_FL_KEEP_SIZE, 0, 8192) == 0
    assert f.stat().st_size == 100
    punch = o.FALLOC_FL_PUNCH_HOLE | o.FALLOC_FL_KEEP_SIZE
    ret = sys(task, "fallocate", fd, punch, 2, 3)
    hfd = os.open(f, os.O_RDWR)
    try:
        assert ret == host_rc(os.posix_fallocate, hfd, 0, 1) and ret == 0
    finally:
        os.close(hfd)
    assert f.read_bytes()[:7] == b"01\0\0\x0056"


@pytest.mark.parametrize("mode, offset, length, errno", [
    (0, -1, 1, Errno.EINVAL),
    (0, 0, 0, Errno.EINVAL),
    (0x80, 0, 1, Errno.EOPNOTSUPP),
    (o.FALLOC_FL_NO_HIDE_STALE, 0, 1, Errno.EOPNOTSUPP),
    (o.FALLOC_FL_PUNCH_HOLE, 0, 1, Errno.EOPNOTSUPP),
    (o.FALLOC_FL_COLLAPSE_RANGE | o.FALLOC_FL_KEEP_SIZE, 0, 1, Errno.EOPNOTSUPP),
    (o.FALLOC_FL_PUNCH_HOLE | o.FALLOC_FL_ZERO_RANGE, 0, 1, Errno.EOPNOTSUPP),
])
def test_fallocate_argument_errors_come_before_ebadf_for_mode(task: Task, f: Path, mode: int, offset: int,
                                                              length: int, errno: Errno) -> None:
    fd = open_fd(task, "f")  # read-only: EBADF comes after the argument checks
    assert sys(task, "fallocate", fd, mode, offset, length) == -errno


def test_fallocate_descriptor_errors(task: Task, f: Path) -> None:
    assert sys(task, "fallocate", 99, 0, -1, 1) == -Errno.EBADF
    assert sys(task, "fallocate", open_fd(task, "f"), 0, 0, 1) == -Errno.EBADF
    assert sys(task, "fallocate", open_fd(task, "f", o.O_PATH), 0, 0, 1) == -Errno.EBADF
    assert sys(task, "pipe", OUT) == 0
    _, wfd = struct.unpack("<ii", task.mm.read(OUT, 8))
    assert sys(task, "fallocate", wfd, 0, 0, 1) == -Errno.ESPIPE
    fd = open_fd(task, "f", o.O_RDWR)
    assert sys(task, "fallocate", fd, 0, (1 << 63) - 1, 2) == -Errno.EFBIG


# -- utimensat, utime, utimes, futimesat ----------------------------------------------------


def put_times(task: Task, a: tuple[int, int], m: tuple[int, int]) -> int:
    task.mm.write(OUT, struct.pack("<qqqq", *a, *m))
    return OUT


def times_of(p: Path, follow: bool = True) -> tuple[int, int]:
    st = os.stat(p, follow_symlinks=follow)
    return st.st_atime_ns, st.st_mtime_ns


def test_utimensat_sets_explicit_times(task: Task, f: Path) -> None:
    ts = put_times(task, (1000, 5), (2000, 999_999_999))
    assert sys(task, "utimensat", o.AT_FDCWD, name(task, "f"), ts, 0) == 0
    assert times_of(f) == (1000 * 10**9 + 5, 2000 * 10**9 + 999_999_999)


def test_utimensat_omit_and_now(task: Task, f: Path) -> None:
    os.utime(f, ns=(10**9, 2 * 10**9))
    before = time.time_ns()
    ts = put_times(task, (0, UTIME_OMIT), (0, UTIME_NOW))
    assert sys(task, "utimensat", o.AT_FDCWD, name(task, "f"), ts, 0) == 0
    atime, mtime = times_of(f)
    assert atime == 10**9 and mtime >= before - 10**8
    os.utime(f, ns=(10**9, 2 * 10**9))
    assert sys(task, "utimensat", o.AT_FDCWD, name(task, "f"), 0, 0) == 0  # NULL: both now
    assert min(times_of(f)) >= before - 10**8


def test_utimensat_both_omit_looks_at_nothing(task: Task) -> None:
    ts = put_times(task, (0, UTIME_OMIT), (0, UTIME_OMIT))
    assert sys(task, "utimensat", 99, KERNEL_ADDR, ts, 0x4000) == 0


def test_utimensat_null_path_is_the_descriptor(task: Task, f: Path) -> None:
    ts = put_times(task, (7, 0), (8, 0))
    assert sys(task, "utimensat", open_fd(task, "f"), 0, ts, 0) == 0
    assert times_of(f) == (7 * 10**9, 8 * 10**9)
    assert sys(task, "utimensat", open_fd(task, "f"), 0, ts, o.AT_SYMLINK_NOFOLLOW) == -Errno.EINVAL
    assert sys(task, "utimensat", 99, 0, ts, 0) == -Errno.EBADF
    assert sys(task, "utimensat", open_fd(task, "f", o.O_PATH), 0, ts, 0) == -Errno.EBADF
    assert sys(task, "utimensat", o.AT_FDCWD, 0, ts, 0) == -Errno.EFAULT


def test_utimensat_empty_path_and_nofollow(task: Task, f: Path, tmp_path: Path) -> None:
    (tmp_path / "l").symlink_to("f")
    ts = put_times(task, (3, 0), (4, 0))
    fd = open_fd(task, "f", o.O_PATH)
    assert sys(task, "utimensat", fd, name(task, ""), ts, 0) == -Errno.ENOENT
    assert sys(task, "utimensat", fd, name(task, ""), ts, o.AT_EMPTY_PATH) == 0
    assert times_of(f) == (3 * 10**9, 4 * 10**9)
    ts = put_times(task, (5, 0), (6, 0))
    assert sys(task, "utimensat", o.AT_FDCWD, name(task, "l"), ts, o.AT_SYMLINK_NOFOLLOW) == 0
    assert times_of(tmp_path / "l", follow=False) == (5 * 10**9, 6 * 10**9)
    assert times_of(f) == (3 * 10**9, 4 * 10**9)


def test_utimensat_errors_in_order(task: Task, f: Path) -> None:
    for bad in BAD_POINTERS:
        assert sys(task, "utimensat", 99, KERNEL_ADDR, bad, 0) == -Errno.EFAULT
    assert sys(task, "utimensat", o.AT_FDCWD, name(task, "f"), RO_PAGE + 0x1000 - 16, 0) == -Errno.EFAULT
    ts = put_times(task, (1, 0), (1, 0))
    assert sys(task, "utimensat", 99, KERNEL_ADDR, ts, 0x4000) == -Errno.EINVAL
    for bad in BAD_POINTERS:
        assert sys(task, "utimensat", o.AT_FDCWD, bad, ts, 0) == -Errno.EFAULT
    assert sys(task, "utimensat", 99, name(task, "f"), ts, 0) == -Errno.EBADF
    bad_ns = put_times(task, (1, 10**9), (1, 0))
    assert sys(task, "utimensat", o.AT_FDCWD, name(task, "missing"), bad_ns, 0) == -Errno.ENOENT
    assert sys(task, "utimensat", o.AT_FDCWD, name(task, "f"), bad_ns, 0) == -Errno.EINVAL
    bad_ns = put_times(task, (1, 0), (1, -1))
    assert sys(task, "utimensat", o.AT_FDCWD, name(task, "f"), bad_ns, 0) == -Errno.EINVAL
    assert sys(task, "utimensat", o.AT_FDCWD, name(task, "f"), RO_PAGE, 0) == 0  # readable: all zero


def test_utimensat_permissions(task: Task, shared_tmp: Path) -> None:
    (shared_tmp / "f").write_bytes(b"")
    (shared_tmp / "f").chmod(0o644)
    ts = put_times(task, (1, 0), (1, 0))
    with as_nobody(task):
        assert sys(task, "utimensat", o.AT_FDCWD, name(task, "f"), ts, 0) == -Errno.EPERM
        assert sys(task, "utimensat", o.AT_FDCWD, name(task, "f"), 0, 0) == -Errno.EACCES


def test_utime_and_utimes(task: Task, f: Path) -> None:
    task.mm.write(OUT, struct.pack("<qq", 11, 12))
    assert sys(task, "utime", name(task, "f"), OUT) == 0
    assert times_of(f) == (11 * 10**9, 12 * 10**9)
    task.mm.write(OUT, struct.pack("<qqqq", 21, 5, 22, 999_999))
    assert sys(task, "utimes", name(task, "f"), OUT) == 0
    assert times_of(f) == (21 * 10**9 + 5000, 22 * 10**9 + 999_999_000)
    before = time.time_ns()
    assert sys(task, "utime", name(task, "f"), 0) == 0
    assert min(times_of(f)) >= before - 10**8


@pytest.mark.parametrize("usec", [1_000_000, -1, UTIME_NOW, UTIME_OMIT])
def test_utimes_refuses_bad_microseconds(task: Task, f: Path, usec: int) -> None:
    task.mm.write(OUT, struct.pack("<qqqq", 1, usec, 1, 0))
    assert sys(task, "utimes", KERNEL_ADDR, OUT) == -Errno.EINVAL


def test_utime_errors(task: Task, f: Path) -> None:
    for bad in BAD_POINTERS:
        assert sys(task, "utime", KERNEL_ADDR, bad) == -Errno.EFAULT
        assert sys(task, "utimes", KERNEL_ADDR, bad) == -Errno.EFAULT
        assert sys(task, "futimesat", 99, KERNEL_ADDR, bad) == -Errno.EFAULT
        assert sys(task, "utime", bad, 0) == -Errno.EFAULT
        assert sys(task, "utimes", bad, 0) == -Errno.EFAULT
    assert sys(task, "utime", 0, 0) == -Errno.EFAULT
    assert sys(task, "utime", name(task, "missing"), 0) == -Errno.ENOENT


def test_futimesat(task: Task, f: Path, tmp_path: Path) -> None:
    task.mm.write(OUT, struct.pack("<qqqq", 31, 0, 32, 0))
    dfd = open_fd(task, ".", o.O_DIRECTORY)
    assert sys(task, "futimesat", dfd, name(task, "f"), OUT) == 0
    assert times_of(f) == (31 * 10**9, 32 * 10**9)
    task.mm.write(OUT, struct.pack("<qqqq", 41, 0, 42, 0))
    assert sys(task, "futimesat", open_fd(task, "f"), 0, OUT) == 0  # NULL name: the descriptor
    assert times_of(f) == (41 * 10**9, 42 * 10**9)
    assert sys(task, "futimesat", 99, name(task, "f"), OUT) == -Errno.EBADF


# -- umask ----------------------------------------------------------------------------------


def test_umask_returns_the_old_mask(task: Task, tmp_path: Path) -> None:
    task.fs.umask = 0o022
    assert sys(task, "umask", 0o7077) == 0o022
    assert sys(task, "umask", 0o002) == 0o077
    assert sys(task, "mkdir", name(task, "d"), 0o777) == 0
    assert mode_of(tmp_path / "d") == 0o775
