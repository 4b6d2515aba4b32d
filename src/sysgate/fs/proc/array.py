"""/proc/PID/status, /proc/PID/stat and /proc/PID/statm.

Counterpart: fs/proc/array.c (proc_pid_status, do_task_stat, proc_pid_statm), with
the lines other files add to status: task_mem (fs/proc/task_mmu.c), cpuset's
Mems_allowed (kernel/cgroup/cpuset.c) and x86's thread features
(arch/x86/kernel/cpu/proc.c). Every figure is the task's own state in the kernel:
its credentials, signal state, limits, address space and times.

Differences from Linux: the CPU times and context-switch counts are those of the
sysgate process (as getrusage reports them to the guest); page-fault counts read 0;
a task blocked in a system call is "S (sleeping)" (never "D"), a runnable one "R (running)".
The emulated CPU executes nothing speculatively, so the speculation lines say it is
not affected, as Linux says on a CPU without those bugs.
"""

from __future__ import annotations

import resource as host_resource
from typing import TYPE_CHECKING

from sysgate.fs.proc.task_mmu import mm_counters, task_mem
from sysgate.kernel.sched import TaskState
from sysgate.mm.physmem import PAGE_SIZE
from sysgate.uapi.personality import ADDR_NO_RANDOMIZE
from sysgate.uapi.resource import RLIMIT_RSS, RLIMIT_SIGPENDING
from sysgate.uapi.signal import SIG_DFL, SIG_IGN, SIGCHLD

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

CAP_LAST_CAP = 40
CAP_FULL_SET = (1 << (CAP_LAST_CAP + 1)) - 1
NR_OPEN_DEFAULT = 64
"""include/linux/fdtable.h: BITS_PER_LONG, the size of the first fd table."""
MAX_NUMNODES = 1024
"""Debian's NODES_SHIFT of 10: Mems_allowed prints 1024 bits."""
USER_HZ = 100
PF_RANDOMIZE = 0x00400000
"""include/linux/sched.h: set at exec unless the personality has ADDR_NO_RANDOMIZE."""
PF_EXITING = 0x00000004


def task_state(task: Task) -> str:
    """The task_state_array entry of a task, from the scheduler's state: a task that is
    runnable but not on the CPU is "R" as in Linux (programs such as LTP's library wait
    for "S" to know that another task has gone to sleep in a system call)."""
    if task.exit_code is not None:
        return "Z (zombie)"
    if task.state is TaskState.BLOCKED:
        return "S (sleeping)"
    if task.state is TaskState.STOPPED:
        return "T (stopped)"
    return "R (running)"


def escape_comm(comm: bytes) -> bytes:
    """seq_escape_str(ESCAPE_SPACE | ESCAPE_SPECIAL, "\\n\\\\"): a newline and a backslash
    are written as \\n and \\\\ in status's Name line."""
    return comm.replace(b"\\", b"\\\\").replace(b"\n", b"\\n")


def c_octal(value: int, width: int) -> str:
    """C's "%#0<width>o": a leading 0, zero-padded to `width`."""
    text = "0%o" % value if value else "0"
    return text.rjust(width, "0")


def sigset(mask: int) -> str:
    """render_sigset_t: the 64 signals as 16 hex digits, signal 64 first."""
    return "%016x" % (mask & ((1 << 64) - 1))


def ignored_and_caught(task: Task) -> tuple[int, int]:
    """collect_sigign_sigcatch: the signals set to SIG_IGN, and those with a handler."""
    ign = catch = 0
    for sig, action in enumerate(task.sighand.action[1:], start=1):
        if action.handler == SIG_IGN:
            ign |= 1 << (sig - 1)
        elif action.handler != SIG_DFL:
            catch |= 1 << (sig - 1)
    return ign, catch


def threads_of(task: Task) -> list[Task]:
    return [x for x in task.kernel.tasks.values() if x.pid == task.pid]


def max_fds(task: Task) -> int:
    """The fd table's size (FDSize): 64, then grown as alloc_fdtable grows it for the
    highest descriptor open."""
    top = max(task.files.files, default=-1)
    if top < NR_OPEN_DEFAULT:
        return NR_OPEN_DEFAULT
    per_kb = 1024 // 8
    nr = top // per_kb + 1
    return (1 << (nr - 1).bit_length()) * per_kb


def _cpumask(bits: int, nbits: int) -> str:
    """%*pb: hex in groups of 32 bits, comma-separated, as wide as nbits needs."""
    digits = (nbits + 3) // 4
    text = "%0*x" % (digits, bits)
    groups: list[str] = []
    while text:
        groups.insert(0, text[-8:])
        text = text[:-8]
    return ",".join(groups)


def show_status(task: Task) -> bytes:
    """/proc/PID/status (proc_pid_status)."""
    c = task.cred
    g = task.group
    out = [
        "Name:\t", escape_comm(task.comm).decode("latin-1"), "\n",
        "Umask:\t", c_octal(task.fs.umask, 4), "\n",
        "State:\t", task_state(task), "\n",
        f"Tgid:\t{task.pid}\nNgid:\t0\nPid:\t{task.tid}\nPPid:\t{g.ppid}\nTracerPid:\t0\n",
        f"Uid:\t{c.uid}\t{c.euid}\t{c.suid}\t{c.fsuid}\n",
        f"Gid:\t{c.gid}\t{c.egid}\t{c.sgid}\t{c.fsgid}\n",
        f"FDSize:\t{max_fds(task)}\n",
        "Groups:\t", " ".join(str(x) for x in c.groups), " \n",
        f"NStgid:\t{task.pid}\nNSpid:\t{task.tid}\nNSpgid:\t{g.pgid}\nNSsid:\t{g.sid}\n",
        "Kthread:\t0\n",
    ]
    mm = task.mm
    if mm is not None:
        out += [task_mem(mm), "CoreDumping:\t0\n", "THP_enabled:\t1\n", "untag_mask:\t0xffffffffffffffff\n"]
    ign, catch = ignored_and_caught(task)
    pending = sum(bin(x.pending).count("1") for x in task.kernel.tasks.values() if x.cred.uid == c.uid)
    out += [
        f"Threads:\t{len(threads_of(task))}\n",
        f"SigQ:\t{pending}/{g.rlimits[RLIMIT_SIGPENDING][0]}\n",
        f"SigPnd:\t{sigset(task.pending)}\n",
        f"ShdPnd:\t{sigset(0)}\n",
        f"SigBlk:\t{sigset(task.blocked)}\n",
        f"SigIgn:\t{sigset(ign)}\n",
        f"SigCgt:\t{sigset(catch)}\n",
    ]
    caps = CAP_FULL_SET if c.capable() else 0
    out += [f"CapInh:\t{0:016x}\n", f"CapPrm:\t{caps:016x}\n", f"CapEff:\t{caps:016x}\n",
            f"CapBnd:\t{CAP_FULL_SET:016x}\n", f"CapAmb:\t{0:016x}\n"]
    out += [
        f"NoNewPrivs:\t{int(task.no_new_privs)}\nSeccomp:\t0\nSeccomp_filters:\t0\n",
        "Speculation_Store_Bypass:\tnot vulnerable\n",
        "SpeculationIndirectBranch:\tnot affected\n",
        "Cpus_allowed:\t1\nCpus_allowed_list:\t0\n",
        f"Mems_allowed:\t{_cpumask(1, MAX_NUMNODES)}\nMems_allowed_list:\t0\n",
    ]
    ru = host_resource.getrusage(host_resource.RUSAGE_SELF)
    out += [
        f"voluntary_ctxt_switches:\t{ru.ru_nvcsw}\nnonvoluntary_ctxt_switches:\t{ru.ru_nivcsw}\n",
        "x86_Thread_features:\t\nx86_Thread_features_locked:\t\n",
    ]
    return "".join(out).encode("latin-1")


def _ticks(seconds: float) -> int:
    return int(seconds * USER_HZ)


def task_flags(task: Task) -> int:
    """The PF_* flags stat shows: PF_RANDOMIZE, as exec sets it, and PF_EXITING."""
    flags = 0 if task.personality & ADDR_NO_RANDOMIZE else PF_RANDOMIZE
    if task.exit_code is not None:
        flags |= PF_EXITING
    return flags


def show_stat(task: Task) -> bytes:
    """/proc/PID/stat (do_task_stat): 52 fields on one line."""
    g = task.group
    mm = task.mm
    ign, catch = ignored_and_caught(task)
    ru = host_resource.getrusage(host_resource.RUSAGE_SELF)
    vsize = rss = 0
    if mm is not None:
        counters = mm_counters(mm)
        vsize, rss = counters.total_vm * PAGE_SIZE, counters.rss
    low = 0x7FFFFFFF
    fields: list[int] = [
        g.ppid, g.pgid, g.sid, 0, -1, task_flags(task),
        0, 0, 0, 0,  # minflt cminflt majflt cmajflt
        _ticks(ru.ru_utime), _ticks(ru.ru_stime), 0, 0,  # utime stime cutime cstime
        20 + task.nice, task.nice, len(threads_of(task)), 0,  # priority nice num_threads itrealvalue
        task.start_boottime // (1_000_000_000 // USER_HZ), vsize, rss, g.rlimits[RLIMIT_RSS][0],
        mm.start_code if mm is not None else 0, mm.end_code if mm is not None else 0,
        mm.start_stack if mm is not None else 0, 0, 0,  # startstack kstkesp kstkeip
        task.pending & low, task.blocked & low, ign & low, catch & low,
        0 if task.kernel.current is task else 1, 0, 0,  # wchan nswap cnswap
        SIGCHLD, 0, 0, 0, 0, 0, 0,  # exit_signal processor rt_priority policy blkio gtime cgtime
    ]
    if mm is not None:
        fields += [mm.start_data, mm.end_data, mm.start_brk, mm.arg_start, mm.arg_end, mm.env_start, mm.env_end]
    else:
        fields += [0] * 7
    fields.append(0)  # exit_code, while the task lives
    state = task_state(task)[0]
    head = b"%d (%s) %s " % (task.tid, task.comm[:64], state.encode())
    return head + " ".join(str(x) for x in fields).encode() + b"\n"
