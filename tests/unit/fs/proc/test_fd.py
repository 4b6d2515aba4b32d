"""/proc/PID/fd and /proc/PID/fdinfo (fs/proc/fd.c)."""

from __future__ import annotations

import os
from pathlib import Path

from sysgate.fs.proc.fd import host_mnt_id, show_fdinfo
from sysgate.kernel.task import Task
from sysgate.uapi import stat as ls
from sysgate.uapi.fcntl import O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_LARGEFILE, O_RDONLY, O_RDWR, O_WRONLY
from tests.conftest import USER_BUF, put_str, sys
from tests.unit.fs.proc.conftest import list_dir, proc_open, read_proc, readlink

STAT_BUF = USER_BUF + 0x3000


def lstat_mode_size(t: Task, path: str) -> tuple[int, int]:
    assert sys(t, "lstat", put_str(t, path), STAT_BUF) == 0
    raw = t.mm.read(STAT_BUF, 144)
    return int.from_bytes(raw[24:28], "little"), int.from_bytes(raw[48:56], "little")


def test_fd_lists_the_open_descriptors_as_links(task: Task, tmp_path: Path) -> None:
    fd = proc_open(task, str(tmp_path / "f"), O_CREAT | O_WRONLY)
    dfd = proc_open(task, "/proc/self/fd", O_RDONLY | O_DIRECTORY)
    names = list_dir(task, "/proc/self/fd")
    assert names == [b".", b"..", b"0", b"1", b"2", b"%d" % fd, b"%d" % dfd, b"%d" % (dfd + 1)]
    assert readlink(task, f"/proc/self/fd/{fd}") == os.fsencode(tmp_path / "f")
    assert readlink(task, f"/proc/self/fd/{dfd}") == b"/proc/%d/fd" % task.pid


def test_link_modes_say_how_the_file_is_open(task: Task, tmp_path: Path) -> None:
    r = proc_open(task, str(tmp_path), O_RDONLY | O_DIRECTORY)
    w = proc_open(task, str(tmp_path / "w"), O_CREAT | O_WRONLY)
    rw = proc_open(task, str(tmp_path / "rw"), O_CREAT | O_RDWR)
    assert lstat_mode_size(task, f"/proc/self/fd/{r}") == (ls.S_IFLNK | 0o500, 64)
    assert lstat_mode_size(task, f"/proc/self/fd/{w}")[0] == ls.S_IFLNK | 0o300
    assert lstat_mode_size(task, f"/proc/self/fd/{rw}")[0] == ls.S_IFLNK | 0o700


def test_fd_directory_size_is_the_descriptor_count(task: Task) -> None:
    mode, size = lstat_mode_size(task, "/proc/self/fd")
    assert (mode, size) == (ls.S_IFDIR | 0o500, 3)
    assert lstat_mode_size(task, "/proc/self/fdinfo")[0] == ls.S_IFDIR | 0o555


def test_fdinfo(task: Task, tmp_path: Path) -> None:
    (tmp_path / "data").write_bytes(b"0123456789")
    fd = proc_open(task, str(tmp_path / "data"), O_RDWR | O_APPEND | O_CLOEXEC)
    assert sys(task, "read", fd, USER_BUF + 0x1000, 4) == 4
    st = os.stat(tmp_path / "data")
    text = read_proc(task, f"/proc/self/fdinfo/{fd}").decode()
    flags = O_RDWR | O_APPEND | O_CLOEXEC | O_LARGEFILE
    assert text == f"pos:\t4\nflags:\t0{flags:o}\nmnt_id:\t{host_mnt_id(task.files.get(fd).host_fd or -1)}\n" \
                   f"ino:\t{st.st_ino}\n"
    assert list_dir(task, "/proc/self/fdinfo")[2:] == list_dir(task, "/proc/self/fd")[2:]


def test_fdinfo_of_a_proc_file(task: Task) -> None:
    fd = proc_open(task, "/proc/self/status")
    sys(task, "read", fd, USER_BUF + 0x1000, 10)
    lines = show_fdinfo(task, fd).decode().splitlines()
    assert lines[:2] == ["pos:\t10", f"flags:\t0{O_LARGEFILE:o}"]
    assert lines[3] == "ino:\t%d" % task.files.get(fd).stat().ino


def test_fdinfo_flags_zero_prints_00(task: Task) -> None:
    task.files.get(0).f_flags = 0
    assert show_fdinfo(task, 0).splitlines()[1] == b"flags:\t00"
