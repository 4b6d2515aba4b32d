"""Signal actions, masks and sending: rt_sigaction, rt_sigprocmask, sigaltstack, kill,
tkill, tgkill.

Counterpart: kernel/signal.c. The state is kept exactly as Linux keeps it; delivery
carries out default actions (terminate, ignore) and, until handler frames exist,
reports a signal that would run a handler instead of dropping it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from sysgate.arch.x86_64.structs import SIGACTION, SIGSET_SIZE, STACK_T
from sysgate.argtypes import IN, OUT, Arg, PidT, SizeT, UserPtr, struct_in, struct_out
from sysgate.errors import KernelError
from sysgate.kernel.signal import (
    SigAction,
    recalc_sigpending,
    send_signal,
    sig_ignored_by_default,
    sig_kernel_only,
    valid_signal,
)
from sysgate.mm.uaccess import copy_from_user, copy_to_user
from sysgate.syscall import Support, syscall
from sysgate.uapi import signal as ls
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

SigactionIn = Annotated[int, struct_in("const struct sigaction __user *", "sigaction")]
SigactionOut = Annotated[int, struct_out("struct sigaction __user *", "sigaction")]
SigsetIn = Annotated[int, UserPtr("sigset_t __user *", show="sigset", direction=IN)]
SigsetOut = Annotated[int, UserPtr("sigset_t __user *", show="sigset", direction=OUT)]
StackIn = Annotated[int, struct_in("const stack_t __user *", "stack_t")]
StackOut = Annotated[int, struct_out("stack_t __user *", "stack_t")]
Sig = Annotated[int, Arg("int", 32, True, show="signo")]
How = Annotated[int, Arg("int", 32, True, show="sigprocmask_how")]

UAPI_SA_FLAGS = (
    ls.SA_NOCLDSTOP | ls.SA_NOCLDWAIT | ls.SA_SIGINFO | ls.SA_ONSTACK | ls.SA_RESTART
    | ls.SA_NODEFER | ls.SA_RESETHAND | ls.SA_EXPOSE_TAGBITS | ls.SA_RESTORER
)
_UNBLOCKABLE = ls.sigmask(ls.SIGKILL) | ls.sigmask(ls.SIGSTOP)
_MASK64 = (1 << 64) - 1


@syscall(support=Support.PARTIAL, note="handlers are recorded; running them is not implemented yet")
def sys_rt_sigaction(t: Task, sig: Sig, act: SigactionIn, oact: SigactionOut, sigsetsize: SizeT) -> int:
    """examine and change a signal action"""
    if sigsetsize != SIGSET_SIZE:
        raise KernelError(Errno.EINVAL)
    new = None
    if act:
        handler, flags, restorer, mask = SIGACTION.unpack(copy_from_user(t.mm, act, SIGACTION.size))
        new = SigAction(handler, flags & UAPI_SA_FLAGS, restorer, mask & ~_UNBLOCKABLE)
    if not valid_signal(sig) or sig < 1 or (new is not None and sig_kernel_only(sig)):
        raise KernelError(Errno.EINVAL)
    old = t.sighand.action[sig]
    saved = SigAction(old.handler, old.flags, old.restorer, old.mask)
    if new is not None:
        t.sighand.action[sig] = new
        if new.handler == ls.SIG_IGN or (new.handler == ls.SIG_DFL and sig_ignored_by_default(sig)):
            # Setting a pending signal to be ignored discards it, blocked or not (do_sigaction,
            # sig_handler_ignored: POSIX 3.3.1.3).
            t.pending &= ~ls.sigmask(sig)
            recalc_sigpending(t)
    if oact:
        copy_to_user(t.mm, oact, SIGACTION.pack(saved.handler, saved.flags, saved.restorer, saved.mask))
    return 0


@syscall()
def sys_rt_sigprocmask(t: Task, how: How, nset: SigsetIn, oset: SigsetOut, sigsetsize: SizeT) -> int:
    """examine and change blocked signals"""
    if sigsetsize != SIGSET_SIZE:
        raise KernelError(Errno.EINVAL)
    old = t.blocked
    if nset:
        new = int.from_bytes(copy_from_user(t.mm, nset, 8), "little") & ~_UNBLOCKABLE
        if how == ls.SIG_BLOCK:
            t.blocked |= new
        elif how == ls.SIG_UNBLOCK:
            t.blocked &= ~new
        elif how == ls.SIG_SETMASK:
            t.blocked = new
        else:
            raise KernelError(Errno.EINVAL)
        recalc_sigpending(t)
    if oset:
        copy_to_user(t.mm, oset, (old & _MASK64).to_bytes(8, "little"))
    return 0


def on_sig_stack(t: Task, sp: int) -> bool:
    if t.sas_ss_flags & ls.SS_AUTODISARM:
        return False  # include/linux/sched/signal.h: on_sig_stack()
    return bool(t.sas_ss_size) and t.sas_ss_sp < sp <= t.sas_ss_sp + t.sas_ss_size


@syscall()
def sys_sigaltstack(t: Task, uss: StackIn, uoss: StackOut) -> int:
    """set and/or get signal stack context"""
    new = STACK_T.unpack(copy_from_user(t.mm, uss, STACK_T.size)) if uss else None
    sp = t.kernel.cpu.get_reg("rsp") if t.kernel.cpu is not None else 0
    onstack = on_sig_stack(t, sp)
    old_flags = (ls.SS_DISABLE if not t.sas_ss_size else (ls.SS_ONSTACK if onstack else 0)) | (
        t.sas_ss_flags & ls.SS_AUTODISARM
    )
    old = STACK_T.pack(t.sas_ss_sp, old_flags, t.sas_ss_size)
    if new is not None:
        ss_sp, ss_flags, ss_size = new
        if onstack:
            raise KernelError(Errno.EPERM)
        mode = ss_flags & ~ls.SS_AUTODISARM
        if mode not in (ls.SS_DISABLE, ls.SS_ONSTACK, 0):
            raise KernelError(Errno.EINVAL)
        if mode == ls.SS_DISABLE:
            ss_sp = ss_size = 0
        elif ss_size < ls.MINSIGSTKSZ:
            raise KernelError(Errno.ENOMEM)
        t.sas_ss_sp, t.sas_ss_size, t.sas_ss_flags = ss_sp, ss_size, ss_flags & 0xFFFFFFFF
    if uoss:
        copy_to_user(t.mm, uoss, old)
    return 0


def _check_sig(sig: int) -> None:
    if not valid_signal(sig):
        raise KernelError(Errno.EINVAL)


@syscall(support=Support.PARTIAL, note="only the calling process exists to receive signals so far")
def sys_kill(t: Task, pid: PidT, sig: Sig) -> int:
    """send signal to a process"""
    if pid == -1:
        raise KernelError(Errno.ESRCH)  # every process but init and the caller: none here
    if pid in (0, t.pid) or -pid == t.group.pgid:
        # The signal is checked only once there is a target (check_kill_permission):
        # kill(<no such pid>, <bad signal>) is ESRCH.
        _check_sig(sig)
        send_signal(t, sig, ls.SI_USER)
        return 0
    raise KernelError(Errno.ESRCH)


@syscall(support=Support.PARTIAL, note="only the calling thread exists to receive signals so far")
def sys_tkill(t: Task, pid: PidT, sig: Sig) -> int:
    """send a signal to a thread"""
    if pid <= 0:
        raise KernelError(Errno.EINVAL)
    if pid != t.tid:
        raise KernelError(Errno.ESRCH)  # do_send_specific: no target, so no signal check
    _check_sig(sig)
    send_signal(t, sig, ls.SI_TKILL)
    return 0


@syscall(support=Support.PARTIAL, note="only the calling thread exists to receive signals so far")
def sys_tgkill(t: Task, tgid: PidT, pid: PidT, sig: Sig) -> int:
    """send a signal to a thread"""
    if pid <= 0 or tgid <= 0:
        raise KernelError(Errno.EINVAL)
    if pid != t.tid or tgid != t.pid:
        raise KernelError(Errno.ESRCH)  # do_send_specific: no target, so no signal check
    _check_sig(sig)
    send_signal(t, sig, ls.SI_TKILL)
    return 0
