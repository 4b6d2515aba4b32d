"""execve and execveat from a running task.

Counterpart: fs/exec.c (do_execveat_common, copy_strings, de_thread, begin_new_exec,
unshare_sighand, exec_mm_release) and arch/x86/kernel/process_64.c (start_thread). The
program is loaded by sysgate.kernel.exec.do_execve, the same code that starts the first
program; around it this module copies the arguments from user memory with Linux's
checks, makes the caller the only thread of its process (de_thread), gives it private
signal actions and fd table, releases a vfork parent, and sets the registers the new
program starts with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import DirFd, IntFlags, Path, UserPtr
from sysgate.errors import KernelError
from sysgate.exec.stack import MAX_ARG_STRINGS, MAX_ARG_STRLEN
from sysgate.kernel.exec import do_execve, open_exec
from sysgate.kernel.exit import do_exit, do_group_exit
from sysgate.mm.uaccess import get_user_u64, getname, strncpy_from_user
from sysgate.syscall import Support, syscall
from sysgate.uapi import signal as sig
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

ArgvPtr = Annotated[int, UserPtr("const char __user *const __user *", show="argv")]
EnvpPtr = Annotated[int, UserPtr("const char __user *const __user *", show="envp")]

START_THREAD_REGS = dict.fromkeys(
    ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
     "fs_base", "gs_base"), 0)
"""Every general register is zero at a program's entry (ELF_PLAT_INIT), and so are the
FS and GS bases; rflags is X86_EFLAGS_IF (start_thread)."""


def copy_strings(t: Task, addr: int) -> list[bytes]:
    """The NULL-terminated array of strings at `addr` (count + copy_strings): EFAULT for a
    bad pointer, E2BIG for a string longer than MAX_ARG_STRLEN or too many of them."""
    out: list[bytes] = []
    if not addr:
        return out  # Linux takes a NULL argv or envp as empty (and warns about argv)
    while True:
        ptr = get_user_u64(t.mm, addr + 8 * len(out))
        if not ptr:
            return out
        if len(out) >= MAX_ARG_STRINGS:
            raise KernelError(Errno.E2BIG)
        s = strncpy_from_user(t.mm, ptr, MAX_ARG_STRLEN)
        if s is None:
            raise KernelError(Errno.E2BIG)
        out.append(s)


def de_thread(t: Task) -> None:
    """Kill the other threads of t's process; t becomes its leader (with its pid)."""
    g = t.group
    for other in list(g.threads):
        if other is not t:
            do_exit(other, sig.SIGKILL)
    if g.leader is not t:
        k = t.kernel
        old = g.leader
        k.tasks.pop(t.tid, None)
        if old is not None:
            k.tasks.pop(old.tid, None)
        t.tid = g.tgid
        k.tasks[t.tid] = t
        g.leader = t


def _fd_name(t: Task, fd: int) -> bytes:
    """The last component of the path behind fd: the dentry name comm takes."""
    return t.files.get(fd).d_path().encode().rstrip(b"/").rsplit(b"/", 1)[-1]


def execve_running(t: Task, dfd: int, name: bytes, argv_ptr: int, envp_ptr: int, flags: int) -> int:
    """do_execveat_common for a task that is running: on success the call does not
    return to the old program (the new one starts at its entry)."""
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise KernelError(Errno.EINVAL)
    comm = b""
    if not name and flags & AT_EMPTY_PATH:
        # LOOKUP_EMPTY: the file `dfd` refers to itself (O_PATH included), opened anew
        # through its /proc/self/fd link; Linux names it /dev/fd/N (AT_EXECFN, argv of a
        # #! interpreter) and takes comm from the file's own name.
        t.files.get(dfd)  # EBADF
        comm = _fd_name(t, dfd)
        name, dfd = b"/proc/self/fd/%d" % dfd, AT_FDCWD
    file = open_exec(t, dfd, name, flags)  # alloc_bprm opens the file before the strings are copied
    file.get()
    file.put()
    argv = copy_strings(t, argv_ptr)
    envp = copy_strings(t, envp_ptr)
    if not argv:
        argv = [b""]  # do_execveat_common: an empty argv gets "" as argv[0] (Linux 5.18)
    k = t.kernel
    old_mm = t.mm
    old_files = t.files
    # The point of no return is inside do_execve; the parts of begin_new_exec that affect
    # other tasks come first here so that a failure before it changes nothing.
    if t.files.refs > 1:
        t.files = old_files.copy()
    # unshare_sighand before do_execve resets the handlers: a CLONE_SIGHAND sibling keeps its own.
    t.sighand = t.sighand.copy()
    try:
        result = do_execve(t, name, argv, envp, dfd, flags & AT_SYMLINK_NOFOLLOW)
    except KernelError:
        if t.files is not old_files:
            t.files.close_all()
            t.files = old_files
        raise
    if t.files is not old_files:
        old_files.refs -= 1
    de_thread(t)
    t.sighand.reset_handlers()
    if t.vfork_done is not None:  # exec_mm_release: the vfork parent may run again
        t.vfork_done.wake_up()
        t.vfork_done = None
    del old_mm
    if comm:
        t.comm = comm[:15]
    k.task_execed(t)
    if result.fatal is not None:
        do_group_exit(t, sig.SIGSEGV)
        return 0
    t.resume_regs = {**START_THREAD_REGS, "rsp": result.sp, "rip": result.entry, "rflags": 0x202}
    t.fs_base = t.gs_base = 0
    assert k.cpu is not None
    k.cpu.skip_sysret = True
    k.reschedule()
    return 0


@syscall()
def sys_execve(t: Task, filename: Path, argv: ArgvPtr, envp: EnvpPtr) -> int:
    """execute program"""
    return execve_running(t, AT_FDCWD, getname(t.mm, filename), argv, envp, 0)


@syscall(support=Support.PARTIAL, note="AT_EMPTY_PATH: AT_EXECFN is /proc/self/fd/N where Linux has /dev/fd/N")
def sys_execveat(t: Task, fd: DirFd, filename: Path, argv: ArgvPtr, envp: EnvpPtr, flags: IntFlags) -> int:
    """execute program relative to a directory file descriptor"""
    name = getname(t.mm, filename, empty_ok=bool(flags & AT_EMPTY_PATH))
    return execve_running(t, fd, name, argv, envp, flags)
