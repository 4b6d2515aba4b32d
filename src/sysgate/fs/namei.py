"""Path lookup: every path a guest names goes through here.

Counterpart: fs/namei.c (path_init, link_path_walk) for the part sysgate does itself.
By default the guest sees the host's file system, as under QEMU user mode, and the
host resolves the components; what lookup() decides is where a path starts (the
task's cwd, a directory fd, or /) and which paths name the kernel's own objects
instead of the host's: /proc/self and /proc/<pid> of the guest, and /dev/stdin,
/dev/stdout, /dev/stderr and /dev/fd, which are links into /proc/self/fd on Linux.

Confining the guest to a root folder changes this one place, not the handlers: when
the task has a root (t.fs.root), sysgate.fs.root walks the path itself inside it and
hands back a HostPath whose host calls cannot leave it (see that module), a KernelPath
for the kernel's procfs, or a DevicePath for the kernel's /dev nodes. What a handler
must do for that is say whether its call follows a final symbolic link (`follow`, and
HostPath.follow_ok for the host call) and whether it may create the last name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import AT_FDCWD

if TYPE_CHECKING:
    from sysgate.fs.file import File
    from sysgate.fs.root import Root
    from sysgate.kernel.task import Task


@dataclass(frozen=True, slots=True)
class HostPath:
    """A path for the host's *at() calls: relative to `dirfd` (a host fd) or absolute.

    Under a root folder (`root` set) `guest` is the path as the guest names it, `ftype`
    the S_IFMT bits of what the walk found at the end (0 if nothing is there yet), and
    `hold` keeps the walk's descriptors open while this object lives.
    """

    dirfd: int | None
    path: bytes
    root: Root | None = None
    guest: bytes | None = None
    ftype: int = 0
    hold: object = field(default=None, compare=False, repr=False)

    def display(self) -> str:
        return (self.guest if self.guest is not None else self.path).decode("utf-8", "surrogateescape")

    @property
    def follow_ok(self) -> bool:
        """Whether a host call may follow `path` if it is a symbolic link. Inside a root
        folder, a path relative to a directory names what the walk found without
        following it: the host must not follow a link put there since."""
        return self.root is None or self.dirfd is None


@dataclass(frozen=True, slots=True)
class KernelPath:
    """A path that names one of the kernel's own objects (procfs, the stdio links)."""

    parts: tuple[bytes, ...]  # after the mount point: (b"self", b"exe") for /proc/self/exe


@dataclass(frozen=True, slots=True)
class DevicePath:
    """One of the kernel's /dev nodes inside a root folder (sysgate.drivers.devtmpfs);
    `name` b"" is the kernel's /dev directory of a folder that has none."""

    name: bytes


Lookup = HostPath | KernelPath | DevicePath

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


def lookup(t: Task, dfd: int, name: bytes, *, follow: bool = True, create: bool = False,
           resolve: int = 0) -> Lookup:
    """Where `name` (relative to `dfd`) leads, before the host resolves it.

    `follow`: the call follows a final symbolic link. `create`: the call may create the
    last name (open with O_CREAT), so its absence is not an error here. `resolve`:
    openat2's RESOLVE_* flags, which the walk applies inside a root folder (on the host,
    the caller passes them to the host's openat2).
    """
    root = t.fs.root
    if root is not None and name:
        return root.walk(t, dfd, name, follow=follow, create=create, parent=False, resolve=resolve)
    if name.startswith(b"/"):
        norm = _normalise(name)
        if norm in _DEV_LINKS:
            return proc_lookup(t, (b"self", b"fd", _DEV_LINKS[norm]), follow)
        if norm == b"/dev/fd" or norm.startswith(b"/dev/fd/"):
            return proc_lookup(t, (b"self", b"fd") + tuple(norm.split(b"/")[3:]), follow)
        comps = [p for p in name.split(b"/") if p]
        while comps[:1] == [b"."]:
            comps.pop(0)
        if comps[:1] == [b"proc"]:  # /proc is the kernel's procfs, never the host's
            return proc_lookup(t, (*comps[1:], *((b"",) if name.endswith(b"/") else ())), follow)
        if norm == b"/proc" or norm.startswith(b"/proc/"):
            return proc_lookup(t, tuple(norm.split(b"/")[2:]), follow)  # reached through "..": lexically
        return HostPath(None, name)
    base = base_dir(t, dfd, name)
    proc_parts = _proc_parts(base)
    if proc_parts is not None:  # relative to an open /proc directory
        return proc_lookup(t, (*proc_parts, *name.split(b"/")), follow)
    fd = base.host_fd
    if fd is None:
        raise KernelError(Errno.ENOTDIR)
    return HostPath(fd, name)


def _proc_parts(f: File) -> tuple[bytes, ...] | None:
    """The place under /proc of an open procfs file or directory, None for other files."""
    from sysgate.fs.proc.generic import ProcDir, ProcFile

    return f.parts if isinstance(f, ProcDir | ProcFile) else None


def proc_lookup(t: Task, parts: tuple[bytes, ...], follow: bool = False) -> Lookup:
    """A path below /proc (outside a root folder): procfs walks it. A magic link (cwd,
    root, exe, fd/N) leads to the task's file: with more components after it
    (/proc/self/cwd/x) the walk continues there, and so it does for a last one the call
    follows (nd_jump_link): a host file is then named by the host's own magic link to
    sysgate's descriptor for it, so that it is that very file (a pipe, a deleted file)."""
    from sysgate.fs import procfs

    w = procfs.walk(t, parts)
    rest = b"/".join(w.rest)
    if w.node is None:  # /proc/..
        return lookup(t, AT_FDCWD, b"/" + rest)
    node = w.node
    if not w.rest and not (follow and procfs.is_magic(node)):
        return KernelPath(node.parts)
    task = node.task
    assert task is not None
    if node.name == b"exe" and node.fd < 0:
        return lookup(t, AT_FDCWD, task.exe_path.encode() + (b"/" + rest if w.rest else b""))
    if node.name == b"root" and node.fd < 0:
        return lookup(t, AT_FDCWD, b"/" + rest)
    target = procfs.link_target(node)
    proc_parts = _proc_parts(target)
    if proc_parts is not None:
        return proc_lookup(t, (*proc_parts, *w.rest), follow)
    fd = target.host_fd
    if not w.rest:
        if fd is None:
            return KernelPath(node.parts)  # the VFS opens the File itself
        return HostPath(fd, b".") if target.is_dir else HostPath(None, b"/proc/self/fd/%d" % fd)
    if fd is None or not target.is_dir:
        raise KernelError(Errno.ENOTDIR)
    return HostPath(fd, rest.lstrip(b"/") or b".")


def host_lookup(t: Task, dfd: int, name: bytes, *, follow: bool = True) -> HostPath:
    """lookup() of an existing file that only host files support (chmod, chown, utimes,
    truncate, the source of link).

    The kernel's own objects are read-only here: changing them gives EPERM, as procfs
    and the kernel's devices answer (ENOENT for names procfs does not have).
    """
    where = lookup(t, dfd, name, follow=follow)
    if follow and isinstance(where, KernelPath):
        where = _magic_target(t, where)
    return _host_only(where)


def _magic_target(t: Task, where: KernelPath) -> Lookup:
    """Where a final procfs magic link leads, for calls that follow it (chmod, chown,
    utimes, truncate of /proc/self/fd/N): a host file is named to the host by its own
    descriptor's /proc/self/fd link, the same inode (proc_fd_link's nd_jump_link)."""
    from sysgate.fs import procfs
    from sysgate.fs.hostfs import HostFile

    node = procfs.resolve(t, where.parts)
    if not procfs.is_magic(node) or node.task is None:
        return where
    if node.fd < 0 and node.name in (b"root", b"exe"):
        return lookup(t, AT_FDCWD, b"/" if node.name == b"root" else node.task.exe_path.encode())
    target = procfs.link_target(node)
    if isinstance(target, HostFile):
        return HostPath(None, b"/proc/self/fd/%d" % target.fd, root=target.root, guest=target.d_path().encode())
    return where


def parent_lookup(t: Task, dfd: int, name: bytes, *, busy: Errno = Errno.EBUSY) -> HostPath:
    """The directory and last name of `name`, for calls that create or remove the name
    (mkdir, mknod, symlink, the target of link, unlink, rmdir, rename): the last name is
    not looked up and never followed (filename_parentat). Inside a root folder, naming
    one of the kernel's mount points there (/proc, /dev/null ...) gives `busy`: EEXIST
    for the calls that create, EBUSY for those that remove or rename."""
    root = t.fs.root
    if root is not None:
        return _host_only(root.walk(t, dfd, name, follow=False, create=True, parent=True, busy=busy))
    return _host_only(lookup(t, dfd, name, follow=False))  # the last name is never followed


def _host_only(where: Lookup) -> HostPath:
    if isinstance(where, KernelPath):
        # An entry that exists (the walk gave ENOENT for the others): procfs refuses
        # unlink, rmdir and chmod with EPERM (proc_setattr, no ->unlink).
        raise KernelError(Errno.EPERM)
    if isinstance(where, DevicePath):
        raise KernelError(Errno.EPERM)
    return where
