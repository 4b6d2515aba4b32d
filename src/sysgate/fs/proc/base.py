"""/proc/PID and /proc/PID/task/TID: the entries of one process or thread.

Counterpart: fs/proc/base.c (tgid_base_stuff and tid_base_stuff, the links cwd, root
and exe, cmdline, environ, auxv, comm, syscall, limits, personality, loginuid and
sessionid) and fs/proc/array.c's children. Entries are listed in Linux's table order;
those sysgate does not generate (ns, net, mem, io, oom_score, cgroup, ...) are absent
rather than taken from the host. Owners and modes are Linux's: an entry belongs to the
task's effective user (root if the task is not dumpable).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

from sysgate.errors import GuestFault, KernelError
from sysgate.fs.proc import array, task_mmu
from sysgate.fs.proc.fd import fd_dir, fdinfo_dir, task_owner
from sysgate.fs.proc.generic import ProcNode, Show, Store, dir_node, file_node, link_node
from sysgate.fs.proc.proc_namespace import show_mountinfo, show_mounts
from sysgate.mm.physmem import PAGE_SIZE
from sysgate.uapi.errno import Errno
from sysgate.uapi.resource import RLIM_INFINITY

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

TASK_COMM_LEN = 16
AUDIT_UNSET = 0xFFFFFFFF
"""AUDIT_UID_UNSET and AUDIT_SID_UNSET: (unsigned int)-1."""

# -- generated files --------------------------------------------------------------------------


def _read_some(task: Task, addr: int, size: int) -> bytes:
    """access_remote_vm: as many bytes as can be read from `addr`, stopping at a fault."""
    mm = task.mm
    out = bytearray()
    while size > 0:
        step = min(size, PAGE_SIZE - addr % PAGE_SIZE)
        try:
            out += mm.read(addr, step)
        except GuestFault:
            break
        addr += step
        size -= step
    return bytes(out)


def show_cmdline(task: Task) -> bytes:
    """get_mm_cmdline: the argument strings; if the last byte of the argument area is not
    NUL, the program rewrote them (setproctitle), and the text up to the first NUL of the
    first page is shown instead."""
    mm = task.mm
    if mm is None or not mm.env_end or mm.arg_start >= mm.arg_end:
        return b""
    if _read_some(task, mm.arg_end - 1, 1) not in (b"\0", b""):
        page = _read_some(task, mm.arg_start, PAGE_SIZE)
        nul = page.find(b"\0")
        return page if nul < 0 else page[: nul + 1]
    return _read_some(task, mm.arg_start, mm.arg_end - mm.arg_start)


def show_environ(task: Task) -> bytes:
    mm = task.mm
    if mm is None or not mm.env_end:
        return b""
    return _read_some(task, mm.env_start, mm.env_end - mm.env_start)


def show_comm(task: Task) -> bytes:
    return task.comm[:64] + b"\n"


def store_comm(task: Task) -> Store:
    """comm_write: the first 15 bytes, up to a NUL, become the name (a newline included),
    for a task of the writer's own process; the whole count is consumed."""

    def store(t: Task, data: bytes) -> int:
        if t.pid != task.pid:
            raise KernelError(Errno.EINVAL)
        task.comm = data[: TASK_COMM_LEN - 1].split(b"\0", 1)[0]
        return len(data)

    return store


def show_syscall(task: Task) -> bytes:
    """proc_pid_syscall: the call in progress, its six arguments, then the stack pointer
    and the address the call returns to; "running" outside a call."""
    if task.kernel.current is not task or task.kernel.cpu is None:
        return b"running\n"
    frame = task.regs.frame
    nr = frame[0] & 0xFFFFFFFF
    nr = nr - (1 << 32) if nr >> 31 else nr
    sp = task.kernel.cpu.get_reg("rsp")
    pc = frame[7] + 2  # regs->ip: just past the `syscall` instruction
    if nr < 0:
        return b"%d 0x%x 0x%x\n" % (nr, sp, pc)
    return (b"%d " % nr) + b" ".join(b"0x%x" % a for a in [*frame[1:7], sp, pc]) + b"\n"


LIMIT_NAMES = (
    ("Max cpu time", "seconds"), ("Max file size", "bytes"), ("Max data size", "bytes"),
    ("Max stack size", "bytes"), ("Max core file size", "bytes"), ("Max resident set", "bytes"),
    ("Max processes", "processes"), ("Max open files", "files"), ("Max locked memory", "bytes"),
    ("Max address space", "bytes"), ("Max file locks", "locks"), ("Max pending signals", "signals"),
    ("Max msgqueue size", "bytes"), ("Max nice priority", None), ("Max realtime priority", None),
    ("Max realtime timeout", "us"),
)
"""proc_pid_limits' lnames, indexed by resource."""


def show_limits(task: Task) -> bytes:
    out = ["Limit                     Soft Limit           Hard Limit           Units     \n"]
    for (name, unit), (cur, hard) in zip(LIMIT_NAMES, task.group.rlimits, strict=True):
        soft_text = "unlimited" if cur == RLIM_INFINITY else str(cur)
        hard_text = "unlimited" if hard == RLIM_INFINITY else str(hard)
        out.append(f"{name:<25} {soft_text:<20} {hard_text:<20} " + (f"{unit:<10}\n" if unit else "\n"))
    return "".join(out).encode()


def show_children(task: Task) -> bytes:
    """get_children_pid: the pids of the thread's children, each followed by a space."""
    kids = sorted({x.pid for x in task.kernel.tasks.values() if x.group.ppid == task.pid and x.pid != task.pid})
    return "".join(f"{pid} " for pid in kids).encode()


# -- loginuid and sessionid -------------------------------------------------------------------


@cache
def inherited_audit_ids() -> tuple[int, int]:
    """The loginuid and sessionid sysgate runs with, which its first guest inherits as a
    child would; unset on a host without audit."""
    values = []
    for name in ("loginuid", "sessionid"):
        try:
            with open(f"/proc/self/{name}", encoding="ascii") as f:
                values.append(int(f.read().strip()))
        except (OSError, ValueError):
            values.append(AUDIT_UNSET)
    return values[0], values[1]


_audit: weakref.WeakKeyDictionary[Task, tuple[int, int]] = weakref.WeakKeyDictionary()
_last_session = [0]


def audit_ids(task: Task) -> tuple[int, int]:
    return _audit.get(task) or inherited_audit_ids()


def store_loginuid(task: Task) -> Store:
    """proc_loginuid_write and audit_set_loginuid: only the task itself; a decimal uid
    ((unsigned)-1 unsets it); setting it again needs CAP_AUDIT_CONTROL; a valid one
    starts a new session."""

    def store(t: Task, data: bytes) -> int:
        if t is not task:
            raise KernelError(Errno.EPERM)
        text = data[:63]
        if not re.fullmatch(rb"\+?[0-9]+\n?", text):
            raise KernelError(Errno.EINVAL)
        value = int(text)
        if value > 0xFFFFFFFF:
            raise KernelError(Errno.ERANGE)
        loginuid, sessionid = audit_ids(task)
        if loginuid != AUDIT_UNSET and not t.cred.capable():
            raise KernelError(Errno.EPERM)
        if value != AUDIT_UNSET:
            _last_session[0] = max(_last_session[0], inherited_audit_ids()[1] % AUDIT_UNSET) + 1
            sessionid = _last_session[0]
        else:
            sessionid = AUDIT_UNSET
        _audit[task] = (value, sessionid)
        return len(data)

    return store


# -- the directory ----------------------------------------------------------------------------

R, RW, OWNER_R = 0o444, 0o644, 0o400
TGID_ENTRIES = ("task fd fdinfo environ auxv status personality limits comm syscall cmdline stat statm maps "
                "cwd root exe mounts mountinfo smaps loginuid sessionid").split()
TID_ENTRIES = ("fd fdinfo environ auxv status personality limits comm syscall cmdline stat statm maps children "
               "cwd root exe mounts mountinfo smaps loginuid sessionid").split()
"""The entries of tgid_base_stuff and tid_base_stuff sysgate generates, in their order."""

_FILES: dict[str, tuple[int, Callable[[Task], bytes]]] = {
    "environ": (OWNER_R, show_environ),
    "auxv": (OWNER_R, lambda task: task.saved_auxv),
    "status": (R, array.show_status),
    "personality": (OWNER_R, lambda task: b"%08x\n" % task.personality),
    "limits": (R, show_limits),
    "syscall": (OWNER_R, show_syscall),
    "cmdline": (R, show_cmdline),
    "stat": (R, array.show_stat),
    "statm": (R, lambda task: task_mmu.show_statm(task.mm)),
    "maps": (R, lambda task: task_mmu.show_maps(task.mm)),
    "smaps": (R, lambda task: task_mmu.show_smaps(task.mm)),
    "children": (R, show_children),
    "sessionid": (R, lambda task: b"%d" % audit_ids(task)[1]),
}


class PidDir:
    """/proc/PID (a process, `thread` False) or /proc/PID/task/TID (a thread)."""

    def __init__(self, task: Task, parts: tuple[bytes, ...], thread: bool) -> None:
        self.task = task
        self.parts = parts
        self.names = TID_ENTRIES if thread else TGID_ENTRIES

    def children(self, t: Task) -> list[ProcNode]:
        return [self.make(name) for name in self.names]

    def lookup(self, t: Task, name: bytes) -> ProcNode:
        text = name.decode("latin-1")
        if text not in self.names:
            raise KernelError(Errno.ENOENT)
        return self.make(text)

    def make(self, name: str) -> ProcNode:
        task = self.task
        parts = self.parts + (name.encode(),)
        owner = task_owner(task)
        if name == "task":
            return dir_node(parts, 0o555, TaskDir(task, parts), task=task, owner=owner)
        if name == "fd":
            return fd_dir(task, parts)
        if name == "fdinfo":
            return fdinfo_dir(task, parts)
        if name in ("cwd", "root", "exe"):
            return link_node(parts, 0o777, _LINKS[name](task), task=task, owner=owner)
        if name == "comm":
            return file_node(parts, RW, lambda t: show_comm(task), task=task, owner=owner, store=store_comm(task))
        if name == "loginuid":
            return file_node(parts, RW, lambda t: b"%d" % audit_ids(task)[0], task=task, owner=owner,
                             store=store_loginuid(task))
        if name in ("mounts", "mountinfo"):
            show: Show = show_mounts if name == "mounts" else show_mountinfo
            return file_node(parts, R, lambda t: show(task), task=task, owner=owner)
        mode, generate = _FILES[name]
        return file_node(parts, mode, lambda t: generate(task), task=task, owner=owner)


_LINKS: dict[str, Callable[[Task], Callable[[], bytes]]] = {
    "cwd": lambda task: lambda: task.fs.cwd.d_path().encode(errors="surrogateescape"),
    "root": lambda task: lambda: b"/",
    "exe": lambda task: lambda: task.exe_path.encode(errors="surrogateescape"),
}


class TaskDir:
    """/proc/PID/task: a directory per thread of the process."""

    def __init__(self, task: Task, parts: tuple[bytes, ...]) -> None:
        self.task = task
        self.parts = parts

    def _threads(self) -> list[Task]:
        return sorted(array.threads_of(self.task), key=lambda x: x.tid)

    def children(self, t: Task) -> list[ProcNode]:
        return [tid_dir(x, self.parts + (b"%d" % x.tid,)) for x in self._threads()]

    def lookup(self, t: Task, name: bytes) -> ProcNode:
        for x in self._threads():
            if name == b"%d" % x.tid:
                return tid_dir(x, self.parts + (name,))
        raise KernelError(Errno.ENOENT)


def pid_dir(task: Task, parts: tuple[bytes, ...]) -> ProcNode:
    return dir_node(parts, 0o555, PidDir(task, parts, thread=False), task=task, owner=task_owner(task))


def tid_dir(task: Task, parts: tuple[bytes, ...]) -> ProcNode:
    return dir_node(parts, 0o555, PidDir(task, parts, thread=True), task=task, owner=task_owner(task))
