"""Several tasks of one kernel without a CPU, and the re-run of a call that blocked.

A blocked call (sysgate.kernel.wait.Blocked) is parked as the entry parks it: the task
sleeps in the scheduler and its call state is kept; `resume` runs the same call again
once the task was woken, as the CPU would re-execute its `syscall` instruction.
"""

from __future__ import annotations

import time

from sysgate.kernel.sched import TaskState
from sysgate.kernel.task import Task, ThreadGroup
from sysgate.kernel.wait import Blocked
from tests.conftest import sys

BLOCKED = "blocked"


class Harness:
    def __init__(self, t: Task) -> None:
        self.first = t
        self.k = t.kernel
        self.calls: dict[Task, tuple[str, tuple[int, ...]]] = {}

    def thread(self, of: Task | None = None, process: bool = False) -> Task:
        """A new thread of `of`'s process (same mm), or with `process` a new process with
        a copy of its address space (as after fork)."""
        parent = of or self.first
        tid = max(self.k.tasks) + 1
        if process:
            g = parent.group
            group = ThreadGroup(tgid=tid, pgid=g.pgid, sid=g.sid, rlimits=list(g.rlimits), parent=g)
            mm = parent.mm.dup()
        else:
            group, mm = parent.group, parent.mm
            mm.users += 1
        t = Task(self.k, tid, group, parent.abi, mm, parent.files, parent.fs, parent.cred)
        self.k.tasks[tid] = t
        return t

    def call(self, t: Task, name: str, *args: int) -> int | str:
        """Make a system call: its result, -errno, or BLOCKED (the task then sleeps)."""
        assert t not in self.calls, "the task is still in a call that blocked"
        self.calls[t] = (name, args)
        return self._run(t)

    def _run(self, t: Task) -> int | str:
        name, args = self.calls[t]
        try:
            ret = sys(t, name, *args)
        except Blocked:
            self.k.sched.sleep(t)
            return BLOCKED
        t._call_state = None
        del self.calls[t]
        return ret

    def woken(self, t: Task) -> bool:
        return t.state is not TaskState.BLOCKED

    def resume(self, t: Task) -> int | str:
        """Run a woken task's call again."""
        assert self.woken(t), "the task still sleeps"
        self.k.sched.runqueue.remove(t)
        return self._run(t)

    def expire(self, t: Task) -> int | str:
        """Let t's deadline pass, as the scheduler does, and run its call again."""
        st = t._call_state
        assert st is not None and st.deadline is not None
        while time.monotonic_ns() < st.deadline:
            time.sleep(max(0.0, (st.deadline - time.monotonic_ns()) / 1e9))
        self.k.sched._expire(time.monotonic_ns())
        return self.resume(t)

    def signal(self, t: Task) -> int | str:
        """A signal arrives for t while it sleeps; run its call again."""
        t.sigpending = True
        self.k.sched.wake(t)
        try:
            return self.resume(t)
        finally:
            t.sigpending = False
