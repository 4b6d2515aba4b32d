"""mkdir, rmdir, unlink, rename, link, symlink, mknod: results and errno order, against the host."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sysgate.kernel.task import Task
from sysgate.uapi import fcntl as o
from sysgate.uapi.errno import Errno
from tests.conftest import KERNEL_ADDR, UNMAPPED, sys
from tests.unit.fs.conftest import as_nobody, host_rc, long_name, name, needs_root, open_fd

BAD_POINTERS = [KERNEL_ADDR, UNMAPPED]


# -- mkdir ----------------------------------------------------------------------------------


def test_mkdir_applies_the_guest_umask(task: Task, tmp_path: Path) -> None:
    task.fs.umask = 0o027
    assert sys(task, "mkdir", name(task, "d"), 0o777) == 0
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o750


def test_mkdir_keeps_the_sticky_bit(task: Task, tmp_path: Path) -> None:
    task.fs.umask = 0
    assert sys(task, "mkdir", name(task, "d"), 0o1777) == 0
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o1777


def test_mkdirat_is_relative_to_the_dirfd(task: Task, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    dfd = open_fd(task, "sub", o.O_RDONLY | o.O_DIRECTORY)
    assert sys(task, "mkdirat", dfd, name(task, "x/"), 0o755) == 0
    assert (tmp_path / "sub" / "x").is_dir()


def test_mkdirat_with_an_o_path_dirfd(task: Task, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    dfd = open_fd(task, "sub", o.O_PATH)
    assert sys(task, "mkdirat", dfd, name(task, "x"), 0o755) == 0
    assert (tmp_path / "sub" / "x").is_dir()


@pytest.mark.parametrize("setup, path", [
    ("exists", "d"),
    ("none", "missing/d"),
    ("file", "f/d"),
    ("loop", "loop/d"),
    ("none", "."),
    ("none", "a" * 300),
])
def test_mkdir_errors_match_the_host(task: Task, tmp_path: Path, setup: str, path: str) -> None:
    for base in (tmp_path / "guest", tmp_path / "host"):
        base.mkdir()
        if setup == "exists":
            (base / "d").mkdir()
        (base / "f").write_bytes(b"")
        (base / "loop").symlink_to("loop")
    want = host_rc(os.mkdir, str(tmp_path / "host" / path))
    assert want < 0
    assert sys(task, "mkdir", name(task, f"guest/{path}"), 0o777) == want


def test_mkdir_name_errors(task: Task) -> None:
    assert sys(task, "mkdir", name(task, ""), 0o777) == -Errno.ENOENT
    assert sys(task, "mkdir", long_name(task), 0o777) == -Errno.ENAMETOOLONG
    for bad in BAD_POINTERS:
        assert sys(task, "mkdir", bad, 0o777) == -Errno.EFAULT
        assert sys(task, "mkdirat", o.AT_FDCWD, bad, 0o777) == -Errno.EFAULT


def test_mkdirat_dirfd_errors(task: Task, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    ffd = open_fd(task, "f")
    assert sys(task, "mkdirat", 99, name(task, "d"), 0o777) == -Errno.EBADF
    assert sys(task, "mkdirat", ffd, name(task, "d"), 0o777) == -Errno.ENOTDIR
    # The name is copied before the dirfd is looked at.
    assert sys(task, "mkdirat", 99, KERNEL_ADDR, 0o777) == -Errno.EFAULT
    # An absolute name ignores the dirfd.
    assert sys(task, "mkdirat", 99, name(task, str(tmp_path / "abs")), 0o777) == 0


def test_mkdir_without_write_permission_is_eacces(task: Task, shared_tmp: Path) -> None:
    (shared_tmp / "ro").mkdir(mode=0o755)
    with as_nobody(task):
        assert sys(task, "mkdir", name(task, "ro/d"), 0o777) == -Errno.EACCES
        assert sys(task, "mkdir", name(task, "d"), 0o777) == 0


def test_mkdir_in_procfs(task: Task) -> None:
    assert sys(task, "mkdir", name(task, "/proc/self/x"), 0o777) == -Errno.ENOENT  # as Linux answers


# -- rmdir, unlink --------------------------------------------------------------------------


def test_rmdir_and_unlink(task: Task, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_bytes(b"")
    assert sys(task, "rmdir", name(task, "d")) == 0
    assert sys(task, "unlink", name(task, "f")) == 0
    assert list(tmp_path.iterdir()) == []


def test_unlinkat_removedir(task: Task, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_bytes(b"")
    dfd = open_fd(task, ".", o.O_DIRECTORY)
    assert sys(task, "unlinkat", dfd, name(task, "d"), 0) == -Errno.EISDIR
    assert sys(task, "unlinkat", dfd, name(task, "f"), o.AT_REMOVEDIR) == -Errno.ENOTDIR
    assert sys(task, "unlinkat", dfd, name(task, "d"), o.AT_REMOVEDIR) == 0
    assert sys(task, "unlinkat", dfd, name(task, "f"), 0) == 0


def test_unlinkat_checks_the_flag_first(task: Task) -> None:
    assert sys(task, "unlinkat", 99, KERNEL_ADDR, 0x100) == -Errno.EINVAL
    assert sys(task, "unlinkat", 99, name(task, "x"), 0) == -Errno.EBADF


@pytest.mark.parametrize("call, path", [
    ("rmdir", "full"), ("rmdir", "f"), ("rmdir", "missing"), ("rmdir", "."), ("rmdir", "full/.."),
    ("rmdir", "f/"), ("unlink", "full"), ("unlink", "missing"), ("unlink", "f/"), ("unlink", "f/x"),
    ("unlink", "."), ("unlink", "loop/x"),
])
def test_remove_errors_match_the_host(task: Task, tmp_path: Path, call: str, path: str) -> None:
    for base in (tmp_path / "guest", tmp_path / "host"):
        (base / "full").mkdir(parents=True)
        (base / "full" / "x").write_bytes(b"")
        (base / "f").write_bytes(b"")
        (base / "loop").symlink_to("loop")
    dfd = open_fd(task, "guest", o.O_DIRECTORY)
    hfd = os.open(tmp_path / "host", os.O_RDONLY | os.O_DIRECTORY)
    try:
        want = host_rc(os.rmdir if call == "rmdir" else os.unlink, path, dir_fd=hfd)
    finally:
        os.close(hfd)
    assert want < 0
    flag = o.AT_REMOVEDIR if call == "rmdir" else 0
    assert sys(task, "unlinkat", dfd, name(task, path), flag) == want


def test_remove_name_errors(task: Task) -> None:
    for call in ("rmdir", "unlink"):
        assert sys(task, call, name(task, "")) == -Errno.ENOENT
        assert sys(task, call, long_name(task)) == -Errno.ENAMETOOLONG
        for bad in BAD_POINTERS:
            assert sys(task, call, bad) == -Errno.EFAULT


def test_unlink_without_permission_is_eacces(task: Task, shared_tmp: Path) -> None:
    (shared_tmp / "ro").mkdir(mode=0o755)
    (shared_tmp / "ro" / "f").write_bytes(b"")
    with as_nobody(task):
        assert sys(task, "unlink", name(task, "ro/f")) == -Errno.EACCES


def test_unlink_in_procfs(task: Task) -> None:
    assert sys(task, "unlink", name(task, "/proc/self/maps")) == -Errno.EPERM  # as Linux answers
    assert sys(task, "unlink", name(task, "/proc/self/fd/0")) == -Errno.EPERM
    assert sys(task, "unlink", name(task, "/proc/self/nosuch")) == -Errno.ENOENT


# -- rename ---------------------------------------------------------------------------------


def test_rename_moves_and_replaces(task: Task, tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"A")
    (tmp_path / "b").write_bytes(b"B")
    assert sys(task, "rename", name(task, "a"), name(task, "b", 1)) == 0
    assert not (tmp_path / "a").exists()
    assert (tmp_path / "b").read_bytes() == b"A"


def test_renameat_between_directories(task: Task, tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    (tmp_path / "x" / "f").write_bytes(b"F")
    xfd = open_fd(task, "x", o.O_DIRECTORY)
    yfd = open_fd(task, "y", o.O_PATH)
    assert sys(task, "renameat", xfd, name(task, "f"), yfd, name(task, "g", 1)) == 0
    assert (tmp_path / "y" / "g").read_bytes() == b"F"


def test_renameat2_noreplace_and_exchange(task: Task, tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"A")
    (tmp_path / "b").write_bytes(b"B")
    args = (o.AT_FDCWD, name(task, "a"), o.AT_FDCWD, name(task, "b", 1))
    assert sys(task, "renameat2", *args, o.RENAME_NOREPLACE) == -Errno.EEXIST
    assert sys(task, "renameat2", *args, o.RENAME_EXCHANGE) == 0
    assert (tmp_path / "a").read_bytes() == b"B"
    assert (tmp_path / "b").read_bytes() == b"A"
    (tmp_path / "b").unlink()
    assert sys(task, "renameat2", *args, o.RENAME_EXCHANGE) == -Errno.ENOENT
    assert sys(task, "renameat2", *args, o.RENAME_NOREPLACE) == 0
    assert (tmp_path / "b").read_bytes() == b"B"


@needs_root
def test_renameat2_whiteout_leaves_a_whiteout(task: Task, tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"A")
    ret = sys(task, "renameat2", o.AT_FDCWD, name(task, "a"), o.AT_FDCWD, name(task, "b", 1), o.RENAME_WHITEOUT)
    if ret == -Errno.EINVAL:
        pytest.skip("the host file system has no whiteouts")
    assert ret == 0
    st = os.lstat(tmp_path / "a")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


@pytest.mark.parametrize("flags", [8, 0x80000000, o.RENAME_EXCHANGE | o.RENAME_NOREPLACE,
                                   o.RENAME_EXCHANGE | o.RENAME_WHITEOUT])
def test_renameat2_bad_flags_come_first(task: Task, flags: int) -> None:
    assert sys(task, "renameat2", 99, KERNEL_ADDR, 99, KERNEL_ADDR, flags) == -Errno.EINVAL


@pytest.mark.parametrize("old, new", [
    ("f", "d"), ("d", "f"), ("d", "full"), ("d", "d/sub"), ("missing", "x"), (".", "x"), ("f", "."),
    ("f/", "x"), ("f", "nodir/x"), ("f", "f/x"), ("loop/x", "x"), ("d", ".."),
])
def test_rename_errors_match_the_host(task: Task, tmp_path: Path, old: str, new: str) -> None:
    for base in (tmp_path / "guest", tmp_path / "host"):
        (base / "d").mkdir(parents=True)
        (base / "full").mkdir()
        (base / "full" / "x").write_bytes(b"")
        (base / "f").write_bytes(b"")
        (base / "loop").symlink_to("loop")
    dfd = open_fd(task, "guest", o.O_DIRECTORY)
    hfd = os.open(tmp_path / "host", os.O_RDONLY | os.O_DIRECTORY)
    try:
        want = host_rc(os.rename, old, new, src_dir_fd=hfd, dst_dir_fd=hfd)
    finally:
        os.close(hfd)
    assert want < 0
    assert sys(task, "renameat", dfd, name(task, old), dfd, name(task, new, 1)) == want


def test_rename_name_errors_in_order(task: Task, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    for bad in BAD_POINTERS:
        assert sys(task, "rename", bad, name(task, "x", 1)) == -Errno.EFAULT
        assert sys(task, "rename", name(task, "f"), bad) == -Errno.EFAULT
    assert sys(task, "rename", name(task, ""), name(task, "x", 1)) == -Errno.ENOENT
    assert sys(task, "rename", name(task, "f"), name(task, "", 1)) == -Errno.ENOENT
    assert sys(task, "rename", long_name(task), name(task, "x", 1)) == -Errno.ENAMETOOLONG
    # The old name's parent is walked before the new name's errors are reported ...
    assert sys(task, "rename", name(task, "nodir/f"), KERNEL_ADDR) == -Errno.ENOENT
    assert sys(task, "rename", name(task, "f/f"), KERNEL_ADDR) == -Errno.ENOTDIR
    # ... but the old name itself is looked up only after both parents.
    assert sys(task, "rename", name(task, "missing"), KERNEL_ADDR) == -Errno.EFAULT
    assert sys(task, "renameat", 99, name(task, "f"), o.AT_FDCWD, KERNEL_ADDR) == -Errno.EBADF
    assert sys(task, "renameat", o.AT_FDCWD, name(task, "f"), 99, name(task, "x", 1)) == -Errno.EBADF


def test_rename_without_permission_is_eacces(task: Task, shared_tmp: Path) -> None:
    (shared_tmp / "ro").mkdir(mode=0o755)
    (shared_tmp / "ro" / "f").write_bytes(b"")
    with as_nobody(task):
        assert sys(task, "rename", name(task, "ro/f"), name(task, "g", 1)) == -Errno.EACCES


# -- link, symlink --------------------------------------------------------------------------


def test_link_makes_a_second_name(task: Task, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"F")
    assert sys(task, "link", name(task, "f"), name(task, "g", 1)) == 0
    assert (tmp_path / "g").stat().st_ino == (tmp_path / "f").stat().st_ino
    assert (tmp_path / "f").stat().st_nlink == 2


def test_linkat_follows_only_when_asked(task: Task, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"F")
    (tmp_path / "l").symlink_to("f")
    args = (o.AT_FDCWD, name(task, "l"), o.AT_FDCWD)
    assert sys(task, "linkat", *args, name(task, "nofollow", 1), 0) == 0
    assert sys(task, "linkat", *args, name(task, "follow", 1), o.AT_SYMLINK_FOLLOW) == 0
    assert os.lstat(tmp_path / "nofollow").st_ino == os.lstat(tmp_path / "l").st_ino
    assert os.lstat(tmp_path / "follow").st_ino == os.lstat(tmp_path / "f").st_ino


def test_linkat_empty_path_links_the_descriptor(task: Task, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"F")
    fd = open_fd(task, "f")
    assert sys(task, "linkat", fd, name(task, ""), o.AT_FDCWD, name(task, "g", 1), 0) == -Errno.ENOENT
    assert sys(task, "linkat", fd, name(task, ""), o.AT_FDCWD, name(task, "g", 1), o.AT_EMPTY_PATH) == 0
    assert (tmp_path / "g").stat().st_ino == (tmp_path / "f").stat().st_ino
    assert sys(task, "linkat", 99, name(task, ""), o.AT_FDCWD, name(task, "h", 1), o.AT_EMPTY_PATH) == -Errno.EBADF


def test_linkat_empty_path_of_the_cwd_is_a_directory(task: Task) -> None:
    args = (o.AT_FDCWD, name(task, ""), o.AT_FDCWD, name(task, "g", 1), o.AT_EMPTY_PATH)
    assert sys(task, "linkat", *args) == -Errno.EPERM


@pytest.mark.parametrize("old, new", [("d", "x"), ("missing", "x"), ("f", "g"), ("f", "nodir/x"),
                                      ("f/", "x"), ("f", "f/x"), ("loop/x", "x")])
def test_link_errors_match_the_host(task: Task, tmp_path: Path, old: str, new: str) -> None:
    for base in (tmp_path / "guest", tmp_path / "host"):
        (base / "d").mkdir(parents=True)
        (base / "f").write_bytes(b"")
        (base / "g").write_bytes(b"")
        (base / "loop").symlink_to("loop")
    dfd = open_fd(task, "guest", o.O_DIRECTORY)
    hfd = os.open(tmp_path / "host", os.O_RDONLY | os.O_DIRECTORY)
    try:
        want = host_rc(os.link, old, new, src_dir_fd=hfd, dst_dir_fd=hfd, follow_symlinks=False)
    finally:
        os.close(hfd)
    assert want < 0
    assert sys(task, "linkat", dfd, name(task, old), dfd, name(task, new, 1), 0) == want


def test_link_errors_in_order(task: Task, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    assert sys(task, "linkat", 99, KERNEL_ADDR, 99, KERNEL_ADDR, 0x100) == -Errno.EINVAL
    for bad in BAD_POINTERS:
        assert sys(task, "link", bad, name(task, "g", 1)) == -Errno.EFAULT
        assert sys(task, "link", name(task, "f"), bad) == -Errno.EFAULT
    # The old name is looked up in full before the new name's errors.
    assert sys(task, "link", name(task, "missing"), KERNEL_ADDR) == -Errno.ENOENT
    assert sys(task, "link", name(task, ""), name(task, "g", 1)) == -Errno.ENOENT
    assert sys(task, "link", name(task, "f"), long_name(task)) == -Errno.ENAMETOOLONG


def test_link_in_procfs(task: Task) -> None:
    assert sys(task, "link", name(task, "/proc/self/maps"), name(task, "g", 1)) == -Errno.EXDEV  # another mount


def test_symlink_stores_the_target(task: Task, tmp_path: Path) -> None:
    assert sys(task, "symlink", name(task, "some/where"), name(task, "l", 1)) == 0
    assert os.readlink(tmp_path / "l") == "some/where"
    dfd = open_fd(task, ".", o.O_DIRECTORY)
    assert sys(task, "symlinkat", name(task, "x"), dfd, name(task, "l2", 1)) == 0
    assert os.readlink(tmp_path / "l2") == "x"


def test_symlink_errors(task: Task, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    assert sys(task, "symlink", name(task, "x"), name(task, "f", 1)) == -Errno.EEXIST
    assert sys(task, "symlink", name(task, "x"), name(task, "nodir/l", 1)) == -Errno.ENOENT
    assert sys(task, "symlink", name(task, ""), name(task, "l", 1)) == -Errno.ENOENT
    assert sys(task, "symlinkat", name(task, "x"), 99, name(task, "l", 1)) == -Errno.EBADF
    for bad in BAD_POINTERS:
        # The target's errors come before anything about the new name.
        assert sys(task, "symlink", bad, name(task, "f", 1)) == -Errno.EFAULT
        assert sys(task, "symlinkat", bad, 99, KERNEL_ADDR) == -Errno.EFAULT
        assert sys(task, "symlink", name(task, "x"), bad) == -Errno.EFAULT
    assert sys(task, "symlink", long_name(task), name(task, "l", 1)) == -Errno.ENAMETOOLONG


# -- mknod ----------------------------------------------------------------------------------


def test_mknod_fifo_regular_and_socket(task: Task, tmp_path: Path) -> None:
    task.fs.umask = 0o022
    assert sys(task, "mknod", name(task, "p"), stat.S_IFIFO | 0o666, 0) == 0
    assert sys(task, "mknod", name(task, "r"), 0o644, 0) == 0
    assert sys(task, "mknodat", o.AT_FDCWD, name(task, "s"), stat.S_IFSOCK | 0o777, 0) == 0
    assert os.lstat(tmp_path / "p").st_mode == stat.S_IFIFO | 0o644
    assert os.lstat(tmp_path / "r").st_mode == stat.S_IFREG | 0o644
    assert os.lstat(tmp_path / "s").st_mode == stat.S_IFSOCK | 0o755


def test_mknod_type_checks_come_first(task: Task) -> None:
    assert sys(task, "mknod", KERNEL_ADDR, stat.S_IFDIR | 0o755, 0) == -Errno.EPERM
    assert sys(task, "mknod", KERNEL_ADDR, 0o170000, 0) == -Errno.EINVAL
    assert sys(task, "mknodat", 99, KERNEL_ADDR, 0o070000, 0) == -Errno.EINVAL


def test_mknod_name_errors(task: Task, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    for bad in BAD_POINTERS:
        assert sys(task, "mknod", bad, stat.S_IFIFO | 0o644, 0) == -Errno.EFAULT
    assert sys(task, "mknod", name(task, ""), stat.S_IFIFO, 0) == -Errno.ENOENT
    assert sys(task, "mknod", name(task, "f"), stat.S_IFIFO, 0) == -Errno.EEXIST
    assert sys(task, "mknodat", 99, name(task, "p"), stat.S_IFIFO, 0) == -Errno.EBADF


@needs_root
def test_mknod_device_as_root(task: Task, tmp_path: Path) -> None:
    dev = (1 << 8) | 3  # 1:3, /dev/null, in the kernel's new_encode_dev form
    assert sys(task, "mknod", name(task, "null"), stat.S_IFCHR | 0o666, dev) == 0
    st = os.lstat(tmp_path / "null")
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3


def test_mknod_device_needs_cap_mknod(task: Task, shared_tmp: Path) -> None:
    (shared_tmp / "f").write_bytes(b"")
    (shared_tmp / "ro").mkdir(mode=0o755)
    hfd = os.open(shared_tmp, os.O_RDONLY | os.O_DIRECTORY)
    with as_nobody(task):
        assert sys(task, "mknod", name(task, "null"), stat.S_IFCHR | 0o666, 0x103) == -Errno.EPERM
        assert sys(task, "mknod", name(task, "blk"), stat.S_IFBLK | 0o666, 0x103) == -Errno.EPERM
        # What filename_create and may_create find comes before the capability test.
        assert sys(task, "mknod", name(task, "f"), stat.S_IFCHR | 0o666, 0x103) == -Errno.EEXIST
        assert sys(task, "mknod", name(task, "nodir/x"), stat.S_IFCHR | 0o666, 0x103) == -Errno.ENOENT
        assert sys(task, "mknod", name(task, "ro/x"), stat.S_IFCHR | 0o666, 0x103) == -Errno.EACCES
        want = host_rc(os.mknod, "hostwh", stat.S_IFCHR | 0o600, 0, dir_fd=hfd)
    os.close(hfd)
    with as_nobody(task):
        # A whiteout (character device 0:0) needs no capability.
        assert sys(task, "mknod", name(task, "wh"), stat.S_IFCHR | 0o600, 0) == want == 0
