"""Per-thread registrations: set_tid_address, set_robust_list, get_robust_list, rseq
(kernel/fork.c, kernel/futex/syscalls.c, kernel/rseq.c)."""

from __future__ import annotations

import pytest

from sysgate.kernel.task import Task
from sysgate.uapi import signal as ls
from sysgate.uapi.errno import Errno
from tests.conftest import EDGE, KERNEL_ADDR, RO_PAGE, UNMAPPED, USER_BUF, sys
from tests.unit.guestmem import peek, poke

RSEQ = USER_BUF + 0x1000  # 32-byte aligned
SIG = 0x53053053
RSEQ_FLAG_UNREGISTER = 1
CPU_ID_UNINITIALIZED = 0xFFFFFFFF
NO_SUCH_PID = 0x7FFFFFF0


def rseq_fields(t: Task, at: int = RSEQ) -> tuple[int, ...]:
    """cpu_id_start, cpu_id, rseq_cs, flags, node_id, mm_cid."""
    return peek(t, at, "IIQIII")


# -- set_tid_address ------------------------------------------------------------------------


@pytest.mark.parametrize("ptr", [USER_BUF, 0, KERNEL_ADDR, UNMAPPED])
def test_set_tid_address_records_any_pointer(task: Task, ptr: int) -> None:
    """The pointer is only recorded (written at thread exit): never checked here."""
    assert sys(task, "set_tid_address", ptr) == task.tid
    assert task.clear_child_tid == ptr


# -- robust lists ----------------------------------------------------------------------------


def test_set_robust_list_records_the_head(task: Task) -> None:
    assert sys(task, "set_robust_list", USER_BUF, 24) == 0
    assert sys(task, "get_robust_list", 0, USER_BUF + 0x100, USER_BUF + 0x108) == 0
    assert peek(task, USER_BUF + 0x100, "QQ") == (USER_BUF, 24)
    assert sys(task, "set_robust_list", KERNEL_ADDR, 24) == 0  # not dereferenced until exit
    assert sys(task, "get_robust_list", task.pid, USER_BUF + 0x100, USER_BUF + 0x108) == 0
    assert peek(task, USER_BUF + 0x100, "Q") == (KERNEL_ADDR,)


@pytest.mark.parametrize("size", [0, 23, 25, 48, -1])
def test_set_robust_list_len_must_be_the_head_size(task: Task, size: int) -> None:
    assert sys(task, "set_robust_list", USER_BUF, size) == -Errno.EINVAL


def test_get_robust_list_errors(task: Task) -> None:
    assert sys(task, "get_robust_list", NO_SUCH_PID, USER_BUF, USER_BUF + 8) == -Errno.ESRCH
    assert sys(task, "get_robust_list", NO_SUCH_PID, KERNEL_ADDR, KERNEL_ADDR) == -Errno.ESRCH
    for bad in (KERNEL_ADDR, UNMAPPED, RO_PAGE):
        assert sys(task, "get_robust_list", 0, USER_BUF, bad) == -Errno.EFAULT
        poke(task, USER_BUF + 8, "Q", 0)
        assert sys(task, "get_robust_list", 0, bad, USER_BUF + 8) == -Errno.EFAULT
        assert peek(task, USER_BUF + 8, "Q") == (24,)  # the length is stored first


# -- rseq -------------------------------------------------------------------------------------


def register(t: Task, at: int = RSEQ, size: int = 32, sig: int = SIG) -> int:
    return sys(t, "rseq", at, size, 0, sig)


def test_rseq_registration_fills_the_cpu_fields(task: Task) -> None:
    poke(task, RSEQ, "IIQIII", 0xAAAA, 0xBBBB, 0, 0, 0xCCCC, 0xDDDD)
    assert register(task) == 0
    assert (task.rseq, task.rseq_len, task.rseq_sig) == (RSEQ, 32, SIG)
    assert rseq_fields(task) == (0, 0, 0, 0, 0, 0)  # CPU 0, node 0, mm_cid 0


def test_rseq_registration_clears_rseq_cs(task: Task) -> None:
    """A stale rseq_cs pointer is cleared on registration (kernel/rseq.c, clear_rseq_cs)."""
    poke(task, RSEQ, "IIQ", 0, 0, 0xDEADBEEF000)
    assert register(task) == 0
    assert rseq_fields(task)[2] == 0


def test_rseq_feature_sized_registration(task: Task) -> None:
    assert register(task, RSEQ, 64) == 0
    assert task.rseq_len == 64


def test_rseq_second_registration(task: Task) -> None:
    assert register(task) == 0
    assert register(task) == -Errno.EBUSY
    assert register(task, sig=SIG + 1) == -Errno.EPERM
    assert register(task, RSEQ + 32) == -Errno.EINVAL
    assert register(task, RSEQ, 64) == -Errno.EINVAL
    assert register(task, RSEQ + 32, sig=SIG + 1) == -Errno.EINVAL  # EINVAL before EPERM


@pytest.mark.parametrize("at, size", [(RSEQ, 0), (RSEQ, 31), (RSEQ + 4, 32), (RSEQ + 16, 32),
                                      (RSEQ + 8, 64), (RSEQ, 27)])
def test_rseq_bad_size_or_alignment(task: Task, at: int, size: int) -> None:
    assert register(task, at, size) == -Errno.EINVAL


def test_rseq_len_is_only_checked_against_the_address_space(task: Task) -> None:
    """Any length from the feature size up is accepted while the range passes access_ok."""
    assert register(task, RSEQ, 0xFFFFFFFF) == 0
    assert sys(task, "rseq", RSEQ, 0xFFFFFFFF, RSEQ_FLAG_UNREGISTER, SIG) == 0
    assert register(task, (1 << 47) - 0x2000, 0x1001) == -Errno.EFAULT


@pytest.mark.parametrize("flags", [2, 3, -1, 1 << 31])
def test_rseq_unknown_flags(task: Task, flags: int) -> None:
    assert sys(task, "rseq", RSEQ, 32, flags, SIG) == -Errno.EINVAL


@pytest.mark.parametrize("bad", [KERNEL_ADDR, UNMAPPED, (1 << 47) - 32])
def test_rseq_efault(task: Task, bad: int) -> None:
    assert register(task, bad) == -Errno.EFAULT
    assert task.rseq == 0
    assert task.pending == 0


def test_rseq_in_read_only_memory_kills_on_the_way_out(task: Task) -> None:
    """Registration reads rseq_cs (fine), then the CPU update on return faults: SIGSEGV."""
    assert register(task, RO_PAGE) == 0
    assert task.pending & ls.sigmask(ls.SIGSEGV)


def test_rseq_unregister(task: Task) -> None:
    assert register(task) == 0
    poke(task, RSEQ + 20, "II", 7, 8)  # node_id, mm_cid
    assert sys(task, "rseq", RSEQ, 32, RSEQ_FLAG_UNREGISTER, SIG + 1) == -Errno.EPERM
    assert sys(task, "rseq", RSEQ + 32, 32, RSEQ_FLAG_UNREGISTER, SIG) == -Errno.EINVAL
    assert sys(task, "rseq", RSEQ, 64, RSEQ_FLAG_UNREGISTER, SIG) == -Errno.EINVAL
    assert sys(task, "rseq", RSEQ, 32, RSEQ_FLAG_UNREGISTER | 2, SIG) == -Errno.EINVAL
    assert sys(task, "rseq", RSEQ, 32, RSEQ_FLAG_UNREGISTER, SIG) == 0
    cpu_id_start, cpu_id, _, _, node_id, mm_cid = rseq_fields(task)
    assert (cpu_id_start, cpu_id, node_id, mm_cid) == (0, CPU_ID_UNINITIALIZED, 0, 0)
    assert (task.rseq, task.rseq_len, task.rseq_sig) == (0, 0, 0)
    assert sys(task, "rseq", RSEQ, 32, RSEQ_FLAG_UNREGISTER, SIG) == -Errno.EINVAL  # nothing registered
    assert register(task, RSEQ + 64, 32, SIG + 5) == 0  # and a new registration is possible


def test_rseq_unregister_when_nothing_registered(task: Task) -> None:
    assert sys(task, "rseq", 0, 0, RSEQ_FLAG_UNREGISTER, 0) == -Errno.EINVAL
    assert sys(task, "rseq", RSEQ, 32, RSEQ_FLAG_UNREGISTER, SIG) == -Errno.EINVAL


def test_rseq_at_the_end_of_a_page(task: Task) -> None:
    """A 32-byte area that ends exactly at the edge of the mapping is fine."""
    assert register(task, EDGE + 0x1000 - 32) == 0
