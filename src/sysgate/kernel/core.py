"""The run loop: schedule(), context switches, and what happens on the way back to user mode.

Counterpart: kernel/sched/core.c (__schedule, context_switch), kernel/entry/common.c
(exit_to_user_mode_loop: signal delivery before a task runs again) and the terminal's
part of drivers/tty/n_tty.c (isig: Ctrl-C becomes SIGINT for the foreground process
group). The Kernel calls run_loop() once its first task is runnable; it returns when
the last task has ended.
"""

from __future__ import annotations

import resource as host_resource
import time
from typing import TYPE_CHECKING

from sysgate.kernel.sched import TIME_SLICE_NS, TaskState
from sysgate.kernel.traps import do_trap
from sysgate.uapi import signal as sig

if TYPE_CHECKING:
    from sysgate.kernel.kernel import Kernel
    from sysgate.kernel.task import Task

FORWARDED_SIGNALS = (2, 3, 1, 15)
"""SIGINT, SIGQUIT, SIGHUP, SIGTERM: sysgate passes them to the guest (Ctrl-C reaches it)."""


def raise_host_nofile() -> None:
    """Let sysgate itself hold as many descriptors as its hard limit allows: every guest
    fd of every guest process is a host fd of this one process. (The guests' own
    RLIMIT_NOFILE is the one sysgate started with, read before this.)"""
    try:
        soft, hard = host_resource.getrlimit(host_resource.RLIMIT_NOFILE)
        if soft != hard:
            host_resource.setrlimit(host_resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass


def _note_host_signal(signo: int, frame: object) -> None:
    """The host handler: nothing to do here, set_wakeup_fd hands the number to the watcher."""


PYTHON_IGNORES = (13, 25)
"""SIGPIPE and SIGXFSZ: Python ignores them at start-up, so their disposition is not the
one sysgate was started with (subprocess resets them for its children the same way)."""


def host_ignored(signo: int) -> bool:
    """Whether sysgate itself was started with `signo` ignored (nohup, a background job)."""
    import signal as host_signal

    try:
        return signo not in PYTHON_IGNORES and host_signal.getsignal(signo) == host_signal.SIG_IGN
    except (ValueError, OSError):
        return False


def inherit_host_signals(t: Task) -> None:
    """The first program gets the signal state sysgate was started with, as execve keeps it:
    ignored signals stay ignored (`nohup` leaves SIGHUP ignored, a shell's background
    job SIGINT and SIGQUIT) and the signal mask is kept."""
    import signal as host_signal

    for signo in range(1, sig._NSIG + 1):
        if signo not in (sig.SIGKILL, sig.SIGSTOP) and host_ignored(signo):
            t.sighand.action[signo].handler = sig.SIG_IGN
    blocked = host_signal.pthread_sigmask(host_signal.SIG_BLOCK, [])
    t.blocked = sum(1 << (int(s) - 1) for s in blocked if int(s) not in (sig.SIGKILL, sig.SIGSTOP))


def run_loop(k: Kernel) -> None:
    """The loop, with the watcher thread running and host signals passed to the guest."""
    import signal as host_signal
    import threading

    assert k.cpu is not None
    watcher = k.sched.start_watcher(k.cpu.stop)
    saved: dict[int, object] = {}
    old_wakeup = None
    if threading.current_thread() is threading.main_thread():
        for signo in FORWARDED_SIGNALS:
            if not host_ignored(signo):  # ignored at start: the guest ignores it too
                saved[signo] = host_signal.signal(signo, _note_host_signal)
        old_wakeup = host_signal.set_wakeup_fd(watcher.signal_w, warn_on_full_buffer=False)
        k._forwarding = True
    try:
        _loop(k)
    finally:
        k._forwarding = False
        if saved:
            host_signal.set_wakeup_fd(old_wakeup if old_wakeup is not None else -1)
            for signo, handler in saved.items():
                host_signal.signal(signo, handler)  # type: ignore[arg-type]


def _loop(k: Kernel) -> None:
    """schedule(), forever: run the chosen task until its CPU stops, act on why."""
    cpu = k.cpu
    sched = k.sched
    assert cpu is not None
    watcher = sched.watcher
    while True:
        if sched.host_signals:
            pass_host_signals(k)
        t = sched.pick_next()
        if t is None:
            if sched.host_signals:
                continue
            return
        switch_to(k, t)
        if t.sigpending and t._call_state is None:
            do_signal_work(k, t)  # a signal that came while it was off the CPU (not in a call)
            if t.state is not TaskState.RUNNABLE:
                continue
        if watcher is not None:
            watcher.running = True
        stop = cpu.run(t.resume_pc, k.slice_insns)
        if watcher is not None:
            watcher.running = False
        if t.state is TaskState.DEAD:
            continue
        do_trap(k, t, stop)  # first: an emulated vsyscall entry moves rip
        t.resume_pc = cpu.get_reg("rip")
        if t.resume_regs:
            load_resume_regs(k, t)
        if t.state is TaskState.RUNNABLE and t.sigpending and t._call_state is None:
            # Not while a call waits to run again: a stop that came before the task got
            # back to its `syscall` (the watcher's, as the run began) would otherwise put
            # the handler's frame around the unfinished call, and the call's -ERESTART*
            # code would never be resolved. The call runs first and sees the signal.
            do_signal_work(k, t)
        t.in_syscall = False
        if t.state is not TaskState.RUNNABLE:
            continue  # blocked, stopped, or dead
        if k.slice_insns:  # --seed: a slice is a number of instructions, not a time
            slice_over = stop.where == "slice"
        else:
            slice_over = time.monotonic_ns() - k._slice_start >= TIME_SLICE_NS
        if k._yield or (sched.runqueue and slice_over):
            k._yield = False
            sched.enqueue(t)  # its slice is over: to the back of the queue
        else:
            sched.enqueue(t, front=True)


def switch_to(k: Kernel, t: Task) -> None:
    """Put `t` on the CPU (switch_to): save the previous task's registers, load t's."""
    cpu = k.cpu
    assert cpu is not None
    prev = k.on_cpu
    if prev is not t:
        if prev is not None and prev.state is not TaskState.DEAD:
            prev.context = cpu.save_context()
        if t.context is not None:
            cpu.restore_context(t.context)
            t.context = None
        k.on_cpu = t
        k._slice_start = time.monotonic_ns()
    if cpu.mm is not t.mm:
        cpu.switch_mm(t.mm)
    k.current = t
    if t.resume_regs:
        load_resume_regs(k, t)


def load_resume_regs(k: Kernel, t: Task) -> None:
    """Registers a new task (fork) or a new program (execve) starts with."""
    assert k.cpu is not None
    regs = t.resume_regs
    t.resume_regs = {}
    pc = regs.pop("rip", None)
    if pc is not None:
        t.resume_pc = pc
    if regs:
        k.cpu.set_regs(regs)


def do_signal_work(k: Kernel, t: Task) -> None:
    """Deliver t's pending signals (arch_do_signal_or_restart) before it runs again."""
    from sysgate.arch.x86_64.signal import do_signal

    do_signal(t)


def pass_host_signals(k: Kernel) -> None:
    """Signals sysgate received (Ctrl-C: SIGINT) go to the guest's foreground
    process group, as the terminal driver sends them (isig, kill_pgrp)."""
    from sysgate.kernel.signal import send_signal

    while k.sched.host_signals:
        signo = k.sched.host_signals.popleft()
        pgrp = k.fg_pgrp
        targets = [t for t in k.tasks.values() if t.group.pgid == pgrp and t.state is not TaskState.DEAD]
        if not targets:
            targets = [t for t in k.tasks.values() if t.state is not TaskState.DEAD]
        seen = set()
        for t in targets:
            if t.group.tgid not in seen:
                seen.add(t.group.tgid)
                send_signal(t, signo, sig.SI_KERNEL)
                k.signal_wake_up(t)
