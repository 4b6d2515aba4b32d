"""clone, clone3, wait4, waitid, execve printers against strace 6.1's text (checked with
the host's strace in tests/trace/test_multiprocess.py; here each case on its own)."""

from __future__ import annotations

import struct

import pytest

import sysgate.trace.decoders  # noqa: F401  (registers the printers)
from sysgate.syscall import REGISTRY
from sysgate.trace.decoders.process import printstatus
from sysgate.trace.options import parse
from sysgate.trace.printers import Ctx, known_at_entry, render
from tests.conftest import UNMAPPED, USER_BUF

SETTID = 0x01000000 | 0x00200000  # CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID
THREAD = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000 | 0x80000 | 0x100000 | 0x200000


def ctx(task, name: str, args: list[int], *options: str, exiting: bool = False, ret: int | None = None) -> Ctx:
    slot = task.kernel.table64.by_name(name)
    opts, _ = parse([*options, "prog"], {nr: s.name for nr, s in task.kernel.table64.slots.items()}, {})
    opts = opts.for_call(slot.nr in opts.abbrev, slot.nr in opts.verbose_set)  # as the tracer views one call
    return Ctx(task, opts, REGISTRY[f"sys_{name}"], args, exiting=exiting, ret=ret)


def arg(c: Ctx, i: int) -> str | None:
    assert c.spec is not None
    return render(c, c.spec.params[i], c.args[i])


def test_clone_prints_stack_and_flags_first_then_the_tail(task):
    args = [SETTID | 17, 0, 0, 0x4AF650, 0]
    c = ctx(task, "clone", args)
    assert arg(c, 0) == "child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD"
    assert arg(c, 1) is None and arg(c, 4) is None
    assert not known_at_entry(c, c.spec.params[2], 0)  # the tail waits for the return
    c = ctx(task, "clone", args, exiting=True, ret=42)
    assert arg(c, 2) == "child_tidptr=0x4af650"
    assert arg(c, 3) is None


def test_clone_of_a_thread_shows_parent_tid_and_tls(task):
    task.mm.write(USER_BUF, struct.pack("<i", 1234))
    args = [THREAD, 0x7000, USER_BUF, USER_BUF + 8, 0x9000]
    c = ctx(task, "clone", args, exiting=True, ret=1234)
    assert arg(c, 0) == ("child_stack=0x7000, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|"
                         "CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID")
    assert arg(c, 2) == f"parent_tid=[1234], tls=0x9000, child_tidptr={USER_BUF + 8:#x}"


def test_clone_without_a_tail_is_whole_at_entry(task):
    c = ctx(task, "clone", [17, 0, 0, 0, 0])
    assert arg(c, 0) == "child_stack=NULL, flags=SIGCHLD"
    assert known_at_entry(c, c.spec.params[2], 0) and known_at_entry(c, c.spec.params[3], 0)
    assert arg(ctx(task, "clone", [0x4000 | 0x100 | 17, 0, 0, 0, 0]), 0) == \
        "child_stack=NULL, flags=CLONE_VM|CLONE_VFORK|SIGCHLD"
    assert arg(ctx(task, "clone", [0, 0, 0, 0, 0], "-X", "raw"), 0) == "child_stack=NULL, flags=0"


def clone_args(flags: int, child_tid: int = 0, parent_tid: int = 0, exit_signal: int = 0, stack: int = 0,
               stack_size: int = 0, tls: int = 0) -> bytes:
    return struct.pack("<11Q", flags, 0, child_tid, parent_tid, exit_signal, stack, stack_size, tls, 0, 0, 0)


def test_clone3_struct_and_what_the_kernel_wrote(task):
    ptid = USER_BUF + 0x200
    task.mm.write(USER_BUF, clone_args(THREAD, ptid, ptid, 0, 0x7000, 0x800300, 0x9000))
    task.mm.write(ptid, struct.pack("<i", 77))
    c = ctx(task, "clone3", [USER_BUF, 88])
    assert not known_at_entry(c, c.spec.params[0], USER_BUF)
    c = ctx(task, "clone3", [USER_BUF, 88], exiting=True, ret=77)
    assert arg(c, 0) == ("{flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|"
                         f"CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, child_tid={ptid:#x}, "
                         f"parent_tid={ptid:#x}, exit_signal=0, stack=0x7000, stack_size=0x800300, tls=0x9000}} "
                         "=> {parent_tid=[77]}")
    task.mm.write(USER_BUF, clone_args(0, exit_signal=17))
    c = ctx(task, "clone3", [USER_BUF, 88])
    assert known_at_entry(c, c.spec.params[0], USER_BUF)
    assert arg(c, 0) == "{flags=0, exit_signal=SIGCHLD, stack=NULL, stack_size=0}"
    assert arg(ctx(task, "clone3", [USER_BUF, 40]), 0) == f"{USER_BUF:#x}"  # shorter than VER0
    assert arg(ctx(task, "clone3", [UNMAPPED, 88]), 0) == f"{UNMAPPED:#x}"


@pytest.mark.parametrize(("status", "text"), [
    (7 << 8, "[{WIFEXITED(s) && WEXITSTATUS(s) == 7}]"),
    (9, "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}]"),
    (11 | 0x80, "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV && WCOREDUMP(s)}]"),
    (19 << 8 | 0x7F, "[{WIFSTOPPED(s) && WSTOPSIG(s) == SIGSTOP}]"),
    (0xFFFF, "[{WIFCONTINUED(s)}]"),
    (5 << 8 | 0x7F | 3 << 16, "[{WIFSTOPPED(s) && WSTOPSIG(s) == SIGTRAP}|PTRACE_EVENT_CLONE<<16]"),
])
def test_wait_status(status, text):
    assert printstatus("abbrev", status) == text


def test_wait4_arguments(task):
    task.mm.write(USER_BUF, struct.pack("<i", 3 << 8))
    c = ctx(task, "wait4", [-1, USER_BUF, 0x40000001, 0], exiting=True, ret=5)
    assert [arg(c, i) for i in range(4)] == ["-1", "[{WIFEXITED(s) && WEXITSTATUS(s) == 3}]", "WNOHANG|__WALL",
                                            "NULL"]
    c = ctx(task, "wait4", [-1, USER_BUF, 1, USER_BUF + 64], exiting=True, ret=0)  # WNOHANG, nothing yet
    assert arg(c, 1) == f"{USER_BUF:#x}" and arg(c, 3) == f"{USER_BUF + 64:#x}"
    c = ctx(task, "wait4", [-1, USER_BUF, 0, 0], exiting=True, ret=-10)
    assert arg(c, 1) == f"{USER_BUF:#x}"
    assert arg(ctx(task, "wait4", [-1, 0, 0x10, 0]), 2) == "0x10 /* W??? */"


def test_waitid_arguments(task):
    info = struct.pack("<iii4xiIi", 17, 0, 1, 42, 0, 3).ljust(128, b"\0")
    task.mm.write(USER_BUF, info)
    c = ctx(task, "waitid", [1, 42, USER_BUF, 4, 0], exiting=True, ret=0)
    assert [arg(c, i) for i in range(5)] == [
        "P_PID", "42", "{si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=42, si_uid=0, si_status=3, si_utime=0, "
        "si_stime=0}", "WEXITED", "NULL"]
    task.mm.write(USER_BUF, bytes(128))
    assert arg(ctx(task, "waitid", [0, 0, USER_BUF, 5, 0], exiting=True, ret=0), 2) == "{}"
    assert arg(ctx(task, "waitid", [7, 0, 0, 4, 0]), 0) == "0x7 /* P_??? */"


def put_strings(task, at: int, strings: list[bytes]) -> int:
    """A NULL-terminated array of string pointers at `at`, the strings after it."""
    text = at + 8 * (len(strings) + 1)
    ptrs = []
    for s in strings:
        task.mm.write(text, s + b"\0")
        ptrs.append(text)
        text += len(s) + 1
    task.mm.write(at, struct.pack(f"<{len(ptrs) + 1}Q", *ptrs, 0))
    return at


def test_execve_argv_and_envp(task):
    argv = put_strings(task, USER_BUF, [b"cat", b"-n"])
    envp = put_strings(task, USER_BUF + 0x400, [b"A=1", b"B=2", b"C=3"])
    c = ctx(task, "execve", [0, argv, envp])
    assert arg(c, 1) == '["cat", "-n"]'
    assert arg(c, 2) == f"{envp:#x} /* 3 vars */"
    c = ctx(task, "execve", [0, argv, envp], "-v")
    assert arg(c, 2) == '["A=1", "B=2", "C=3"]'
    assert arg(ctx(task, "execve", [0, argv, envp], "-s", "1"), 1) == '["c"..., ...]'
    assert arg(ctx(task, "execve", [0, argv, envp], "-e", "verbose=none"), 1) == f"{argv:#x}"
    one = put_strings(task, USER_BUF + 0x800, [b"X=1"])
    assert arg(ctx(task, "execve", [0, argv, one]), 2) == f"{one:#x} /* 1 var */"
    assert arg(ctx(task, "execve", [0, 0, 0]), 1) == "NULL"
    assert arg(ctx(task, "execve", [0, UNMAPPED, UNMAPPED]), 1) == f"{UNMAPPED:#x}"
    assert arg(ctx(task, "execve", [0, UNMAPPED, UNMAPPED]), 2) == f"{UNMAPPED:#x}"
