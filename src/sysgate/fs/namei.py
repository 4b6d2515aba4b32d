"""Path lookup: every path a guest names goes through here.

Counterpart: fs/namei.c (path_init, link_path_walk) for the part sysgate does itself.
By default the guest sees the host's file system, as under QEMU user mode, and the
host resolves the components; what lookup() decides is where a path starts (the
task's cwd, a directory fd, or /) and which paths name the kernel's own objects
instead of the host's: /proc/self and /proc/<pid> of the guest, and /dev/stdin,
/dev/stdout, /dev/stderr and /dev/fd, which are links into /proc/self/fd on Linux.
Confining the guest to a root folder changes this one function, not the handlers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import AT_FDCWD

if TYPE_CHECKING:
    from sysgate.fs.file import File
    from sysgate.kernel.task import Task


@dataclass(frozen=True, slots=True)
class HostPath:
    """A path for the host's *at() calls: relative to `dirfd` (a host fd) or absolute."""

    dirfd: int | None
    path: bytes

    def display(self) -> str:
        return self.path.decode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class KernelPath:
    """A path that names one of the kernel's own objects (procfs, the stdio links)."""

    parts: tuple[bytes, ...]  # after the mount point: (b"self", b"exe") for /proc/self/exe


Lookup = HostPath | KernelPath

_DEV_LINKS = {b"/dev/stdin": b"0", b"/dev/stdout": b"1", b"/dev/stderr": b"2"}


def _normalise(path: bytes) -> bytes:
    """Collapse repeated slashes, "." and ".." (lexically: the names this is used for,
    under /proc and /dev, are directories, not symbolic links)."""
    parts: list[bytes] = []
    for p in path.split(b"/"):
        if p == b"..":
            if parts:
                parts.pop()
        elif p and p != b".":
            parts.append(p)
    return b"/" + b"/".join(parts)


def base_dir(t: Task, dfd: int, name: bytes) -> File:
    """The directory a relative `name` starts from (path_init)."""
    if dfd == AT_FDCWD:
        return t.fs.cwd
    file = t.files.get(dfd)
    if name and not file.is_dir:
        raise KernelError(Errno.ENOTDIR)
    return file


def lookup(t: Task, dfd: int, name: bytes) -> Lookup:
    """Where `name` (relative to `dfd`) leads, before the host resolves it."""
    if name.startswith(b"/"):
        norm = _normalise(name)
        if norm in _DEV_LINKS:
            return KernelPath((b"self", b"fd", _DEV_LINKS[norm]))
        if norm == b"/dev/fd" or norm.startswith(b"/dev/fd/"):
            return KernelPath((b"self", b"fd") + tuple(norm.split(b"/")[3:]))
        if norm == b"/proc" or not norm.startswith(b"/proc/"):
            # A path that went through /proc/<pid>/.. is resolved lexically above; others,
            # whose components may be symbolic links, are left to the host.
            starts_in_proc = [p for p in name.split(b"/") if p and p != b"."][:1] == [b"proc"]
            return HostPath(None, norm if starts_in_proc else name)
        parts = tuple(norm.split(b"/")[2:])
        first = parts[0]
        if first in (b"self", b"thread-self") or first == str(t.pid).encode():
            return KernelPath(parts)
        if first.isdigit() and t.kernel.has_pid(int(first)):
            return KernelPath(parts)
        return HostPath(None, name)
    base = base_dir(t, dfd, name)
    fd = base.host_fd
    if fd is None:
        raise KernelError(Errno.ENOTDIR)
    return HostPath(fd, name)


def host_lookup(t: Task, dfd: int, name: bytes) -> HostPath:
    """lookup() for operations that only host files support (mkdir, unlink, rename ...).

    The kernel's own objects are read-only here: changing them gives EACCES, or
    ENOENT for names that do not exist there, as procfs answers.
    """
    where = lookup(t, dfd, name)
    if isinstance(where, KernelPath):
        raise KernelError(Errno.EACCES if len(where.parts) <= 2 else Errno.ENOENT)
    return where
