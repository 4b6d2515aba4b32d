"""/proc/PID's own entries (fs/proc/base.c): the table, links, cmdline, environ, comm,
limits, personality, loginuid, children and the task/ directory."""

from __future__ import annotations

import pytest

from sysgate.fs.proc import base
from sysgate.fs.proc.base import TGID_ENTRIES, TID_ENTRIES
from sysgate.kernel.task import Task
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import O_RDONLY, O_WRONLY
from sysgate.uapi.resource import RLIM_INFINITY, RLIMIT_NOFILE, RLIMIT_STACK
from tests.conftest import USER_BUF, sys
from tests.unit.fs.proc.conftest import list_dir, proc_open, read_proc, readlink

ARGS = 0x10008000  # inside the test task's read-write memory


def set_args(t: Task, argv: list[bytes], envp: list[bytes]) -> None:
    """Lay out argument and environment strings as exec does, and point the mm at them."""
    blob_a = b"".join(a + b"\0" for a in argv)
    blob_e = b"".join(e + b"\0" for e in envp)
    t.mm.write(ARGS, blob_a + blob_e)
    mm = t.mm
    mm.arg_start, mm.arg_end = ARGS, ARGS + len(blob_a)
    mm.env_start, mm.env_end = mm.arg_end, mm.arg_end + len(blob_e)


def test_the_pid_directory_lists_linuxs_table_in_order(task: Task) -> None:
    assert list_dir(task, "/proc/self")[2:] == [n.encode() for n in TGID_ENTRIES]
    assert list_dir(task, "/proc/self/task") == [b".", b"..", b"%d" % task.tid]
    assert list_dir(task, f"/proc/self/task/{task.tid}")[2:] == [n.encode() for n in TID_ENTRIES]
    # Linux's tables name these in this order (tgid_base_stuff), with the task directory first.
    order = ["task", "fd", "fdinfo", "environ", "auxv", "status", "limits", "comm", "cmdline", "stat", "statm",
             "maps", "cwd", "root", "exe", "mounts", "mountinfo", "smaps"]
    assert [n for n in TGID_ENTRIES if n in order] == order


def test_links(task: Task) -> None:
    task.exe_path = "/bin/prog"
    assert readlink(task, "/proc/self/exe") == b"/bin/prog"
    assert readlink(task, "/proc/self/cwd") == task.fs.cwd.d_path().encode()
    assert readlink(task, "/proc/self/root") == b"/"


def test_cmdline_and_environ(task: Task) -> None:
    set_args(task, [b"prog", b"two words", b""], [b"A=1", b"B="])
    assert read_proc(task, "/proc/self/cmdline") == b"prog\0two words\0\0"
    assert read_proc(task, "/proc/self/environ") == b"A=1\0B=\0"


def test_cmdline_after_setproctitle(task: Task) -> None:
    """A program that overwrote the NUL ending its arguments shows the text up to the first
    NUL from the start (get_mm_proctitle), running into the environment."""
    set_args(task, [b"prog", b"arg"], [b"A=1"])
    task.mm.write(ARGS, b"new title that is long\0")
    assert read_proc(task, "/proc/self/cmdline") == b"new title that is long\0"


def test_cmdline_before_exec_is_empty(task: Task) -> None:
    assert read_proc(task, "/proc/self/cmdline") == b""
    assert read_proc(task, "/proc/self/environ") == b""


def write_file(t: Task, path: str, data: bytes) -> int:
    fd = proc_open(t, path, O_WRONLY)
    assert fd >= 0, fd
    t.mm.write(USER_BUF + 0x2000, data)
    try:
        return sys(t, "write", fd, USER_BUF + 0x2000, len(data))
    finally:
        sys(t, "close", fd)


@pytest.mark.parametrize("data, comm", [
    (b"newname", b"newname"),
    (b"name\n", b"name\n"),  # the newline is kept, as comm_write keeps it
    (b"abcdefghijklmnopqrstuvwxyz", b"abcdefghijklmno"),  # TASK_COMM_LEN - 1 bytes
    (b"ab\0cd", b"ab"),
    (b"", b""),
])
def test_writing_comm_renames_the_task(task: Task, data: bytes, comm: bytes) -> None:
    assert write_file(task, "/proc/self/comm", data) == len(data)
    assert task.comm == comm
    assert read_proc(task, "/proc/self/comm") == comm + b"\n"


def test_comm_as_prctl_sees_it(task: Task) -> None:
    write_file(task, "/proc/self/comm", b"viaproc")
    assert sys(task, "prctl", 16, USER_BUF + 0x3000, 0, 0, 0) == 0  # PR_GET_NAME
    assert task.mm.read(USER_BUF + 0x3000, 8) == b"viaproc\0"


def test_limits_table(task: Task) -> None:
    task.group.rlimits[RLIMIT_NOFILE] = (1024, 4096)
    task.group.rlimits[RLIMIT_STACK] = (8388608, RLIM_INFINITY)
    lines = read_proc(task, "/proc/self/limits").decode().splitlines()
    assert lines[0] == "Limit                     Soft Limit           Hard Limit           Units     "
    assert lines[4] == "Max stack size            8388608              unlimited            bytes     "
    assert lines[8] == "Max open files            1024                 4096                 files     "
    assert lines[14].startswith("Max nice priority ") and lines[14].endswith("  ")  # no unit
    assert len(lines) == 17


def test_personality(task: Task) -> None:
    task.personality = 0x0040000
    assert read_proc(task, "/proc/self/personality") == b"00040000\n"


def test_loginuid_and_sessionid(task: Task) -> None:
    uid, sid = base.inherited_audit_ids()
    assert read_proc(task, "/proc/self/loginuid") == b"%d" % uid
    assert read_proc(task, "/proc/self/sessionid") == b"%d" % sid
    if uid != base.AUDIT_UNSET and not task.cred.capable():
        pytest.skip("changing a set loginuid needs CAP_AUDIT_CONTROL")
    assert write_file(task, "/proc/self/loginuid", b"1234\n") == 5
    assert read_proc(task, "/proc/self/loginuid") == b"1234"
    assert read_proc(task, "/proc/self/sessionid") != b"%d" % base.AUDIT_UNSET
    assert write_file(task, "/proc/self/loginuid", b"12x") == -Errno.EINVAL
    assert write_file(task, "/proc/self/loginuid", b"99999999999") == -Errno.ERANGE


def test_children_lists_none_for_a_lone_process(task: Task) -> None:
    assert read_proc(task, f"/proc/self/task/{task.tid}/children") == b""


def test_files_are_generated_by_the_first_read(task: Task) -> None:
    task.comm = b"before"
    fd = proc_open(task, "/proc/self/comm", O_RDONLY)
    task.comm = b"after"
    assert sys(task, "read", fd, USER_BUF + 0x1000, 64) == 6
    assert task.mm.read(USER_BUF + 0x1000, 6) == b"after\n"
    task.comm = b"later"
    assert sys(task, "pread64", fd, USER_BUF + 0x1000, 64, 0) == 6  # the same text from then on
    assert sys(task, "lseek", fd, 0, 2) == 6


def test_syscall_outside_a_running_cpu_is_running(task: Task) -> None:
    assert read_proc(task, "/proc/self/syscall") == b"running\n"
