"""The futex hash between tasks: wait and wake, keys, requeue, wake-op, waitv, the
futex2 calls, robust lists and clear_child_tid (kernel/futex/core.c, waitwake.c,
requeue.c), on tasks without a CPU."""

from __future__ import annotations

import pytest

from sysgate.errors import KernelError
from sysgate.kernel import futex as fu
from sysgate.kernel.task import Task
from sysgate.mm.vma import VM_MAYREAD, VM_MAYSHARE, VM_MAYWRITE, VM_SHARED, Vma, shmem_file
from sysgate.uapi import futex as fx
from sysgate.uapi.errno import Errno
from sysgate.uapi.mman import PROT_READ, PROT_WRITE
from tests.conftest import KERNEL_ADDR, RO_PAGE, UNMAPPED, USER_BUF
from tests.unit.guestmem import peek1, poke
from tests.unit.kernel.futexharness import BLOCKED, Harness

W1 = USER_BUF + 0x100
W2 = USER_BUF + 0x200
TS = USER_BUF + 0x300
VEC = USER_BUF + 0x400
ROBUST = USER_BUF + 0x800
P = fx.FUTEX_PRIVATE_FLAG
SHM = 0x20000000


@pytest.fixture
def h(task: Task) -> Harness:
    poke(task, W1, "I", 0)
    poke(task, W2, "I", 0)
    return Harness(task)


def wait(h: Harness, t: Task, uaddr: int = W1, val: int = 0, op: int = fx.FUTEX_WAIT | P, bitset: int = 0,
         ts: int = 0) -> int | str:
    return h.call(t, "futex", uaddr, op, val, ts, 0, bitset)


def wake(h: Harness, t: Task, uaddr: int = W1, n: int = 1, op: int = fx.FUTEX_WAKE | P, bitset: int = 0) -> int | str:
    return h.call(t, "futex", uaddr, op, n, 0, 0, bitset)


def test_a_wake_chooses_a_waiter_which_returns_0_whatever_the_word(h: Harness) -> None:
    a, b = h.first, h.thread()
    assert wait(h, a) == BLOCKED
    assert not h.woken(a)
    assert wake(h, b) == 1
    assert h.woken(a)
    assert h.resume(a) == 0  # the word still holds 0: the wake chose it all the same
    assert wake(h, b) == 0


def test_waiters_are_woken_first_come_first_served(h: Harness) -> None:
    ts = [h.thread() for _ in range(3)]
    for t in ts:
        assert wait(h, t) == BLOCKED
    assert wake(h, h.first, n=2) == 2
    assert [h.woken(t) for t in ts] == [True, True, False]
    assert wake(h, h.first, n=0x7FFFFFFF) == 1


@pytest.mark.parametrize("n", [0, -1])
def test_wake_of_zero_or_less_still_wakes_one(h: Harness, n: int) -> None:
    """futex_wake's `if (++ret >= nr_wake) break`: at least one is woken."""
    ts = [h.thread() for _ in range(2)]
    for t in ts:
        wait(h, t)
    assert wake(h, h.first, n=n) == 1


def test_bitsets_must_meet(h: Harness) -> None:
    t = h.thread()
    assert wait(h, t, op=fx.FUTEX_WAIT_BITSET | P, bitset=0b01) == BLOCKED
    assert wake(h, h.first, op=fx.FUTEX_WAKE_BITSET | P, bitset=0b10) == 0
    assert wake(h, h.first, op=fx.FUTEX_WAKE | P) == 1  # FUTEX_WAKE matches any bitset


def test_private_and_shared_keys_do_not_meet(h: Harness) -> None:
    t = h.thread()
    assert wait(h, t, op=fx.FUTEX_WAIT | P) == BLOCKED
    assert wake(h, h.first, op=fx.FUTEX_WAKE) == 0
    assert wake(h, h.first, op=fx.FUTEX_WAKE | P) == 1
    assert h.resume(t) == 0
    assert wait(h, t, op=fx.FUTEX_WAIT) == BLOCKED
    assert wake(h, h.first, op=fx.FUTEX_WAKE | P) == 0
    assert wake(h, h.first, op=fx.FUTEX_WAKE) == 1


def test_other_words_and_other_processes_do_not_meet(h: Harness) -> None:
    child = h.thread(process=True)  # a copy of the memory: private anonymous pages are its own
    t = h.thread()
    assert wait(h, t, op=fx.FUTEX_WAIT) == BLOCKED
    assert wake(h, h.first, uaddr=W2, op=fx.FUTEX_WAKE) == 0
    assert wake(h, child, op=fx.FUTEX_WAKE) == 0
    assert wake(h, child, op=fx.FUTEX_WAKE | P) == 0


def test_shared_memory_is_one_futex_in_every_process(h: Harness) -> None:
    """MAP_SHARED|MAP_ANONYMOUS: the key is the object and offset (FUT_OFF_INODE)."""
    mm = h.first.mm
    mm.insert_vma(Vma(SHM, SHM + 0x2000, PROT_READ | PROT_WRITE,
                      VM_MAYREAD | VM_MAYWRITE | VM_MAYSHARE | VM_SHARED, shmem_file(0x2000).get()))
    child = h.thread(process=True)
    assert wait(h, child, uaddr=SHM + 0x1004, op=fx.FUTEX_WAIT) == BLOCKED
    assert wake(h, h.first, uaddr=SHM + 0x1004, op=fx.FUTEX_WAKE | P) == 0  # private: per process
    assert wake(h, h.first, uaddr=SHM + 0x1000, op=fx.FUTEX_WAKE) == 0
    assert wake(h, h.first, uaddr=SHM + 0x1004, op=fx.FUTEX_WAKE) == 1
    assert h.resume(child) == 0


def test_shared_keys_need_a_page_that_can_change(h: Harness) -> None:
    assert wake(h, h.first, uaddr=UNMAPPED, op=fx.FUTEX_WAKE) == -Errno.EFAULT
    assert wake(h, h.first, uaddr=RO_PAGE, op=fx.FUTEX_WAKE) == -Errno.EFAULT  # read-only anonymous
    assert wake(h, h.first, uaddr=UNMAPPED, op=fx.FUTEX_WAKE | P) == 0
    assert wake(h, h.first, uaddr=KERNEL_ADDR, op=fx.FUTEX_WAKE | P) == -Errno.EFAULT


def test_a_timed_out_waiter_leaves_the_queue(h: Harness) -> None:
    t = h.thread()
    poke(h.first, TS, "qq", 0, 1_000_000)
    assert wait(h, t, ts=TS) == BLOCKED
    assert h.expire(t) == -Errno.ETIMEDOUT
    assert wake(h, h.first) == 0


def test_a_zero_timeout_does_not_block(h: Harness) -> None:
    poke(h.first, TS, "qq", 0, 0)
    assert wait(h, h.first, ts=TS) == -Errno.ETIMEDOUT


def test_signal_ends_an_untimed_wait_with_erestartsys(h: Harness) -> None:
    t = h.thread()
    assert wait(h, t) == BLOCKED
    assert h.signal(t) == -Errno.ERESTARTSYS
    assert wake(h, h.first) == 0


@pytest.mark.parametrize("op", [fx.FUTEX_WAIT, fx.FUTEX_WAIT_BITSET])
def test_signal_ends_a_timed_wait_with_a_restart_block(h: Harness, op: int) -> None:
    t = h.thread()
    poke(h.first, TS, "qq", 1 << 40, 0)
    assert wait(h, t, op=op | P, ts=TS, bitset=1) == BLOCKED
    assert h.signal(t) == -Errno.ERESTART_RESTARTBLOCK
    assert t.restart_block is not None
    poke(h.first, W1, "I", 7)
    with pytest.raises(KernelError) as exc:
        t.restart_block(t)
    assert exc.value.errno == Errno.EAGAIN  # the wait, resumed by restart_syscall, sees the new value


def test_a_spurious_wakeup_sleeps_again(h: Harness) -> None:
    t = h.thread()
    assert wait(h, t) == BLOCKED
    h.k.sched.wake(t)
    assert h.resume(t) == BLOCKED
    assert wake(h, h.first) == 1
    assert h.resume(t) == 0


def test_an_exited_waiter_takes_no_wake(h: Harness) -> None:
    dead, live = h.thread(), h.thread()
    wait(h, dead)
    wait(h, live)
    dead.exit_code = 0
    dead._call_state = None
    assert wake(h, h.first) == 1
    assert h.woken(live)


# -- requeue ------------------------------------------------------------------------------


def requeue(h: Harness, op: int, nr_wake: int, nr_requeue: int, cmpval: int = 0, uaddr2: int = W2) -> int | str:
    return h.call(h.first, "futex", W1, op | P, nr_wake, nr_requeue, uaddr2, cmpval)


def test_cmp_requeue_wakes_some_and_moves_others(h: Harness) -> None:
    ts = [h.thread() for _ in range(4)]
    for t in ts:
        wait(h, t)
    assert requeue(h, fx.FUTEX_CMP_REQUEUE, 1, 2) == 3
    assert [h.woken(t) for t in ts] == [True, False, False, False]
    assert wake(h, h.first, uaddr=W2, n=10) == 2
    assert [h.woken(t) for t in ts] == [True, True, True, False]
    assert wake(h, h.first, uaddr=W1, n=10) == 1
    assert [h.resume(t) for t in ts] == [0, 0, 0, 0]


def test_requeue_ignores_the_word_and_cmp_requeue_checks_it(h: Harness) -> None:
    t = h.thread()
    wait(h, t)
    assert requeue(h, fx.FUTEX_CMP_REQUEUE, 0, 1, cmpval=1) == -Errno.EAGAIN
    assert requeue(h, fx.FUTEX_REQUEUE, 0, 1, cmpval=1) == 1
    assert not h.woken(t)
    assert wake(h, h.first, uaddr=W2) == 1


@pytest.mark.parametrize("nr_wake, nr_requeue", [(-1, 0), (0, -1)])
def test_negative_counts_are_einval(h: Harness, nr_wake: int, nr_requeue: int) -> None:
    assert requeue(h, fx.FUTEX_CMP_REQUEUE, nr_wake, nr_requeue, cmpval=1) == -Errno.EINVAL


def test_requeue_errors_come_in_linux_order(h: Harness) -> None:
    assert requeue(h, fx.FUTEX_CMP_REQUEUE, 0, 0, cmpval=1, uaddr2=W2 + 1) == -Errno.EINVAL  # before EAGAIN
    assert requeue(h, fx.FUTEX_CMP_REQUEUE, 0, 0, cmpval=1, uaddr2=KERNEL_ADDR) == -Errno.EFAULT
    assert requeue(h, fx.FUTEX_CMP_REQUEUE, 0, 0, cmpval=0) == 0


# -- wake-op --------------------------------------------------------------------------------


def op(o: int, oparg: int, cmp: int, cmparg: int, shift: bool = False) -> int:
    return ((fx.FUTEX_OP_OPARG_SHIFT if shift else 0) | o) << 28 | cmp << 24 | (oparg & 0xFFF) << 12 | cmparg & 0xFFF


@pytest.mark.parametrize("encoded, old, new, passed", [
    (op(fx.FUTEX_OP_SET, 5, fx.FUTEX_OP_CMP_EQ, 3), 3, 5, True),
    (op(fx.FUTEX_OP_ADD, -1, fx.FUTEX_OP_CMP_GT, 0), 0, 0xFFFFFFFF, False),
    (op(fx.FUTEX_OP_OR, 0b100, fx.FUTEX_OP_CMP_NE, 1), 1, 0b101, False),
    (op(fx.FUTEX_OP_ANDN, 0b1, fx.FUTEX_OP_CMP_LT, 0), 0xFFFFFFFF, 0xFFFFFFFE, True),  # -1 < 0, signed
    (op(fx.FUTEX_OP_XOR, 0xFF, fx.FUTEX_OP_CMP_LE, -2048), 0x80000000, 0x800000FF, True),
    (op(fx.FUTEX_OP_SET, 31, fx.FUTEX_OP_CMP_GE, 7, shift=True), 7, 0x80000000, True),
    (op(fx.FUTEX_OP_OR, 40, fx.FUTEX_OP_CMP_GE, 0, shift=True), 0, 1 << 8, True),  # shift masked to 31 bits
])
def test_wake_op_changes_the_second_word_and_compares(h: Harness, encoded: int, old: int, new: int,
                                                      passed: bool) -> None:
    a, b = h.thread(), h.thread()
    wait(h, a, uaddr=W1)
    poke(h.first, W2, "I", old)
    wait(h, b, uaddr=W2, val=old)
    assert h.call(h.first, "futex", W1, fx.FUTEX_WAKE_OP | P, 1, 1, W2, encoded) == 1 + passed
    assert peek1(h.first, W2, "I") == new
    assert h.woken(a) and h.woken(b) == passed


def test_wake_op_unknown_operation_and_comparison(h: Harness) -> None:
    poke(h.first, W2, "I", 9)
    assert h.call(h.first, "futex", W1, fx.FUTEX_WAKE_OP | P, 1, 1, W2, 5 << 28 | 1 << 12) == -Errno.ENOSYS
    assert peek1(h.first, W2, "I") == 9  # refused before the word was touched
    assert h.call(h.first, "futex", W1, fx.FUTEX_WAKE_OP | P, 1, 1, W2, op(0, 4, 6, 0)) == -Errno.ENOSYS
    assert peek1(h.first, W2, "I") == 4  # the comparison is refused after the change


@pytest.mark.parametrize("uaddr2, errno", [(RO_PAGE, Errno.EFAULT), (UNMAPPED, Errno.EFAULT),
                                           (KERNEL_ADDR, Errno.EFAULT), (W2 + 2, Errno.EINVAL)])
def test_wake_op_needs_a_writable_second_word(h: Harness, uaddr2: int, errno: Errno) -> None:
    assert h.call(h.first, "futex", W1, fx.FUTEX_WAKE_OP | P, 1, 1, uaddr2, op(1, 1, 0, 0)) == -errno


# -- waitv and the futex2 calls ---------------------------------------------------------------


def waitv(t: Task, entries: list[tuple[int, int, int]]) -> int:
    for i, (val, uaddr, flags) in enumerate(entries):
        poke(t, VEC + 24 * i, "QQII", val, uaddr, flags, 0)
    return VEC


def test_waitv_returns_the_index_woken(h: Harness) -> None:
    t = h.thread()
    vec = waitv(h.first, [(0, W1, 2 | P), (0, W2, 2 | P)])
    assert h.call(t, "futex_waitv", vec, 2, 0, 0, 0) == BLOCKED
    assert h.call(h.first, "futex_wake", W2, 0xFFFFFFFF, 1, 2 | P) == 1
    assert h.resume(t) == 1
    assert wake(h, h.first, uaddr=W1) == 0  # every entry left the queue


def test_waitv_eagain_leaves_nothing_queued(h: Harness) -> None:
    t = h.thread()
    vec = waitv(h.first, [(0, W1, 2 | P), (1, W2, 2 | P)])
    assert h.call(t, "futex_waitv", vec, 2, 0, 0, 0) == -Errno.EAGAIN
    assert wake(h, h.first, uaddr=W1) == 0


@pytest.mark.parametrize("entry, nr, flags, errno", [
    ((0, W1, 2 | P), 1, 1, Errno.EINVAL),  # flags
    ((0, W1, 2 | P), 0, 0, Errno.EINVAL),
    ((0, W1, 2 | P), 129, 0, Errno.EINVAL),
    ((0, W1, 3 | P), 1, 0, Errno.EINVAL),  # 64-bit futexes are not implemented
    ((0, W1, 2 | 4), 1, 0, Errno.EINVAL),  # FUTEX2_NUMA
    ((1 << 32, W1, 2), 1, 0, Errno.EINVAL),  # a value wider than the futex
    ((0, W1 + 1, 2), 1, 0, Errno.EINVAL),
    ((0, UNMAPPED, 2), 1, 0, Errno.EFAULT),
])
def test_waitv_errors(h: Harness, entry: tuple[int, int, int], nr: int, flags: int, errno: Errno) -> None:
    assert h.call(h.first, "futex_waitv", waitv(h.first, [entry]), nr, flags, 0, 0) == -errno


def test_waitv_clock_is_checked_before_the_timeout_is_read(h: Harness) -> None:
    vec = waitv(h.first, [(0, W1, 2 | P)])
    assert h.call(h.first, "futex_waitv", vec, 1, 0, UNMAPPED, 2) == -Errno.EINVAL
    assert h.call(h.first, "futex_waitv", vec, 1, 0, UNMAPPED, 1) == -Errno.EFAULT
    assert h.call(h.first, "futex_waitv", 0, 1, 0, 0, 0) == -Errno.EINVAL


def test_futex_wait_and_wake_calls(h: Harness) -> None:
    t = h.thread()
    assert h.call(t, "futex_wait", W1, 0, 0b11, 2 | P, 0, 0) == BLOCKED
    assert h.call(h.first, "futex_wake", W1, 0b100, 1, 2 | P) == 0
    assert h.call(h.first, "futex_wake", W1, 0b10, 0, 2 | P) == 0  # FLAGS_STRICT: nr 0 wakes none
    assert h.call(h.first, "futex_wake", W1, 0b10, 1, 2 | P) == 1
    assert h.resume(t) == 0
    assert h.call(t, "futex_wait", W1, 0, 1, 2 | P, 0, 0) == BLOCKED
    assert h.signal(t) == -Errno.ERESTARTSYS  # no restart block for futex_wait(2)


@pytest.mark.parametrize("args, errno", [
    ((W1, 1, 1, 2 | P, 0, 0), Errno.EAGAIN),
    ((W1, 0, 1, 3, 0, 0), Errno.EINVAL),
    ((W1, 0, 1, 2 | 0x100, 0, 0), Errno.EINVAL),
    ((W1, 1 << 32, 1, 2, 0, 0), Errno.EINVAL),
    ((W1, 0, 1 << 32, 2, 0, 0), Errno.EINVAL),
    ((W1, 0, 0, 2, 0, 0), Errno.EINVAL),
    ((W1, 0, 1, 2, UNMAPPED, 1), Errno.EFAULT),
    ((W1, 0, 1, 2, UNMAPPED, 7), Errno.EINVAL),
])
def test_futex_wait_errors(h: Harness, args: tuple[int, ...], errno: Errno) -> None:
    assert h.call(h.first, "futex_wait", *args) == -errno


def test_futex_requeue_call(h: Harness) -> None:
    ts = [h.thread() for _ in range(3)]
    for t in ts:
        wait(h, t)
    vec = waitv(h.first, [(0, W1, 2 | P), (0, W2, 2 | P)])
    assert h.call(h.first, "futex_requeue", vec, 0, 1, 1) == 2
    assert wake(h, h.first, uaddr=W2, n=5) == 1
    assert h.call(h.first, "futex_requeue", vec, 1, 1, 1) == -Errno.EINVAL
    assert h.call(h.first, "futex_requeue", 0, 0, 1, 1) == -Errno.EINVAL
    poke(h.first, VEC + 24 + 16, "I", 2)  # the second entry shared, the first private
    assert h.call(h.first, "futex_requeue", vec, 0, 1, 1) == -Errno.EINVAL
    poke(h.first, VEC, "Q", 5)
    poke(h.first, VEC + 24 + 16, "I", 2 | P)
    assert h.call(h.first, "futex_requeue", vec, 0, 1, 1) == -Errno.EAGAIN


# -- exit ------------------------------------------------------------------------------------


def robust_list(t: Task, entries: list[int], pending: int = 0, offset: int = 8) -> None:
    """A robust list at ROBUST: head {next, futex_offset, pending}; each entry's lock word
    `offset` bytes after the entry."""
    nodes = [*entries, ROBUST]
    poke(t, ROBUST, "Qq", nodes[0], offset)
    poke(t, ROBUST + 16, "Q", pending)
    for e, nxt in zip(entries, nodes[1:], strict=True):
        poke(t, e, "Q", nxt)
    t.robust_list = ROBUST


def test_robust_futexes_of_a_dying_thread_are_marked_and_one_waiter_woken(h: Harness) -> None:
    owner, w = h.thread(), h.thread()
    e1, e2, e3 = ROBUST + 0x40, ROBUST + 0x80, ROBUST + 0xC0
    poke(h.first, e1 + 8, "I", owner.tid | fu.FUTEX_WAITERS)
    poke(h.first, e2 + 8, "I", 1234)  # someone else's
    poke(h.first, e3 + 8, "I", owner.tid)
    robust_list(owner, [e1, e2, e3])
    assert wait(h, w, uaddr=e1 + 8, val=owner.tid | fu.FUTEX_WAITERS, op=fx.FUTEX_WAIT) == BLOCKED
    fu.exit_robust_list(owner)
    assert peek1(h.first, e1 + 8, "I") == fu.FUTEX_WAITERS | fu.FUTEX_OWNER_DIED
    assert peek1(h.first, e2 + 8, "I") == 1234
    assert peek1(h.first, e3 + 8, "I") == fu.FUTEX_OWNER_DIED
    assert h.woken(w)
    assert owner.robust_list == 0


def test_robust_pending_op_wakes_a_waiter_of_a_free_lock(h: Harness) -> None:
    owner, w = h.thread(), h.thread()
    pend = ROBUST + 0x40
    poke(h.first, pend + 8, "I", 0)
    robust_list(owner, [], pending=pend)
    wait(h, w, uaddr=pend + 8, op=fx.FUTEX_WAIT)
    fu.exit_robust_list(owner)
    assert h.woken(w)


def test_robust_list_walk_stops_at_the_limit_and_at_faults(h: Harness) -> None:
    owner = h.thread()
    e = ROBUST + 0x40
    poke(h.first, e, "Q", e)  # a cycle: walked ROBUST_LIST_LIMIT times, then given up
    poke(h.first, e + 8, "I", owner.tid)
    poke(h.first, ROBUST, "Qq", e, 8)
    poke(h.first, ROBUST + 16, "Q", 0)
    owner.robust_list = ROBUST
    fu.exit_robust_list(owner)
    assert peek1(h.first, e + 8, "I") == fu.FUTEX_OWNER_DIED
    owner.robust_list = UNMAPPED
    fu.exit_robust_list(owner)  # nothing to read: nothing done, no error
    poke(h.first, ROBUST, "Q", UNMAPPED)  # the first entry cannot be read
    owner.robust_list = ROBUST
    fu.exit_robust_list(owner)


def test_clear_child_tid_stores_zero_and_wakes_a_joiner(h: Harness) -> None:
    child, joiner = h.thread(), h.thread()
    poke(h.first, W1, "I", child.tid)
    child.clear_child_tid = W1
    assert wait(h, joiner, val=child.tid, op=fx.FUTEX_WAIT) == BLOCKED  # pthread_join: shared
    fu.clear_child_tid(child)
    assert peek1(h.first, W1, "I") == 0
    assert h.woken(joiner)
    assert child.clear_child_tid == 0


def test_clear_child_tid_of_the_last_user_of_the_memory_does_nothing(h: Harness) -> None:
    poke(h.first, W1, "I", 5)
    h.first.clear_child_tid = W1
    fu.clear_child_tid(h.first)
    assert peek1(h.first, W1, "I") == 5

