"""/proc/<pid> of a guest: generated from the kernel's state (fs/proc/base.c, task_mmu.c)."""

from __future__ import annotations

import os

import pytest

from sysgate.errors import KernelError
from sysgate.fs import procfs
from sysgate.kernel.task import Task
from sysgate.mm.vma import Vma
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import AT_FDCWD, O_RDONLY, O_WRONLY
from tests.conftest import USER_BUF, put_str, sys


def open_read(task: Task, path: str, size: int = 4096) -> bytes:
    fd = sys(task, "openat", AT_FDCWD, put_str(task, path), O_RDONLY, 0)
    assert fd >= 0, fd
    n = sys(task, "read", fd, USER_BUF + 0x1000, size)
    assert n >= 0
    sys(task, "close", fd)
    return task.mm.read(USER_BUF + 0x1000, n)


def test_self_and_pid_name_the_same_task(task: Task) -> None:
    assert procfs.resolve(task, (b"self",)).task is task
    assert procfs.resolve(task, (str(task.pid).encode(),)).task is task


@pytest.mark.parametrize("parts, errno", [
    ((b"self", b"nosuch"), Errno.ENOENT),  # an entry sysgate does not generate
    ((b"99999",), Errno.ENOENT),  # no such process
    ((b"self", b"maps", b"x"), Errno.ENOTDIR),
    ((b"self", b"fd", b"77"), Errno.ENOENT),  # a closed descriptor
])
def test_resolve_errors(task: Task, parts: tuple[bytes, ...], errno: Errno) -> None:
    with pytest.raises(KernelError) as exc:
        procfs.resolve(task, parts)
    assert exc.value.errno == errno


def test_links(task: Task) -> None:
    task.exe_path = "/bin/prog"
    assert procfs.readlink(procfs.resolve(task, (b"self", b"exe"))) == b"/bin/prog"
    assert procfs.readlink(procfs.resolve(task, (b"self", b"cwd"))) == os.fsencode(task.fs.cwd.path)
    assert procfs.readlink(procfs.resolve(task, (b"self", b"root"))) == b"/"
    assert procfs.readlink(procfs.resolve(task, (b"self", b"fd", b"0"))) == os.fsencode(task.files.get(0).path)
    with pytest.raises(KernelError) as exc:
        procfs.readlink(procfs.resolve(task, (b"self", b"maps")))
    assert exc.value.errno == Errno.EINVAL


def test_maps_format(task: Task) -> None:
    """show_map_vma: the prefix padded to 73 columns before a name, as Linux prints it."""
    task.mm.insert_vma(Vma(0x7FFFF7000000, 0x7FFFF7001000, 3, name="[stack]"))
    lines = procfs.show_maps(task.mm).decode().splitlines()
    assert "10000000-10010000 rw-p 00000000 00:00 0 " in lines
    stack = next(line for line in lines if line.endswith("[stack]"))
    assert stack == "7ffff7000000-7ffff7001000 rw-p 00000000 00:00 0".ljust(72) + " [stack]"
    assert any(line.startswith("10100000-10101000 r--p ") for line in lines)


def test_generated_files_through_open_and_read(task: Task) -> None:
    task.comm = b"prog"
    assert open_read(task, "/proc/self/comm") == b"prog\n"
    assert b"10000000-10010000 rw-p" in open_read(task, "/proc/self/maps")


def test_syscall_outside_a_running_cpu_is_running(task: Task) -> None:
    assert open_read(task, "/proc/self/syscall") == b"running\n"


def test_files_are_generated_by_the_first_read(task: Task) -> None:
    task.comm = b"before"
    fd = sys(task, "openat", AT_FDCWD, put_str(task, "/proc/self/comm"), O_RDONLY, 0)
    task.comm = b"after"
    assert sys(task, "read", fd, USER_BUF + 0x1000, 64) == 6
    assert task.mm.read(USER_BUF + 0x1000, 6) == b"after\n"
    task.comm = b"later"
    assert sys(task, "pread64", fd, USER_BUF + 0x1000, 64, 0) == 6  # the same text from then on
    assert sys(task, "lseek", fd, 0, 2) == 6


def test_proc_files_are_read_only(task: Task) -> None:
    assert sys(task, "openat", AT_FDCWD, put_str(task, "/proc/self/comm"), O_WRONLY, 0) == -Errno.EACCES


def test_fd_directory_lists_descriptors_when_read(task: Task) -> None:
    fd = sys(task, "openat", AT_FDCWD, put_str(task, "/proc/self/fd"), O_RDONLY | 0o200000, 0)
    n = sys(task, "getdents64", fd, USER_BUF + 0x1000, 4096)
    assert n > 0
    names = task.mm.read(USER_BUF + 0x1000, n)
    assert b"%d\0" % fd in names  # the directory's own descriptor, open while it is read
