"""The signal system calls: rt_sigaction, rt_sigprocmask, sigaltstack, rt_sigreturn,
rt_sigpending, rt_sigsuspend, pause, rt_sigtimedwait, kill, tkill, tgkill,
rt_sigqueueinfo, rt_tgsigqueueinfo, restart_syscall.

Counterpart: kernel/signal.c and arch/x86/kernel/signal_64.c (rt_sigreturn). The state
is in sysgate.kernel.signal; the frame in sysgate.arch.x86_64.signal.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

from sysgate.arch.x86_64 import signal as frame
from sysgate.arch.x86_64.structs import SIGACTION, SIGSET_SIZE, STACK_T, TIMESPEC
from sysgate.argtypes import IN, OUT, Arg, PidT, SizeT, UserPtr, struct_in, struct_out
from sysgate.errors import KernelError
from sysgate.kernel.sched import TaskState
from sysgate.kernel.signal import (
    UNBLOCKABLE,
    SigAction,
    SigInfo,
    dequeue_signal,
    force_sig,
    recalc_sigpending,
    send_signal,
    set_current_blocked,
    sig_handler_ignored,
    sig_kernel_only,
    valid_signal,
)
from sysgate.kernel.wait import block, signal_pending
from sysgate.mm.uaccess import copy_from_user, copy_to_user
from sysgate.syscall import syscall
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
SiginfoIn = Annotated[int, struct_in("siginfo_t __user *", "siginfo")]
SiginfoOut = Annotated[int, struct_out("siginfo_t __user *", "siginfo")]
TimespecIn = Annotated[int, struct_in("const struct __kernel_timespec __user *", "timespec")]
Sig = Annotated[int, Arg("int", 32, True, show="signo")]
How = Annotated[int, Arg("int", 32, True, show="sigprocmask_how")]

UAPI_SA_FLAGS = (
    ls.SA_NOCLDSTOP | ls.SA_NOCLDWAIT | ls.SA_SIGINFO | ls.SA_ONSTACK | ls.SA_RESTART
    | ls.SA_NODEFER | ls.SA_RESETHAND | ls.SA_EXPOSE_TAGBITS | ls.SA_RESTORER
)
_MASK64 = (1 << 64) - 1
SS_FLAG_BITS = ls.SS_AUTODISARM


def _sigset(t: Task, addr: int) -> int:
    return int.from_bytes(copy_from_user(t.mm, addr, SIGSET_SIZE), "little")


@syscall()
def sys_rt_sigaction(t: Task, sig: Sig, act: SigactionIn, oact: SigactionOut, sigsetsize: SizeT) -> int:
    """examine and change a signal action"""
    if sigsetsize != SIGSET_SIZE:
        raise KernelError(Errno.EINVAL)
    new = None
    if act:
        handler, flags, restorer, mask = SIGACTION.unpack(copy_from_user(t.mm, act, SIGACTION.size))
        new = SigAction(handler, flags & UAPI_SA_FLAGS, restorer, mask & ~UNBLOCKABLE)
    if not valid_signal(sig) or sig < 1 or (new is not None and sig_kernel_only(sig)):
        raise KernelError(Errno.EINVAL)
    old = t.sighand.action[sig]
    saved = SigAction(old.handler, old.flags & UAPI_SA_FLAGS, old.restorer, old.mask)
    if new is not None:
        t.sighand.action[sig] = new
        if sig_handler_ignored(new.handler, sig):
            # A pending signal now ignored is discarded, blocked or not, in the process
            # and in every thread (do_sigaction; POSIX 3.3.1.3).
            bit = ls.sigmask(sig)
            t.group.shared_pending &= ~bit
            t.group.shared_info.pop(sig, None)
            for x in t.group.threads or [t]:
                x.pending &= ~bit
                x.pending_info.pop(sig, None)
                recalc_sigpending(x)
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
        new = _sigset(t, nset) & ~UNBLOCKABLE
        if how == ls.SIG_BLOCK:
            set_current_blocked(t, t.blocked | new)
        elif how == ls.SIG_UNBLOCK:
            set_current_blocked(t, t.blocked & ~new)
        elif how == ls.SIG_SETMASK:
            set_current_blocked(t, new)
        else:
            raise KernelError(Errno.EINVAL)
    if oset:
        copy_to_user(t.mm, oset, (old & _MASK64).to_bytes(8, "little"))
    return 0


def do_sigaltstack(t: Task, new: tuple[int, int, int] | None, sp: int, min_ss_size: int) -> bytes:
    """Change the alternate stack (do_sigaltstack); returns the old one as a stack_t."""
    old = STACK_T.pack(t.sas_ss_sp, frame.sas_ss_flags(t, sp) | (t.sas_ss_flags & SS_FLAG_BITS), t.sas_ss_size)
    if new is not None:
        ss_sp, ss_flags, ss_size = new
        if frame.on_sig_stack(t, sp):
            raise KernelError(Errno.EPERM)
        mode = ss_flags & ~SS_FLAG_BITS
        if mode not in (ls.SS_DISABLE, ls.SS_ONSTACK, 0):
            raise KernelError(Errno.EINVAL)
        if (t.sas_ss_sp, t.sas_ss_size, t.sas_ss_flags) == (ss_sp, ss_size, ss_flags):
            return old
        if mode == ls.SS_DISABLE:
            ss_sp = ss_size = 0
        elif ss_size < min_ss_size:
            raise KernelError(Errno.ENOMEM)
        t.sas_ss_sp, t.sas_ss_size, t.sas_ss_flags = ss_sp, ss_size, ss_flags
    return old


@syscall()
def sys_sigaltstack(t: Task, uss: StackIn, uoss: StackOut) -> int:
    """set and/or get signal stack context"""
    new = STACK_T.unpack(copy_from_user(t.mm, uss, STACK_T.size)) if uss else None
    cpu = t.kernel.cpu
    sp = cpu.get_reg("rsp") if cpu is not None else 0
    old = do_sigaltstack(t, new, sp, ls.MINSIGSTKSZ)
    if uoss:
        copy_to_user(t.mm, uoss, old)
    return 0


@syscall()
def sys_rt_sigreturn(t: Task) -> int:
    """return from signal handler and cleanup stack frame

    The registers, the FPU state, the signal mask and the alternate stack come back from
    the rt_sigframe the handler returns through; a frame that cannot be read is SIGSEGV.
    """
    from sysgate.kernel.kernel import XSAVE_SIZE

    cpu = t.kernel.cpu
    assert cpu is not None
    sp, rflags = cpu.get_regs(["rsp", "rflags"])
    t.restart_block = None  # restore_sigcontext: a pending restart_syscall now gives EINTR
    try:
        mask, restored = frame.restore_rt_frame(t, sp, rflags, XSAVE_SIZE)
    except frame.BadFrame:
        force_sig(t, ls.SIGSEGV)  # signal_fault
        return 0
    set_current_blocked(t, mask)
    if restored is None:
        force_sig(t, ls.SIGSEGV)
        return 0
    regs = restored.regs
    ip = regs.pop("rip")
    ax = regs["rax"] - (1 << 64) if regs["rax"] >> 63 else regs["rax"]  # a long, as regs->ax is
    cpu.set_regs(regs)
    cpu.set_fxsave(restored.fxsave)
    cpu.set_pc_in_syscall(ip)
    cpu.skip_sysret = True  # rax, rcx and r11 are the frame's, not SYSRET's
    t.resume_pc = ip
    t.regs.frame = [_MASK64, *t.regs.frame[1:]]  # orig_ax = -1: no restart checks on the way out
    if not restored.fpu_ok:
        force_sig(t, ls.SIGSEGV)
        return ax
    if restored.stack is not None:
        try:
            do_sigaltstack(t, restored.stack, regs["rsp"], ls.MINSIGSTKSZ)
        except KernelError:
            pass  # restore_altstack: "squash all but EFAULT for now"
    else:
        force_sig(t, ls.SIGSEGV)
    return ax


@syscall()
def sys_rt_sigpending(t: Task, uset: SigsetOut, sigsetsize: SizeT) -> int:
    """examine pending signals"""
    if sigsetsize > SIGSET_SIZE:
        raise KernelError(Errno.EINVAL)
    pending = (t.pending | t.group.shared_pending) & t.blocked
    copy_to_user(t.mm, uset, pending.to_bytes(8, "little")[:sigsetsize])
    return 0


@syscall()
def sys_rt_sigsuspend(t: Task, unewset: SigsetIn, sigsetsize: SizeT) -> int:
    """wait for a signal

    The mask is replaced while the call waits and comes back after the handler's frame
    has been written (the frame's uc_sigmask holds the old one)."""
    st = t.call_state()
    if "suspended" not in st.data:
        if sigsetsize != SIGSET_SIZE:
            raise KernelError(Errno.EINVAL)
        newset = _sigset(t, unewset)
        st.data["suspended"] = True
        t.saved_sigmask = t.blocked
        set_current_blocked(t, newset)
    block(t, restart=Errno.ERESTARTNOHAND)


@syscall()
def sys_pause(t: Task) -> int:
    """wait for signal"""
    block(t, restart=Errno.ERESTARTNOHAND)


@syscall()
def sys_rt_sigtimedwait(t: Task, uthese: SigsetIn, uinfo: SiginfoOut, uts: TimespecIn, sigsetsize: SizeT) -> int:
    """synchronously wait for queued signals"""
    st = t.call_state()
    if "these" not in st.data:
        if sigsetsize != SIGSET_SIZE:
            raise KernelError(Errno.EINVAL)
        these = _sigset(t, uthese) & ~UNBLOCKABLE
        deadline = None
        if uts:
            sec, nsec = TIMESPEC.unpack(copy_from_user(t.mm, uts, TIMESPEC.size))
            if sec < 0 or not 0 <= nsec < 1_000_000_000:
                raise KernelError(Errno.EINVAL)
            deadline = time.monotonic_ns() + sec * 1_000_000_000 + nsec
        st.data["these"], st.data["deadline"] = these, deadline
        info = dequeue_signal(t, ~these)
        if info is None and deadline is not None and deadline <= time.monotonic_ns():
            raise KernelError(Errno.EAGAIN)
    else:
        these, deadline = st.data["these"], st.data["deadline"]
        set_current_blocked(t, t.real_blocked)  # back from the wait
        t.real_blocked = 0
        info = dequeue_signal(t, ~these)
        if info is None:
            if st.timed_out or (deadline is not None and deadline <= time.monotonic_ns()):
                raise KernelError(Errno.EAGAIN)
            if signal_pending(t):
                raise KernelError(Errno.EINTR)
    if info is not None:
        if uinfo:
            copy_to_user(t.mm, uinfo, frame.siginfo_to_user(info))
        return info.signo
    t.real_blocked = t.blocked
    set_current_blocked(t, t.blocked & ~these)
    try:
        block(t, deadline=deadline, restart=Errno.EINTR)
    except KernelError:
        set_current_blocked(t, t.real_blocked)
        t.real_blocked = 0
        raise


# -- sending ---------------------------------------------------------------------------


def _kill_ok_by_cred(t: Task, target: Task) -> bool:
    c, tc = t.cred, target.cred
    return c.euid in (tc.suid, tc.uid) or c.uid in (tc.suid, tc.uid) or c.capable()


def check_kill_permission(t: Task, sig: int, code: int, target: Task) -> None:
    """EINVAL for a bad signal, EPERM when a user may not signal the target."""
    if not valid_signal(sig):
        raise KernelError(Errno.EINVAL)
    from_user = code <= 0
    if from_user and target.group is not t.group and not _kill_ok_by_cred(t, target):
        if sig == ls.SIGCONT and target.group.sid == t.group.sid:
            return
        raise KernelError(Errno.EPERM)


def _processes(t: Task) -> list[Task]:
    """One task per live process: its leader, or a thread still there."""
    seen: dict[int, Task] = {}
    for x in t.kernel.tasks.values():
        g = x.group
        if g.tgid not in seen and not g.reaped:
            seen[g.tgid] = g.leader if g.leader is not None else x
    return list(seen.values())


def group_send_sig_info(t: Task, sig: int, info: SigInfo, target: Task) -> None:
    check_kill_permission(t, sig, info.code, target)
    if sig and target.state is not TaskState.DEAD:
        info.signo = sig
        send_signal(target, sig, info.code, t, info=info, group=True)
    elif sig and target.group.threads:
        live = [x for x in target.group.threads if x.state is not TaskState.DEAD]
        if live:
            send_signal(live[0], sig, info.code, t, info=info, group=True)


def kill_something_info(t: Task, sig: int, info: SigInfo, pid: int) -> int:
    """kill(2)'s targets: a process, a process group (0: the caller's), or -1: every
    process the caller may signal but itself and init."""
    if pid > 0:
        target = next((x for x in _processes(t) if x.group.tgid == pid), None)
        if target is None:
            raise KernelError(Errno.ESRCH)
        group_send_sig_info(t, sig, info, target)
        return 0
    if pid == -(1 << 31):
        raise KernelError(Errno.ESRCH)
    if pid != -1:
        pgrp = -pid if pid else t.group.pgid
        result: Errno | None = Errno.ESRCH
        success = False
        for x in _processes(t):
            if x.group.pgid == pgrp:
                try:
                    group_send_sig_info(t, sig, SigInfo(sig, info.code, info.pid, info.uid, raw=info.raw), x)
                    success = True
                except KernelError as exc:
                    result = exc.errno
        if success:
            return 0
        raise KernelError(result or Errno.ESRCH)
    count, err = 0, 0
    for x in _processes(t):
        if x.group.tgid > 1 and x.group is not t.group:
            count += 1
            try:
                group_send_sig_info(t, sig, SigInfo(sig, info.code, info.pid, info.uid, raw=info.raw), x)
                err_now = 0
            except KernelError as exc:
                err_now = exc.errno
            if err_now != Errno.EPERM:
                err = err_now
    if not count:
        raise KernelError(Errno.ESRCH)
    if err:
        raise KernelError(Errno(err))
    return 0


@syscall()
def sys_kill(t: Task, pid: PidT, sig: Sig) -> int:
    """send signal to a process"""
    return kill_something_info(t, sig, SigInfo(sig, ls.SI_USER, t.pid, t.cred.uid), pid)


def do_send_specific(t: Task, tgid: int, pid: int, sig: int, info: SigInfo) -> int:
    target = t.kernel.tasks.get(pid)
    if target is None or target.state is TaskState.DEAD or (tgid > 0 and target.group.tgid != tgid):
        raise KernelError(Errno.ESRCH)
    check_kill_permission(t, sig, info.code, target)
    if sig:
        info.signo = sig
        send_signal(target, sig, info.code, t, info=info)
    return 0


@syscall()
def sys_tkill(t: Task, pid: PidT, sig: Sig) -> int:
    """send a signal to a thread"""
    if pid <= 0:
        raise KernelError(Errno.EINVAL)
    return do_send_specific(t, 0, pid, sig, SigInfo(sig, ls.SI_TKILL, t.pid, t.cred.uid))


@syscall()
def sys_tgkill(t: Task, tgid: PidT, pid: PidT, sig: Sig) -> int:
    """send a signal to a thread"""
    if pid <= 0 or tgid <= 0:
        raise KernelError(Errno.EINVAL)
    return do_send_specific(t, tgid, pid, sig, SigInfo(sig, ls.SI_TKILL, t.pid, t.cred.uid))


def _user_siginfo(t: Task, sig: int, uinfo: int) -> SigInfo:
    raw = bytearray(copy_from_user(t.mm, uinfo, frame.SIGINFO_SIZE))
    code = int.from_bytes(raw[8:12], "little", signed=True)
    return SigInfo(sig, code, raw=bytes(raw))


@syscall()
def sys_rt_sigqueueinfo(t: Task, pid: PidT, sig: Sig, uinfo: SiginfoIn) -> int:
    """queue a signal and data"""
    info = _user_siginfo(t, sig, uinfo)
    # Not even root can pretend to send signals from the kernel, nor impersonate kill().
    if (info.code >= 0 or info.code == ls.SI_TKILL) and pid != t.tid:
        raise KernelError(Errno.EPERM)
    if pid <= 0:
        raise KernelError(Errno.ESRCH)  # kill_proc_info: no such pid
    return kill_something_info(t, sig, info, pid)


@syscall()
def sys_rt_tgsigqueueinfo(t: Task, tgid: PidT, pid: PidT, sig: Sig, uinfo: SiginfoIn) -> int:
    """queue a signal and data to a thread"""
    if pid <= 0 or tgid <= 0:
        raise KernelError(Errno.EINVAL)
    info = _user_siginfo(t, sig, uinfo)
    if (info.code >= 0 or info.code == ls.SI_TKILL) and pid != t.tid:
        raise KernelError(Errno.EPERM)
    return do_send_specific(t, tgid, pid, sig, info)


@syscall()
def sys_restart_syscall(t: Task) -> int:
    """restart a system call after interruption by a stop signal"""
    fn = t.restart_block  # kept: a restarted sleep may wait (and run again) or be interrupted again
    if fn is None:
        raise KernelError(Errno.EINTR)  # do_no_restart_syscall
    return fn(t)
