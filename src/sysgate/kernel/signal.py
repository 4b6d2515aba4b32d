"""Signal state and the default actions of signals.

Counterpart: kernel/signal.c and include/linux/signal.h. The kernel keeps, per process,
an action for each signal (struct sighand_struct) and, per thread, a blocked mask and a
set of pending signals. On the way back to user mode the entry looks at the pending,
unblocked signals (get_signal): an ignored one is dropped, a default action is carried
out (terminate, with or without a core, ignore, stop), and a handler is run.

Running handlers (the rt_sigframe on the guest stack and rt_sigreturn) comes with the
processes-and-signals work; until then a signal that would run a handler ends the run
with a clear message instead of being silently lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sysgate.errors import SysgateError
from sysgate.uapi.signal import (
    _NSIG,
    SIG_DFL,
    SIG_IGN,
    SIG_KERNEL_COREDUMP_MASK,
    SIG_KERNEL_IGNORE_MASK,
    SIG_KERNEL_ONLY_MASK,
    SIG_KERNEL_STOP_MASK,
    SIGKILL,
    sigmask,
    signame,
)

if TYPE_CHECKING:
    from sysgate.kernel.task import Task


@dataclass(slots=True)
class SigAction:
    """struct k_sigaction: what to do with one signal."""

    handler: int = SIG_DFL
    flags: int = 0
    restorer: int = 0
    mask: int = 0


@dataclass(slots=True)
class SigInfo:
    """What the kernel records with a pending signal (kernel_siginfo), as far as sysgate
    keeps it: the code, the sender for kill-like signals, the address for faults."""

    signo: int
    code: int
    pid: int = 0
    uid: int = 0
    addr: int | None = None


class SigHand:
    """The actions of all 64 signals (struct sighand_struct); index 0 is unused."""

    def __init__(self) -> None:
        self.action = [SigAction() for _ in range(_NSIG + 1)]

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


def sig_ignored(t: Task, sig: int) -> bool:
    """Whether sending `sig` to `t` would be dropped at once (sig_ignored in signal.c).

    Never while the tracer watches (as a ptraced task: the tracer sees even ignored
    signals, strace's `--- SIGCHLD ...` lines); get_signal then discards them."""
    if sigmask(sig) & t.blocked:
        return False
    if t.kernel.tracer is not None and sig != SIGKILL:
        return False
    handler = t.sighand.action[sig].handler
    return handler == SIG_IGN or (handler == SIG_DFL and sig_ignored_by_default(sig))


def send_signal(t: Task, sig: int, code: int, sender: Task | None = None) -> None:
    """Queue `sig` for `t` (__send_signal_locked); standard signals do not queue twice.

    `sender` (default: `t`) is the task whose pid and uid a kill-like signal carries.
    """
    if sig == 0 or sig_ignored(t, sig):
        return
    if not t.pending & sigmask(sig):
        src = sender or t
        t.pending_info[sig] = SigInfo(sig, code, src.pid, src.cred.uid)
    t.pending |= sigmask(sig)
    recalc_sigpending(t)


def recalc_sigpending(t: Task) -> None:
    t.sigpending = bool(t.pending & ~t.blocked) or bool(t.pending & SIG_KERNEL_ONLY_MASK)


def force_sig_fault(t: Task, sig: int, code: int, addr: int) -> None:
    """A synchronous fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP): force_sig_fault.

    If the signal is blocked or ignored the kernel resets it to the default action, so
    that a fault can never be lost.
    """
    action = t.sighand.action[sig]
    if action.handler == SIG_IGN or sigmask(sig) & t.blocked:
        action.handler = SIG_DFL
        t.blocked &= ~sigmask(sig)
    t.pending_info[sig] = SigInfo(sig, code, addr=addr)
    t.pending |= sigmask(sig)
    recalc_sigpending(t)


def get_signal(t: Task) -> int | None:
    """Act on pending signals (get_signal): return the signal the task dies of, if any."""
    while t.sigpending:
        deliverable = t.pending & (~t.blocked | SIG_KERNEL_ONLY_MASK)
        if not deliverable:
            recalc_sigpending(t)
            return None
        # Synchronous and lower-numbered signals first, as next_signal() does.
        sig = (deliverable & -deliverable).bit_length()
        t.pending &= ~sigmask(sig)
        recalc_sigpending(t)
        info = t.pending_info.pop(sig, None) or SigInfo(sig, 0)
        if t.kernel.tracer is not None:
            t.kernel.tracer.signal(t, info)
        action = t.sighand.action[sig]
        if action.handler == SIG_IGN:
            continue
        if action.handler != SIG_DFL:
            raise SysgateError(
                f"the guest set a handler for {signame(sig)}, and running signal handlers "
                "is not implemented yet in sysgate"
            )
        if sig_ignored_by_default(sig):
            continue
        if sig_stop(sig):
            raise SysgateError(f"stopping a process on {signame(sig)} is not implemented yet in sysgate")
        return sig
    return None
