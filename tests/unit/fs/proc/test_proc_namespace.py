"""The guest's mount table (fs/proc_namespace.c): the host's, seen from the guest's root,
with sysgate's /proc in place of the host's."""

from __future__ import annotations

from pathlib import Path

import pytest

from sysgate.fs.proc import generic, proc_namespace
from sysgate.fs.proc.proc_namespace import Mount, mangle, mounts_line, parse_mountinfo, unescape
from sysgate.kernel.task import Task
from tests.unit.fs.proc.conftest import read_proc

HOST = """\
22 27 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
23 22 0:40 / /proc/sys/fs/binfmt_misc rw,relatime - binfmt_misc binfmt_misc rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
30 27 0:27 / /dev/shm rw,nosuid,nodev - tmpfs tmpfs rw,size=100k
31 27 0:50 / /srv/root rw,relatime - tmpfs tmpfs rw,lazytime,mode=755
32 31 254:0 /data /srv/root/my\\040data ro,relatime - ext4 /dev/vda ro,sync
"""


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(proc_namespace, "host_mounts", lambda: parse_mountinfo(HOST))
    proc_namespace._host_proc.cache_clear()
    yield
    proc_namespace._host_proc.cache_clear()


def test_parse_and_mangle() -> None:
    m = parse_mountinfo(HOST)
    assert len(m) == 6
    assert m[0].tags == "shared:12" and m[2].tags == "shared:1" and m[3].tags == ""
    assert m[5].point == "/srv/root/my data" and m[5].root == "/data"
    assert mangle("/a b\tc\\") == "/a\\040b\\011c\\134" and unescape("/a\\040b") == "/a b"


def test_mounts_line_puts_superblock_flags_first() -> None:
    m = parse_mountinfo(HOST)
    assert mounts_line(m[2]) == "/dev/vda / ext4 rw,relatime,discard 0 0\n"
    assert mounts_line(m[4]) == "tmpfs /srv/root tmpfs rw,lazytime,relatime,mode=755 0 0\n"
    assert mounts_line(m[5]) == "/dev/vda /srv/root/my\\040data ext4 ro,sync,relatime 0 0\n"


def test_the_hosts_proc_is_replaced_by_sysgates(task: Task, host: None) -> None:
    lines = read_proc(task, "/proc/self/mountinfo").decode().splitlines()
    dev = f"{generic.PROC_DEV >> 8 & 0xFFF}:{generic.PROC_DEV & 0xFF}"
    assert lines[0] == f"22 27 {dev} / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw"
    assert not any("binfmt_misc" in line for line in lines)  # mounted inside the host's /proc
    assert len(lines) == 5
    assert read_proc(task, "/proc/self/mounts").decode().splitlines()[0] == \
        "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0"


def test_a_root_folder_sees_only_what_is_below_it(task: Task, host: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(proc_namespace, "guest_root", lambda t: "/srv/root")
    mounts = proc_namespace.guest_mounts(task)
    assert [(m.point, m.mnt_id, m.parent) for m in mounts] == [("/", 31, 27), ("/my data", 32, 31),
                                                                ("/proc", 22, 31)]


def test_filesystems_are_the_mounted_types(task: Task, host: None) -> None:
    assert read_proc(task, "/proc/filesystems") == b"nodev\tproc\n\text4\nnodev\ttmpfs\n"


def test_the_real_host_table_parses(task: Task) -> None:
    mounts = proc_namespace.guest_mounts(task)
    assert [m.point for m in mounts].count("/proc") == 1
    assert all(isinstance(m, Mount) for m in mounts)


def test_mount_point_of_a_real_root_folder(task: Task, tmp_path: Path) -> None:
    assert proc_namespace.guest_root(task) == "/"
