"""/proc itself and walking under it (fs/proc/root.c, self.c, thread_self.c; the procfs
side of path lookup): only the kernel's own entries exist, links inside /proc are
followed on the way, and the magic links lead to the task's files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sysgate.errors import KernelError
from sysgate.fs import procfs
from sysgate.fs.proc.generic import PROC_DEV, PROC_ROOT_INO
from sysgate.kernel.task import Task
from sysgate.uapi import stat as ls
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import AT_FDCWD, O_DIRECTORY, O_NOFOLLOW, O_PATH, O_RDONLY, O_RDWR, O_WRONLY
from tests.conftest import USER_BUF, put_str, sys
from tests.unit.fs.conftest import as_nobody
from tests.unit.fs.proc.conftest import OUT, list_dir, proc_open, read_proc, readlink

STAT_BUF = USER_BUF + 0x3000


def stat_of(t: Task, path: str, call: str = "stat") -> tuple[int, int, int, int]:
    """(st_dev, st_ino, st_mode, st_nlink) of a path, or assert the call failed."""
    assert sys(t, call, put_str(t, path), STAT_BUF) == 0
    raw = t.mm.read(STAT_BUF, 144)
    dev, ino, nlink = (int.from_bytes(raw[i : i + 8], "little") for i in (0, 8, 16))
    mode = int.from_bytes(raw[24:28], "little")
    return dev, ino, mode, nlink


def test_proc_lists_its_entries_then_self_then_the_pids(task: Task) -> None:
    names = list_dir(task, "/proc")
    assert names[:2] == [b".", b".."]
    static = names[2 : names.index(b"self")]
    assert static == sorted(static, key=lambda n: (len(n), n))  # proc_readdir's rbtree order
    assert {b"cpuinfo", b"meminfo", b"version", b"uptime", b"loadavg", b"stat", b"filesystems", b"mounts",
            b"sys"} <= set(static)
    assert names[names.index(b"self") :] == [b"self", b"thread-self", b"%d" % task.pid]


def test_self_and_thread_self_are_links_to_the_reader(task: Task) -> None:
    assert readlink(task, "/proc/self") == b"%d" % task.pid
    assert readlink(task, "/proc/thread-self") == b"%d/task/%d" % (task.pid, task.tid)
    assert readlink(task, "/proc/mounts") == b"self/mounts"
    assert stat_of(task, "/proc/self", "lstat")[2] & ls.S_IFMT == ls.S_IFLNK
    assert stat_of(task, "/proc/self")[2] & ls.S_IFMT == ls.S_IFDIR
    assert read_proc(task, "/proc/thread-self/comm") == task.comm + b"\n"
    assert read_proc(task, "/proc/mounts") == read_proc(task, "/proc/self/mounts")


def test_proc_root_is_inode_1_on_the_proc_device(task: Task) -> None:
    dev, ino, mode, nlink = stat_of(task, "/proc")
    assert (dev, ino, mode) == (PROC_DEV, PROC_ROOT_INO, ls.S_IFDIR | 0o555)
    assert nlink == 2 + 2  # sys and the one process
    assert stat_of(task, "/proc/self/status")[1] == stat_of(task, "/proc/%d/status" % task.pid)[1]
    assert stat_of(task, "/proc/self/status")[1] != stat_of(task, "/proc/self/stat")[1]


@pytest.mark.parametrize("path, errno", [
    ("/proc/1", Errno.ENOENT),  # pid 1 is sysgate, not a guest task
    ("/proc/99999/status", Errno.ENOENT),
    ("/proc/0", Errno.ENOENT),
    ("/proc/02", Errno.ENOENT),  # a pid is written without leading zeros
    ("/proc/nosuch", Errno.ENOENT),  # nothing of the host's /proc shows through
    ("/proc/interrupts", Errno.ENOENT),
    ("/proc/self/nosuch", Errno.ENOENT),
    ("/proc/self/ns", Errno.ENOENT),
    ("/proc/sys/kernel/nosuch", Errno.ENOENT),
    ("/proc/self/status/x", Errno.ENOTDIR),
    ("/proc/self/status/", Errno.ENOTDIR),
    ("/proc/self/fd/77", Errno.ENOENT),  # a closed descriptor
    ("/proc/self/fd/00", Errno.ENOENT),
])
def test_missing_entries(task: Task, path: str, errno: Errno) -> None:
    assert proc_open(task, path) == -errno


def test_open_modes(task: Task) -> None:
    assert proc_open(task, "/proc/self", O_WRONLY) == -Errno.EISDIR
    assert proc_open(task, "/proc/self", O_RDONLY | O_NOFOLLOW) == -Errno.ELOOP
    assert proc_open(task, "/proc/self", O_RDONLY | O_NOFOLLOW | O_PATH) >= 0
    assert proc_open(task, "/proc/self/status", O_RDONLY | O_DIRECTORY) == -Errno.ENOTDIR
    # /proc/sys is judged by its owner bits even for root: a 0444 tunable cannot be opened to write.
    assert proc_open(task, "/proc/sys/kernel/ostype", O_WRONLY) == -Errno.EACCES


def test_writes_without_a_write_operation(task: Task) -> None:
    if os.geteuid() != 0:
        pytest.skip("root may open a read-only file for writing (CAP_DAC_OVERRIDE)")
    status = proc_open(task, "/proc/self/status", O_RDWR)
    cpuinfo = proc_open(task, "/proc/cpuinfo", O_WRONLY)
    assert sys(task, "write", status, USER_BUF, 1) == -Errno.EINVAL  # a seq_file has no ->write
    assert sys(task, "write", cpuinfo, USER_BUF, 1) == -Errno.EIO  # proc_reg_write without ->proc_write


def test_unprivileged_readers_get_the_mode_bits(task: Task) -> None:
    task.group.dumpable = 0  # as after a change of user: the entries belong to root (task_dump_owner)
    with as_nobody(task):
        assert proc_open(task, "/proc/self/status", O_WRONLY) == -Errno.EACCES
        assert proc_open(task, "/proc/self/environ") == -Errno.EACCES  # 0400, owned by the task's user
        assert proc_open(task, "/proc/self/fd", O_RDONLY | O_DIRECTORY) == -Errno.EACCES
        assert proc_open(task, "/proc/version") >= 0


def test_magic_links_lead_to_the_tasks_files(task: Task, tmp_path: Path) -> None:
    (tmp_path / "here.txt").write_bytes(b"cwd file")
    assert read_proc(task, "/proc/self/cwd/here.txt") == b"cwd file"
    assert read_proc(task, f"/proc/self/root{tmp_path}/here.txt") == b"cwd file"
    assert read_proc(task, f"/proc/..{tmp_path}/here.txt") == b"cwd file"
    dfd = proc_open(task, str(tmp_path), O_RDONLY | O_DIRECTORY)
    assert read_proc(task, f"/proc/self/fd/{dfd}/here.txt") == b"cwd file"
    assert read_proc(task, "/proc/self/cwd/../%s/here.txt" % tmp_path.name) == b"cwd file"
    assert proc_open(task, "/proc/self/fd/0/x") == -Errno.ENOTDIR  # /dev/null is no directory


def test_relative_lookups_from_a_proc_directory(task: Task) -> None:
    dfd = proc_open(task, "/proc/self", O_RDONLY | O_DIRECTORY)
    fd = sys(task, "openat", dfd, put_str(task, "comm"), O_RDONLY, 0)
    assert fd >= 0
    assert sys(task, "openat", dfd, put_str(task, "../version"), O_RDONLY, 0) >= 0
    assert sys(task, "chdir", put_str(task, "/proc/self/fd")) == 0
    assert read_proc(task, "../comm") == task.comm + b"\n"
    n = sys(task, "getcwd", OUT, 4096)
    assert task.mm.read(OUT, n) == b"/proc/%d/fd\0" % task.pid


def test_walk_reports_where_the_kernel_stops(task: Task) -> None:
    w = procfs.walk(task, (b"self", b"cwd", b"a", b"b"))
    assert w.node is not None and w.node.name == b"cwd" and w.rest == (b"a", b"b")
    w = procfs.walk(task, (b"self", b"..", b"..", b"etc"))
    assert w.node is None and w.rest == (b"etc",)
    with pytest.raises(KernelError) as exc:
        procfs.resolve(task, (b"self", b"cwd", b"x"))
    assert exc.value.errno == Errno.ENOTDIR


def test_readlink_of_what_is_no_link(task: Task) -> None:
    assert readlink(task, "/proc/self/status") == -Errno.EINVAL
    assert readlink(task, "/proc") == -Errno.EINVAL


def test_changing_entries_is_refused_as_procfs_refuses(task: Task) -> None:
    assert sys(task, "unlink", put_str(task, "/proc/self/status")) == -Errno.EPERM
    assert sys(task, "mkdir", put_str(task, "/proc/newdir"), 0o755) == -Errno.ENOENT
    assert sys(task, "openat", AT_FDCWD, put_str(task, "/proc/newfile"), 0o101, 0o644) == -Errno.ENOENT


def test_a_followed_magic_link_is_the_file_itself(task: Task, tmp_path: Path) -> None:
    """chmod, stat and open through /proc/self/fd/N act on the open file (nd_jump_link),
    as glibc's fchmodat(AT_SYMLINK_NOFOLLOW) relies on; not following it names the link."""
    target = tmp_path / "f"
    target.write_bytes(b"data")
    fd = proc_open(task, str(target), O_RDONLY | O_PATH)
    assert sys(task, "chmod", put_str(task, f"/proc/self/fd/{fd}"), 0o600) == 0
    assert os.stat(target).st_mode & 0o777 == 0o600
    assert read_proc(task, f"/proc/self/fd/{fd}") == b"data"
    assert stat_of(task, f"/proc/self/fd/{fd}")[1] == os.stat(target).st_ino
    assert stat_of(task, "/dev/stdin")[1] == os.fstat(task.files.get(0).host_fd or 0).st_ino
    assert stat_of(task, f"/proc/self/fd/{fd}", "lstat")[2] & ls.S_IFMT == ls.S_IFLNK
    os.unlink(target)
    assert read_proc(task, f"/proc/self/fd/{fd}") == b"data"  # deleted, still open: the same file
    assert sys(task, "unlink", put_str(task, f"/proc/self/fd/{fd}")) == -Errno.EPERM
