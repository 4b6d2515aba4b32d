"""Which tasks a trace follows, and the lines a task's birth, exec and death make.

Counterpart: strace's tcb table in strace.c (alloctcb/droptcb and `nprocs`, followfork,
print_exited, print_signalled, print_event_exit, maybe_switch_tcbs). Without -f strace
traces only the process it started, as its first thread: the threads and children that
task makes run untraced. With -f (and -ff) every task the traced ones create is traced
from its first instruction. `nprocs` counts the traced tasks that strace has not
dropped; a line starts with `[pid N] ` when there is more than one and the trace goes
to stderr (printleader).

A task's death is seen where the kernel reports it (Kernel.task_exited), inside the
system call that ended it: the call still open (exit_group, or a call the task was
blocked in when another thread ended the process) is finished first with `= ?`, as
strace's PTRACE_EVENT_EXIT stop does, then `+++ exited with N +++` or `+++ killed by
SIG... +++`. A process leader that ends before its other threads is reported when the
last of them has gone, as waitpid gives strace its status only then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sysgate.kernel.kernel import ExitStatus
    from sysgate.kernel.task import Task, ThreadGroup
    from sysgate.trace.strace import Tracer


def exit_status(wstatus: int) -> ExitStatus:
    """A wait status (code << 8, or the signal number) as the run's ExitStatus."""
    from sysgate.kernel.kernel import ExitStatus

    if wstatus & 0x7F:
        return ExitStatus(signal=wstatus & 0x7F)
    return ExitStatus(code=(wstatus >> 8) & 0xFF)


class Procs:
    """strace's tcbs: the traced tasks, by identity (an exec in a thread changes its tid)."""

    def __init__(self, tracer: Tracer) -> None:
        self.tr = tracer
        self.live: set[Task] = set()  # traced and not dropped (nprocs == len(live))
        self.started = False
        self.waiting_leaders: dict[ThreadGroup, Task] = {}  # a leader gone before its threads
        self.reported: set[Task] = set()  # tasks whose "+++" line is written
        self.tid_of: dict[Task, int] = {}  # the tid the trace's per-task state is kept under

    def nprocs(self) -> int:
        return max(1, len(self.live))

    def follows(self, t: Task) -> bool:
        """Whether `t` is traced; the first task seen is the one strace starts."""
        if not self.started:
            self.started = True
            self.live.add(t)
            self.tid_of[t] = t.tid
            return True
        return t in self.live

    def created(self, parent: Task, child: Task) -> None:
        """A task made by clone/fork/vfork: traced with -f when its parent is."""
        if self.tr.opts.follow and self.follows(parent):
            self.live.add(child)
            self.tid_of[child] = child.tid

    def execed(self, t: Task) -> None:
        """After a successful exec: a thread that exec'd has its process's pid now; the
        per-tid state of the trace moves with it (maybe_switch_tcbs)."""
        old = self.tid_of.get(t)
        if t not in self.live or old is None or old == t.tid:
            return
        self.tid_of[t] = t.tid
        tr = self.tr
        if old in tr.pending:
            tr.pending[t.tid] = tr.pending.pop(old)
        if old in tr.in_syscall:
            tr.in_syscall[t.tid] = tr.in_syscall.pop(old)
        if old in tr.last_nr:
            tr.last_nr[t.tid] = tr.last_nr.pop(old)

    def exited(self, t: Task) -> None:
        """The kernel ended `t` (do_exit): finish its open call, then its `+++` line."""
        if t not in self.live or t in self.reported:
            return
        self.tr.vanished(t)
        g = t.group
        if t is g.leader and g.threads:
            self.waiting_leaders[g] = t  # reported with the last thread (delay_group_leader)
            return
        wstatus = t.exit_code if t.exit_code is not None else 0
        self.report(t, wstatus)
        leader = self.waiting_leaders.pop(g, None) if not g.threads else None
        if leader is not None:
            self.report(leader, g.exit_code if g.exit_code is not None else wstatus)

    def report(self, t: Task, wstatus: int) -> None:
        self.reported.add(t)
        self.tr.events.exited(t, exit_status(wstatus))
        self.live.discard(t)  # droptcb: after the line, which still counts this task

    def run_ended(self, t: Task, status: ExitStatus) -> None:
        """The kernel's own report of the first process's end: written unless seen already."""
        if t in self.reported or (self.started and t not in self.live):
            return
        self.reported.add(t)
        self.tr.events.exited(t, status)
        self.live.discard(t)

