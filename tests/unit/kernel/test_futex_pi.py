"""PI futexes between tasks: the owner's TID in the word, FUTEX_WAITERS, hand-over on
unlock, EDEADLK, EPERM, ESRCH, the owner's death, and requeue-PI (kernel/futex/pi.c and
requeue.c)."""

from __future__ import annotations

import pytest

from sysgate.kernel import futex as fu
from sysgate.kernel.task import Task
from sysgate.uapi import futex as fx
from sysgate.uapi.errno import Errno
from tests.conftest import RO_PAGE, USER_BUF
from tests.unit.guestmem import peek1, poke
from tests.unit.kernel.futexharness import BLOCKED, Harness

LOCK = USER_BUF + 0x100
COND = USER_BUF + 0x200
TS = USER_BUF + 0x300
P = fx.FUTEX_PRIVATE_FLAG
W = fu.FUTEX_WAITERS


@pytest.fixture
def h(task: Task) -> Harness:
    poke(task, LOCK, "I", 0)
    poke(task, COND, "I", 0)
    return Harness(task)


def pi(h: Harness, t: Task, cmd: int, ts: int = 0) -> int | str:
    return h.call(t, "futex", LOCK, cmd | P, 0, ts, 0, 0)


def word(h: Harness) -> int:
    return peek1(h.first, LOCK, "I")


def test_lock_contend_and_hand_over(h: Harness) -> None:
    a, b, c = h.first, h.thread(), h.thread()
    assert pi(h, a, fx.FUTEX_LOCK_PI) == 0 and word(h) == a.tid
    assert pi(h, a, fx.FUTEX_LOCK_PI) == -Errno.EDEADLK
    assert pi(h, b, fx.FUTEX_TRYLOCK_PI) == -Errno.EAGAIN
    assert word(h) == a.tid | W  # the failed trylock left FUTEX_WAITERS, as Linux does
    assert pi(h, b, fx.FUTEX_LOCK_PI) == BLOCKED
    assert pi(h, c, fx.FUTEX_LOCK_PI) == BLOCKED
    assert pi(h, h.thread(), fx.FUTEX_UNLOCK_PI) == -Errno.EPERM
    assert pi(h, a, fx.FUTEX_UNLOCK_PI) == 0
    assert word(h) == b.tid | W and h.woken(b) and not h.woken(c)
    assert h.resume(b) == 0
    assert pi(h, b, fx.FUTEX_UNLOCK_PI) == 0
    assert word(h) == c.tid | W
    assert h.resume(c) == 0
    assert pi(h, c, fx.FUTEX_UNLOCK_PI) == 0  # no waiter left: the word becomes 0
    assert word(h) == 0


def test_a_plain_wake_of_a_pi_futex_is_einval(h: Harness) -> None:
    a, b = h.first, h.thread()
    pi(h, a, fx.FUTEX_LOCK_PI)
    pi(h, b, fx.FUTEX_LOCK_PI)
    assert h.call(a, "futex", LOCK, fx.FUTEX_WAKE | P, 1, 0, 0, 0) == -Errno.EINVAL
    assert h.call(a, "futex", LOCK, fx.FUTEX_WAIT | P, a.tid | W, 0, 0, 0) == BLOCKED  # a wait is allowed


def test_a_word_the_kernel_disagrees_with_is_einval(h: Harness) -> None:
    a, b, c = h.first, h.thread(), h.thread()
    pi(h, a, fx.FUTEX_LOCK_PI)
    pi(h, b, fx.FUTEX_LOCK_PI)
    poke(a, LOCK, "I", c.tid | W)  # user space rewrote the owner
    assert pi(h, h.thread(), fx.FUTEX_LOCK_PI) == -Errno.EINVAL


def test_owner_gone_is_esrch(h: Harness) -> None:
    poke(h.first, LOCK, "I", 0x3FFF0000)
    assert pi(h, h.first, fx.FUTEX_LOCK_PI) == -Errno.ESRCH
    assert word(h) == 0x3FFF0000 | W
    assert pi(h, h.first, fx.FUTEX_TRYLOCK_PI) == -Errno.ESRCH


def test_owner_died_word_is_taken(h: Harness) -> None:
    poke(h.first, LOCK, "I", fu.FUTEX_OWNER_DIED)
    assert pi(h, h.first, fx.FUTEX_LOCK_PI) == 0
    assert word(h) == fu.FUTEX_OWNER_DIED | h.first.tid


def test_the_dying_owner_hands_its_pi_futexes_on(h: Harness) -> None:
    a, b = h.thread(), h.thread()
    pi(h, a, fx.FUTEX_LOCK_PI)
    assert pi(h, b, fx.FUTEX_LOCK_PI) == BLOCKED
    a.exit_code = 0
    fu.exit_robust_list(a)
    assert h.woken(b)
    assert word(h) == b.tid | W | fu.FUTEX_OWNER_DIED
    assert h.resume(b) == 0


def test_timeout_and_signal(h: Harness) -> None:
    a, b = h.first, h.thread()
    pi(h, a, fx.FUTEX_LOCK_PI)
    poke(a, TS, "qq", 0, 0)  # FUTEX_LOCK_PI: absolute CLOCK_REALTIME, long past
    assert pi(h, b, fx.FUTEX_LOCK_PI, TS) == -Errno.ETIMEDOUT
    assert pi(h, b, fx.FUTEX_LOCK_PI2) == BLOCKED
    assert h.signal(b) == -Errno.ERESTARTNOINTR
    assert pi(h, a, fx.FUTEX_UNLOCK_PI) == 0
    assert word(h) == 0


def test_pi_errors(h: Harness) -> None:
    assert h.call(h.first, "futex", RO_PAGE, fx.FUTEX_LOCK_PI, 0, 0, 0, 0) == -Errno.EFAULT
    assert h.call(h.first, "futex", LOCK + 1, fx.FUTEX_LOCK_PI | P, 0, 0, 0, 0) == -Errno.EINVAL
    assert pi(h, h.first, fx.FUTEX_UNLOCK_PI) == -Errno.EPERM


def test_requeue_pi_takes_the_free_lock_for_the_first_waiter(h: Harness) -> None:
    a, b, c = h.first, h.thread(), h.thread()
    for t in (b, c):
        assert h.call(t, "futex", COND, fx.FUTEX_WAIT_REQUEUE_PI | P, 0, 0, LOCK, 0) == BLOCKED
    assert h.call(a, "futex", COND, fx.FUTEX_WAKE | P, 1, 0, 0, 0) == -Errno.EINVAL
    assert h.call(a, "futex", COND, fx.FUTEX_CMP_REQUEUE_PI | P, 1, 5, LOCK, 0) == 2
    assert word(h) == b.tid | W and h.woken(b) and not h.woken(c)
    assert h.resume(b) == 0
    assert pi(h, b, fx.FUTEX_UNLOCK_PI) == 0
    assert word(h) == c.tid | W and h.woken(c)
    assert h.resume(c) == 0


def test_requeue_pi_checks(h: Harness) -> None:
    a = h.first
    assert h.call(a, "futex", COND, fx.FUTEX_CMP_REQUEUE_PI | P, 2, 1, LOCK, 0) == -Errno.EINVAL
    assert h.call(a, "futex", COND, fx.FUTEX_CMP_REQUEUE_PI | P, 1, 1, COND, 0) == -Errno.EINVAL
    assert h.call(a, "futex", COND, fx.FUTEX_CMP_REQUEUE_PI | P, 1, 1, LOCK, 1) == -Errno.EAGAIN
    assert h.call(a, "futex", COND, fx.FUTEX_WAIT_REQUEUE_PI | P, 0, 0, COND, 0) == -Errno.EINVAL
    assert h.call(a, "futex", COND, fx.FUTEX_WAIT_REQUEUE_PI | P, 1, 0, LOCK, 0) == -Errno.EAGAIN
    b = h.thread()
    assert h.call(b, "futex", COND, fx.FUTEX_WAIT_REQUEUE_PI | P, 0, 0, LOCK, 0) == BLOCKED
    assert h.signal(b) == -Errno.ERESTARTNOINTR
