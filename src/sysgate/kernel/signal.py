"""Signal state, sending, and delivery on the way back to user mode.

Counterpart: kernel/signal.c (send_signal_locked, complete_signal, dequeue_signal,
get_signal, signal_delivered, force_sig_info), include/linux/signal.h and
arch/x86/kernel/signal.c (arch_do_signal_or_restart, handle_signal). The kernel keeps,
per process, an action for each signal (struct sighand_struct) and a shared pending set;
per thread, a blocked mask and a private pending set. The run loop calls do_signal(t)
when t.sigpending after the CPU stops (outside the syscall hook): the pending,
unblocked signals are dequeued (synchronous faults first, then the lowest number; the
thread's own before the process's); an ignored one is dropped, a default action is
carried out (terminate, with or without core, stop), and a handler gets an rt_sigframe
on the guest stack (arch/x86_64/signal.py). On the way out of a system call the
-ERESTART* results are turned into EINTR or a restart as Linux does.

Differences from Linux: a core-dumping signal never writes a core file, so the wait
status never has the 0x80 core bit (Debian's default RLIMIT_CORE of 0 gives the same).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sysgate.kernel.sched import TaskState
from sysgate.uapi.signal import (
    _NSIG,
    SA_NODEFER,
    SA_RESETHAND,
    SI_KERNEL,
    SIG_DFL,
    SIG_IGN,
    SIG_KERNEL_COREDUMP_MASK,
    SIG_KERNEL_IGNORE_MASK,
    SIG_KERNEL_ONLY_MASK,
    SIG_KERNEL_STOP_MASK,
    SIGBUS,
    SIGCHLD,
    SIGCONT,
    SIGFPE,
    SIGILL,
    SIGKILL,
    SIGSEGV,
    SIGSTOP,
    SIGSYS,
    SIGTRAP,
    SS_AUTODISARM,
    SS_DISABLE,
    sigmask,
)

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

SYNCHRONOUS_MASK = sigmask(SIGSEGV) | sigmask(SIGBUS) | sigmask(SIGILL) | sigmask(SIGTRAP) | sigmask(SIGFPE) \
    | sigmask(SIGSYS)
"""Signals a fault raises, dequeued before any other (next_signal)."""
UNBLOCKABLE = sigmask(SIGKILL) | sigmask(SIGSTOP)
SIGRTMIN = 32
NR_RESTART_SYSCALL = 219
_MASK64 = (1 << 64) - 1
_ALL = (1 << _NSIG) - 1


@dataclass(slots=True)
class SigAction:
    """struct k_sigaction: what to do with one signal."""

    handler: int = SIG_DFL
    flags: int = 0
    restorer: int = 0
    mask: int = 0


@dataclass(slots=True)
class SigInfo:
    """What the kernel records with a pending signal (kernel_siginfo): the code, the
    sender for kill-like signals, the address for faults; `raw` is the whole 128-byte
    siginfo_t when the sender gave more (rt_sigqueueinfo, timers, SIGCHLD)."""

    signo: int
    code: int
    pid: int = 0
    uid: int = 0
    addr: int | None = None
    raw: bytes | None = None


class SigHand:
    """The actions of all 64 signals (struct sighand_struct); index 0 is unused."""

    def __init__(self) -> None:
        self.action = [SigAction() for _ in range(_NSIG + 1)]

    def reset_handlers(self) -> None:
        """Handled signals go back to SIG_DFL (exec, CLONE_CLEAR_SIGHAND); ignored stay ignored."""
        for a in self.action[1:]:
            if a.handler not in (SIG_DFL, SIG_IGN):
                a.handler, a.flags, a.mask, a.restorer = SIG_DFL, 0, 0, 0

    def copy(self) -> SigHand:
        new = SigHand()
        new.action = [SigAction(a.handler, a.flags, a.restorer, a.mask) for a in self.action]
        return new


def valid_signal(sig: int) -> bool:
    return 0 <= sig <= _NSIG


def sig_kernel_only(sig: int) -> bool:
    return bool(sigmask(sig) & SIG_KERNEL_ONLY_MASK) if sig < 32 else False


def sig_ignored_by_default(sig: int) -> bool:
    return sig < 32 and bool(sigmask(sig) & SIG_KERNEL_IGNORE_MASK)


def sig_coredump(sig: int) -> bool:
    return sig < 32 and bool(sigmask(sig) & SIG_KERNEL_COREDUMP_MASK)


def sig_stop(sig: int) -> bool:
    return sig < 32 and bool(sigmask(sig) & SIG_KERNEL_STOP_MASK)


def sig_handler_ignored(handler: int, sig: int) -> bool:
    return handler == SIG_IGN or (handler == SIG_DFL and sig_ignored_by_default(sig))


def sig_ignored(t: Task, sig: int) -> bool:
    """Whether sending `sig` to `t` would be dropped at once (sig_ignored in signal.c).

    Never while blocked (it may be unblocked later with another action), and never while
    the tracer watches (a ptraced task's tracer sees even ignored signals, strace's
    `--- SIGCHLD ...` lines); get_signal then discards them."""
    if sigmask(sig) & (t.blocked | t.real_blocked):
        return False
    if t.kernel.tracer is not None and sig != SIGKILL:
        return False
    return sig_handler_ignored(t.sighand.action[sig].handler, sig)


def recalc_sigpending(t: Task) -> None:
    pending = t.pending | t.group.shared_pending
    t.sigpending = bool(pending & ~t.blocked) or bool(pending & SIG_KERNEL_ONLY_MASK) or t.group.group_exiting


def _wake(t: Task) -> None:
    """signal_wake_up: a task in an interruptible wait runs its call again."""
    if t.sigpending and t.state is TaskState.BLOCKED:
        t.kernel.sched.wake(t)


# -- sending ---------------------------------------------------------------------------


def prepare_signal(t: Task, sig: int) -> bool:
    """Stop and continue signals cancel each other (prepare_signal); SIGCONT continues
    every thread of a stopped process. False: the signal is dropped."""
    g = t.group
    if sig_stop(sig):
        _flush(t, sigmask(SIGCONT))
    elif sig == SIGCONT:
        _flush(t, SIG_KERNEL_STOP_MASK)
        stopped = [x for x in g.threads if x.state is TaskState.STOPPED]
        for x in stopped:
            t.kernel.sched.cont(x)
        if stopped:
            g.stop_report = None
            g.continued_report = True
            notify_parent_cldstop(t, 6)  # CLD_CONTINUED
    return not sig_ignored(t, sig)


def _flush(t: Task, mask: int) -> None:
    g = t.group
    for x in g.threads or [t]:
        x.pending &= ~mask
    g.shared_pending &= ~mask


def send_signal(t: Task, sig: int, code: int, sender: Task | None = None, *, info: SigInfo | None = None,
                group: bool = False) -> None:
    """Queue `sig` for `t` (__send_signal_locked), or for its whole process with `group`.

    A standard signal already pending is not queued again; real-time signals queue.
    `sender` (default: `t`) is the task whose pid and uid a kill-like signal carries;
    `info` replaces the SigInfo made from `code` and `sender`.
    """
    if sig == 0 or not prepare_signal(t, sig):
        return
    if info is None:
        src = sender or t
        info = SigInfo(sig, code, src.pid, src.cred.uid) if code != SI_KERNEL else SigInfo(sig, code)
    g = t.group
    bit = sigmask(sig)
    pending, queue = (g.shared_pending, g.shared_info) if group else (t.pending, t.pending_info)
    if sig < SIGRTMIN and pending & bit:
        return  # legacy_queue: a standard signal is pending at most once
    queue.setdefault(sig, []).append(info)
    if group:
        g.shared_pending |= bit
    else:
        t.pending |= bit
    complete_signal(t, sig, group)


def complete_signal(t: Task, sig: int, group: bool) -> None:
    """Pick the thread to wake (complete_signal): `t` if it can take the signal, else
    another thread of the process that does not block it. A fatal signal needs nothing
    more: the thread that dequeues it takes the whole process down (do_group_exit)."""
    from sysgate.fs.signalfd import signalfd_notify

    signalfd_notify()  # signalfd readers and pollers look again, blocked signals too
    g = t.group
    bit = sigmask(sig)

    def wants(x: Task) -> bool:
        return x.state is not TaskState.DEAD and (not x.blocked & bit or sig == SIGKILL)

    target: Task | None = t
    if group and not wants(t):
        target = next((x for x in g.threads if wants(x)), None)
    for x in g.threads if group and g.threads else [t]:
        recalc_sigpending(x)
    if target is not None:
        _wake(target)  # otherwise every thread blocks it: it waits for one to unblock it


def send_sig_to_group(t: Task, sig: int, code: int, sender: Task | None = None,
                      info: SigInfo | None = None) -> None:
    """A process-directed signal (kill, group_send_sig_info)."""
    send_signal(t, sig, code, sender, info=info, group=True)


def force_sig_info(t: Task, info: SigInfo) -> None:
    """force_sig_info_to_task: the signal is unblocked and, if ignored, reset to its
    default action, so that it can never be lost (faults, a bad signal frame)."""
    sig = info.signo
    action = t.sighand.action[sig]
    blocked = bool(sigmask(sig) & t.blocked)
    if action.handler == SIG_IGN or blocked:
        if blocked:
            t.blocked &= ~sigmask(sig)
        if action.handler == SIG_IGN:
            action.handler = SIG_DFL
    if sig < SIGRTMIN and t.pending & sigmask(sig):
        recalc_sigpending(t)
        return
    t.pending_info.setdefault(sig, []).append(info)
    t.pending |= sigmask(sig)
    recalc_sigpending(t)
    _wake(t)


def force_sig_fault(t: Task, sig: int, code: int, addr: int) -> None:
    """A synchronous fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP): force_sig_fault.

    The thread's trap number, error code and fault address (the sigcontext's trapno, err
    and cr2) are recorded as the exception handlers of traps.c and fault.c do."""
    _record_trap(t, sig, code, addr)
    force_sig_info(t, SigInfo(sig, code, addr=addr))


def force_sig(t: Task, sig: int) -> None:
    """force_sig: a signal from the kernel itself (SI_KERNEL), not to be lost."""
    force_sig_info(t, SigInfo(sig, SI_KERNEL))


def force_sigsegv(t: Task, sig: int) -> None:
    """A frame for `sig` could not be written (force_sigsegv): SIGSEGV, and if that was
    SIGSEGV's own frame, with the default action, so the task dies."""
    if sig == SIGSEGV:
        t.sighand.action[SIGSEGV].handler = SIG_DFL
    force_sig(t, SIGSEGV)


def _record_trap(t: Task, sig: int, code: int, addr: int) -> None:
    trapno, err, cr2 = t.trap_info
    if sig in (SIGSEGV, SIGBUS) and code not in (SI_KERNEL,) and t.mm.last_fault is not None:
        fault = t.mm.last_fault
        # The page-fault error code: present (ACCERR), write, user, instruction fetch.
        err = (1 if fault.mapped else 0) | (2 if fault.access == 2 else 0) | 4 | (16 if fault.access == 4 else 0)
        trapno, cr2 = 14, addr
    elif sig == SIGSEGV:
        trapno, err = 13, 0
    elif sig == SIGILL:
        trapno, err = 6, 0
    elif sig == SIGFPE:
        trapno, err = (0 if code == 1 else 16), 0
    elif sig == SIGTRAP:
        trapno, err = (3 if code == SI_KERNEL else 1), 0
    t.trap_info = (trapno, err, cr2)


# -- dequeuing -------------------------------------------------------------------------


def next_signal(pending: int, blocked: int) -> int:
    """The signal to take from `pending` (next_signal): synchronous ones first, then the
    lowest number; 0 if none is deliverable."""
    ready = pending & ~blocked & _ALL
    if not ready:
        return 0
    sync = ready & SYNCHRONOUS_MASK
    if sync:
        ready = sync
    return (ready & -ready).bit_length()


def dequeue_signal(t: Task, blocked: int) -> SigInfo | None:
    """Take the next signal not in `blocked`: the thread's own first, then the process's."""
    g = t.group
    for is_group in (False, True):
        pending = g.shared_pending if is_group else t.pending
        sig = next_signal(pending, blocked)
        if not sig:
            continue
        queue = g.shared_info if is_group else t.pending_info
        infos = queue.get(sig) or []
        info = infos.pop(0) if infos else SigInfo(sig, SI_KERNEL)
        if not infos:
            queue.pop(sig, None)
            if is_group:
                g.shared_pending &= ~sigmask(sig)
            else:
                t.pending &= ~sigmask(sig)
        recalc_sigpending(t)
        return info
    return None


@dataclass(slots=True)
class KSignal:
    """struct ksignal: the signal to handle, a copy of its action, its siginfo."""

    sig: int
    action: SigAction
    info: SigInfo


def get_ksignal(t: Task, fatal: list[int] | None = None) -> KSignal | None:
    """get_signal: act on pending signals until one has a handler to run.

    Ignored signals are dropped; a fatal default action ends the process (the task is
    then DEAD or exiting, and None is returned), or with `fatal` is only appended to it;
    a stop signal stops the process."""
    while t.sigpending:
        if t.group.group_exiting or t.state is TaskState.DEAD:
            return None
        info = dequeue_signal(t, t.blocked & ~SIG_KERNEL_ONLY_MASK)
        if info is None:
            recalc_sigpending(t)
            return None
        sig = info.signo
        if t.kernel.tracer is not None:
            t.kernel.tracer.signal(t, info)
        action = t.sighand.action[sig]
        if action.handler == SIG_IGN:
            continue
        if action.handler != SIG_DFL:
            ksig = KSignal(sig, SigAction(action.handler, action.flags, action.restorer, action.mask), info)
            if action.flags & SA_RESETHAND:
                action.handler = SIG_DFL
            return ksig
        if sig_ignored_by_default(sig):
            continue
        if sig_stop(sig):
            do_signal_stop(t, sig)
            return None
        # Death: a core-dumping signal would write a core here (do_coredump); sysgate does
        # not, and Linux sets the 0x80 bit only when a core was written.
        if fatal is not None:
            fatal.append(sig)
        else:
            t.kernel.do_group_exit(t, sig)
        return None
    return None


def get_signal(t: Task) -> int | None:
    """Default actions only: the number of the signal the task would die of, if any, for
    the caller to act on (a handler's signal is returned as well)."""
    fatal: list[int] = []
    ksig = get_ksignal(t, fatal)
    return ksig.sig if ksig is not None else (fatal[0] if fatal else None)


def do_signal_stop(t: Task, sig: int) -> None:
    """Stop every thread of the process (do_signal_stop) and tell the parent."""
    g = t.group
    for x in g.threads or [t]:
        if x.state is not TaskState.DEAD:
            t.kernel.sched.stop(x)
    g.stop_report = sig
    g.continued_report = False
    notify_parent_cldstop(t, 5, sig)  # CLD_STOPPED


def notify_parent_cldstop(t: Task, why: int, sig: int = 0) -> None:
    """SIGCHLD to the parent for a stop or a continue, unless it set SA_NOCLDSTOP."""
    from sysgate.uapi.signal import SA_NOCLDSTOP

    parent = t.group.parent
    if parent is None or not parent.threads:
        return
    leader = parent.threads[0]
    parent.wait_chldexit.wake_up()
    if leader.sighand.action[SIGCHLD].flags & SA_NOCLDSTOP:
        return
    import struct

    raw = bytearray(128)
    struct.pack_into("<iiiiiIi", raw, 0, SIGCHLD, 0, why, 0, t.pid, t.cred.uid, sig if why == 5 else SIGCONT)
    send_signal(leader, SIGCHLD, why, t, info=SigInfo(SIGCHLD, why, t.pid, t.cred.uid, raw=bytes(raw)),
                group=True)


# -- delivery --------------------------------------------------------------------------


def set_current_blocked(t: Task, mask: int) -> None:
    t.blocked = mask & ~UNBLOCKABLE & _MASK64
    recalc_sigpending(t)


def signal_delivered(t: Task, ksig: KSignal) -> None:
    """The frame is written: block the handler's mask (and the signal itself unless
    SA_NODEFER), and disarm an SS_AUTODISARM alternate stack."""
    t.saved_sigmask = None
    blocked = t.blocked | ksig.action.mask
    if not ksig.action.flags & SA_NODEFER:
        blocked |= sigmask(ksig.sig)
    set_current_blocked(t, blocked)
    if t.sas_ss_flags & SS_AUTODISARM:
        t.sas_ss_sp, t.sas_ss_size, t.sas_ss_flags = 0, 0, SS_DISABLE


def restore_saved_sigmask(t: Task) -> None:
    if t.saved_sigmask is not None:
        mask, t.saved_sigmask = t.saved_sigmask, None
        set_current_blocked(t, mask)
