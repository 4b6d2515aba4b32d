"""getcwd, chdir, fchdir: the cwd File, its references, and what relative names then mean."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sysgate.kernel.task import Task
from sysgate.uapi import fcntl as o
from sysgate.uapi.errno import Errno
from tests.conftest import EDGE, KERNEL_ADDR, RO_PAGE, UNMAPPED, sys
from tests.unit.fs.conftest import OUT, as_nobody, long_name, name, open_fd

BAD_POINTERS = [KERNEL_ADDR, UNMAPPED]


def getcwd(task: Task) -> str:
    n = sys(task, "getcwd", OUT, 4096)
    assert n > 0
    raw = task.mm.read(OUT, n)
    assert raw.endswith(b"\0")
    return raw[:-1].decode()


def test_getcwd_returns_the_length_with_the_nul(task: Task, tmp_path: Path) -> None:
    want = os.path.realpath(tmp_path)
    assert sys(task, "getcwd", OUT, 4096) == len(want) + 1
    assert task.mm.read(OUT, len(want) + 1) == want.encode() + b"\0"


def test_getcwd_size_checks(task: Task, tmp_path: Path) -> None:
    n = len(os.path.realpath(tmp_path)) + 1
    assert sys(task, "getcwd", OUT, n - 1) == -Errno.ERANGE
    assert sys(task, "getcwd", OUT, 0) == -Errno.ERANGE
    assert sys(task, "getcwd", KERNEL_ADDR, n - 1) == -Errno.ERANGE  # size is checked first
    assert sys(task, "getcwd", OUT, n) == n


@pytest.mark.parametrize("buf", [KERNEL_ADDR, UNMAPPED, RO_PAGE, EDGE + 0x1000 - 4])
def test_getcwd_bad_buffer(task: Task, buf: int) -> None:
    assert sys(task, "getcwd", buf, 4096) == -Errno.EFAULT


def test_getcwd_of_a_removed_directory_is_enoent(task: Task, tmp_path: Path) -> None:
    (tmp_path / "gone").mkdir()
    assert sys(task, "chdir", name(task, "gone")) == 0
    (tmp_path / "gone").rmdir()
    assert sys(task, "getcwd", OUT, 4096) == -Errno.ENOENT


def test_getcwd_follows_a_rename(task: Task, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    assert sys(task, "chdir", name(task, "a")) == 0
    (tmp_path / "a").rename(tmp_path / "b (deleted)")
    assert getcwd(task) == os.path.realpath(tmp_path / "b (deleted)")


def test_chdir_changes_what_relative_names_mean(task: Task, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    old = task.fs.cwd
    old_fd = old.host_fd
    assert sys(task, "chdir", name(task, "sub")) == 0
    assert getcwd(task) == os.path.realpath(tmp_path / "sub")
    assert sys(task, "mkdir", name(task, "x"), 0o755) == 0
    assert (tmp_path / "sub" / "x").is_dir()
    # The old cwd lost its last reference: its host descriptor is closed.
    assert task.fs.cwd.refs == 1 and old.refs == 0
    assert old_fd is not None
    with pytest.raises(OSError):
        os.fstat(old_fd)
    assert sys(task, "chdir", name(task, "..")) == 0
    assert getcwd(task) == os.path.realpath(tmp_path)


def test_chdir_follows_symlinks_and_updates_proc_self_cwd(task: Task, tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to("real")
    assert sys(task, "chdir", name(task, "link")) == 0
    want = os.path.realpath(tmp_path / "real")
    assert getcwd(task) == want
    n = sys(task, "readlink", name(task, "/proc/self/cwd"), OUT, 4096)
    assert task.mm.read(OUT, n).decode() == want


def test_chdir_needs_only_search_permission(task: Task, shared_tmp: Path) -> None:
    (shared_tmp / "xonly").mkdir(mode=0o711)
    (shared_tmp / "noexec").mkdir(mode=0o700)
    with as_nobody(task):
        assert sys(task, "chdir", name(task, "noexec")) == -Errno.EACCES
        assert sys(task, "chdir", name(task, "xonly")) == 0
        assert sys(task, "chdir", name(task, "..")) == 0


def test_chdir_errors(task: Task, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    (tmp_path / "loop").symlink_to("loop")
    cwd = task.fs.cwd
    for bad in BAD_POINTERS:
        assert sys(task, "chdir", bad) == -Errno.EFAULT
    assert sys(task, "chdir", name(task, "")) == -Errno.ENOENT
    assert sys(task, "chdir", long_name(task)) == -Errno.ENAMETOOLONG
    assert sys(task, "chdir", name(task, "missing")) == -Errno.ENOENT
    assert sys(task, "chdir", name(task, "f")) == -Errno.ENOTDIR
    assert sys(task, "chdir", name(task, "f/")) == -Errno.ENOTDIR
    assert sys(task, "chdir", name(task, "loop")) == -Errno.ELOOP
    assert task.fs.cwd is cwd and cwd.refs == 1


def test_fchdir_shares_the_descriptors_file(task: Task, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    fd = open_fd(task, "sub", o.O_PATH | o.O_DIRECTORY)  # O_PATH will do (fdget_raw)
    assert sys(task, "fchdir", fd) == 0
    assert task.fs.cwd is task.files.get(fd)
    assert sys(task, "close", fd) == 0
    assert task.fs.cwd.refs == 1
    assert getcwd(task) == os.path.realpath(tmp_path / "sub")


def test_fchdir_errors(task: Task, tmp_path: Path, shared_tmp: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    (tmp_path / "noexec").mkdir(mode=0o700)
    assert sys(task, "fchdir", 99) == -Errno.EBADF
    assert sys(task, "fchdir", open_fd(task, "f")) == -Errno.ENOTDIR
    fd = open_fd(task, "noexec", o.O_PATH)
    with as_nobody(task):
        assert sys(task, "fchdir", fd) == -Errno.EACCES
