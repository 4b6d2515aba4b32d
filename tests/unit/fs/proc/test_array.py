"""/proc/PID/status and /proc/PID/stat (fs/proc/array.c), from the task's state."""

from __future__ import annotations

import pytest

from sysgate.fs.hostfs import HostFile
from sysgate.fs.proc import array
from sysgate.fs.proc.array import CAP_FULL_SET, c_octal, escape_comm, max_fds, show_stat, show_status
from sysgate.kernel.task import Task
from sysgate.uapi.personality import ADDR_NO_RANDOMIZE
from sysgate.uapi.resource import RLIMIT_SIGPENDING
from sysgate.uapi.signal import SIG_IGN, SIGINT, SIGTERM, SIGUSR1, sigmask
from tests.unit.fs.proc.conftest import read_proc

STATUS_FIELDS = [
    "Name", "Umask", "State", "Tgid", "Ngid", "Pid", "PPid", "TracerPid", "Uid", "Gid", "FDSize", "Groups",
    "NStgid", "NSpid", "NSpgid", "NSsid", "Kthread", "VmPeak", "VmSize", "VmLck", "VmPin", "VmHWM", "VmRSS",
    "RssAnon", "RssFile", "RssShmem", "VmData", "VmStk", "VmExe", "VmLib", "VmPTE", "VmSwap", "HugetlbPages",
    "CoreDumping", "THP_enabled", "untag_mask", "Threads", "SigQ", "SigPnd", "ShdPnd", "SigBlk", "SigIgn",
    "SigCgt", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Seccomp_filters",
    "Speculation_Store_Bypass", "SpeculationIndirectBranch", "Cpus_allowed", "Cpus_allowed_list",
    "Mems_allowed", "Mems_allowed_list", "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches",
    "x86_Thread_features", "x86_Thread_features_locked",
]
"""proc_pid_status's lines on Linux 6.12 (x86-64, Debian's configuration), in order."""


def status(task: Task) -> dict[str, str]:
    lines = show_status(task).decode("latin-1").splitlines()
    fields = dict(line.split(":\t", 1) for line in lines)
    assert [line.split(":")[0] for line in lines] == STATUS_FIELDS
    return fields


def test_status_fields_in_order(task: Task) -> None:
    task.comm = b"prog"
    s = status(task)
    assert s["Name"] == "prog"
    assert s["State"] == "R (running)"  # the current task: the one reading
    assert (s["Tgid"], s["Pid"], s["PPid"]) == (str(task.pid), str(task.tid), "1")
    c = task.cred
    assert s["Uid"] == f"{c.uid}\t{c.euid}\t{c.suid}\t{c.fsuid}"
    assert s["Cpus_allowed"] == "1" and s["Cpus_allowed_list"] == "0"  # one CPU, as sched_getaffinity says
    assert s["Mems_allowed"] == ",".join(["00000000"] * 31 + ["00000001"])
    assert s["Threads"] == "1"
    through_read = [line.split(b":")[0] for line in read_proc(task, "/proc/self/status").splitlines()]
    assert through_read == [f.encode() for f in STATUS_FIELDS]


def test_name_escapes_newline_and_backslash(task: Task) -> None:
    task.comm = b"a\nb\\c d"
    assert status(task)["Name"] == "a\\nb\\\\c d"
    assert escape_comm(b"plain") == b"plain"


@pytest.mark.parametrize("umask, text", [(0o022, "0022"), (0, "0000"), (0o777, "0777"), (0o7, "0007")])
def test_umask_is_printed_as_c_does(task: Task, umask: int, text: str) -> None:
    task.fs.umask = umask
    assert status(task)["Umask"] == text
    assert c_octal(umask, 4) == text


def test_groups_end_with_a_space(task: Task) -> None:
    task.cred.groups = []
    assert status(task)["Groups"] == " "
    task.cred.groups = [4, 24, 1000]
    assert status(task)["Groups"] == "4 24 1000 "


def test_signal_state(task: Task) -> None:
    task.blocked = sigmask(SIGINT) | sigmask(64)
    task.pending = sigmask(SIGUSR1)
    task.sighand.action[SIGTERM].handler = SIG_IGN
    task.sighand.action[SIGINT].handler = 0x401000
    task.group.rlimits[RLIMIT_SIGPENDING] = (1000, 1000)
    s = status(task)
    assert s["SigBlk"] == "8000000000000002"
    assert s["SigPnd"] == "0000000000000200"
    assert s["SigIgn"] == "0000000000004000"
    assert s["SigCgt"] == "0000000000000002"
    assert s["SigQ"] == "1/1000"


def test_capabilities_follow_the_credentials(task: Task) -> None:
    task.cred.euid = 0
    assert status(task)["CapEff"] == f"{CAP_FULL_SET:016x}" == "000001ffffffffff"
    task.cred.euid = 1000
    s = status(task)
    assert (s["CapEff"], s["CapPrm"], s["CapBnd"]) == ("0" * 16, "0" * 16, "000001ffffffffff")


def test_fd_table_size(task: Task) -> None:
    assert max_fds(task) == 64
    f = task.files.get(0)
    task.files.install(100, f, False)
    assert max_fds(task) == 128
    task.files.install(255, f, False)
    assert max_fds(task) == 256  # as bash's fd 255 makes it
    task.files.install(1000, f, False)
    assert max_fds(task) == 1024
    assert isinstance(f, HostFile)


def test_stat_has_52_fields(task: Task) -> None:
    task.comm = b"my prog"  # a name with a space: the only field in parentheses
    text = show_stat(task).decode()
    head, rest = text.rsplit(") ", 1)
    assert head == f"{task.tid} (my prog"
    fields = rest.split()
    assert len(fields) + 2 == 52
    assert fields[0] == "R"
    assert [int(x) for x in fields[1:6]] == [1, task.group.pgid, task.group.sid, 0, -1]  # ppid pgrp session tty
    mm = task.mm
    assert int(fields[20]) == 18 * 4096  # vsize
    assert fields[38 - 3] == "17"  # field 38, exit_signal: SIGCHLD
    assert fields[39 - 3] == "0"  # field 39, processor: CPU 0
    assert int(fields[-8]) == mm.start_data
    assert text.endswith(" 0\n")


def test_stat_flags_say_whether_addresses_are_random(task: Task) -> None:
    task.personality = ADDR_NO_RANDOMIZE
    assert array.task_flags(task) == 0
    task.personality = 0
    assert array.task_flags(task) == array.PF_RANDOMIZE


def test_stat_start_time_is_in_clock_ticks(task: Task) -> None:
    fields = show_stat(task).decode().rsplit(") ", 1)[1].split()
    assert int(fields[19]) == task.start_boottime // 10_000_000


def test_state_follows_the_scheduler(task: Task) -> None:
    """A task waiting for the CPU is "R", one blocked in a call "S", a stopped one "T":
    LTP's TST_PROCESS_STATE_WAIT(pid, 'S') relies on it to know a task is asleep."""
    from sysgate.kernel.sched import TaskState

    saved_current, saved_state = task.kernel.current, task.state
    try:
        task.kernel.current = None  # another task is on the CPU
        assert array.task_state(task) == "R (running)"
        task.state = TaskState.BLOCKED
        assert array.task_state(task) == "S (sleeping)"
        assert show_stat(task).split(b") ", 1)[1][:1] == b"S"
        task.state = TaskState.STOPPED
        assert array.task_state(task) == "T (stopped)"
    finally:
        task.kernel.current, task.state = saved_current, saved_state
