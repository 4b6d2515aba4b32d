"""The Kernel: one emulated Linux kernel, its tables, tasks and CPU, and the run loop.

Counterpart: init/main.c (starting the first program), kernel/exit.c (do_exit,
do_group_exit) and arch/x86/kernel/traps.c (turning CPU exceptions into signals).
A Kernel is configured before a run (environment, limits, user syscalls, hooks) and
then runs one program to completion; `run()` returns its exit status.
"""

from __future__ import annotations

import os
import random
import resource as host_resource
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from sysgate.arch.x86_64.abi import X86_64
from sysgate.arch.x86_64.cpufeature import CpuinfoX86, identify_cpu
from sysgate.errors import KernelError, SysgateError
from sysgate.exec.elf import describe_machine
from sysgate.fs.fdtable import FdTable
from sysgate.fs.hostfs import HostFile
from sysgate.fs.root import Root, check_root_dir
from sysgate.host import fd_path, status_flags_from_host
from sysgate.kernel.core import inherit_host_signals, raise_host_nofile, run_loop
from sysgate.kernel.sched import SLICE_INSNS, Scheduler, TaskState
from sysgate.kernel.task import Cred, FsStruct, Task, ThreadGroup
from sysgate.mm.mm import Mm
from sysgate.mm.physmem import PhysMem
from sysgate.syscall import Handler, Support
from sysgate.tables.tbl import SyscallTable, x86_64_table
from sysgate.trace.hooks import Hook, Hooks
from sysgate.uapi import signal as sig
from sysgate.uapi.errno import Errno
from sysgate.uapi.personality import ADDR_NO_RANDOMIZE
from sysgate.uapi.resource import RLIM_INFINITY, RLIM_NLIMITS
from sysgate.vdso.vma import start_timekeeping

if TYPE_CHECKING:
    from sysgate.cpu.uc import UnicornCpu
    from sysgate.trace.options import TraceOptions
    from sysgate.trace.strace import Tracer
    from sysgate.vdso.timekeeping import Timekeeper

FIRST_PID = 2
"""The first guest process's pid; pid 1 is sysgate itself, the reaper of orphans."""
UTS_RELEASE = "6.12.117-sysgate"
"""What uname -r reports: the Linux release whose behaviour sysgate follows."""
XSAVE_SIZE = 576
"""XSAVE area size for XCR0 = x87|SSE, the state the emulated CPU has."""


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How the first program ended: `code` if it exited, `signal` if it was killed."""

    code: int | None = None
    signal: int | None = None

    @property
    def returncode(self) -> int:
        """As subprocess reports it: the exit code, or -N for signal N."""
        return -self.signal if self.signal is not None else (self.code or 0)

    @property
    def shell_status(self) -> int:
        """As a shell reports it in $?: the exit code, or 128+N for signal N."""
        return 128 + self.signal if self.signal is not None else (self.code or 0)


def host_rlimits() -> list[tuple[int, int]]:
    """The limits sysgate itself runs with, which its first guest inherits."""
    out = []
    for res in range(RLIM_NLIMITS):
        try:
            cur, mx = host_resource.getrlimit(res)
        except (ValueError, OSError):
            cur, mx = -1, -1
        out.append((RLIM_INFINITY if cur < 0 else cur, RLIM_INFINITY if mx < 0 else mx))
    return out


def minsigstksz(xsave_size: int = XSAVE_SIZE) -> int:
    """AT_MINSIGSTKSZ (arch/x86/kernel/signal.c: init_sigframe_size) for the CPU's XSAVE size."""
    rt_sigframe = 440  # sizeof(struct rt_sigframe) on x86-64
    size = rt_sigframe + 15 + xsave_size + 4 + 63
    return (size + 15) & ~15


# start_thread after ELF_PLAT_INIT: every general register is zero at a program's entry (the
# CPU probes at start-up leave values behind that a program must not see).
_START_THREAD_GPRS = dict.fromkeys(
    ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"), 0)


class Kernel:
    """An emulated Linux kernel for x86-64 programs."""

    def __init__(
        self,
        *,
        env: dict[bytes, bytes] | None = None,
        memory_limit: int | None = None,
        rlimits: dict[int, tuple[int, int]] | None = None,
        aslr: bool = False,
        aslr_seed: int | None = None,
        root: str | os.PathLike[str] | None = None,
        seed: int | None = None,
    ) -> None:
        """A kernel, configured before it runs anything.

        `env` is the environment programs get when a run names none (default: sysgate's
        own); `memory_limit` caps the guest memory in bytes (default: the host's RAM);
        `rlimits` overrides the resource limits the first process starts with (default:
        sysgate's own, as a child would inherit them). With `aslr` the first program starts
        without ADDR_NO_RANDOMIZE in its personality, so its addresses are randomised as
        Linux randomises them, by a generator seeded with `aslr_seed` (default: a random
        seed); without it (the default) they are those of `setarch -R`. A Kernel can run
        several programs one after the other; its table (with any user system calls) and
        configuration persist, the processes and memory of a run do not.

        `root` confines every program to a host folder, which it sees as `/` (as after
        chroot, but with no way out: sysgate.fs.root); the program itself is looked up
        there. A missing folder or a file is a SysgateError here.

        `seed` makes the scheduler draw the next task from the runnable ones with a
        generator seeded with it (default: first come, first served).
        """
        self.table64: SyscallTable = x86_64_table()
        self.env = env
        if memory_limit is None:
            memory_limit = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        self.memory_limit = memory_limit
        self.phys = PhysMem(memory_limit)
        self.rlimits = host_rlimits()
        for res, value in (rlimits or {}).items():
            self.rlimits[res] = value
        self.aslr = aslr
        self.root_dir = check_root_dir(root) if root is not None else None
        self.rng = random.Random(aslr_seed)  # noqa: S311 - addresses, not secrets
        self.tasks: dict[int, Task] = {}  # by tid; a zombie process keeps its leader here
        self.next_pid = FIRST_PID
        self.seed = seed
        self.slice_insns = SLICE_INSNS if seed is not None else 0  # 0: slices are timed
        self.sched = Scheduler(self, seed)
        self.resched = False  # the current system call asks the run loop to act
        self._yield = False
        self.on_cpu: Task | None = None  # whose registers the CPU holds
        self._slice_start = 0
        self.first_group: ThreadGroup | None = None
        self.fg_pgrp = 0  # the terminal's foreground process group (Ctrl-C goes there)
        self._forwarding = False  # host signals are being passed to the guest
        self.cpu: UnicornCpu | None = None
        self.timekeeper: Timekeeper | None = None  # keeps the vDSO's clocks current while a CPU runs
        self.current: Task = None  # type: ignore[assignment]
        self.boot_ns = time.monotonic_ns()
        self.hostname = os.uname().nodename.encode()
        self.domainname = b"(none)"
        self.release = UTS_RELEASE.encode()
        self.cpuinfo: CpuinfoX86 | None = None  # identify_cpu, once the CPU exists
        self.hwcap = 0
        self.hwcap2 = 0
        self.minsigstksz = minsigstksz()
        self.exit_status: ExitStatus | None = None
        self.tracer: Tracer | None = None
        self.hooks = Hooks()

    # -- user system calls -------------------------------------------------------------

    def syscall(
        self, *, nr: int, name: str | None = None, replace: bool = False,
        support: Support = Support.FULL, note: str = "",
    ) -> Callable[[Handler], Handler]:
        """Declare a system call at number `nr` of this kernel's x86-64 table.

            k = sysgate.Kernel()

            @k.syscall(nr=548)
            def sys_add10(t: sysgate.Task, x: Int) -> int:
                \"\"\"add ten to a number\"\"\"
                return x + 10

        The declaration is checked at once (types, at most six arguments); a number
        Linux assigns is refused unless `replace=True`.
        """
        from sysgate.kernel.usersys import decorator

        return decorator(self.table64, nr=nr, name=name, replace=replace, support=support, note=note)

    # -- tracing and hooks -------------------------------------------------------------

    def trace(self, opts: TraceOptions | None = None, out: TextIO | None = None) -> Tracer:
        """Trace the next run as strace would (`sysgate trace`); returns the Tracer.

        `opts` come from sysgate.trace.options.parse(["-yy", "-e", "trace=%file", "prog"],
        names) or are a TraceOptions; the lines go to `out`, else where -o says, else
        stderr. The tracer detaches when the run ends (-c's table is written then).
        """
        from sysgate.trace.options import TraceOptions
        from sysgate.trace.strace import Tracer

        self.tracer = Tracer(self, opts or TraceOptions(), out)
        return self.tracer

    def on_syscall_enter(self, which: str | int | None, fn: Hook | None = None) -> Callable[[Hook], Hook]:
        """Call `fn(call)` before system call `which` (a name, a number, or None for all).

        The hook may rewrite `call.args[...]`, or answer with `call.succeed(v)` /
        `call.fail(errno)`, in which case the handler does not run. Usable as a decorator.
        """
        return self._hook(self.hooks.enter, which, fn)

    def on_syscall_exit(self, which: str | int | None, fn: Hook | None = None) -> Callable[[Hook], Hook]:
        """Call `fn(call)` after system call `which`; it may change `call.result`."""
        return self._hook(self.hooks.exit, which, fn)

    def _hook(self, table: dict[int | None, list[Hook]], which: str | int | None,
              fn: Hook | None) -> Callable[[Hook], Hook]:
        nr: int | None
        if which is None or isinstance(which, int):
            nr = which
        else:
            slot = self.table64.by_name(which)
            if slot is None:
                raise ValueError(f"no system call named {which!r} in the x86_64 table")
            nr = slot.nr

        def register(f: Hook) -> Hook:
            self.hooks.add(table, nr, f)
            return f

        if fn is not None:
            register(fn)
        return register

    # -- lookups --------------------------------------------------------------------

    def has_pid(self, pid: int) -> bool:
        return any(t.pid == pid for t in self.tasks.values())

    def task_by_pid(self, pid: int) -> Task | None:
        for t in self.tasks.values():
            if t.pid == pid:
                return t
        return None

    def random_bytes(self, n: int) -> bytes:
        return os.urandom(n)

    def switch_mm(self, mm: Mm) -> None:
        if self.cpu is not None:
            self.cpu.switch_mm(mm)

    # -- the first process --------------------------------------------------------------

    def _stdio(self, files: FdTable, fds: tuple[int, int, int], nofile: int) -> None:
        for guest_fd, host_fd in enumerate(fds):
            try:
                dup = os.dup(host_fd)
            except OSError:
                continue  # closed on the host: closed in the guest too
            flags = status_flags_from_host(__import__("fcntl").fcntl(dup, __import__("fcntl").F_GETFL))
            files.install(guest_fd, HostFile(dup, flags, fd_path(host_fd) or f"pipe:[{host_fd}]"), False)

    def create_init_task(self, stdio: tuple[int, int, int]) -> Task:
        pid = self.next_pid
        self.next_pid += 1
        group = ThreadGroup(tgid=pid, pgid=pid, sid=pid, rlimits=list(self.rlimits))
        self.first_group = group
        self.fg_pgrp = pid
        root = None
        if self.root_dir is not None:  # chroot(DIR) and chdir("/"), as chroot(1) does
            root = Root(self.root_dir)
            cwd_fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=root.fd)
            cwd = HostFile(cwd_fd, 0o200000, "/", root).get()
        else:
            cwd_fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            cwd = HostFile(cwd_fd, 0o200000, os.getcwd()).get()
        mask = os.umask(0)
        os.umask(mask)
        cred = Cred(os.getuid(), os.geteuid(), os.getuid(), os.geteuid(),
                    os.getgid(), os.getegid(), os.getgid(), os.getegid(), list(os.getgroups()))
        files = FdTable()
        self._stdio(files, stdio, group.nofile())
        mm = Mm(self.phys, X86_64.task_size)
        t = Task(self, pid, group, X86_64, mm, files, FsStruct(cwd, mask, root), cred)
        t.personality = 0 if self.aslr else ADDR_NO_RANDOMIZE  # as `setarch -R` starts it
        group.threads.append(t)
        group.leader = t
        self.tasks[pid] = t
        self.current = t
        self.on_cpu = t
        return t

    def start_cpu(self, mm: Mm) -> UnicornCpu:
        from sysgate.cpu.uc import UnicornCpu
        from sysgate.entry.syscall64 import make_entry

        cpu = UnicornCpu(self.phys, mm)
        if self.tracer is not None or self.hooks:
            from sysgate.entry.traced import make_traced_entry

            cpu.on_syscall = make_traced_entry(self)  # the second dispatch function
        else:
            cpu.on_syscall = make_entry(self)
        cpu.on_interrupt = self._interrupt
        self.cpu = cpu
        self.cpuinfo = identify_cpu(cpu.cpuid)  # boot_cpu_data: /proc/cpuinfo and the auxv
        self.hwcap = self.cpuinfo.capability.get(0, 0)  # ELF_HWCAP: word 0, CPUID.1:EDX
        self.hwcap2 = 2 if self.cpuinfo.has(9, 0) else 0  # HWCAP2_FSGSBASE: CPUID.7.0:EBX bit 0
        self.timekeeper = start_timekeeping(self.phys)
        return cpu

    def _interrupt(self, vector: int) -> bool:
        """`int $0x80` from 64-bit code: the ia32 table is not there yet, so -ENOSYS."""
        if vector == 0x80 and self.cpu is not None:
            self.cpu.set_regs({"rax": -Errno.ENOSYS})
            return True
        return False

    # -- running ------------------------------------------------------------------------

    def run(self, argv: list[bytes], envp: list[bytes], stdio: tuple[int, int, int] = (0, 1, 2),
            filename: bytes | None = None) -> ExitStatus:
        """Run a program to completion; SysgateError for what stops it from starting."""
        from sysgate.kernel.exec import do_execve

        if self.phys.closed:
            self.phys = PhysMem(self.memory_limit)
        self.exit_status = None
        self.next_pid = FIRST_PID
        self.sched = Scheduler(self, self.seed)
        raise_host_nofile()
        t = self.create_init_task(stdio)
        inherit_host_signals(t)
        # The guest's umask is kept by the kernel (t.fs.umask) and applied by the handlers;
        # the host's must not mask modes a second time.
        host_umask = os.umask(0)
        cpu = self.start_cpu(t.mm)
        name = filename or argv[0]
        start_ns, cpu_ns = time.perf_counter_ns(), time.thread_time_ns()
        try:
            exe = do_execve(t, name, argv, envp)
        except KernelError as exc:
            if self.tracer is not None:  # strace's first line: the execve that failed
                self.tracer.execve(t, name, argv, envp, exc.errno, time.perf_counter_ns() - start_ns,
                                   time.thread_time_ns() - cpu_ns)
                self.tracer.finish()
            os.umask(host_umask)
            with t.fs.root.host_view(name) if t.fs.root is not None else nullcontext(name) as probe:
                error = exec_error(name, exc.errno, probe)  # the file inside the root folder
            self.shutdown()
            raise error from None
        cpu.set_regs({**_START_THREAD_GPRS, "rsp": exe.sp, "rflags": 0x202, "fs_base": 0, "gs_base": 0})
        if self.tracer is not None:  # strace's first line: its child's execve, seen at its return
            self.tracer.execve(t, name, argv, envp, exe.fatal or 0, time.perf_counter_ns() - start_ns,
                               time.thread_time_ns() - cpu_ns, ip=exe.entry, sp=exe.sp)
        try:
            if exe.fatal is not None:
                # Mapping failed after the point of no return: force_fatal_sig(SIGSEGV),
                # which a tracer does not stop for (SA_IMMUTABLE).
                self.do_group_exit(t, sig.SIGSEGV)
            else:
                t.resume_pc = exe.entry
                self.sched.enqueue(t)
                run_loop(self)
            assert self.exit_status is not None
            if self.tracer is not None:
                self.tracer.exited(t, self.exit_status)
        finally:
            if self.tracer is not None:
                self.tracer.finish()
            os.umask(host_umask)
            self.shutdown()
        return self.exit_status

    def signal_wake_up(self, t: Task) -> None:
        """A signal is pending for `t`: wake it from an interruptible wait."""
        if t.sigpending and t.state is TaskState.BLOCKED:
            self.sched.wake(t)

    def reschedule(self, yield_cpu: bool = False) -> None:
        """Called in a system call: stop the CPU on the way out so the run loop can act
        (the current task blocked, exited, exec'd, or gives up the CPU)."""
        self.resched = True
        if yield_cpu:
            self._yield = True

    def exit_to_user_mode(self, t: Task) -> None:
        """Work on the way out of a system call (exit_to_user_mode_loop): the run loop
        delivers signals and switches tasks, so the CPU stops here."""
        self.resched = False
        t.in_syscall = True
        if self.cpu is not None:
            self.cpu.stop()

    def do_group_exit(self, t: Task, status: int) -> None:
        """End the process: `status` is a wait status (code << 8, or the signal number)."""
        from sysgate.kernel.exit import do_group_exit

        do_group_exit(t, status)

    # -- the process table's events ------------------------------------------------------

    def pid_in_use(self, pid: int) -> bool:
        """Whether `pid` still names a process group or session (alloc_pid skips it)."""
        return any(pid in (t.group.pgid, t.group.sid) for t in self.tasks.values())

    def has_stopped_tasks(self) -> bool:
        return any(t.state is TaskState.STOPPED for t in self.tasks.values())

    def can_receive_host_signals(self) -> bool:
        """Whether a wait for a signal can still end: sysgate passes host signals on and
        runs at a terminal, where the user can press Ctrl-C. Elsewhere a guest that waits
        with nothing to wake it is reported as deadlocked instead of hanging."""
        return self._forwarding and os.isatty(0)

    def task_created(self, parent: Task, child: Task) -> None:
        if self.tracer is not None and hasattr(self.tracer, "task_created"):
            self.tracer.task_created(parent, child)

    def task_exited(self, t: Task) -> None:
        if self.on_cpu is t:
            self.on_cpu = None
        if self.tracer is not None and hasattr(self.tracer, "task_exited"):
            self.tracer.task_exited(t)

    def task_execed(self, t: Task) -> None:
        if self.tracer is not None and hasattr(self.tracer, "task_execed"):
            self.tracer.task_execed(t)

    def process_exited(self, g: ThreadGroup) -> None:
        """The last thread of `g` is gone; the first program's end is the run's status."""
        if g is self.first_group and self.exit_status is None and g.exit_code is not None:
            status = g.exit_code
            if status & 0x7F:
                self.exit_status = ExitStatus(signal=status & 0x7F)
            else:
                self.exit_status = ExitStatus(code=(status >> 8) & 0xFF)

    def shutdown(self) -> None:
        """Release every task, the CPU and guest memory."""
        seen: set[int] = set()
        roots = set()
        for t in list(self.tasks.values()):
            for obj in (t.files, t.fs, t.mm):
                if id(obj) in seen:
                    continue
                seen.add(id(obj))
                if obj is t.files:
                    t.files.close_all()
                elif obj is t.fs:
                    t.fs.cwd.put()
                    if t.fs.root is not None:
                        roots.add(t.fs.root)
                elif t.state is not TaskState.DEAD:
                    t.mm.destroy()
        for root in roots:
            root.close()
        self.tasks.clear()
        self.on_cpu = None
        self.sched.stop_watcher()
        if self.timekeeper is not None:
            self.timekeeper.stop()  # before the vvar page it writes goes away
            self.timekeeper = None
        if self.cpu is not None:
            self.cpu.close()
            self.cpu = None
        self.phys.close()


def exec_error(filename: bytes, errno: Errno, probe: bytes | None = None) -> SysgateError:
    """The message and status a shell gives when it cannot start a program; `probe` is
    the host path to look at to tell why (default: `filename`)."""
    name = filename.decode("utf-8", "surrogateescape")
    if probe is not None:
        filename = probe
    if errno == Errno.EACCES and os.path.isdir(filename):
        return SysgateError(f"{name}: Is a directory", 126)  # bash's words for it
    if errno == Errno.ENOENT:
        if os.path.lexists(filename):
            return SysgateError(f"{name}: cannot execute: required file not found", 127)
        return SysgateError(f"{name}: No such file or directory", 127)
    if errno == Errno.ENOEXEC:
        detail = ""
        try:
            with open(filename, "rb") as f:
                head = f.read(64)
            machine = describe_machine(head)
            # Name the architecture only when it is the reason: not for a truncated ELF
            # header, nor for an x86-64 file execve rejects for another reason (an object file).
            if head.startswith(b"\x7fELF") and len(head) >= 20 and machine != "64-bit x86-64":
                detail = f" (a {machine} program; sysgate runs x86-64 programs)"
        except OSError:
            pass
        return SysgateError(f"{name}: cannot execute binary file: Exec format error{detail}", 126)
    return SysgateError(f"{name}: {errno.message}", 126)
