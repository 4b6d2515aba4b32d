"""Tasks: the kernel's view of a running thread and the process it belongs to.

Counterpart: include/linux/sched.h (struct task_struct), include/linux/sched/signal.h
(struct signal_struct, which holds what threads of a process share: rlimits, process
group, session, exit status), include/linux/cred.h and include/linux/fs_struct.h.
A Task is one thread; its ThreadGroup is the process. The fields mirror what the
kernel keeps, and the handlers read and change them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sysgate.fs.fdtable import FdTable
from sysgate.kernel.sched import TaskState
from sysgate.kernel.signal import SigHand, SigInfo
from sysgate.kernel.wait import CallState, WaitQueue
from sysgate.uapi.resource import RLIM_NLIMITS, RLIMIT_NOFILE

_BOOTTIME = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)

if TYPE_CHECKING:
    from sysgate.arch.abi import Abi
    from sysgate.fs.file import File
    from sysgate.fs.root import Root
    from sysgate.kernel.kernel import Kernel
    from sysgate.mm.mm import Mm


class PtRegs:
    """The register frame of the system call in progress (struct pt_regs).

    `frame` is the batch the CPU read on entry: [orig_ax, arg0..arg5, ip, flags] in
    the ABI's argument order; `ax` is the return value, preset to -ENOSYS by the entry
    as entry_SYSCALL_64 does. Making this a view over the batch costs one assignment
    per call instead of copying nine registers.
    """

    __slots__ = ("ax", "frame")

    def __init__(self) -> None:
        self.frame: list[int] = [0] * 9
        self.ax = 0

    @property
    def orig_ax(self) -> int:
        return self.frame[0]

    @property
    def args(self) -> list[int]:
        return self.frame[1:7]

    @property
    def ip(self) -> int:
        return self.frame[7]

    @property
    def flags(self) -> int:
        return self.frame[8]


@dataclass(slots=True)
class Cred:
    """Credentials (struct cred)."""

    uid: int = 0
    euid: int = 0
    suid: int = 0
    fsuid: int = 0
    gid: int = 0
    egid: int = 0
    sgid: int = 0
    fsgid: int = 0
    groups: list[int] = field(default_factory=list)

    def copy(self) -> Cred:
        return Cred(self.uid, self.euid, self.suid, self.fsuid, self.gid, self.egid, self.sgid, self.fsgid,
                    list(self.groups))

    def capable(self) -> bool:
        """Whether the task holds every capability (euid 0, as root's bounding set)."""
        return self.euid == 0


@dataclass(slots=True)
class FsStruct:
    """Where paths start, and the file-creation mask (struct fs_struct)."""

    cwd: File
    umask: int = 0o022
    root: Root | None = None  # the root folder (sysgate run --root); None: the host's /
    users: int = 1  # tasks sharing it (CLONE_FS)


@dataclass(slots=True, eq=False)
class ThreadGroup:
    """What the threads of one process share (struct signal_struct and the pid links).

    `parent` is the process that wait()s for this one (real_parent); None for a process
    whose parent is sysgate itself (pid 1, which reaps it). `exit_code` is the wait status
    once every thread has exited (a zombie until the parent reaps it: `reaped`).
    """

    tgid: int
    pgid: int
    sid: int
    rlimits: list[tuple[int, int]]
    parent: ThreadGroup | None = None
    exit_code: int | None = None  # the wait status once the process has exited
    dumpable: int = 1
    exit_signal: int = 17  # SIGCHLD: what the parent gets when this process ends
    threads: list[Task] = field(default_factory=list)  # live threads, the leader first
    children: list[ThreadGroup] = field(default_factory=list)
    wait_chldexit: WaitQueue = field(default_factory=WaitQueue)  # wait4 sleepers of this process
    group_exiting: bool = False  # exit_group or a fatal signal is taking every thread
    reaped: bool = False
    did_exec: bool = False  # the leader's PF_FORKNOEXEC is clear: its parent's setpgid gives EACCES
    # How the process stopped or continued, for a parent's WUNTRACED/WCONTINUED wait.
    stop_report: int | None = None
    continued_report: bool = False
    # Times of reaped children (cutime, cstime) and of exited threads, in ns.
    cutime_ns: int = 0
    cstime_ns: int = 0
    leader: Task | None = None
    shared_pending: int = 0  # signals sent to the process (signal_struct.shared_pending)
    shared_info: dict[int, list[SigInfo]] = field(default_factory=dict)
    timers: object | None = None  # alarm, interval and POSIX timers (kernel/itimer.py)

    @property
    def ppid(self) -> int:
        return self.parent.tgid if self.parent is not None else 1

    def nofile(self) -> int:
        return self.rlimits[RLIMIT_NOFILE][0]


class Task:
    """One thread of a guest process."""

    def __init__(
        self, kernel: Kernel, tid: int, group: ThreadGroup, abi: Abi, mm: Mm,
        files: FdTable, fs: FsStruct, cred: Cred,
    ) -> None:
        assert len(group.rlimits) == RLIM_NLIMITS
        self.kernel = kernel
        self.tid = tid
        self.group = group
        self.abi = abi
        self.mm = mm
        self.files = files
        self.fs = fs
        self.cred = cred
        self.sighand = SigHand()
        self.blocked = 0  # the signal mask
        self.pending = 0  # signals sent to this task and not yet delivered
        self.sigpending = False  # the TIF_SIGPENDING flag the entry tests on the way out
        self.pending_info: dict[int, list[SigInfo]] = {}  # the queued siginfo of each pending signal
        self.real_blocked = 0  # the mask rt_sigtimedwait replaced while it waits
        self.saved_sigmask: int | None = None  # TIF_RESTORE_SIGMASK: the mask sigsuspend replaced
        self.restart_block: Callable[[Task], int] | None = None  # what restart_syscall runs
        self.trap_info = (0, 0, 0)  # thread.trap_nr, error_code, cr2 of the last fault
        self.sas_ss_sp = 0
        self.sas_ss_size = 0
        self.sas_ss_flags = 2  # SS_DISABLE
        self.regs = PtRegs()
        self.comm = b""
        self.clear_child_tid = 0
        self.robust_list = 0
        self.robust_list_len = 0
        self.rseq = 0
        self.rseq_len = 0
        self.rseq_sig = 0
        self.fs_base = 0
        self.gs_base = 0
        self.pdeath_signal = 0
        self.nice = 0
        self.no_new_privs = False
        self.saved_auxv = b""
        self.personality = 0  # kernel/exec_domain.c: current->personality
        self.exe_path = ""
        self.exit_code: int | None = None  # set when the task has exited
        self.start_boottime = time.clock_gettime_ns(_BOOTTIME)  # copy_process: CLOCK_BOOTTIME at fork
        # Scheduling: the state, the saved CPU context while off the CPU, where it resumes.
        self.state = TaskState.RUNNABLE
        self.context: bytes | None = None
        self.resume_pc = 0
        self.resume_regs: dict[str, int] = {}  # registers to set when it next runs (a new task)
        self.in_syscall = False  # the last stop came on the way out of a system call
        self._call_state: CallState | None = None  # the waiting system call's state
        self.vfork_done: WaitQueue | None = None  # a vfork parent sleeps here (CLONE_VFORK)
        self.exit_signal = 17  # for a thread group leader: what its parent is sent

    def call_state(self) -> CallState:
        """The state of the system call in progress, kept while it waits (kernel/wait.py)."""
        st = self._call_state
        if st is None:
            st = self._call_state = CallState()
        return st

    def wait_description(self) -> str:
        """What the task waits on, for the deadlock report and /proc/PID/wchan."""
        if self.state is TaskState.STOPPED:
            return "stopped"
        if self.state is not TaskState.BLOCKED:
            return "runnable"
        slot = self.kernel.table64.slots.get(self.regs.orig_ax & 0xFFFFFFFF)
        return f"in {slot.name if slot is not None else 'syscall_' + hex(self.regs.orig_ax)}"

    @property
    def pid(self) -> int:
        return self.group.tgid

    def send_sigpipe(self) -> None:
        """SIGPIPE for a write to a pipe without readers (send_sig from pipe_write)."""
        from sysgate.kernel.signal import send_signal
        from sysgate.uapi.signal import SI_USER, SIGPIPE

        send_signal(self, SIGPIPE, SI_USER)
