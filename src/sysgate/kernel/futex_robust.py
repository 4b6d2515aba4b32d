"""Robust futexes: the walk of a dying task's robust list.

Counterpart: kernel/futex/core.c (exit_robust_list, fetch_robust_entry,
handle_futex_death). User space keeps a list of the robust locks a thread holds
(registered with set_robust_list); when the thread dies, the kernel walks it, at most
ROBUST_LIST_LIMIT entries and stopping silently at any fault, marks each lock the
thread holds FUTEX_OWNER_DIED and wakes one waiter, so that the next locker gets
EOWNERDEAD. Entries are 64-bit (the x86-64 layout; the i386 compat list is not walked).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.kernel.futex import (
    FLAGS_SHARED,
    FLAGS_SIZE_32,
    FUTEX_OWNER_DIED,
    FUTEX_TID_MASK,
    FUTEX_WAITERS,
    FutexHash,
    futex_hash,
    get_futex_key,
    wake_key,
)
from sysgate.mm.mm import READ
from sysgate.mm.uaccess import get_user_u32, get_user_u64, put_user_u32

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

ROBUST_LIST_LIMIT = 2048


def handle_futex_death(t: Task, uaddr: int, pi: bool, pending_op: bool) -> bool:
    """handle_futex_death: mark a futex the dying task holds FUTEX_OWNER_DIED and wake a
    waiter; False to stop walking the list (a fault)."""
    if uaddr % 4:
        return False
    try:
        uval = get_user_u32(t.mm, uaddr)
    except KernelError:
        return False
    owner = uval & FUTEX_TID_MASK
    h = futex_hash(t.kernel)
    if owner != t.tid:
        if pending_op and not pi and (not owner or not uval & FUTEX_WAITERS):
            _wake_shared(t, h, uaddr)
        return True
    try:
        put_user_u32(t.mm, uaddr, (uval & FUTEX_WAITERS) | FUTEX_OWNER_DIED)
    except KernelError:
        return False
    if not pi and uval & FUTEX_WAITERS:
        _wake_shared(t, h, uaddr)
    return True


def _wake_shared(t: Task, h: FutexHash, uaddr: int) -> None:
    """futex_wake(uaddr, FLAGS_SIZE_32 | FLAGS_SHARED, 1, MATCH_ANY), errors ignored."""
    try:
        wake_key(h, get_futex_key(t, uaddr, FLAGS_SIZE_32 | FLAGS_SHARED, READ), 1)
    except KernelError:
        pass


def _fetch_entry(t: Task, addr: int) -> tuple[int, bool]:
    v = get_user_u64(t.mm, addr)
    return v & ~1, bool(v & 1)


def walk_robust_list(t: Task, head: int) -> None:
    try:
        entry, pi = _fetch_entry(t, head)
        futex_offset = get_user_u64(t.mm, head + 8)
        pending, pip = _fetch_entry(t, head + 16)
    except KernelError:
        return
    if futex_offset >= 1 << 63:
        futex_offset -= 1 << 64
    limit = ROBUST_LIST_LIMIT
    while entry != head:
        try:
            nxt, next_pi = _fetch_entry(t, entry)
            failed = False
        except KernelError:
            nxt, next_pi, failed = 0, False, True
        if entry != pending and not handle_futex_death(t, (entry + futex_offset) & (2**64 - 1), pi, False):
            return
        if failed:
            return
        entry, pi = nxt, next_pi
        limit -= 1
        if not limit:
            break
    if pending:
        handle_futex_death(t, (pending + futex_offset) & (2**64 - 1), pip, True)
