"""Wait queues and blocking system calls.

Counterpart: include/linux/wait.h and kernel/sched/wait.c (wait_queue_head_t,
wait_event_interruptible, wake_up), with the signal rule of
include/linux/sched/signal.h (signal_pending: an interruptible wait ends with
-ERESTARTSYS when a signal arrives).

Linux blocks a task by switching kernel stacks in the middle of the system call. sysgate
has one Python stack, so a system call that must wait *ends* instead and is run again
when its task wakes:

    st = t.call_state()                 # kept while the call waits, dropped when it returns
    while not pipe.data:
        if file.nonblock: raise KernelError(Errno.EAGAIN)
        block(t, queues=[pipe.rwait])   # raises Blocked: the task sleeps, the call is re-run

`block()` registers the task on the wait queues (and, for files the host serves, on host
file descriptors; and on a deadline), and raises Blocked. The entry then leaves the task
at its `syscall` instruction with rax still the system call number, and the scheduler
runs another task. Any wake-up (a wake_up() on one of the queues, a host descriptor
becoming ready, the deadline, a signal) makes the task runnable; it re-executes the same
`syscall`, the handler runs again from the start and finds its condition true, or blocks
again. Wake-ups may be spurious, as in Linux; a handler always re-checks.

What a handler must remember across re-runs (a deadline, bytes already written, whether
a futex wake chose it) lives in `t.call_state()`, a CallState the kernel keeps while the
call waits and drops when the call returns. Tracing sees one call (an entry when it first
runs, an exit when it returns), fault injection and hooks run once.

Signals: block() does not sleep when a signal is pending for the task: it raises
KernelError(restart), -ERESTARTSYS by default, which the signal code turns into EINTR or
a restart per SA_RESTART (the restart rules are kernel/signal.c's). A handler that has
made progress (a partial pipe write) checks `signal_pending(t)` and returns it first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from sysgate.errors import KernelError
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task


class Blocked(Exception):
    """Raised by block(): the system call waits; the entry parks the task."""


class WaitQueue:
    """wait_queue_head_t: the tasks waiting for something; wake_up() makes them runnable."""

    __slots__ = ("waiters",)

    def __init__(self) -> None:
        self.waiters: dict[Task, None] = {}  # insertion-ordered: FIFO wake-ups

    def wake_up(self, nr: int = 0) -> int:
        """Wake the waiters (all, or the first `nr`); return how many were woken."""
        woken = 0
        for t in list(self.waiters):
            t.kernel.sched.wake(t)  # removes t from every queue it waits on
            woken += 1
            if nr and woken >= nr:
                break
        return woken

    def __bool__(self) -> bool:
        return bool(self.waiters)


@dataclass(slots=True)
class CallState:
    """What a waiting system call keeps between its runs (see the module docstring)."""

    deadline: int | None = None  # CLOCK_MONOTONIC ns at which the wait ends, if any
    data: dict[str, Any] = field(default_factory=dict)  # the handler's own progress
    timed_out: bool = False  # the scheduler woke the task because the deadline passed
    queues: list[WaitQueue] = field(default_factory=list)  # where the task waits now
    host: list[tuple[int, int]] = field(default_factory=list)  # (host fd, poll events)

    def expired(self, now_ns: int) -> bool:
        return self.deadline is not None and now_ns >= self.deadline


def signal_pending(t: Task) -> bool:
    """Whether a signal would interrupt an interruptible wait of `t` (signal_pending)."""
    return t.sigpending


def block(
    t: Task,
    *,
    queues: tuple[WaitQueue, ...] | list[WaitQueue] = (),
    host: tuple[tuple[int, int], ...] | list[tuple[int, int]] = (),
    deadline: int | None = None,
    restart: Errno = Errno.ERESTARTSYS,
    interruptible: bool = True,
) -> NoReturn:
    """Sleep until a queue is woken, a host fd is ready, `deadline` (CLOCK_MONOTONIC ns)
    passes or a signal arrives; the call is then run again. With a signal already
    pending, raise KernelError(restart) instead (the -ERESTART* code of the call).

    `interruptible=False` is TASK_KILLABLE: only the death of the task ends the wait
    (a vfork parent waiting for its child)."""
    if interruptible and signal_pending(t):
        raise KernelError(restart)
    st = t.call_state()
    if deadline is not None:
        st.deadline = deadline
    st.timed_out = False
    st.queues = list(queues)
    st.host = list(host)
    for q in queues:
        q.waiters[t] = None
    raise Blocked


def wait_host_fd(t: Task, fd: int, events: int, restart: Errno = Errno.ERESTARTSYS) -> NoReturn:
    """block() until host descriptor `fd` reports one of the poll `events`."""
    block(t, host=((fd, events),), restart=restart)


POLL_INTERVAL_NS = 10_000_000
"""How often a wait that only the host can end, with nothing to poll, looks again."""


def retry_later(t: Task, restart: Errno = Errno.ERESTARTSYS) -> NoReturn:
    """block() for a short while, then run the call again: for a wait on something the
    host holds that no descriptor reports (a file lock another guest process holds)."""
    import time

    block(t, deadline=time.monotonic_ns() + POLL_INTERVAL_NS, restart=restart)
