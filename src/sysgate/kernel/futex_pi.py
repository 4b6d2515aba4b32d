"""Priority-inheritance futexes: the lock protocol of FUTEX_LOCK_PI, FUTEX_LOCK_PI2,
FUTEX_TRYLOCK_PI, FUTEX_UNLOCK_PI, FUTEX_WAIT_REQUEUE_PI and FUTEX_CMP_REQUEUE_PI.

Counterpart: kernel/futex/pi.c and the requeue-PI half of kernel/futex/requeue.c. The
futex word holds the owner's TID, FUTEX_WAITERS when the kernel has waiters and
FUTEX_OWNER_DIED after a robust owner died. A contended PI futex has a PiState (the
kernel's futex_pi_state): its owner, and its waiters, which are the hash's queue under
the futex's key. Unlocking hands the lock to the first waiter: the word becomes its TID
with FUTEX_WAITERS, as wake_futex_pi writes it.

Differences from Linux: there is one CPU and no task priorities, so no priority is
inherited or boosted and the waiters are served first come, first served (Linux's
rt_mutex orders them by priority, which for ordinary tasks is the same thing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.kernel.futex import (
    FUTEX_OWNER_DIED,
    FUTEX_TID_MASK,
    FUTEX_WAITERS,
    FutexHash,
    FutexQ,
    Key,
    futex_hash,
    get_futex_key,
    timed_out,
)
from sysgate.kernel.wait import CallState, block, signal_pending
from sysgate.mm.mm import READ, WRITE
from sysgate.mm.uaccess import get_user_u32, put_user_u32
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task


@dataclass(eq=False, slots=True)
class PiState:
    """struct futex_pi_state: who owns a contended PI futex (None: its owner died)."""

    key: Key
    owner: Task | None


def _find_task(t: Task, tid: int) -> Task | None:
    """find_get_task_by_vpid, for a task that has not exited."""
    p = t.kernel.tasks.get(tid)
    return p if p is not None and p.exit_code is None else None


def _top_waiter(h: FutexHash, key: Key) -> FutexQ | None:
    ws = h.waiters(key)
    return ws[0] if ws else None


def _put_pi_state(h: FutexHash, key: Key) -> None:
    """put_pi_state: the state goes with its last waiter."""
    if not any(q.pi_state is not None for q in h.waiters(key)):
        h.pi_states.pop(key, None)


def _attach_to_pi_state(t: Task, uaddr: int, uval: int, ps: PiState | None) -> PiState:
    """attach_to_pi_state: check that the word agrees with the kernel's state."""
    if ps is None:
        raise KernelError(Errno.EINVAL)  # a non-PI waiter on this word
    if get_user_u32(t.mm, uaddr) != uval:
        raise KernelError(Errno.EAGAIN)
    pid = uval & FUTEX_TID_MASK
    if uval & FUTEX_OWNER_DIED:
        if ps.owner is None:
            if pid:
                raise KernelError(Errno.EINVAL)
            return ps
        if not pid:
            return ps
    elif ps.owner is None:
        raise KernelError(Errno.EINVAL)
    if ps.owner is None or pid != ps.owner.tid:
        raise KernelError(Errno.EINVAL)
    return ps


def _attach_to_pi_owner(t: Task, h: FutexHash, uaddr: int, uval: int, key: Key) -> PiState:
    """attach_to_pi_owner: a new PiState for the task whose TID the word holds; ESRCH if
    that task is gone (handle_exit_race)."""
    pid = uval & FUTEX_TID_MASK
    owner = _find_task(t, pid)
    if owner is None:
        if get_user_u32(t.mm, uaddr) != uval:
            raise KernelError(Errno.EAGAIN)
        raise KernelError(Errno.ESRCH)
    ps = h.pi_states[key] = PiState(key, owner)
    return ps


def lock_pi_atomic(t: Task, uaddr: int, key: Key, task: Task, set_waiters: bool) -> PiState | None:
    """futex_lock_pi_atomic for `task`: None when it took the lock, else the PiState to wait on."""
    h = futex_hash(t.kernel)
    uval = get_user_u32(t.mm, uaddr)
    if uval & FUTEX_TID_MASK == task.tid:
        raise KernelError(Errno.EDEADLK)
    top = _top_waiter(h, key)
    if top is not None:
        return _attach_to_pi_state(t, uaddr, uval, top.pi_state)
    if not uval & FUTEX_TID_MASK:
        newval = (uval & FUTEX_OWNER_DIED) | task.tid
        if set_waiters:
            newval |= FUTEX_WAITERS
        put_user_u32(t.mm, uaddr, newval)
        if set_waiters:
            h.pi_states[key] = PiState(key, task)
        return None
    newval = uval | FUTEX_WAITERS
    put_user_u32(t.mm, uaddr, newval)
    return _attach_to_pi_owner(t, h, uaddr, newval, key)


def _hand_over(t: Task, h: FutexHash, uaddr: int, ps: PiState, q: FutexQ) -> None:
    """The lock passes to waiter q: its TID in the word (fixup_pi_state_owner when the old
    owner died), and q is woken holding it."""
    uval = get_user_u32(t.mm, uaddr)
    newval = (uval & FUTEX_OWNER_DIED) | q.task.tid | FUTEX_WAITERS
    if ps.owner is None:
        newval |= FUTEX_OWNER_DIED
    put_user_u32(t.mm, uaddr, newval)
    ps.owner = q.task
    q.locked = True
    h.wake_mark(q)


def futex_lock_pi(t: Task, uaddr: int, flags: int, deadline: int | None, trylock: bool) -> int:
    """futex_lock_pi: take the PI futex, or wait until its owner hands it over; ETIMEDOUT,
    and -ERESTARTNOINTR for a signal (the wait is resumed after the handler)."""
    st = t.call_state()
    q = st.data.get("futex_pi_q")
    h = futex_hash(t.kernel)
    if q is None:
        key = get_futex_key(t, uaddr, flags, WRITE)
        ps = lock_pi_atomic(t, uaddr, key, t, False)
        if ps is None:
            return 0
        if trylock:
            # rt_mutex_futex_trylock: the lock is free only if its owner died and no one waits.
            if ps.owner is None and not h.waiters(key):
                q = FutexQ(t, key, st, pi_state=ps)
                _hand_over(t, h, uaddr, ps, q)
                return 0
            _put_pi_state(h, key)
            raise KernelError(Errno.EAGAIN)
        q = FutexQ(t, key, st, pi_state=ps)
        h.queue(q)
        st.data["futex_pi_q"] = q
        st.data["futex_pi_uaddr"] = uaddr
        st.deadline = deadline
    assert isinstance(q, FutexQ)
    return _pi_sleep(t, st, q, Errno.ERESTARTNOINTR)


def _pi_sleep(t: Task, st: CallState, q: FutexQ, interrupted: Errno) -> int:
    """rt_mutex_wait_proxy_lock: 0 once the lock was handed over, ETIMEDOUT, -`interrupted`
    for a signal, or sleep (again)."""
    if q.locked:
        _put_pi_state(futex_hash(t.kernel), q.key)
        return 0
    if timed_out(st) or signal_pending(t):
        h = futex_hash(t.kernel)
        h.unqueue(q)
        _put_pi_state(h, q.key)
        raise KernelError(Errno.ETIMEDOUT if timed_out(st) else interrupted)
    block(t, deadline=st.deadline)


def futex_unlock_pi(t: Task, uaddr: int, flags: int) -> int:
    """futex_unlock_pi: EPERM unless the caller owns the futex; the lock goes to the first
    waiter, or the word becomes 0."""
    uval = get_user_u32(t.mm, uaddr)
    if uval & FUTEX_TID_MASK != t.tid:
        raise KernelError(Errno.EPERM)
    key = get_futex_key(t, uaddr, flags, WRITE)
    h = futex_hash(t.kernel)
    top = _top_waiter(h, key)
    if top is not None:
        ps = top.pi_state
        if ps is None or ps.owner is not t:
            raise KernelError(Errno.EINVAL)
        _hand_over(t, h, uaddr, ps, top)
        return 0
    put_user_u32(t.mm, uaddr, 0)
    return 0


def exit_pi_state_list(t: Task) -> None:
    """exit_pi_state_list: the PI futexes a dying task owns go to their first waiters."""
    h = futex_hash(t.kernel)
    for key, ps in list(h.pi_states.items()):
        if ps.owner is not t:
            continue
        ps.owner = None
        top = next((q for q in h.waiters(key) if q.pi_state is ps), None)
        if top is None:
            h.pi_states.pop(key, None)
            continue
        uaddr = top.requeue_uaddr2 if top.requeued else top.st.data.get("futex_pi_uaddr", 0)
        try:
            _hand_over(top.task, h, uaddr, ps, top)
        except KernelError:
            pass  # the word is gone: the waiter takes the lock, user space sees the fault


# -- requeue PI ------------------------------------------------------------------------------


def futex_wait_requeue_pi(t: Task, uaddr: int, flags: int, val: int, deadline: int | None, bitset: int,
                          uaddr2: int) -> int:
    """futex_wait_requeue_pi: wait on the plain futex `uaddr` until FUTEX_CMP_REQUEUE_PI
    moves us to the PI futex `uaddr2`, and return holding it."""
    st = t.call_state()
    q = st.data.get("futex_rpi_q")
    h = futex_hash(t.kernel)
    if q is None:
        if uaddr == uaddr2 or not bitset:
            raise KernelError(Errno.EINVAL)
        key2 = get_futex_key(t, uaddr2, flags, WRITE)
        key = get_futex_key(t, uaddr, flags, READ)
        if get_user_u32(t.mm, uaddr) != val & 0xFFFFFFFF:
            raise KernelError(Errno.EAGAIN)
        if key == key2:
            raise KernelError(Errno.EINVAL)
        q = FutexQ(t, key, st, bitset, requeue_pi_key=key2, requeue_uaddr2=uaddr2)
        h.queue(q)
        st.data["futex_rpi_q"] = q
        st.deadline = deadline
    assert isinstance(q, FutexQ)
    if q.requeued and not q.locked:
        # Q_REQUEUE_PI_DONE: a PI waiter now; a signal ends the wait with EWOULDBLOCK.
        return _pi_sleep(t, st, q, Errno.EAGAIN)
    if q.locked:
        _put_pi_state(h, q.key)
        return 0
    if q.woken:
        return 0
    if timed_out(st) or signal_pending(t):
        h.unqueue(q)  # handle_early_requeue_pi_wakeup
        raise KernelError(Errno.ETIMEDOUT if timed_out(st) else Errno.ERESTARTNOINTR)
    block(t, deadline=st.deadline)


def futex_cmp_requeue_pi(t: Task, uaddr1: int, flags: int, uaddr2: int, nr_wake: int, nr_requeue: int,
                         cmpval: int) -> int:
    """futex_requeue with requeue_pi: take the PI futex uaddr2 for the first waiter of
    uaddr1 if it is free, and make up to `nr_requeue` others wait for it."""
    if nr_wake < 0 or nr_requeue < 0 or uaddr1 == uaddr2 or nr_wake != 1:
        raise KernelError(Errno.EINVAL)
    key1 = get_futex_key(t, uaddr1, flags, READ)
    key2 = get_futex_key(t, uaddr2, flags, WRITE)
    if key1 == key2:
        raise KernelError(Errno.EINVAL)
    if get_user_u32(t.mm, uaddr1) != cmpval & 0xFFFFFFFF:
        raise KernelError(Errno.EAGAIN)
    h = futex_hash(t.kernel)
    count = 0
    # futex_proxy_trylock_atomic
    get_user_u32(t.mm, uaddr2)
    top = _top_waiter(h, key1)
    ps: PiState | None = None
    if top is not None:
        if top.requeue_pi_key is None or top.pi_state is not None or top.requeue_pi_key != key2:
            raise KernelError(Errno.EINVAL)
        ps = lock_pi_atomic(t, uaddr2, key2, top.task, nr_requeue > 0)
        if ps is None:  # it took the lock for the top waiter
            h.unqueue(top)
            top.key, top.requeued, top.locked = key2, True, True
            h.wake_mark(top)
            count += 1
            ps = h.pi_states.get(key2)
    for q in h.waiters(key1):
        if count - nr_wake >= nr_requeue:
            break
        if q.requeue_pi_key is None or q.pi_state is not None:
            raise KernelError(Errno.EINVAL)
        if q.requeue_pi_key != key2 or ps is None:
            raise KernelError(Errno.EINVAL)
        q.pi_state, q.requeued = ps, True
        if ps.owner is None and not any(w.pi_state is ps for w in h.waiters(key2)):
            h.requeue(q, key2)
            _hand_over(t, h, uaddr2, ps, q)  # rt_mutex_start_proxy_lock took it at once
        else:
            h.requeue(q, key2)
        count += 1
    return count

