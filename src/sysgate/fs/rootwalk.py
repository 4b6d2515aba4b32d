"""The path walk inside a root folder: what keeps the guest in it.

Counterpart: fs/namei.c (path_init, link_path_walk, walk_component, handle_dots,
follow_dotdot, pick_link, nd_jump_root, nd_jump_link, path_parentat) for a task after
chroot(2), with the scoped lookups of openat2 (RESOLVE_BENEATH, RESOLVE_IN_ROOT,
RESOLVE_NO_SYMLINKS, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_XDEV).

sysgate walks the guest's path itself, one component at a time; each step is a host
openat() of one name with O_PATH|O_NOFOLLOW relative to the directory reached so far, so
no step can leave that directory:
  - a symbolic link is read from its own O_PATH descriptor and its target walked inside
    the root (an absolute target from the root itself), at most 40 links a walk (ELOOP);
  - ".." at the root stays at the root; elsewhere it must land inside the root: a
    directory moved out of the root by a host process gives EXDEV, as openat2 refuses it;
  - the kernel's mounts are where Linux has them: /proc is the kernel's procfs (its magic
    links cwd, root, exe and fd/N jump to the task's own files, which are inside the
    root), and /dev/null and the other nodes of sysgate.drivers.devtmpfs are the
    kernel's devices, over whatever the folder holds at those names.
A plain path (no "..", no kernel mount) has its directories walked by one host openat2
with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, which the host keeps beneath the start and
refuses at the first link; any refusal or error sends it to the step-by-step walk.

The walk ends with a HostPath for the host's *at() calls, in a form that keeps every
such call inside the root:
  - (directory fd, ".") for a directory;
  - (no dirfd, "/proc/self/fd/N") for any other object that a call follows: the host's
    magic link to the O_PATH descriptor the walk opened, which is the object found,
    whatever happens to its name afterwards;
  - (parent fd, name) for a call that does not follow the last name (lstat, readlink,
    mkdir, unlink, rename ...), for a symbolic link itself, and for a name still to be
    created. Host calls on this form must not follow the name (HostPath.follow_ok is
    False), so that a link a host process puts there after the walk is not followed.
The descriptors the walk opened stay open as long as the HostPath that needs them.

The folder is also mounted "nodev": opening a host device node inside it gives EACCES,
so a guest (even one running as root, which may mknod) reaches no host device through it.
"""

from __future__ import annotations

import os
import stat as host_stat
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sysgate.drivers import devtmpfs
from sysgate.errors import KernelError
from sysgate.fs import procfs
from sysgate.fs.hostfs import HostFile
from sysgate.fs.hostopen import host_openat2
from sysgate.fs.namei import DevicePath, HostPath, KernelPath, Lookup, base_dir
from sysgate.host import kernel_error
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import (
    RESOLVE_BENEATH,
    RESOLVE_IN_ROOT,
    RESOLVE_NO_MAGICLINKS,
    RESOLVE_NO_SYMLINKS,
    RESOLVE_NO_XDEV,
)

if TYPE_CHECKING:
    from sysgate.fs.file import File
    from sysgate.fs.root import Root
    from sysgate.kernel.task import Task

MAXSYMLINKS = 40
"""include/linux/namei.h: the links one lookup may follow before ELOOP."""
_O_PATH = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(slots=True)
class _Host:
    """A host object the walk reached: its O_PATH descriptor and attributes."""

    fd: int
    st: os.stat_result
    guest: tuple[bytes, ...] | None  # its components as the guest names it, if known

    @property
    def is_dir(self) -> bool:
        return host_stat.S_ISDIR(self.st.st_mode)


@dataclass(slots=True)
class _Proc:
    """A place in the kernel's procfs: the components after /proc."""

    parts: tuple[bytes, ...]
    kind: str = "dir"


@dataclass(slots=True)
class _Dev:
    """A kernel device node, or (name b"") the kernel's /dev of a folder without one."""

    name: bytes


_Pos = _Host | _Proc | _Dev


@dataclass(slots=True)
class _Link:
    """A symbolic link met on the walk (`node` set for a procfs magic link)."""

    target: bytes
    itself: _Pos
    node: procfs.ProcNode | None = None


class _Held:
    """Keeps a walk's descriptor open while a HostPath refers to it."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __del__(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


class Walk:
    """One walk (struct nameidata): its position, link count and scope."""

    def __init__(self, t: Task, root: Root, resolve: int) -> None:
        self.t = t
        self.root = root
        self.resolve = resolve
        self.links = 0
        self.opened: list[int] = []
        self.kept = -1
        self.scope: _Pos = self.root_pos()
        self._dev: tuple[int, int] | bool | None = False  # not looked up yet

    # -- descriptors --------------------------------------------------------------------

    def close_unkept(self) -> None:
        for fd in self.opened:
            if fd != self.kept:
                os.close(fd)

    def keep(self, fd: int) -> _Held | None:
        """Hand `fd` to the result: it stays open as long as the result lives."""
        if fd in self.opened:
            self.kept = fd
            return _Held(fd)
        return None  # the root's, or an open file's: alive anyway

    def openat(self, dirfd: int, name: bytes, flags: int = _O_PATH) -> tuple[int, os.stat_result]:
        try:
            fd = os.open(name, flags, dir_fd=dirfd)
        except OSError as exc:
            raise kernel_error(exc) from None
        self.opened.append(fd)
        return fd, os.fstat(fd)

    # -- positions ----------------------------------------------------------------------

    def root_pos(self) -> _Host:
        return _Host(self.root.fd, self.root.st, ())

    def is_root(self, pos: _Pos) -> bool:
        return isinstance(pos, _Host) and (pos.st.st_dev, pos.st.st_ino) == self.root.ident

    def is_dev_dir(self, pos: _Host) -> bool:
        if self._dev is False:
            self._dev = self.root.dev_ident()
        return (pos.st.st_dev, pos.st.st_ino) == self._dev

    def at_scope(self, pos: _Pos) -> bool:
        scope = self.scope
        if isinstance(pos, _Host) and isinstance(scope, _Host):
            return (pos.st.st_dev, pos.st.st_ino) == (scope.st.st_dev, scope.st.st_ino)
        return pos == scope

    def file_pos(self, f: File) -> _Pos:
        """Where a walk through an open file starts: its directory, if inside the root."""
        if isinstance(f, HostFile):
            if f.root is not self.root:
                # A descriptor sysgate handed over (0-2) naming a directory outside the
                # root: walking from it would leave the root, as openat2 refuses (EXDEV).
                raise KernelError(Errno.EXDEV)
            return _Host(f.fd, os.fstat(f.fd), None)
        if isinstance(f, procfs.ProcDir):
            return _Proc(f.parts)
        if isinstance(f, devtmpfs.DevDir):
            return _Dev(b"")
        raise KernelError(Errno.ENOTDIR)

    def device(self, pos: _Pos) -> int:
        if isinstance(pos, _Host):
            return pos.st.st_dev
        return procfs.PROC_DEV if isinstance(pos, _Proc) else devtmpfs.DEVTMPFS_DEV

    def moved(self, old: _Pos, new: _Pos) -> _Pos:
        """RESOLVE_NO_XDEV: a walk that crosses a mount gives EXDEV."""
        if self.resolve & RESOLVE_NO_XDEV and self.device(old) != self.device(new):
            raise KernelError(Errno.EXDEV)
        return new

    # -- steps ----------------------------------------------------------------------------

    def start(self, dfd: int, name: bytes) -> _Pos:
        """path_init: the root for an absolute name, else the cwd or `dfd`."""
        scoped = self.resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT)
        base: _Pos | None = None
        if not name.startswith(b"/") or scoped:
            base = self.file_pos(base_dir(self.t, dfd, name))
            if scoped:
                self.scope = base
        if name.startswith(b"/"):
            if self.resolve & RESOLVE_BENEATH:
                raise KernelError(Errno.EXDEV)
            return self.scope
        assert base is not None
        return base

    def step(self, pos: _Pos, comp: bytes) -> _Pos | _Link:
        """walk_component: the child `comp` of directory `pos` (a link is not followed)."""
        if isinstance(pos, _Host):
            if comp == b"proc" and self.is_root(pos):
                return self.moved(pos, _Proc(()))
            if comp in devtmpfs.NODES and self.is_dev_dir(pos):
                return self.dev_node(pos, comp)
            try:
                fd, st = self.openat(pos.fd, comp)
            except KernelError as exc:
                if exc.errno == Errno.ENOENT and comp == b"dev" and self.is_root(pos):
                    return self.moved(pos, _Dev(b""))  # no /dev in the folder: the kernel's
                raise
            child = _Host(fd, st, None if pos.guest is None else (*pos.guest, comp))
            self.moved(pos, child)
            if host_stat.S_ISLNK(st.st_mode):
                try:
                    target = os.readlink(b"", dir_fd=fd)
                except OSError as exc:
                    raise kernel_error(exc) from None
                return _Link(target, child)
            return child
        if isinstance(pos, _Proc):
            parts = (*pos.parts, comp)
            node = procfs.resolve(self.t, parts)
            if node.kind == "link":
                if _is_magic(node):
                    return _Link(b"", _Proc(parts, "link"), node)
                return _Link(procfs.readlink(node), _Proc(parts, "link"))  # self, thread-self ...
            return _Proc(parts, node.kind)
        if pos.name:
            raise KernelError(Errno.ENOTDIR)
        return self.dev_node(pos, comp)

    def dev_node(self, pos: _Pos, comp: bytes) -> _Pos | _Link:
        node = devtmpfs.node(comp)
        dev = self.moved(pos, _Dev(comp))
        return _Link(node.target, dev) if node.is_link else dev

    def dotdot(self, pos: _Pos) -> _Pos:
        """follow_dotdot: the parent, except at the root (or the scope of RESOLVE_IN_ROOT)."""
        if self.at_scope(pos) or self.is_root(pos):
            if self.resolve & RESOLVE_BENEATH:
                raise KernelError(Errno.EXDEV)
            return pos
        if isinstance(pos, _Proc):
            return self.moved(pos, _Proc(pos.parts[:-1]) if pos.parts else self.root_pos())
        if isinstance(pos, _Dev):
            return self.moved(pos, self.root_pos())
        fd, st = self.openat(pos.fd, b"..", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        if (st.st_dev, st.st_ino) == self.root.ident:
            return self.moved(pos, self.root_pos())
        if not self.root.contains(fd):
            raise KernelError(Errno.EXDEV)  # moved out of the root behind the guest's back
        return self.moved(pos, _Host(fd, st, None if not pos.guest else pos.guest[:-1]))

    def follow(self, pos: _Pos, link: _Link, comps: deque[bytes]) -> _Pos:
        """pick_link: count the link, then continue at its target."""
        self.links += 1
        if self.links > MAXSYMLINKS or self.resolve & RESOLVE_NO_SYMLINKS:
            raise KernelError(Errno.ELOOP)
        node = link.node
        if node is not None:  # nd_jump_link
            assert node.task is not None  # the magic links are a task's
            if self.resolve & RESOLVE_NO_MAGICLINKS:
                raise KernelError(Errno.ELOOP)
            if self.resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT):
                raise KernelError(Errno.EXDEV)
            if node.name == b"root":
                return self.moved(pos, self.root_pos())
            if node.name == b"cwd":
                return self.moved(pos, self.file_pos(node.task.fs.cwd))
            if node.fd >= 0:
                return self.moved(pos, self.file_pos(node.task.files.get(node.fd)))
            target = os.fsencode(node.task.exe_path)  # exe: the program's path
        else:
            target = link.target
        if not target:
            raise KernelError(Errno.ENOENT)
        comps.extendleft(reversed([c for c in target.split(b"/") if c]))
        if target.startswith(b"/"):  # nd_jump_root
            if self.resolve & RESOLVE_BENEATH:
                raise KernelError(Errno.EXDEV)
            return self.moved(pos, self.scope)
        return pos

    def fast_dirs(self, pos: _Pos, comps: deque[bytes]) -> _Pos:
        """All the directories of a plain path in one host openat2: when no component is
        "..", none is a symbolic link (RESOLVE_NO_SYMLINKS refuses them) and none is a
        kernel mount, the host's walk beneath `pos` is exactly this module's. Anything
        else (an error included) is left to the walk, component by component."""
        if self.resolve or len(comps) < 2 or not isinstance(pos, _Host):
            return pos
        dirs = list(comps)[:-1]
        first = dirs[0]
        if b".." in dirs or (first in (b"proc", b"dev") and self.is_root(pos)):
            return pos
        if first in devtmpfs.NODES and self.is_dev_dir(pos):
            return pos
        try:
            fd = host_openat2(pos.fd, b"/".join(dirs), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, 0,
                               RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
        except KernelError:
            return pos
        self.opened.append(fd)
        for _ in dirs:
            comps.popleft()
        guest = None if pos.guest is None else (*pos.guest, *(d for d in dirs if d != b"."))
        return _Host(fd, os.fstat(fd), guest)

    def walk_dirs(self, pos: _Pos, comps: deque[bytes]) -> _Pos:
        """link_path_walk: every component but the last, each a directory."""
        while len(comps) > 1:
            comp = comps.popleft()
            if comp == b".":
                continue
            if comp == b"..":
                pos = self.dotdot(pos)
                continue
            child = self.step(pos, comp)
            if isinstance(child, _Link):
                pos = self.follow(pos, child, comps)
            elif _is_dir(child):
                pos = child
            else:
                raise KernelError(Errno.ENOTDIR)
        return pos

    # -- the whole walk -------------------------------------------------------------

    def run(self, dfd: int, name: bytes, follow: bool, create: bool, parent: bool, busy: Errno) -> Lookup:
        trailing = name.endswith(b"/")
        pos = self.start(dfd, name)
        comps = deque(c for c in name.split(b"/") if c)
        pos = self.fast_dirs(pos, comps)
        while True:
            pos = self.walk_dirs(pos, comps)
            if not comps:  # "/", or a walk that ended at a directory
                if parent:
                    return HostPath(None, b"/", root=self.root, guest=b"/")  # LAST_ROOT
                return self.result(pos, None, None, follow)
            last = comps.popleft()
            if parent:
                return self.parent_result(pos, last, trailing, busy)
            if last in (b".", b".."):
                return self.result(pos if last == b"." else self.dotdot(pos), None, None, follow)
            try:
                child = self.step(pos, last)
            except KernelError as exc:
                if exc.errno == Errno.ENOENT and create and isinstance(pos, _Host):
                    return self.host_result(pos, last + (b"/" if trailing else b""), 0, pos.fd)
                raise
            if isinstance(child, _Link) and (trailing or (follow and child.node is None)):
                # A final magic link is left to the caller, which opens the file it names
                # itself (a pipe, a deleted file ...): the result is its KernelPath.
                pos = self.follow(pos, child, comps)
                trailing = trailing or child.target.endswith(b"/")
                continue
            if trailing and not isinstance(child, _Link) and not _is_dir(child):
                raise KernelError(Errno.ENOTDIR)
            return self.result(pos, last, child, follow)

    def parent_result(self, pos: _Pos, last: bytes, trailing: bool, busy: Errno) -> Lookup:
        """path_parentat: the directory and the last name, which is not looked up."""
        if isinstance(pos, _Host):
            if (last == b"proc" and self.is_root(pos)) or (last in devtmpfs.NODES and self.is_dev_dir(pos)):
                raise KernelError(busy)  # a kernel mount point
            return self.host_result(pos, last + (b"/" if trailing else b""), 0, pos.fd)
        if isinstance(pos, _Proc):
            return KernelPath((*pos.parts, last))
        if last in devtmpfs.NODES:
            raise KernelError(busy)
        raise KernelError(Errno.EACCES)  # the kernel's own /dev directory is read-only

    def result(self, pos: _Pos, last: bytes | None, child: _Pos | _Link | None, follow: bool) -> Lookup:
        obj = pos if child is None else child
        if isinstance(obj, _Link):  # a final link, not followed
            if isinstance(obj.itself, _Host):
                assert isinstance(pos, _Host) and last is not None
                return self.host_result(pos, last, host_stat.S_IFLNK, pos.fd)
            obj = obj.itself
        if isinstance(obj, _Proc):
            return KernelPath(obj.parts)
        if isinstance(obj, _Dev):
            return DevicePath(obj.name)
        kind = host_stat.S_IFMT(obj.st.st_mode)
        if obj.is_dir:
            return self.host_result(obj, b".", kind, obj.fd)
        if follow:
            return self.host_result(obj, b"/proc/self/fd/%d" % obj.fd, kind, None, obj.fd)
        assert isinstance(pos, _Host) and last is not None
        return self.host_result(pos, last, kind, pos.fd)

    def host_result(self, at: _Host, path: bytes, kind: int, dirfd: int | None, hold: int | None = None) -> HostPath:
        guest = None
        if at.guest is not None:
            names = at.guest if path.startswith(b"/proc/self/fd/") or path == b"." else (*at.guest, path)
            guest = b"/" + b"/".join(names)
        held = self.keep(dirfd if dirfd is not None else hold if hold is not None else -1)
        return HostPath(dirfd, path, root=self.root, guest=guest, ftype=kind, hold=held)


def _is_magic(node: procfs.ProcNode) -> bool:
    """The links of procfs that jump to a task's file instead of naming a path."""
    return node.name in (b"exe", b"cwd", b"root") or node.fd >= 0


def _is_dir(pos: _Pos) -> bool:
    if isinstance(pos, _Host):
        return pos.is_dir
    if isinstance(pos, _Proc):
        return pos.kind == "dir"
    return not pos.name
