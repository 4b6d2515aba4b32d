"""Ending tasks and waiting for children: exit, exit_group, wait4, waitid.

Counterpart: kernel/exit.c (do_exit, do_group_exit, exit_notify, forget_original_parent,
do_wait, wait_task_zombie/stopped/continued) and the parts of kernel/fork.c that run at
exit (mm_release: clear_child_tid and the vfork completion).

A thread that exits drops its references to the address space, files and fs_struct,
wakes a vfork parent, clears and futex-wakes its clear_child_tid, walks its robust list.
When the last thread of a process has gone the process is a zombie: its children are
given to sysgate's pid 1 (which reaps them), its parent gets exit_signal (SIGCHLD) and
is woken in wait4/waitid, unless the parent ignores SIGCHLD (or set SA_NOCLDWAIT), in
which case it is reaped at once, as Linux does.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import OUT, Arg, Int, PidT, UserPtr
from sysgate.errors import KernelError
from sysgate.kernel.sched import TaskState
from sysgate.kernel.signal import SigInfo, send_signal
from sysgate.kernel.wait import block
from sysgate.mm.uaccess import copy_to_user, put_user_s32
from sysgate.syscall import Support, syscall
from sysgate.uapi import signal as sig
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task, ThreadGroup

WNOHANG = 0x00000001
WUNTRACED = 0x00000002
WSTOPPED = WUNTRACED
WEXITED = 0x00000004
WCONTINUED = 0x00000008
WNOWAIT = 0x01000000
__WNOTHREAD = 0x20000000
__WALL = 0x40000000
__WCLONE = 0x80000000
P_ALL, P_PID, P_PGID, P_PIDFD = 0, 1, 2, 3
CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_TRAPPED, CLD_STOPPED, CLD_CONTINUED = 1, 2, 3, 4, 5, 6
SA_NOCLDWAIT = 0x00000002

RUSAGE = struct.Struct("<qqqq14q")

WaitStatusOut = Annotated[int, UserPtr("int __user *", show="wait_status", direction=OUT)]
WaitOptions = Annotated[int, Arg("int", 32, True, show="wait_options")]
RusageOut = Annotated[int, UserPtr("struct rusage __user *", show="rusage", direction=OUT, struct="rusage")]
IdType = Annotated[int, Arg("int", 32, True, show="idtype")]
SiginfoOut = Annotated[int, UserPtr("struct siginfo __user *", show="siginfo", direction=OUT, struct="siginfo")]


# -- exit ----------------------------------------------------------------------------------


def do_exit(t: Task, code: int) -> None:
    """End one thread (do_exit); `code` is its wait status (code << 8, or a signal)."""
    if t.state is TaskState.DEAD:
        return
    k = t.kernel
    k.sched.remove(t)
    t.state = TaskState.DEAD
    t.exit_code = code
    t._call_state = None
    _mm_release(t)
    mm = t.mm
    mm.users -= 1
    if mm.users == 0:
        mm.destroy()
    t.files.refs -= 1
    if t.files.refs == 0:
        t.files.close_all()
    t.fs.users -= 1
    if t.fs.users == 0:
        t.fs.cwd.put()
    g = t.group
    if t in g.threads:
        g.threads.remove(t)
    if t is not g.leader:
        k.tasks.pop(t.tid, None)
    k.task_exited(t)
    if not g.threads:
        if not g.group_exiting:
            g.exit_code = code
        _exit_notify(g)
    if t is k.current:
        k.reschedule()


def _mm_release(t: Task) -> None:
    """What exit and exec do to the old address space's users (mm_release)."""
    from sysgate.kernel.futex import clear_child_tid, exit_robust_list

    exit_robust_list(t)
    clear_child_tid(t)
    if t.vfork_done is not None:
        t.vfork_done.wake_up()
        t.vfork_done = None


def do_group_exit(t: Task, status: int) -> None:
    """End every thread of t's process with wait status `status` (do_group_exit)."""
    g = t.group
    if g.group_exiting:
        status = g.exit_code if g.exit_code is not None else status
    else:
        g.group_exiting = True
        g.exit_code = status
    for other in list(g.threads):
        if other is not t:
            do_exit(other, status)
    do_exit(t, status)


def _exit_notify(g: ThreadGroup) -> None:
    """The last thread is gone: orphan the children, tell the parent (exit_notify)."""
    k = g.leader.kernel if g.leader is not None else None
    assert k is not None
    for child in g.children:
        child.parent = None  # to pid 1, sysgate, which reaps
        if child.exit_code is not None and not child.reaped:
            release_group(child)
    g.children = []
    k.process_exited(g)
    parent = g.parent
    if parent is None:
        release_group(g)
        return
    autoreap = False
    leader = parent.threads[0] if parent.threads else None
    if g.exit_signal == sig.SIGCHLD and leader is not None:
        action = leader.sighand.action[sig.SIGCHLD]
        if action.handler == sig.SIG_IGN or action.flags & SA_NOCLDWAIT:
            autoreap = True
    ignored = leader is not None and leader.sighand.action[sig.SIGCHLD].handler == sig.SIG_IGN
    if leader is not None and g.exit_signal > 0 and not (g.exit_signal == sig.SIGCHLD and ignored):
        code = g.exit_code or 0
        cld = CLD_EXITED if not code & 0x7F else (CLD_DUMPED if code & 0x80 else CLD_KILLED)
        uid = g.leader.cred.uid if g.leader is not None else 0
        # do_notify_parent: si_pid, si_uid, and the child's status (si_utime/si_stime: 0)
        raw = struct.pack("<iii4xiIi", g.exit_signal, 0, cld, g.tgid, uid,
                          (code >> 8) & 0xFF if cld == CLD_EXITED else code & 0x7F).ljust(128, b"\0")
        send_signal(leader, g.exit_signal, cld, sender=g.leader,
                    info=SigInfo(g.exit_signal, cld, g.tgid, uid, raw=raw), group=True)
    parent.wait_chldexit.wake_up()
    if autoreap:
        release_group(g)


def release_group(g: ThreadGroup) -> None:
    """Forget a dead process (release_task of its leader): its pid is free again."""
    g.reaped = True
    if g.leader is not None:
        g.leader.kernel.tasks.pop(g.tgid, None)
    if g.parent is not None and g in g.parent.children:
        g.parent.children.remove(g)


# -- wait ----------------------------------------------------------------------------------


def _eligible(t: Task, g: ThreadGroup, which: int, pid: int, options: int) -> bool:
    if which == P_PID and g.tgid != pid:
        return False
    if which == P_PGID and g.pgid != pid:
        return False
    if options & __WALL:
        return True
    clone_child = g.exit_signal != sig.SIGCHLD
    return clone_child == bool(options & __WCLONE)


def do_wait(t: Task, which: int, pid: int, options: int) -> tuple[ThreadGroup, int, int] | None:
    """Find a child to report (do_wait): (child, wait status, CLD_* code), None for
    WNOHANG with nothing to report; blocks otherwise; ECHILD without candidates."""
    candidates = [g for g in t.group.children if _eligible(t, g, which, pid, options)]
    if not candidates:
        raise KernelError(Errno.ECHILD)
    for g in candidates:
        if g.exit_code is not None and not g.reaped and options & WEXITED:
            status = g.exit_code
            code = CLD_EXITED if not status & 0x7F else (CLD_DUMPED if status & 0x80 else CLD_KILLED)
            if not options & WNOWAIT:
                release_group(g)
                t.group.cutime_ns += g.cutime_ns
            return g, status, code
        if g.stop_report is not None and options & WSTOPPED and g.exit_code is None:
            status = (g.stop_report << 8) | 0x7F
            if not options & WNOWAIT:
                g.stop_report = None
            return g, status, CLD_STOPPED
        if g.continued_report and options & WCONTINUED and g.exit_code is None:
            if not options & WNOWAIT:
                g.continued_report = False
            return g, 0xFFFF, CLD_CONTINUED
    if options & WNOHANG:
        return None
    block(t, queues=[t.group.wait_chldexit])


@syscall(support=Support.PARTIAL, note="the rusage of a reaped child is all zeros")
def sys_wait4(t: Task, upid: PidT, stat_addr: WaitStatusOut, options: WaitOptions, ru: RusageOut) -> int:
    """wait for process to change state"""
    options &= 0xFFFFFFFF  # __WCLONE is the sign bit of the int
    if options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL):
        raise KernelError(Errno.EINVAL)
    if upid == -(1 << 31):  # INT_MIN: -INT_MIN overflows (kernel_wait4)
        raise KernelError(Errno.ESRCH)
    if upid == -1:
        which, pid = P_ALL, 0
    elif upid < 0:
        which, pid = P_PGID, -upid
    elif upid == 0:
        which, pid = P_PGID, t.group.pgid
    else:
        which, pid = P_PID, upid
    found = do_wait(t, which, pid, options | WEXITED)
    if found is None:
        return 0
    g, status, _ = found
    if stat_addr:
        put_user_s32(t.mm, stat_addr, status)
    if ru:
        copy_to_user(t.mm, ru, bytes(RUSAGE.size))
    return g.tgid


@syscall(support=Support.PARTIAL, note="P_PIDFD is refused (EINVAL: no pidfds); rusage is zeros")
def sys_waitid(t: Task, which: IdType, upid: PidT, infop: SiginfoOut, options: WaitOptions, ru: RusageOut) -> int:
    """wait for process to change state"""
    options &= 0xFFFFFFFF  # __WCLONE is the sign bit of the int
    if options & ~(WNOHANG | WNOWAIT | WEXITED | WSTOPPED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL):
        raise KernelError(Errno.EINVAL)
    if not options & (WEXITED | WSTOPPED | WCONTINUED):
        raise KernelError(Errno.EINVAL)
    if which == P_ALL:
        pid = 0
    elif which == P_PID:
        if upid <= 0:
            raise KernelError(Errno.EINVAL)
        pid = upid
    elif which == P_PGID:
        if upid < 0:
            raise KernelError(Errno.EINVAL)
        pid = upid or t.group.pgid
    else:
        raise KernelError(Errno.EINVAL)
    found = do_wait(t, which, pid, options)
    if found is None:
        signo = cpid = uid = status = code = 0
    else:
        g, wstatus, code = found
        signo, cpid = sig.SIGCHLD, g.tgid
        uid = g.leader.cred.uid if g.leader is not None else 0
        if code == CLD_EXITED:
            status = (wstatus >> 8) & 0xFF
        elif code in (CLD_KILLED, CLD_DUMPED):
            status = wstatus & 0x7F
        elif code == CLD_STOPPED:
            status = (wstatus >> 8) & 0xFF
        else:
            status = sig.SIGCONT
    if ru:
        copy_to_user(t.mm, ru, bytes(RUSAGE.size))
    if infop:
        copy_to_user(t.mm, infop, struct.pack("<iii4xiIi", signo, 0, code, cpid, uid, status))
    return 0


@syscall()
def sys_exit(t: Task, error_code: Int) -> int:
    """terminate the calling thread"""
    do_exit(t, (error_code & 0xFF) << 8)
    return 0


@syscall()
def sys_exit_group(t: Task, error_code: Int) -> int:
    """exit all threads in a process"""
    do_group_exit(t, (error_code & 0xFF) << 8)
    return 0
