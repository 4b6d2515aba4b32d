"""User system calls: Kernel.syscall declares a call at a number of that kernel's table.

They go through the same declaration machinery as built-in handlers, so a bad declaration
fails when it is made, and a bad pointer gives EFAULT without the handler checking it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sysgate import Errno, Kernel, KernelError, Task, uaccess
from sysgate.argtypes import Int, Long, StrIn
from sysgate.syscall import SyscallDeclarationError
from sysgate.tables.listing import render_text
from tests.conftest import KERNEL_ADDR, UNMAPPED, make_task, put_str, sys


@pytest.fixture
def t(tmp_path: Path) -> Iterator[Task]:
    task = make_task(tmp_path)
    yield task
    task.kernel.shutdown()


def test_a_declared_call_is_dispatched_and_listed(t: Task) -> None:
    @t.kernel.syscall(nr=548)
    def sys_add10(t: Task, x: Long) -> int:
        """add ten to a number"""
        return x + 10

    assert sys(t, "add10", 5) == 15
    assert t.kernel.table64.stubs[548](t, [548, -3 & (2**64 - 1), 0, 0, 0, 0, 0, 0, 0]) == 7  # a long, signed
    line = next(x for x in render_text(t.kernel.table64).splitlines() if " add10 " in x)
    assert line.split() == ["548", "add10", "sys_add10", "full"]
    slot = t.kernel.table64.slots[548]
    assert slot.user and slot.spec is not None and slot.spec.summary == "add ten to a number"


def test_a_bad_pointer_is_efault_without_a_check_in_the_handler(t: Task) -> None:
    @t.kernel.syscall(nr=600)
    def sys_strlen(t: Task, s: StrIn) -> int:
        """length of a string"""
        value = uaccess.strncpy_from_user(t.mm, s, 4096)
        if value is None:
            raise KernelError(Errno.ENAMETOOLONG)
        return len(value)

    assert sys(t, "strlen", put_str(t, "hello")) == 5
    assert sys(t, "strlen", KERNEL_ADDR) == -Errno.EFAULT
    assert sys(t, "strlen", UNMAPPED) == -Errno.EFAULT


@pytest.mark.parametrize("nr, message", [
    (442, "'mount_setattr' (sys_mount_setattr) in Linux's x86_64 table; pass replace=True"),
    (134, "'uselib' (sys_ni_syscall, which Linux leaves unimplemented)"),
    (520, "the range syscall_64.tbl keeps for x32"),
    (-1, "must be an int from 0 to 4095"),
    (4096, "must be an int from 0 to 4095"),
])
def test_numbers_that_are_refused(t: Task, nr: int, message: str) -> None:
    with pytest.raises(SyscallDeclarationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        @t.kernel.syscall(nr=nr)
        def sys_x(t: Task) -> int:
            return 0


def test_a_number_is_declared_once(t: Task) -> None:
    @t.kernel.syscall(nr=548)
    def sys_first(t: Task) -> int:
        return 1

    with pytest.raises(SyscallDeclarationError, match="already declared here as 'first'"):
        @t.kernel.syscall(nr=548)
        def sys_second(t: Task) -> int:
            return 2


def test_replace_changes_only_this_kernel(t: Task, tmp_path: Path) -> None:
    @t.kernel.syscall(nr=39, replace=True, name="getpid")
    def sys_fake_getpid(t: Task) -> int:
        """get process identification (a fixed one)"""
        return 4242

    assert sys(t, "getpid") == 4242
    other = make_task(tmp_path)
    try:
        assert sys(other, "getpid") == other.pid  # another Kernel keeps Linux's handler
    finally:
        other.kernel.shutdown()


@pytest.mark.parametrize("source, message", [
    ("def sys_f(t, a: Int, b: Int, c: Int, d: Int, e: Int, f: Int, g: Int) -> int: return 0",
     "at most 6 arguments, not 7"),
    ("def sys_f(t, a) -> int: return 0", "needs a type from sysgate.argtypes"),
    ("def sys_f(t, a: int) -> int: return 0", "needs a type from sysgate.argtypes"),
    ("def sys_f(t, *a: Int) -> int: return 0", "must be positional"),
    ("def sys_f() -> int: return 0", "the first parameter must be the task"),
])
def test_bad_declarations_fail_when_declared(t: Task, source: str, message: str) -> None:
    scope: dict[str, object] = {"Int": Int}
    exec(source, scope)  # noqa: S102 - the declaration under test
    with pytest.raises(SyscallDeclarationError, match=message):
        t.kernel.syscall(nr=700)(scope["sys_f"])  # type: ignore[arg-type]
    assert 700 not in t.kernel.table64.slots


def test_a_name_must_be_an_identifier(t: Task) -> None:
    with pytest.raises(SyscallDeclarationError, match="not an identifier"):
        @t.kernel.syscall(nr=700, name="add 10")
        def sys_x(t: Task) -> int:
            return 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), min_size=2, max_size=2))
def test_random_arguments_give_a_result_or_an_errno(tmp_path_factory: pytest.TempPathFactory,
                                                    args: list[int]) -> None:
    task = make_task(tmp_path_factory.mktemp("usersys"))
    try:
        @task.kernel.syscall(nr=548)
        def sys_copy(t: Task, s: StrIn, n: Int) -> int:
            """copy a string"""
            data = uaccess.strncpy_from_user(t.mm, s, max(n, 0) % 64)
            return -1 if data is None else len(data)

        assert isinstance(sys(task, "copy", *args), int)
    finally:
        task.kernel.shutdown()


def test_a_fresh_kernel_has_no_user_calls() -> None:
    assert not any(slot.user for slot in Kernel().table64.slots.values())


def test_a_failing_user_call_ends_the_run_with_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys as pysys

    decl = tmp_path / "bad.py"
    decl.write_text("from sysgate.argtypes import Long\n\n@kernel.syscall(nr=548)\n"
                    "def sys_add10(t, x: Long) -> int:\n    return 1 // 0\n")
    prog = tmp_path / "prog"
    src = tmp_path / "prog.c"
    src.write_text("#include <unistd.h>\nint main(void) { return (int)syscall(548, 10); }\n")
    subprocess.run(["gcc", "-static", "-o", str(prog), str(src)], check=True)
    r = subprocess.run([pysys.executable, "-m", "sysgate", "run", "--syscalls", str(decl), str(prog)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 125
    assert r.stderr == ("sysgate: the user system call add10 (548) raised ZeroDivisionError: "
                        "integer division or modulo by zero\n")
