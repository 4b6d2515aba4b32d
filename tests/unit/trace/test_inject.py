"""-e inject= / -e fault=: the tokens strace accepts, its errors, and which calls `when=` selects."""

from __future__ import annotations

import pytest

from sysgate.errors import SysgateError
from sysgate.kernel.task import Task
from sysgate.tables.tbl import x86_64_table
from sysgate.trace.inject import INJECT_LAST_INF, Injector, InjectSpec, Poke, nargs, parse_inject, poke_memory
from sysgate.trace.qualify import SyscallNames
from sysgate.uapi.errno import Errno
from tests.conftest import RO_PAGE, UNMAPPED, USER_BUF

NAMES = SyscallNames({nr: s.name for nr, s in x86_64_table().slots.items()})
GETPID, WRITE = 39, 1


def spec(value: str, fault: bool = False) -> InjectSpec:
    return parse_inject(value, NAMES, fault)


def selected(value: str, calls: int = 12, tid: int = 1) -> list[int]:
    """Which of the first `calls` calls of getpid (1-based) the spec injects into."""
    inj = Injector([spec(value)])
    return [n for n in range(1, calls + 1) if inj.due(tid, GETPID) is not None]


def test_tokens() -> None:
    s = spec("getpid,write:error=EPERM:signal=SIGUSR1:delay_enter=2ms:delay_exit=3:when=2+")
    assert (s.error, s.signal, s.delay_enter_ns, s.delay_exit_ns) == (Errno.EPERM, 10, 2 * 10**6, 3000)
    assert GETPID in s.syscalls and WRITE in s.syscalls and 0 not in s.syscalls
    assert s.tampers and s.result == -Errno.EPERM
    assert spec("getpid:error=enoent").error == Errno.ENOENT  # errno names in any case
    assert spec("getpid:error=4095").error == 4095


@pytest.mark.parametrize(("text", "value", "result"), [
    ("42", 42, 42), ("0x10", 16, 16), ("010", 8, 8), ("0", 0, 0), ("-1", (1 << 64) - 1, -1),
    ("18446744073709551615", (1 << 64) - 1, -1),
])
def test_retval_is_read_as_strtoull(text: str, value: int, result: int) -> None:
    s = spec(f"getpid:retval={text}")
    assert (s.retval, s.result) == (value, result)


def test_fault_defaults_to_enosys_and_takes_only_fault_tokens() -> None:
    assert spec("getpid", fault=True).error == Errno.ENOSYS
    assert spec("getpid:when=3", fault=True).first == 3
    with pytest.raises(SysgateError, match="invalid fault argument 'getpid:retval=1'"):
        spec("getpid:retval=1", fault=True)


@pytest.mark.parametrize("value", [
    "getpid", "getpid:", "getpid:error=EWHAT", "getpid:error=0", "getpid:error=4096", "getpid:retval=x",
    "getpid:retval=18446744073709551616", "getpid:error=EPERM:retval=1", "getpid:retval=1:error=EPERM",
    "getpid:signal=SIGWHAT", "getpid:signal=65", "getpid:signal=1:signal=2", "getpid:delay_enter=soon",
    "getpid:delay_exit=-1", "getpid:when=0", "getpid:when=2..1", "getpid:when=1..65535", "getpid:when=1+0",
    "getpid:when=x", "getpid:when=65536", "getpid:colour=red", "getpid:error",
    "getpid:poke_enter=@arg1=f", "getpid:poke_enter=@arg8=00", "getpid:poke_enter=@arg1=00,@arg1=01",
    "getpid:syscall=write:error=EPERM", "getpid:syscall=nosuch:error=EPERM",
    "getpid:syscall=getuid:syscall=getuid:error=1", "getpid:syscall=getuid",
])
def test_invalid_expressions(value: str) -> None:
    with pytest.raises(SysgateError) as exc:
        spec(value)
    assert exc.value.status == 1 and str(exc.value) == f"trace: invalid inject argument '{value}'"


def test_the_set_must_name_calls() -> None:
    with pytest.raises(SysgateError, match="invalid system call 'nosuch'"):
        spec("nosuch:error=EPERM")
    with pytest.raises(SysgateError, match="invalid system call ''"):
        spec(":error=EPERM")


@pytest.mark.parametrize(("when", "expected"), [
    ("", list(range(1, 13))),
    ("when=3", [3]),
    ("when=3+", list(range(3, 13))),
    ("when=3+4", [3, 7, 11]),
    ("when=2..5", [2, 3, 4, 5]),
    ("when=2..9+3", [2, 5, 8]),
    ("when=1..1", [1]),
])
def test_when(when: str, expected: list[int]) -> None:
    assert selected("getpid:error=EPERM" + (f":{when}" if when else "")) == expected


def test_when_is_counted_per_thread_and_per_call() -> None:
    inj = Injector([spec("getpid,write:error=EPERM:when=2")])
    assert [inj.due(1, GETPID) is not None for _ in range(3)] == [False, True, False]
    assert inj.due(2, GETPID) is None and inj.due(2, GETPID) is not None  # another thread counts its own
    assert inj.due(1, WRITE) is None and inj.due(1, WRITE) is not None  # and each call on its own


def test_the_last_qualifier_for_a_call_wins() -> None:
    inj = Injector([spec("getpid,write:error=EPERM"), spec("getpid:retval=7")])
    assert inj.spec_for(GETPID) is not None and inj.spec_for(GETPID).retval == 7  # type: ignore[union-attr]
    assert inj.spec_for(WRITE) is not None and inj.spec_for(WRITE).error == Errno.EPERM  # type: ignore[union-attr]
    assert inj.spec_for(0) is None


def test_pokes_and_pure_replacements() -> None:
    s = spec("write:poke_enter=@arg2=41420a,@arg3=00:poke_exit=@arg1=ff:syscall=getpid:retval=1")
    assert s.poke_enter == [Poke(2, b"AB\n"), Poke(3, b"\0")] and s.poke_exit == [Poke(1, b"\xff")]
    assert s.syscall == GETPID
    assert INJECT_LAST_INF == 0xFFFF
    assert nargs(WRITE, None) == 3 and nargs(100000, 2) == 2 and nargs(100000, None) == 6


def test_poke_memory_writes_read_only_private_pages_as_ptrace_does(task: Task) -> None:
    assert poke_memory(task.mm, USER_BUF, b"xyz") and task.mm.read(USER_BUF, 3) == b"xyz"
    assert poke_memory(task.mm, RO_PAGE + 8, b"ro") and task.mm.read(RO_PAGE + 8, 2) == b"ro"
    assert not poke_memory(task.mm, UNMAPPED, b"x")
