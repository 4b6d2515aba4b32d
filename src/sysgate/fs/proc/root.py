"""/proc itself: the system-wide files, self, thread-self and a directory per process.

Counterpart: fs/proc/root.c (proc_root_lookup, proc_root_readdir), fs/proc/self.c,
fs/proc/thread_self.c and the entries registered at boot by fs/proc/*.c. The guest is
alone in sysgate's kernel: /proc lists its own processes and nothing of the host's;
a pid that is not a guest task (1 included: that is sysgate) is ENOENT, and so is any
name sysgate does not generate. Static entries are listed as proc_readdir lists them
(shorter names first, then by name), then self and thread-self, then the pids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.fs.proc import base, cpuinfo, loadavg, meminfo, proc_namespace, proc_sysctl, stat, uptime, version
from sysgate.fs.proc.generic import ProcNode, Show, dir_node, file_node, link_node
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

_FILES: dict[bytes, Show] = {
    b"stat": stat.show_stat,
    b"uptime": uptime.show_uptime,
    b"cpuinfo": cpuinfo.show_cpuinfo,
    b"loadavg": loadavg.show_loadavg,
    b"meminfo": meminfo.show_meminfo,
    b"version": version.show_version,
    b"filesystems": proc_namespace.show_filesystems,
}
"""Files of /proc: a proc_ops without ->proc_write, so a write gives EIO."""
_LINKS = {b"mounts": b"self/mounts"}
"""proc_symlink entries: links within /proc."""
STATIC_NAMES = sorted([b"sys", *_FILES, *_LINKS], key=lambda n: (len(n), n))


def static_entry(name: bytes) -> ProcNode:
    parts = (name,)
    if name == b"sys":
        return proc_sysctl.sys_dir(parts)
    if name in _LINKS:
        target = _LINKS[name]
        return link_node(parts, 0o777, lambda: target)
    return file_node(parts, 0o444, _FILES[name], nowrite=Errno.EIO)


def self_link(t: Task) -> ProcNode:
    """/proc/self: a link whose text is the reader's pid (proc_self_get_link)."""
    return link_node((b"self",), 0o777, lambda: b"%d" % t.pid)


def thread_self_link(t: Task) -> ProcNode:
    """/proc/thread-self: "PID/task/TID" of the reader."""
    return link_node((b"thread-self",), 0o777, lambda: b"%d/task/%d" % (t.pid, t.tid))


def _processes(t: Task) -> list[Task]:
    """One task per process (the thread group leader, or its first thread), by pid."""
    leaders: dict[int, Task] = {}
    for x in t.kernel.tasks.values():
        if x.pid not in leaders or x.tid == x.pid:
            leaders[x.pid] = x
    return [leaders[pid] for pid in sorted(leaders)]


class RootDir:
    """The /proc directory."""

    def children(self, t: Task) -> list[ProcNode]:
        out = [static_entry(name) for name in STATIC_NAMES]
        out += [self_link(t), thread_self_link(t)]
        out += [base.pid_dir(x, (b"%d" % x.pid,)) for x in _processes(t)]
        return out

    def lookup(self, t: Task, name: bytes) -> ProcNode:
        if name in STATIC_NAMES:
            return static_entry(name)
        if name == b"self":
            return self_link(t)
        if name == b"thread-self":
            return thread_self_link(t)
        if name.isdigit() and not name.startswith(b"0"):
            # proc_pid_lookup: any task's id, a thread's included (it is not listed).
            found = next((x for x in t.kernel.tasks.values() if x.tid == int(name)), None)
            if found is not None:
                return base.pid_dir(found, (name,))
        raise KernelError(Errno.ENOENT)


def root_node() -> ProcNode:
    return dir_node((), 0o555, RootDir())
