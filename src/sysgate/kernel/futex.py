"""The futex hash: waiters keyed by what their futex word is, and the operations on them.

Counterpart: kernel/futex/core.c (get_futex_key, the hash, robust lists, the exit
cleanup) and kernel/futex/waitwake.c (wait, wake, wake-op, waitv); requeue.c's plain
requeue is here too, the PI operations are in sysgate.kernel.futex_pi.

A waiter is a FutexQ, queued in FIFO order under its key (Linux's plist orders by
priority, which is the same for every task here). The key says which futex word it is:

- a private futex (FUTEX_PRIVATE_FLAG): the address space and the address;
- a shared futex in private memory: the address space and the address too, but as a
  key of its own kind (FUT_OFF_MMSHARED), so a private waiter and a shared waker of the
  same word do not meet, as in Linux; after fork the child's copy is another word;
- a shared futex in a MAP_SHARED mapping (a file, shared anonymous memory, which is a
  memfd here) or a read-only private file mapping: the file and the byte offset in it,
  so that two processes mapping the same object meet (FUT_OFF_INODE).

How a wait works in sysgate (sysgate.kernel.wait): the waiting call ends with Blocked
and is run again when its task wakes. Its FutexQ stays in the hash between the runs, in
`t.call_state().data["futex_q"]`; a wake dequeues it, marks it woken and wakes the task,
so the re-run knows the wake chose it (it returns 0 even if the word still holds the
value it waited for). A re-run that finds its queue entry still queued has timed out, has
a signal, or was woken spuriously (then it blocks again).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sysgate.errors import GuestFault, KernelError
from sysgate.kernel.wait import CallState, block, signal_pending
from sysgate.mm.mm import READ, WRITE
from sysgate.mm.uaccess import access_ok, get_user_u32, put_user_u32
from sysgate.uapi import futex as fx
from sysgate.uapi import time as lt
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.futex_pi import PiState
    from sysgate.kernel.kernel import Kernel
    from sysgate.kernel.task import Task

# kernel/futex/futex.h: the FLAGS_ the operations pass around.
FLAGS_SIZE_32 = 0x0002
FLAGS_SIZE_MASK = 0x0003
FLAGS_SHARED = 0x0010
FLAGS_CLOCKRT = 0x0020
FLAGS_STRICT = 0x0100

# include/uapi/linux/futex.h: the futex2 flags and the words robust and PI futexes use.
FUTEX2_SIZE_U32 = 0x02
FUTEX2_SIZE_MASK = 0x03
FUTEX2_NUMA = 0x04
FUTEX2_PRIVATE = 128
FUTEX2_VALID_MASK = FUTEX2_SIZE_MASK | FUTEX2_PRIVATE
FUTEX_WAITV_MAX = 128
FUTEX_WAITERS = 0x80000000
FUTEX_OWNER_DIED = 0x40000000
FUTEX_TID_MASK = 0x3FFFFFFF

Key = tuple[object, ...]
"""A futex key: ("private", mm, addr), ("mm", mm, addr) or ("inode", dev, ino, offset)."""


def futex_to_flags(op: int) -> int:
    """The FLAGS_ of a futex(2) operation."""
    flags = FLAGS_SIZE_32
    if not op & fx.FUTEX_PRIVATE_FLAG:
        flags |= FLAGS_SHARED
    if op & fx.FUTEX_CLOCK_REALTIME:
        flags |= FLAGS_CLOCKRT
    return flags


def futex2_to_flags(flags2: int) -> int:
    """The FLAGS_ of a futex2 call's FUTEX2_ flags (futex2_to_flags)."""
    flags = flags2 & FUTEX2_SIZE_MASK
    if not flags2 & FUTEX2_PRIVATE:
        flags |= FLAGS_SHARED
    return flags


def futex2_flags(flags2: int) -> int:
    """Check FUTEX2_ flags as the futex2 calls do: only FUTEX2_SIZE_U32 is implemented."""
    if flags2 & ~FUTEX2_VALID_MASK:
        raise KernelError(Errno.EINVAL)
    flags = futex2_to_flags(flags2)
    if flags & FLAGS_SIZE_MASK != FLAGS_SIZE_32:  # futex_flags_valid
        raise KernelError(Errno.EINVAL)
    return flags


def s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


# -- keys ---------------------------------------------------------------------------------


def get_futex_key(t: Task, uaddr: int, flags: int, rw: int = READ) -> Key:
    """get_futex_key: EINVAL for a misaligned word, EFAULT for one a shared key cannot
    pin (outside user space, unmapped, a read-only anonymous page, a special mapping)."""
    if uaddr % 4:
        raise KernelError(Errno.EINVAL)
    if not access_ok(uaddr, 4):
        raise KernelError(Errno.EFAULT)
    mm = t.mm
    if not flags & FLAGS_SHARED:
        return ("private", mm, uaddr)
    # get_user_pages_fast(FOLL_WRITE), then read-only for a read: fault the page in.
    writable = mm.accessible(uaddr, 4, WRITE) == 4
    if not writable and (rw == WRITE or mm.accessible(uaddr, 4, READ) < 4):
        raise KernelError(Errno.EFAULT)
    vma = mm.vma_at(uaddr)
    if vma is None or vma.special is not None:
        raise KernelError(Errno.EFAULT)  # the gate area and special mappings have no mapping
    try:
        mm.read(uaddr, 4)  # the page present (a file page past the end is a fault)
    except GuestFault:
        raise KernelError(Errno.EFAULT) from None
    if vma.file is not None and (vma.shared or not writable):
        # The page cache's page: the file's own, whichever process maps it.
        return ("inode", vma.file.dev, vma.file.ino, vma.file_offset(uaddr))
    if not writable:
        raise KernelError(Errno.EFAULT)  # a read-only anonymous page never changes
    return ("mm", mm, uaddr)


# -- the hash -------------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class FutexQ:
    """struct futex_q: one task waiting on one futex word."""

    task: Task
    key: Key
    st: CallState  # the call that waits (its state is dropped when the call returns)
    bitset: int = fx.FUTEX_BITSET_MATCH_ANY
    woken: bool = False
    index: int = 0  # futex_waitv: which futex of the vector
    pi_state: PiState | None = None  # waits for a PI futex (an rt_waiter in Linux)
    requeue_pi_key: Key | None = None  # FUTEX_WAIT_REQUEUE_PI: the PI futex it may move to
    requeue_uaddr2: int = 0
    locked: bool = False  # PI: the lock was handed to this waiter
    requeued: bool = False  # FUTEX_WAIT_REQUEUE_PI: moved to the PI futex
    on_wake: Callable[[FutexQ], None] | None = None


@dataclass(slots=True)
class FutexHash:
    """The kernel's futex hash: waiters by key, and the PI state of contended PI futexes."""

    queues: dict[Key, list[FutexQ]] = field(default_factory=dict)
    pi_states: dict[Key, PiState] = field(default_factory=dict)

    def queue(self, q: FutexQ) -> None:
        self.queues.setdefault(q.key, []).append(q)

    def unqueue(self, q: FutexQ) -> bool:
        """futex_unqueue: True if q was still queued (nobody woke it)."""
        chain = self.queues.get(q.key)
        if chain is None or q not in chain:
            return False
        chain.remove(q)
        if not chain:
            del self.queues[q.key]
        return True

    def waiters(self, key: Key) -> list[FutexQ]:
        """The live waiters on `key`, first queued first (stale entries are dropped)."""
        chain = self.queues.get(key)
        if not chain:
            return []
        live = [q for q in chain if _alive(q)]
        if len(live) != len(chain):
            if live:
                self.queues[key] = live
            else:
                del self.queues[key]
        return list(live)

    def requeue(self, q: FutexQ, key2: Key) -> None:
        """requeue_futex: move q to another key, keeping its place at the end."""
        self.unqueue(q)
        q.key = key2
        self.queue(q)

    def wake_mark(self, q: FutexQ) -> None:
        """futex_wake_mark: dequeue q, mark it woken, and make its task runnable."""
        self.unqueue(q)
        q.woken = True
        if q.on_wake is not None:
            q.on_wake(q)
        q.task.kernel.sched.wake(q.task)

    def drop_task(self, t: Task) -> None:
        """Forget every waiter of a task that is gone."""
        for key in list(self.queues):
            chain = [q for q in self.queues[key] if q.task is not t]
            if chain:
                self.queues[key] = chain
            else:
                del self.queues[key]


def _alive(q: FutexQ) -> bool:
    """Whether q's task is still in the call that queued it (a task killed while it waited
    leaves a stale entry, which is skipped as Linux's unqueue-on-exit would have)."""
    t = q.task
    return t.exit_code is None and t._call_state is q.st


_HASHES: weakref.WeakKeyDictionary[Kernel, FutexHash] = weakref.WeakKeyDictionary()


def futex_hash(kernel: Kernel) -> FutexHash:
    """The futex hash of a kernel (one per Kernel: processes meet through it)."""
    h = _HASHES.get(kernel)
    if h is None:
        h = _HASHES[kernel] = FutexHash()
    return h


# -- timeouts -------------------------------------------------------------------------------


def abs_deadline(clock: int, abs_ns: int) -> int:
    """An absolute time on CLOCK_MONOTONIC or CLOCK_REALTIME as a CLOCK_MONOTONIC deadline
    (what block() takes). A realtime deadline is converted once; Linux would follow a
    later change of the wall clock."""
    if clock == lt.CLOCK_REALTIME:
        return time.monotonic_ns() + (abs_ns - time.time_ns())
    return abs_ns


def timed_out(st: CallState) -> bool:
    return st.timed_out or st.expired(time.monotonic_ns())


# -- wait and wake ---------------------------------------------------------------------------


def futex_wait(t: Task, uaddr: int, flags: int, val: int, deadline: int | None, bitset: int,
               restart: Errno = Errno.ERESTARTSYS) -> int:
    """__futex_wait: sleep on `uaddr` while it holds `val`, until a wake whose bitset
    meets ours, the CLOCK_MONOTONIC `deadline`, or a signal (-`restart`)."""
    st = t.call_state()
    q = st.data.get("futex_q")
    if q is None:
        if not bitset:
            raise KernelError(Errno.EINVAL)
        key = get_futex_key(t, uaddr, flags, READ)
        if get_user_u32(t.mm, uaddr) != val & 0xFFFFFFFF:
            raise KernelError(Errno.EAGAIN)
        q = FutexQ(t, key, st, bitset)
        futex_hash(t.kernel).queue(q)
        st.data["futex_q"] = q
        st.deadline = deadline
    assert isinstance(q, FutexQ)
    return _sleep(t, st, [q], restart)


def _sleep(t: Task, st: CallState, qs: list[FutexQ], restart: Errno) -> int:
    """futex_wait_queue and what follows it: the index of a woken q, or ETIMEDOUT, or
    -`restart` for a signal (the queue entries are removed), or sleep (again)."""
    h = futex_hash(t.kernel)
    woken = -1
    for q in qs:
        if q.woken:
            woken = q.index
    if woken >= 0 or timed_out(st) or signal_pending(t):
        for q in qs:
            if not h.unqueue(q):
                woken = q.index  # futex_unqueue_multiple: the last one woken
        if woken >= 0:
            return woken
        if timed_out(st):
            raise KernelError(Errno.ETIMEDOUT)
        raise KernelError(restart)
    block(t, deadline=st.deadline)


def futex_wake(t: Task, uaddr: int, flags: int, nr_wake: int, bitset: int) -> int:
    """futex_wake: wake up to `nr_wake` (at least one) waiters whose bitset meets `bitset`."""
    if not bitset:
        raise KernelError(Errno.EINVAL)
    key = get_futex_key(t, uaddr, flags, READ)
    if flags & FLAGS_STRICT and not nr_wake:
        return 0
    return wake_key(futex_hash(t.kernel), key, nr_wake, bitset)


def wake_key(h: FutexHash, key: Key, nr_wake: int, bitset: int = fx.FUTEX_BITSET_MATCH_ANY) -> int:
    """The waking loop: EINVAL on meeting a PI waiter; wakes at least one (`++ret >= nr`)."""
    ret = 0
    for q in h.waiters(key):
        if q.pi_state is not None or q.requeue_pi_key is not None:
            raise KernelError(Errno.EINVAL)
        if not q.bitset & bitset:
            continue
        h.wake_mark(q)
        ret += 1
        if ret >= nr_wake:
            break
    return ret


def futex_atomic_op(t: Task, encoded_op: int, uaddr: int) -> bool:
    """futex_atomic_op_inuser: apply FUTEX_WAKE_OP's operation to *uaddr and compare the
    old value; ENOSYS for an unknown operation (memory untouched) or comparison (memory
    changed), EFAULT if the word cannot be written."""
    op = (encoded_op & 0x70000000) >> 28
    cmp = (encoded_op & 0x0F000000) >> 24
    oparg = s32(((encoded_op & 0x00FFF000) >> 12) << 20) >> 20
    cmparg = s32((encoded_op & 0xFFF) << 20) >> 20
    if encoded_op & (fx.FUTEX_OP_OPARG_SHIFT << 28):
        oparg = 1 << (oparg & 31)  # Linux warns about a shift outside 0..31 and masks it
    if op > fx.FUTEX_OP_XOR:
        raise KernelError(Errno.ENOSYS)
    if t.mm.accessible(uaddr, 4, WRITE) < 4:
        raise KernelError(Errno.EFAULT)  # fault_in_user_writeable
    old = get_user_u32(t.mm, uaddr)
    if op == fx.FUTEX_OP_SET:
        new = oparg
    elif op == fx.FUTEX_OP_ADD:
        new = old + oparg
    elif op == fx.FUTEX_OP_OR:
        new = old | oparg
    elif op == fx.FUTEX_OP_ANDN:
        new = old & ~oparg
    else:
        new = old ^ oparg
    put_user_u32(t.mm, uaddr, new)
    oldval = s32(old)
    if cmp == fx.FUTEX_OP_CMP_EQ:
        return oldval == cmparg
    if cmp == fx.FUTEX_OP_CMP_NE:
        return oldval != cmparg
    if cmp == fx.FUTEX_OP_CMP_LT:
        return oldval < cmparg
    if cmp == fx.FUTEX_OP_CMP_GE:
        return oldval >= cmparg
    if cmp == fx.FUTEX_OP_CMP_LE:
        return oldval <= cmparg
    if cmp == fx.FUTEX_OP_CMP_GT:
        return oldval > cmparg
    raise KernelError(Errno.ENOSYS)


def futex_wake_op(t: Task, uaddr1: int, flags: int, uaddr2: int, nr_wake: int, nr_wake2: int,
                  op: int) -> int:
    """futex_wake_op: change *uaddr2, wake waiters of uaddr1, and of uaddr2 if the old
    value passed the comparison."""
    key1 = get_futex_key(t, uaddr1, flags, READ)
    key2 = get_futex_key(t, uaddr2, flags, WRITE)
    h = futex_hash(t.kernel)
    passed = futex_atomic_op(t, op, uaddr2)
    ret = wake_key(h, key1, nr_wake)
    if passed:
        ret += wake_key(h, key2, nr_wake2)
    return ret


def futex_requeue(t: Task, uaddr1: int, flags1: int, uaddr2: int, flags2: int, nr_wake: int,
                  nr_requeue: int, cmpval: int | None) -> int:
    """futex_requeue without PI: wake `nr_wake` waiters of uaddr1, move up to
    `nr_requeue` others to uaddr2; EAGAIN if *uaddr1 is not `cmpval`."""
    if nr_wake < 0 or nr_requeue < 0:
        raise KernelError(Errno.EINVAL)
    key1 = get_futex_key(t, uaddr1, flags1, READ)
    key2 = get_futex_key(t, uaddr2, flags2, READ)
    if cmpval is not None and get_user_u32(t.mm, uaddr1) != cmpval & 0xFFFFFFFF:
        raise KernelError(Errno.EAGAIN)
    h = futex_hash(t.kernel)
    count = 0
    for q in h.waiters(key1):
        if count - nr_wake >= nr_requeue:
            break
        if q.pi_state is not None or q.requeue_pi_key is not None:
            raise KernelError(Errno.EINVAL)
        count += 1
        if count <= nr_wake:
            h.wake_mark(q)
        else:
            h.requeue(q, key2)
    return count


@dataclass(frozen=True, slots=True)
class WaitvEntry:
    """One struct futex_waitv, checked (futex_parse_waitv)."""

    val: int
    uaddr: int
    flags: int


def futex_wait_multiple(t: Task, entries: list[WaitvEntry], deadline: int | None) -> int:
    """futex_wait_multiple: wait on every futex of the vector; the index of one woken,
    EAGAIN if a word differs from its value, ETIMEDOUT, or -ERESTARTSYS for a signal."""
    st = t.call_state()
    qs = st.data.get("futex_qs")
    if qs is None:
        h = futex_hash(t.kernel)
        keys = [get_futex_key(t, e.uaddr, e.flags, READ) for e in entries]
        qs = []
        for i, (e, key) in enumerate(zip(entries, keys, strict=True)):
            try:
                differs = get_user_u32(t.mm, e.uaddr) != e.val
            except KernelError:
                for q in qs:
                    h.unqueue(q)
                raise
            if differs:
                for q in qs:
                    h.unqueue(q)
                raise KernelError(Errno.EAGAIN)
            q = FutexQ(t, key, st, index=i)
            h.queue(q)
            qs.append(q)
        st.data["futex_qs"] = qs
        st.deadline = deadline
    return _sleep(t, st, qs, Errno.ERESTARTSYS)


# -- exit: robust lists and clear_child_tid ------------------------------------------------------


def exit_robust_list(t: Task) -> None:
    """futex_exit_release: walk the dying task's robust list (at most ROBUST_LIST_LIMIT
    entries, stopping silently at any fault), mark the futexes it holds FUTEX_OWNER_DIED
    and wake one waiter of each; then hand its PI futexes on, and forget its waiters."""
    from sysgate.kernel.futex_pi import exit_pi_state_list
    from sysgate.kernel.futex_robust import walk_robust_list

    head = t.robust_list
    if head:
        t.robust_list = 0
        walk_robust_list(t, head)
    exit_pi_state_list(t)
    futex_hash(t.kernel).drop_task(t)


def clear_child_tid(t: Task) -> None:
    """mm_release: for CLONE_CHILD_CLEARTID, store 0 at clear_child_tid and FUTEX_WAKE one
    waiter there (shared), if another task still uses the address space; faults ignored."""
    tidptr = t.clear_child_tid
    if not tidptr:
        return
    t.clear_child_tid = 0
    if t.mm.users <= 1:
        return
    try:
        put_user_u32(t.mm, tidptr, 0)
    except KernelError:
        pass
    try:
        futex_wake(t, tidptr, FLAGS_SIZE_32 | FLAGS_SHARED, 1, fx.FUTEX_BITSET_MATCH_ANY)
    except KernelError:
        pass
