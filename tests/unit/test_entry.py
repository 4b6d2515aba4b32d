"""The x86-64 syscall entry: pt_regs, the number in eax, -ENOSYS, -errno, exit work.

Counterpart: arch/x86/entry/entry_64.S (entry_SYSCALL_64: orig_ax = rax, ax = -ENOSYS,
`movslq %eax, %rsi`) and arch/x86/entry/common.c (do_syscall_64: an unsigned number
below NR_syscalls is dispatched, x32 numbers go to the x32 path, disabled by default in
Debian's kernel, and anything else keeps -ENOSYS).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sysgate.argtypes import Int
from sysgate.cpu.base import SyscallEntry
from sysgate.entry.syscall64 import make_entry
from sysgate.errors import KernelError
from sysgate.kernel.task import Task
from sysgate.syscall import make_spec
from sysgate.tables.tbl import Slot
from sysgate.uapi.errno import Errno

U64 = (1 << 64) - 1
ENOSYS = -Errno.ENOSYS
NR_GETPID = 39
NR_CLOSE = 3
X32_SYSCALL_BIT = 0x40000000
USER_NR = 600


def frame(rax: int, *args: int) -> list[int]:
    """What the CPU hands the entry: [rax, rdi, rsi, rdx, r10, r8, r9, rip, rflags]."""
    regs = [a & U64 for a in args] + [0] * (6 - len(args))
    return [rax & U64, *regs, 0x401000, 0x246]


@pytest.fixture
def entry(task: Task) -> SyscallEntry:
    task.kernel.current = task
    return make_entry(task.kernel)


def test_getpid(task: Task, entry: SyscallEntry) -> None:
    f = frame(NR_GETPID)
    assert entry(f) == task.pid
    assert task.regs.frame is f  # pt_regs is a view over the batch
    assert task.regs.ax == task.pid
    assert task.regs.orig_ax == NR_GETPID
    assert task.regs.ip == 0x401000 and task.regs.flags == 0x246


@pytest.mark.parametrize("rax", [0x1_00000027, 0xFFFFFFFF_00000027, 0x80000000_00000027])
def test_number_is_the_low_32_bits_of_rax(task: Task, entry: SyscallEntry, rax: int) -> None:
    assert entry(frame(rax)) == task.pid
    assert task.regs.orig_ax == rax  # orig_ax keeps all of rax, as ptrace shows it


@pytest.mark.parametrize(
    "rax",
    [
        U64,  # -1: do_syscall_64 leaves the preset -ENOSYS
        -2,
        0xFFFFFFFF,  # (int)-1 in eax
        0x80000000,
        463,  # NR_syscalls
        511,
        512,  # the x32 rows of syscall_64.tbl are not in the 64-bit table
        547,
        X32_SYSCALL_BIT | NR_GETPID,  # x32 disabled (syscall.x32=n, Debian's default)
        X32_SYSCALL_BIT | 512,
        336,  # holes in the table
        423,
        0x7FFFFFFF,
    ],
)
def test_unknown_numbers_give_enosys(task: Task, entry: SyscallEntry, rax: int) -> None:
    assert entry(frame(rax)) == ENOSYS
    assert task.regs.ax == ENOSYS


def test_kernel_error_becomes_minus_errno(task: Task, entry: SyscallEntry) -> None:
    assert entry(frame(NR_CLOSE, 999)) == -Errno.EBADF
    assert entry(frame(NR_CLOSE, -1)) == -Errno.EBADF  # fd is unsigned int: 0xffffffff
    assert task.regs.ax == -Errno.EBADF


def test_ax_is_preset_to_enosys_during_the_call(task: Task) -> None:
    during: list[tuple[int, int, list[int]]] = []

    def sys_peek(t: Task, x: Int) -> int:
        during.append((t.regs.ax, t.regs.orig_ax, t.regs.args))
        return x

    task.kernel.table64.install(Slot(USER_NR, "peek", "sys_peek", make_spec(sys_peek), user=True))
    task.kernel.current = task
    entry = make_entry(task.kernel)
    assert entry(frame(USER_NR, -5, 1, 2, 3, 4, 5)) == -5
    assert during == [(ENOSYS, USER_NR, [U64 - 4, 1, 2, 3, 4, 5])]


def test_entry_sees_handlers_installed_after_it_was_made(task: Task, entry: SyscallEntry) -> None:
    def sys_fail(t: Task) -> int:
        raise KernelError(Errno.EXDEV)

    assert entry(frame(USER_NR)) == ENOSYS
    task.kernel.table64.install(Slot(USER_NR, "fail", "sys_fail", make_spec(sys_fail), user=True))
    assert entry(frame(USER_NR)) == -Errno.EXDEV
    assert entry(frame(USER_NR + 1)) == ENOSYS


def test_other_exceptions_are_sysgate_bugs_and_propagate(task: Task, entry: SyscallEntry) -> None:
    def sys_bug(t: Task) -> int:
        raise RuntimeError("bug")

    task.kernel.table64.install(Slot(USER_NR, "bug", "sys_bug", make_spec(sys_bug), user=True))
    with pytest.raises(RuntimeError):
        entry(frame(USER_NR))


def test_entry_acts_on_pending_signals_on_the_way_out(task: Task, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Task] = []

    def exit_to_user_mode(t: Task) -> None:
        calls.append(t)
        t.regs.ax = -Errno.EINTR  # exit work may change the result (signal delivery, restart)

    monkeypatch.setattr(task.kernel, "exit_to_user_mode", exit_to_user_mode)
    task.kernel.current = task
    entry = make_entry(task.kernel)
    assert entry(frame(NR_GETPID)) == task.pid
    assert calls == []
    task.sigpending = True
    assert entry(frame(NR_GETPID)) == -Errno.EINTR
    assert calls == [task]


def test_entry_serves_the_current_task(task: Task, entry: SyscallEntry) -> None:
    assert entry(frame(NR_GETPID)) == task.pid
    task.group.tgid = 4242  # stands for another process being current
    assert entry(frame(NR_GETPID)) == 4242


# Numbers whose handlers are harmless with any arguments; every other low half is beyond
# the table. (Random arguments to every handler are test_never_crash's business.)
HARMLESS = [24, 39, 63, 102, 104, 107, 108, 110, 111, 186, 336, 400, 463]
RAX = st.one_of(
    st.integers(0, U64),
    st.tuples(st.integers(0, 0xFFFFFFFF), st.sampled_from(HARMLESS)).map(lambda p: p[0] << 32 | p[1]),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rax=RAX, args=st.lists(st.integers(0, U64), min_size=6, max_size=6))
def test_any_rax_gives_an_int(task: Task, rax: int, args: list[int]) -> None:
    low = rax & 0xFFFFFFFF
    if low < task.kernel.table64.nr_syscalls and low not in HARMLESS:
        rax = (rax & ~0xFFFFFFFF) | 39
        low = 39
    task.kernel.current = task
    result = make_entry(task.kernel)(frame(rax, *args))
    assert isinstance(result, int)
    assert -4095 <= result < 1 << 64
    if low >= task.kernel.table64.nr_syscalls or low in (336, 400):
        assert result == ENOSYS
    if low == 63:  # uname
        assert result in (0, -Errno.EFAULT)
