"""Creating tasks: fork, vfork, clone, clone3.

Counterpart: kernel/fork.c (copy_process, kernel_clone, the clone syscalls). A new task
gets, per clone flag, either the parent's address space, files, fs_struct and signal
actions shared, or copies of them; a new process (no CLONE_THREAD) gets its own
ThreadGroup, child of the caller's (or, with CLONE_PARENT, of the caller's parent).

The child's CPU state is the parent's at its `syscall`, saved inside the system call,
with rax = 0 and rip after the instruction (ret_from_fork), plus the new stack and TLS
when asked. It is runnable at once; the parent continues. With CLONE_VFORK the parent
sleeps (killable only) until the child execs or exits.
"""

from __future__ import annotations

import struct
from typing import Annotated

from sysgate.argtypes import Arg, UserPtr
from sysgate.errors import KernelError
from sysgate.kernel.sched import TaskState
from sysgate.kernel.task import FsStruct, Task, ThreadGroup
from sysgate.kernel.wait import WaitQueue, block
from sysgate.mm.uaccess import access_ok, copy_from_user, put_user_u32
from sysgate.syscall import Support, syscall
from sysgate.uapi.errno import Errno
from sysgate.uapi.signal import _NSIG, SIGCHLD

CSIGNAL = 0x000000FF
CLONE_VM = 0x00000100
CLONE_FS = 0x00000200
CLONE_FILES = 0x00000400
CLONE_SIGHAND = 0x00000800
CLONE_PIDFD = 0x00001000
CLONE_PTRACE = 0x00002000
CLONE_VFORK = 0x00004000
CLONE_PARENT = 0x00008000
CLONE_THREAD = 0x00010000
CLONE_NEWNS = 0x00020000
CLONE_SYSVSEM = 0x00040000
CLONE_SETTLS = 0x00080000
CLONE_PARENT_SETTID = 0x00100000
CLONE_CHILD_CLEARTID = 0x00200000
CLONE_DETACHED = 0x00400000
CLONE_UNTRACED = 0x00800000
CLONE_CHILD_SETTID = 0x01000000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_IO = 0x80000000
CLONE_CLEAR_SIGHAND = 0x100000000
CLONE_INTO_CGROUP = 0x200000000
CLONE_NEWTIME = 0x00000080

NAMESPACE_FLAGS = (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER
                   | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME)
CLONE_LEGACY_FLAGS = 0xFFFFFFFF
CLONE_ARGS_SIZE_VER0 = 64
CLONE_ARGS_SIZE_VER2 = 88
CLONE_ARGS = struct.Struct("<11Q")
"""struct clone_args (VER2): flags, pidfd, child_tid, parent_tid, exit_signal, stack,
stack_size, tls, set_tid, set_tid_size, cgroup."""
PID_MAX = 4194304  # /proc/sys/kernel/pid_max on 64-bit

CloneFlags = Annotated[int, Arg("unsigned long", show="clone_flags")]
CloneSp = Annotated[int, Arg("unsigned long", show="clone_stack")]
TidPtr = Annotated[int, UserPtr("int __user *", show="exit:clone_tids")]
TlsArg = Annotated[int, Arg("unsigned long", show="clone_tls")]
CloneArgs = Annotated[int, UserPtr("struct clone_args __user *", show="exit:clone_args", size="size")]
CloneArgsSize = Annotated[int, Arg("size_t")]


class CloneArgsK:
    """kernel_clone_args: what the clone calls ask for, after their own checks."""

    __slots__ = ("child_tid", "exit_signal", "flags", "parent_tid", "pidfd", "stack", "stack_size", "tls")

    def __init__(self, flags: int, exit_signal: int = 0, stack: int = 0, stack_size: int = 0, tls: int = 0,
                 parent_tid: int = 0, child_tid: int = 0, pidfd: int = 0) -> None:
        self.flags = flags
        self.exit_signal = exit_signal
        self.stack = stack
        self.stack_size = stack_size
        self.tls = tls
        self.parent_tid = parent_tid
        self.child_tid = child_tid
        self.pidfd = pidfd


def _check_flags(flags: int) -> None:
    """copy_process's checks, in its order."""
    if flags & (CLONE_NEWNS | CLONE_FS) == (CLONE_NEWNS | CLONE_FS):
        raise KernelError(Errno.EINVAL)
    if flags & (CLONE_NEWUSER | CLONE_FS) == (CLONE_NEWUSER | CLONE_FS):
        raise KernelError(Errno.EINVAL)
    if flags & CLONE_THREAD and not flags & CLONE_SIGHAND:
        raise KernelError(Errno.EINVAL)
    if flags & CLONE_SIGHAND and not flags & CLONE_VM:
        raise KernelError(Errno.EINVAL)
    if flags & CLONE_THREAD and flags & (CLONE_NEWUSER | CLONE_NEWPID):
        raise KernelError(Errno.EINVAL)
    if flags & (CLONE_SIGHAND | CLONE_CLEAR_SIGHAND) == (CLONE_SIGHAND | CLONE_CLEAR_SIGHAND):
        raise KernelError(Errno.EINVAL)
    if flags & CLONE_PIDFD and flags & (CLONE_DETACHED | CLONE_THREAD):
        raise KernelError(Errno.EINVAL)
    if flags & NAMESPACE_FLAGS:
        # Namespaces are not built: a task asking for one is refused as an unprivileged
        # task on a kernel without them would be.
        raise KernelError(Errno.EPERM)
    if flags & CLONE_PIDFD:
        raise KernelError(Errno.EINVAL)  # pidfds are not built (declared below)


def alloc_pid(t: Task) -> int:
    k = t.kernel
    for _ in range(PID_MAX):
        pid = k.next_pid
        k.next_pid = pid + 1 if pid + 1 < PID_MAX else 300
        if pid not in k.tasks and not k.pid_in_use(pid):
            return pid
    raise KernelError(Errno.EAGAIN)


def copy_process(parent: Task, args: CloneArgsK) -> Task:
    """A new task as `args` says (not yet runnable)."""
    flags = args.flags
    _check_flags(flags)
    k = parent.kernel
    if flags & CLONE_THREAD and parent.group.group_exiting:
        raise KernelError(Errno.EAGAIN)
    mm = parent.mm
    if flags & CLONE_VM:
        mm.users += 1
    else:
        try:
            mm = mm.dup()
        except MemoryError:
            raise KernelError(Errno.ENOMEM) from None
    tid = alloc_pid(parent)
    pg = parent.group
    if flags & CLONE_THREAD:
        group = pg
    else:
        real_parent = pg.parent if flags & CLONE_PARENT else pg
        group = ThreadGroup(tgid=tid, pgid=pg.pgid, sid=pg.sid, rlimits=list(pg.rlimits), parent=real_parent,
                            dumpable=pg.dumpable)
        group.exit_signal = pg.exit_signal if flags & CLONE_PARENT else args.exit_signal
        if real_parent is not None:
            real_parent.children.append(group)
    if flags & CLONE_FILES:
        files = parent.files
        files.refs += 1
    else:
        files = parent.files.copy()
    if flags & CLONE_FS:
        fs = parent.fs
        fs.users += 1
    else:
        fs = FsStruct(parent.fs.cwd.get(), parent.fs.umask, parent.fs.root)  # one Root per kernel
    cred = parent.cred.copy()
    child = Task(k, tid, group, parent.abi, mm, files, fs, cred)
    if flags & CLONE_SIGHAND:
        child.sighand = parent.sighand
    else:
        child.sighand = parent.sighand.copy()
        if flags & CLONE_CLEAR_SIGHAND:
            child.sighand.reset_handlers()
    child.blocked = parent.blocked
    if not (flags & CLONE_VM and not flags & CLONE_VFORK):
        child.sas_ss_sp, child.sas_ss_size, child.sas_ss_flags = parent.sas_ss_sp, parent.sas_ss_size, \
            parent.sas_ss_flags
    child.comm = parent.comm
    child.exe_path = parent.exe_path
    child.saved_auxv = parent.saved_auxv
    child.personality = parent.personality
    child.nice = parent.nice
    child.no_new_privs = parent.no_new_privs
    child.pdeath_signal = 0
    child.fs_base = args.tls if flags & CLONE_SETTLS else parent.fs_base
    child.gs_base = parent.gs_base
    child.exit_signal = -1 if flags & CLONE_THREAD else group.exit_signal
    if flags & CLONE_CHILD_CLEARTID:
        child.clear_child_tid = args.child_tid
    if flags & CLONE_VFORK:
        child.vfork_done = WaitQueue()
    group.threads.append(child)
    if group.leader is None:
        group.leader = child
    return child


def kernel_clone(t: Task, args: CloneArgsK) -> int:
    """Make the task, let it run, and (CLONE_VFORK) wait for it to exec or exit."""
    st = t.call_state()
    child: Task | None = st.data.get("vfork_child")
    if child is None:
        frame = t.regs.frame
        k = t.kernel
        child = copy_process(t, args)
        flags = args.flags
        if flags & CLONE_PARENT_SETTID:
            try:
                put_user_u32(t.mm, args.parent_tid, child.tid)
            except KernelError:
                pass  # Linux ignores a fault here too (put_user's result is not checked)
        if flags & CLONE_CHILD_SETTID:
            try:
                put_user_u32(child.mm, args.child_tid, child.tid)  # schedule_tail, in the child's memory
            except KernelError:
                pass
        # The child starts from the parent's CPU state at this `syscall` (none in unit
        # tests, which have no CPU: the child then never runs).
        child.context = k.cpu.save_context() if k.cpu is not None else None
        ret_pc = frame[7] + 2
        regs = {"rax": 0, "rip": ret_pc, "rcx": ret_pc, "r11": frame[8]}
        if args.stack:
            regs["rsp"] = args.stack + args.stack_size
        if flags & CLONE_SETTLS:
            regs["fs_base"] = args.tls
        child.resume_regs = regs
        k.tasks[child.tid] = child
        k.task_created(t, child)
        k.sched.enqueue(child)
        if not flags & CLONE_VFORK:
            return child.tid
        st.data["vfork_child"] = child
    # wait_for_vfork_done: until the child execs or exits (both clear vfork_done).
    if child.vfork_done is not None and child.state is not TaskState.DEAD:
        block(t, queues=[child.vfork_done], interruptible=False)
    return child.tid


@syscall(support=Support.PARTIAL,
         note="namespaces (CLONE_NEW*) give EPERM and CLONE_PIDFD EINVAL: neither is built")
def sys_clone(t: Task, clone_flags: CloneFlags, newsp: CloneSp, parent_tidptr: TidPtr, child_tidptr: TidPtr,
              tls: TlsArg) -> int:
    """create a child process or thread"""
    flags = clone_flags & CLONE_LEGACY_FLAGS
    return kernel_clone(t, CloneArgsK(flags & ~CSIGNAL, flags & CSIGNAL, newsp, 0, tls, parent_tidptr,
                                      child_tidptr, parent_tidptr))


@syscall()
def sys_fork(t: Task) -> int:
    """create a child process"""
    return kernel_clone(t, CloneArgsK(0, SIGCHLD))


@syscall()
def sys_vfork(t: Task) -> int:
    """create a child process and block parent"""
    return kernel_clone(t, CloneArgsK(CLONE_VFORK | CLONE_VM, SIGCHLD))


@syscall(support=Support.PARTIAL,
         note="namespaces, CLONE_PIDFD, set_tid and CLONE_INTO_CGROUP are refused (not built)")
def sys_clone3(t: Task, uargs: CloneArgs, size: CloneArgsSize) -> int:
    """create a child process or thread, extensible arguments"""
    if size > 4096:  # PAGE_SIZE
        raise KernelError(Errno.E2BIG)
    if size < CLONE_ARGS_SIZE_VER0:
        raise KernelError(Errno.EINVAL)
    raw = copy_from_user(t.mm, uargs, size)
    if size > CLONE_ARGS.size and any(raw[CLONE_ARGS.size:]):
        raise KernelError(Errno.E2BIG)  # copy_struct_from_user: unknown fields must be zero
    raw = (raw + bytes(CLONE_ARGS.size))[: CLONE_ARGS.size]
    (flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size,
     cgroup) = CLONE_ARGS.unpack(raw)
    if set_tid_size > 32 or (not set_tid and set_tid_size) or (set_tid and not set_tid_size):
        raise KernelError(Errno.EINVAL)
    if exit_signal & ~CSIGNAL or exit_signal > _NSIG:
        raise KernelError(Errno.EINVAL)
    if flags & CLONE_INTO_CGROUP and (cgroup > 0x7FFFFFFF or size < CLONE_ARGS_SIZE_VER2):
        raise KernelError(Errno.EINVAL)
    # clone3_args_valid
    if flags & ~(CLONE_LEGACY_FLAGS | CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP) or flags & (CSIGNAL | CLONE_DETACHED):
        raise KernelError(Errno.EINVAL)
    if flags & (CLONE_THREAD | CLONE_PARENT) and exit_signal:
        raise KernelError(Errno.EINVAL)
    if (stack == 0 and stack_size) or (stack and (not stack_size or not access_ok(stack, stack_size))):
        raise KernelError(Errno.EINVAL)  # clone3_stack_valid
    if flags & CLONE_INTO_CGROUP or set_tid:
        raise KernelError(Errno.EPERM)
    return kernel_clone(t, CloneArgsK(flags, exit_signal, stack, stack_size, tls, parent_tid, child_tid, pidfd))
