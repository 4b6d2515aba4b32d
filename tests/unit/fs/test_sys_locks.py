"""flock: the host's whole-file locks for host files (checked against a second open file
and against another process), the kernel's own table for /proc files, and the argument
checks in Linux's order."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys as pysys
from pathlib import Path

import pytest

from sysgate.kernel.task import Task
from sysgate.kernel.wait import Blocked
from sysgate.uapi import fcntl as o
from sysgate.uapi.errno import Errno
from tests.conftest import sys
from tests.unit.fs.conftest import open_fd
from tests.unit.hostsys import host_sys, linux_only

SH, EX, NB, UN, MAND = o.LOCK_SH, o.LOCK_EX, o.LOCK_NB, o.LOCK_UN, o.LOCK_MAND


@pytest.fixture
def f(tmp_path: Path) -> Path:
    p = tmp_path / "f"
    p.write_bytes(b"")
    return p


@linux_only
@pytest.mark.parametrize("cmd", [SH, EX, UN, SH | NB, EX | NB, UN | NB, 0, 3, NB, 16, 64, 128, 192, SH | 16,
                                 MAND, MAND | 3, 0xFFFFFFFF])
def test_commands_match_the_host(task: Task, f: Path, tmp_path: Path, cmd: int) -> None:
    (tmp_path / "host").write_bytes(b"")  # a file of its own: the guest's locks are host locks
    hfd = os.open(tmp_path / "host", os.O_RDONLY)
    try:
        assert sys(task, "flock", open_fd(task, "f"), cmd) == host_sys("flock", hfd, cmd)
    finally:
        os.close(hfd)


def test_conflicts_between_open_files(task: Task, f: Path) -> None:
    a, b = open_fd(task, "f"), open_fd(task, "f")
    dup = sys(task, "dup", a)
    assert sys(task, "flock", a, EX) == 0
    assert sys(task, "flock", a, EX) == 0  # again: nothing changes
    assert sys(task, "flock", dup, SH | NB) == 0  # the same open file: converted, no conflict
    assert sys(task, "flock", b, EX | NB) == -Errno.EWOULDBLOCK
    assert sys(task, "flock", b, SH | NB) == 0  # both shared now
    assert sys(task, "flock", a, EX | NB) == -Errno.EWOULDBLOCK  # the upgrade conflicts ...
    assert sys(task, "flock", b, EX | NB) == 0  # ... and dropped a's lock on the way, as Linux does
    assert sys(task, "close", b) == 0  # closing the last descriptor releases it
    assert sys(task, "flock", a, EX | NB) == 0


@linux_only
def test_conflicts_with_other_processes(task: Task, f: Path) -> None:
    fd = open_fd(task, "f")
    assert sys(task, "flock", fd, EX) == 0
    probe = "import fcntl, os, sys\nfd = os.open(sys.argv[1], os.O_RDONLY)\n" \
            "try:\n    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)\nexcept OSError as e:\n    print(e.errno)\n"
    out = subprocess.run([pysys.executable, "-c", probe, str(f)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(Errno.EWOULDBLOCK.value)
    hfd = os.open(f, os.O_RDONLY)
    try:
        fcntl.flock(hfd, fcntl.LOCK_UN)
        assert sys(task, "flock", fd, UN) == 0
        fcntl.flock(hfd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released
        assert sys(task, "flock", open_fd(task, "f"), SH | NB) == -Errno.EWOULDBLOCK
    finally:
        os.close(hfd)


def test_argument_checks_in_order(task: Task, f: Path) -> None:
    assert sys(task, "flock", 99, MAND) == 0  # ignored before anything is looked at
    assert sys(task, "flock", 99, 3) == -Errno.EINVAL  # the command before the descriptor
    assert sys(task, "flock", 99, SH) == -Errno.EBADF
    path = open_fd(task, "f", o.O_PATH)
    assert sys(task, "flock", path, SH) == -Errno.EBADF  # fdget: not an O_PATH descriptor
    # A descriptor opened with the access mode 3 can neither read nor write: only unlock.
    nomode = open_fd(task, "f", 3)
    assert sys(task, "flock", nomode, SH) == -Errno.EBADF
    assert sys(task, "flock", nomode, UN) == 0
    assert sys(task, "flock", open_fd(task, "f", o.O_WRONLY), EX) == 0


def test_kernel_files(task: Task) -> None:
    a, b = open_fd(task, "/proc/self/maps"), open_fd(task, "/proc/self/maps")
    assert sys(task, "flock", a, SH) == 0
    assert sys(task, "flock", b, SH | NB) == 0
    assert sys(task, "flock", b, EX | NB) == -Errno.EWOULDBLOCK
    with pytest.raises(Blocked):  # waits (polling) for the holder, as for a host file's lock
        task.kernel.table64.stubs[task.kernel.table64.by_name("flock").nr](task, [73, b, EX, 0, 0, 0, 0, 0, 0])
    assert task.call_state().deadline is not None
    task._call_state = None
    assert sys(task, "flock", a, UN) == 0
    assert sys(task, "flock", b, EX | NB) == 0
    assert sys(task, "flock", a, SH | NB) == -Errno.EWOULDBLOCK
    assert sys(task, "close", b) == 0  # its lock goes with the last reference
    assert sys(task, "flock", a, EX | NB) == 0
    assert sys(task, "flock", open_fd(task, "/proc/self/status" if os.path.exists("/proc/self/status")
                                        else "/proc/self/maps"), UN) == 0
