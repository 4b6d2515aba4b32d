"""/proc as the VFS sees it: walking a path under /proc, and opening, stat-ing and
reading the links of what it names.

Counterpart: fs/proc/inode.c and fs/proc/base.c's lookup side (proc_root_lookup,
proc_pid_lookup, pid_revalidate, proc_pid_get_link), for the generated tree in
sysgate.fs.proc (one module per file of Linux's fs/proc). Every path under /proc
names the kernel's own objects, with or without a root folder: nothing under /proc is
the host's. A walk follows the links that stay inside /proc (self, thread-self,
mounts); the "magic" links (cwd, root, exe, fd/N) lead to a task's files, where
sysgate.fs.namei continues the walk.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.fs.proc.generic import (
    MAY_EXEC,
    MAY_READ,
    MAY_WRITE,
    PROC_DEV,
    PROC_SUPER_MAGIC,
    ProcDir,
    ProcFile,
    ProcNode,
    open_flags_ok,
    permission,
    stat_node,
)
from sysgate.fs.proc.root import root_node
from sysgate.fs.proc.task_mmu import show_maps
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import O_ACCMODE, O_PATH, O_RDONLY, O_TRUNC

if TYPE_CHECKING:
    from sysgate.fs.file import File, Kstat
    from sysgate.kernel.task import Task

__all__ = [
    "PROC_DEV", "PROC_SUPER_MAGIC", "ProcDir", "ProcFile", "ProcNode", "Walk", "access", "follow_internal",
    "is_magic", "link_target", "open_node", "readlink", "resolve", "show_maps", "stat", "walk",
]

MAGIC_LINKS = (b"cwd", b"root", b"exe")
"""With fd/N: the links whose target is a task's file, not a path in /proc."""
MAXSYMLINKS = 40


def is_magic(node: ProcNode) -> bool:
    return node.kind == "link" and (node.fd >= 0 or node.name in MAGIC_LINKS)


@dataclass(frozen=True, slots=True)
class Walk:
    """Where a walk under /proc ended: at `node` with nothing left, at a magic link
    `node` with components `rest` still to walk from its target, or (node None) above
    /proc, with `rest` to walk from the root."""

    node: ProcNode | None
    rest: tuple[bytes, ...] = ()


def walk(t: Task, parts: tuple[bytes, ...]) -> Walk:
    """Walk `parts` (the components after /proc; "." and ".." allowed) from /proc.

    Links inside /proc are followed on the way (not the last one); a magic link with
    components after it ends the walk there. ENOENT for a name /proc does not have,
    ENOTDIR for a component after a file.
    """
    stack = [root_node()]
    todo = list(parts)
    links = 0
    while todo:
        name = todo.pop(0)
        node = stack[-1]
        if node.kind == "link":
            if is_magic(node):
                return Walk(_with_reader(node, t), (name, *todo))
            links += 1
            if links > MAXSYMLINKS:
                raise KernelError(Errno.ELOOP)
            stack.pop()
            todo = [*_link_parts(t, node), name, *todo]
            continue
        if node.kind != "dir":
            raise KernelError(Errno.ENOTDIR)
        if name in (b"", b"."):
            continue
        if name == b"..":
            if len(stack) == 1:
                return Walk(None, tuple(todo))  # /proc/.. is the root's
            stack.pop()
            continue
        assert node.dir is not None
        permission(t, node, MAY_EXEC)  # search permission on each directory passed
        stack.append(node.dir.lookup(t, name))
    return Walk(_with_reader(stack[-1], t))


def _link_parts(t: Task, link: ProcNode) -> list[bytes]:
    """The components of a link inside /proc, relative to the link's directory."""
    assert link.link is not None
    target = link.link()
    return [p for p in target.split(b"/") if p]


def _with_reader(node: ProcNode, t: Task) -> ProcNode:
    return dataclasses.replace(node, reader=t)


def resolve(t: Task, parts: tuple[bytes, ...]) -> ProcNode:
    """The node `parts` names (a last link is not followed). A magic link in the middle
    of `parts` is ENOTDIR here: sysgate.fs.namei walks on from its target."""
    w = walk(t, parts)
    if w.node is None:
        raise KernelError(Errno.ENOENT)
    if w.rest:
        raise KernelError(Errno.ENOTDIR)
    return w.node


def follow_internal(node: ProcNode) -> ProcNode | None:
    """What a link inside /proc (self, thread-self, mounts) leads to; None for the
    magic links and for what is not a link."""
    if node.kind != "link" or is_magic(node) or node.reader is None:
        return None
    return resolve(node.reader, (*node.parts[:-1], *_link_parts(node.reader, node)))


def readlink(node: ProcNode) -> bytes:
    if node.kind != "link" or node.link is None:
        raise KernelError(Errno.EINVAL)
    return node.link()


def link_target(node: ProcNode) -> File:
    """The open File a magic link jumps to (proc_fd_link, proc_cwd_link); a link inside
    /proc opens what it names."""
    task = node.task
    if node.fd >= 0 and task is not None:
        file = task.files.lookup(node.fd)
        if file is None:  # closed since the lookup
            raise KernelError(Errno.ENOENT)
        return file
    if node.name == b"cwd" and task is not None:
        return task.fs.cwd
    inner = follow_internal(node)
    if inner is not None:
        return open_node(inner, O_RDONLY, "/proc/" + b"/".join(inner.parts).decode("latin-1"))
    raise KernelError(Errno.ENOENT)


def stat(node: ProcNode) -> Kstat:
    assert node.reader is not None, "nodes come from resolve()"
    return stat_node(node, node.reader)


def access(node: ProcNode, mode: int) -> None:
    """faccessat on an entry: the permission check an open would make (mode: R_OK 4,
    W_OK 2, X_OK 1)."""
    assert node.reader is not None
    permission(node.reader, node, mode & (MAY_READ | MAY_WRITE | MAY_EXEC))


def open_node(node: ProcNode, flags: int, path: str) -> File:
    """open() of a directory or generated file (links are followed by the caller): the
    permission check, EISDIR for a directory opened to write. The File is named by the
    entry's canonical path (/proc/42/fd for /proc/self/fd), whatever `path` said."""
    reader = node.reader
    assert reader is not None, "nodes come from resolve()"
    path = "/proc/" + b"/".join(node.parts).decode("latin-1") if node.parts else "/proc"
    if flags & O_PATH:
        return (ProcDir if node.dir is not None else ProcFile)(node, flags, path, reader)
    want = open_flags_ok(flags)
    if node.kind == "dir":
        if flags & O_ACCMODE != O_RDONLY:
            raise KernelError(Errno.EISDIR)
        permission(reader, node, want)
        return ProcDir(node, flags, path, reader)
    permission(reader, node, want | (MAY_WRITE if flags & O_TRUNC else 0))
    return ProcFile(node, flags, path, reader)
