"""The scheduler: which task runs next, sleeping tasks, timers, and idling on the host.

Counterpart: kernel/sched/core.c (schedule, try_to_wake_up), kernel/time/hrtimer.c (the
kernel's timers) and the idle loop. One CPU runs one task at a time:

- runnable tasks wait in a FIFO run queue (with `--seed`, the next task is drawn from
  them by a generator seeded with it, and a time slice is SLICE_INSNS instructions
  instead of 10 ms, so a run's order of switches can be replayed and varied; counting
  instructions makes Unicorn hook each one, about 3x slower compute, so it is opt-in);
- a task whose system call blocks (sysgate.kernel.wait) sleeps here until it is woken by
  a wait queue, a host descriptor becoming ready, its deadline, or a signal;
- timers (alarm, interval timers, timerfd, POSIX timers) are callbacks at a
  CLOCK_MONOTONIC time;
- when nothing can run, the kernel sleeps in one poll() of every host descriptor a task
  waits on, until the nearest deadline or timer; when nothing could ever wake any task,
  the guest is deadlocked and the run ends with a report naming what each task waits on;
- a watcher thread stops the CPU when a time slice ends while other tasks are runnable
  (without --seed),
  when a timer is due, and when sysgate receives a signal to pass on (Ctrl-C), so
  compute-bound code is preempted (a stop only ends the current translated block).
"""

from __future__ import annotations

import enum
import heapq
import os
import random
import select
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from sysgate.errors import SysgateError

if TYPE_CHECKING:
    from sysgate.kernel.kernel import Kernel
    from sysgate.kernel.task import Task

LAST_RESORT_S = 2.0
"""Within this many seconds, a third copy of a passed-on host signal ends sysgate."""
TIME_SLICE_NS = 10_000_000
"""How long a task runs before another runnable task gets the CPU."""
SLICE_INSNS = 1_000_000
"""With --seed, a slice is this many instructions, so preemption is reproducible too."""
DEADLOCK_STATUS = 125


class TaskState(enum.Enum):
    RUNNABLE = "R"  # on the CPU or in the run queue
    BLOCKED = "S"  # in an interruptible wait (a system call that blocked)
    STOPPED = "T"  # by SIGSTOP and friends, until SIGCONT
    DEAD = "X"  # exited (its process may still be a zombie until reaped)


class Timer:
    """A kernel timer: `fn()` runs at `when` (CLOCK_MONOTONIC ns) unless cancelled."""

    __slots__ = ("cancelled", "fn", "when")

    def __init__(self, when: int, fn: Callable[[], None]) -> None:
        self.when = when
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: Timer) -> bool:
        return self.when < other.when


class Deadlock(SysgateError):
    """Every task waits and nothing can ever wake one."""


class Scheduler:
    """The run queue, the sleepers and the timers of one kernel."""

    def __init__(self, kernel: Kernel, seed: int | None = None) -> None:
        self.kernel = kernel
        self.runqueue: deque[Task] = deque()
        self.sleeping: dict[Task, None] = {}
        self.timers: list[Timer] = []
        self.rng = random.Random(seed) if seed is not None else None  # noqa: S311 - schedules
        self.host_signals: deque[int] = deque()  # signals sysgate received, to pass on
        self.watcher: Watcher | None = None

    # -- states ----------------------------------------------------------------------

    def enqueue(self, t: Task, front: bool = False) -> None:
        """Make `t` runnable (a new task, or one that was running)."""
        t.state = TaskState.RUNNABLE
        if front:
            self.runqueue.appendleft(t)
        else:
            self.runqueue.append(t)
        if self.watcher is not None and len(self.runqueue) == 1:
            self.watcher.poke()

    def sleep(self, t: Task) -> None:
        """`t`'s system call blocked (sysgate.kernel.wait.block has recorded on what)."""
        t.state = TaskState.BLOCKED
        self.sleeping[t] = None
        if self.watcher is not None and t._call_state is not None and t._call_state.deadline is not None:
            self.watcher.poke()

    def wake(self, t: Task) -> None:
        """try_to_wake_up: a sleeping task becomes runnable; its call will run again."""
        if t.state is not TaskState.BLOCKED:
            return
        st = t._call_state
        if st is not None:
            for q in st.queues:
                q.waiters.pop(t, None)
            st.queues = []
            st.host = []
        del self.sleeping[t]
        self.enqueue(t)

    def remove(self, t: Task) -> None:
        """Take `t` off every list (it is dying)."""
        if t.state is TaskState.BLOCKED:
            self.wake(t)
        try:
            self.runqueue.remove(t)
        except ValueError:
            pass

    def stop(self, t: Task) -> None:
        """Stop `t` (group stop): it keeps its place in no list until cont()."""
        self.remove(t)
        t.state = TaskState.STOPPED

    def cont(self, t: Task) -> None:
        if t.state is TaskState.STOPPED:
            self.enqueue(t)

    # -- timers ----------------------------------------------------------------------

    def add_timer(self, when: int, fn: Callable[[], None]) -> Timer:
        """Run `fn` at CLOCK_MONOTONIC time `when` (ns); the Timer can be cancelled."""
        timer = Timer(when, fn)
        heapq.heappush(self.timers, timer)
        if self.watcher is not None:
            self.watcher.poke()
        return timer

    def next_event(self, peek: bool = False) -> int | None:
        """The earliest timer or sleeper deadline, if any. The watcher thread only peeks
        (`peek`): the heap is the kernel thread's to change."""
        if not peek:
            while self.timers and self.timers[0].cancelled:
                heapq.heappop(self.timers)
        live = [tm.when for tm in list(self.timers) if not tm.cancelled] if peek else None
        best = (min(live) if live else None) if peek else (self.timers[0].when if self.timers else None)
        for t in list(self.sleeping) if peek else self.sleeping:
            st = t._call_state
            if st is not None and st.deadline is not None and (best is None or st.deadline < best):
                best = st.deadline
        return best

    def _expire(self, now: int) -> None:
        while self.timers and (self.timers[0].cancelled or self.timers[0].when <= now):
            timer = heapq.heappop(self.timers)
            if not timer.cancelled:
                timer.cancelled = True
                timer.fn()
        for t in list(self.sleeping):
            st = t._call_state
            if st is not None and st.deadline is not None and st.deadline <= now:
                st.timed_out = True
                self.wake(t)

    # -- the host ----------------------------------------------------------------------

    def _host_waits(self) -> dict[int, list[tuple[Task, int]]]:
        fds: dict[int, list[tuple[Task, int]]] = {}
        for t in self.sleeping:
            st = t._call_state
            if st is not None:
                for fd, events in st.host:
                    fds.setdefault(fd, []).append((t, events))
        return fds

    def _poll_host(self, timeout_ms: int | None) -> None:
        """Wake the sleepers whose host descriptors are ready; wait at most `timeout_ms`
        (None: until one is, or a host signal arrives)."""
        fds = self._host_waits()
        poller = select.poll()
        for fd, waits in fds.items():
            mask = 0
            for _, events in waits:
                mask |= events
            poller.register(fd, mask)
        wake_fd = self.watcher.idle_r if self.watcher is not None else -1
        if wake_fd >= 0 and timeout_ms != 0:
            poller.register(wake_fd, select.POLLIN)
        try:
            ready = poller.poll(timeout_ms)
        except InterruptedError:
            return
        for fd, revents in ready:
            if fd == wake_fd:
                _drain(wake_fd)
                continue
            for t, events in fds.get(fd, ()):
                if revents & (events | select.POLLERR | select.POLLHUP | select.POLLNVAL):
                    self.wake(t)

    # -- choosing ----------------------------------------------------------------------

    def pick_next(self) -> Task | None:
        """The next task to run, after idling if none can run now; None when no task is
        left. Raises Deadlock when tasks remain that nothing can ever wake."""
        now = time.monotonic_ns()
        self._expire(now)
        if self.sleeping and any(t._call_state is not None and t._call_state.host for t in self.sleeping):
            self._poll_host(0)
        while not self.runqueue:
            if self.host_signals:
                return None  # the kernel passes them on, then asks again
            if not self.sleeping:
                if self.kernel.has_stopped_tasks():
                    raise Deadlock(self._report("every task is stopped and none can continue it"),
                                   DEADLOCK_STATUS)
                return None
            due = self.next_event()
            host = self._waits_on_the_host()
            if due is None and not host and not self.kernel.can_receive_host_signals():
                raise Deadlock(self._report("every task waits and nothing can wake one"), DEADLOCK_STATUS)
            timeout = None if due is None else max(0, (due - time.monotonic_ns() + 999_999) // 1_000_000)
            self._poll_host(timeout)
            self._expire(time.monotonic_ns())
        if self.rng is not None and len(self.runqueue) > 1:
            i = self.rng.randrange(len(self.runqueue))
            t = self.runqueue[i]
            del self.runqueue[i]
            return t
        return self.runqueue.popleft()

    def _waits_on_the_host(self) -> bool:
        """Whether a sleeper waits for a host descriptor something outside the guest could
        make ready. The ends of a guest's own pipes are not such: only a guest task can
        write to them or close them, and every guest task sleeps (the poll just made found
        none ready)."""
        from sysgate.fs.pipe import INTERNAL_PIPE_FDS

        return any(fd not in INTERNAL_PIPE_FDS
                   for t in self.sleeping if t._call_state is not None for fd, _ in t._call_state.host)

    def _report(self, what: str) -> str:
        parts = []
        for t in sorted(self.kernel.tasks.values(), key=lambda x: x.tid):
            parts.append(f"{t.tid} {t.wait_description()}")
        return f"deadlock: {what} ({'; '.join(parts)})"

    # -- the watcher ---------------------------------------------------------------------

    def start_watcher(self, stop_cpu: Callable[[], None]) -> Watcher:
        self.watcher = Watcher(self, stop_cpu)
        self.watcher.start()
        return self.watcher

    def stop_watcher(self) -> None:
        if self.watcher is not None:
            self.watcher.close()
            self.watcher = None


def _drain(fd: int) -> bytes:
    out = b""
    while True:
        try:
            chunk = os.read(fd, 256)
        except (BlockingIOError, InterruptedError):
            return out
        if not chunk:
            return out
        out += chunk


class Watcher(threading.Thread):
    """The host thread that preempts: it stops the CPU at the end of a time slice when
    other tasks are runnable, when a timer or deadline is due, and when a host signal
    arrives (read from the wake-up fd that `signal.set_wakeup_fd` writes)."""

    def __init__(self, sched: Scheduler, stop_cpu: Callable[[], None]) -> None:
        super().__init__(name="sysgate-watcher", daemon=True)
        self.sched = sched
        self.stop_cpu = stop_cpu
        self.signal_r, self.signal_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)  # host signals
        self.poke_r, self.poke_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)  # kernel → watcher
        self.idle_r, self.idle_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)  # watcher → idle kernel
        self.running = False  # the kernel is inside cpu.run()
        self._closed = False
        self._received: dict[int, list[float]] = {}  # host signals by number: when they came

    def poke(self) -> None:
        try:
            os.write(self.poke_w, b"p")
        except (BlockingIOError, OSError):
            pass

    def _timeout(self) -> float | None:
        sched = self.sched
        timeout: float | None = None
        if self.running and sched.runqueue and not sched.kernel.slice_insns:
            timeout = TIME_SLICE_NS / 1e9
        try:
            due = sched.next_event(peek=True)
        except (RuntimeError, IndexError, ValueError):  # the kernel changed the lists meanwhile: look again soon
            due = time.monotonic_ns() + 1_000_000
        if due is not None:
            left = max(0.0, (due - time.monotonic_ns()) / 1e9)
            timeout = left if timeout is None else min(timeout, left)
        return timeout

    def run(self) -> None:
        while not self._closed:
            timeout = self._timeout()
            try:
                ready, _, _ = select.select([self.signal_r, self.poke_r], [], [], timeout)
            except (OSError, ValueError):
                return
            if self._closed:
                return
            if self.signal_r in ready:
                for signo in _drain(self.signal_r):
                    self.sched.host_signals.append(signo)
                    self._last_resort(signo)
                self._kick()
            elif self.poke_r in ready:
                _drain(self.poke_r)
            elif self.running:
                self.stop_cpu()  # a slice ended, or a timer is due
                time.sleep(0.001)  # a stop between two runs is lost: try again, not at once

    def _last_resort(self, signo: int) -> None:
        """A signal sysgate passes on must not make sysgate unkillable: the third of the
        same signal within LAST_RESORT_S seconds ends sysgate itself (a guest that
        ignores SIGTERM, or a run that no longer reaches user mode)."""
        now = time.monotonic()
        times = [x for x in self._received.get(signo, []) if now - x < LAST_RESORT_S] + [now]
        self._received[signo] = times
        if len(times) >= 3:
            name = {1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 15: "SIGTERM"}.get(signo, f"signal {signo}")
            os.write(2, f"sysgate: {name} received three times; ending the run\n".encode())
            os._exit(128 + signo)

    def _kick(self) -> None:
        try:
            os.write(self.idle_w, b"s")
        except (BlockingIOError, OSError):
            pass
        if self.running:
            self.stop_cpu()

    def close(self) -> None:
        self._closed = True
        self.poke()
        self.join(timeout=1)
        for fd in (self.signal_r, self.signal_w, self.poke_r, self.poke_w, self.idle_r, self.idle_w):
            os.close(fd)
