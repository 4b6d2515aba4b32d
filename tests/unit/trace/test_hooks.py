"""Kernel.on_syscall_enter / on_syscall_exit: hooks that read and rewrite decoded
arguments, answer a call without running it, and read or rewrite its result."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sysgate.entry.traced import make_traced_entry
from sysgate.kernel.task import Task
from sysgate.trace.hooks import SyscallCall
from sysgate.trace.options import parse
from sysgate.uapi.errno import Errno
from tests.conftest import USER_BUF, put_str


def call(t: Task, name: str, *args: int) -> int:
    """Dispatch `name(*args)` through the traced entry, as the CPU would."""
    slot = t.kernel.table64.by_name(name)
    assert slot is not None
    t.kernel.current = t
    frame = [slot.nr, *[a & 0xFFFFFFFFFFFFFFFF for a in args], *([0] * (6 - len(args))), 0x401000, 0x202]
    result = make_traced_entry(t.kernel)(frame)
    return result - (1 << 64) if result >= 1 << 63 else result


def test_enter_hook_sees_decoded_arguments(task: Task) -> None:
    seen: list[dict[str, int]] = []
    task.kernel.on_syscall_enter("lseek", lambda c: seen.append(dict(c.args)))
    call(task, "lseek", 0, -5 & 0xFFFFFFFFFFFFFFFF, 1)
    assert seen == [{"fd": 0, "offset": -5, "whence": 1}]  # off_t is signed: decoded as the handler gets it


def test_enter_hook_rewrites_an_argument(task: Task) -> None:
    @task.kernel.on_syscall_enter("umask")
    def wider(c: SyscallCall) -> None:
        c.args["mask"] = 0o077

    call(task, "umask", 0o022)
    assert task.fs.umask == 0o077


def test_enter_hook_answers_without_running_the_handler(task: Task, tmp_path: Path) -> None:
    task.kernel.on_syscall_enter("openat", lambda c: c.fail(Errno.EACCES) if c.path("filename") == b"secret"
                                 else None)
    path = put_str(task, "secret")
    assert call(task, "openat", -100, path, 0o100 | 0o1, 0o644) == -Errno.EACCES
    assert not (tmp_path / "secret").exists()
    task.kernel.on_syscall_enter(39, lambda c: c.succeed(1234))
    assert call(task, "getpid") == 1234


def test_exit_hook_reads_and_rewrites_the_result(task: Task) -> None:
    results: list[int | None] = []

    @task.kernel.on_syscall_exit("getpid")
    def fake(c: SyscallCall) -> None:
        results.append(c.result)
        c.result = 77

    assert call(task, "getpid") == 77 and results == [task.pid]


def test_hook_for_every_call_and_order_of_hooks(task: Task) -> None:
    order: list[str] = []
    task.kernel.on_syscall_enter(None, lambda c: order.append(f"any:{c.name}"))
    task.kernel.on_syscall_enter("getuid", lambda c: order.append("getuid"))
    call(task, "getuid")
    assert order == ["getuid", "any:getuid"]


def test_unknown_name_is_refused(task: Task) -> None:
    with pytest.raises(ValueError, match="no system call named 'nosuch'"):
        task.kernel.on_syscall_enter("nosuch", lambda c: None)


def test_args_mapping_and_nameless_calls(task: Task) -> None:
    got: list[SyscallCall] = []
    task.kernel.on_syscall_enter(None, got.append)
    t = task
    t.kernel.current = t
    frame = [1000, 7, 8, 9, 0, 0, 0, 0, 0x202]
    assert make_traced_entry(t.kernel)(frame) == -Errno.ENOSYS
    c = got[-1]
    assert c.name == "syscall_0x3e8" and c.args["arg0"] == 7 and list(c.args) == [f"arg{i}" for i in range(6)]
    assert len(c.args) == 6
    with pytest.raises(KeyError):
        c.args["fd"]
    with pytest.raises(TypeError):
        del c.args["arg0"]
    frame = [0xFFFFFFFF, 0, 0, 0, 0, 0, 0, 0, 0x202]
    make_traced_entry(t.kernel)(frame)
    assert got[-1].name == "syscall_0xffffffffffffffff"


def test_path_of_an_unreadable_argument_is_empty(task: Task) -> None:
    paths: list[bytes] = []
    task.kernel.on_syscall_enter("openat", lambda c: paths.append(c.path("filename")))
    call(task, "openat", -100, 0x1000, 0)
    put_str(task, b"x" * 5000, USER_BUF)
    call(task, "openat", -100, USER_BUF, 0)
    assert paths == [b"", b"x" * 4096]


def test_hooks_and_tracer_together_trace_what_the_guest_sees(task: Task) -> None:
    task.kernel.on_syscall_exit("getpid", lambda c: setattr(c, "result", 5))
    task.kernel.on_syscall_enter("umask", lambda c: c.args.__setitem__("mask", 0o077))
    out = io.StringIO()
    opts, _ = parse(["prog"], {nr: s.name for nr, s in task.kernel.table64.slots.items()})
    task.kernel.trace(opts, out)
    try:
        call(task, "getpid")
        call(task, "umask", 0o022)
    finally:
        task.kernel.tracer = None
    assert out.getvalue().splitlines() == ["getpid()                                = 5",
                                           "umask(077)                              = 022"]
