"""Operations on paths: open, stat, readlink, access, whatever the path leads to.

Counterpart: fs/open.c (do_sys_openat2, do_faccessat), fs/stat.c (vfs_fstatat) and
fs/namei.c (do_readlinkat). Handlers call these with the user's dfd and path; the
result of sysgate.fs.namei.lookup decides whether the host, the kernel's own procfs,
or (inside a root folder) the kernel's /dev nodes answer.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from sysgate.drivers import devtmpfs
from sysgate.errors import KernelError
from sysgate.fs import procfs
from sysgate.fs.file import File, Kstat
from sysgate.fs.hostfs import HostFile, kstat_from_host
from sysgate.fs.hostopen import open_host
from sysgate.fs.namei import DevicePath, HostPath, KernelPath, lookup
from sysgate.host import HOST_AT_FDCWD, fd_path, host_syscall, kernel_error
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import (
    AT_EACCESS,
    AT_FDCWD,
    AT_SYMLINK_NOFOLLOW,
    O_CREAT,
    O_DIRECTORY,
    O_EXCL,
    O_NOFOLLOW,
    O_PATH,
    RESOLVE_NO_MAGICLINKS,
    RESOLVE_NO_SYMLINKS,
)

if TYPE_CHECKING:
    from sysgate.kernel.task import Task


def _follow(t: Task, node: procfs.ProcNode) -> HostPath | File:
    """Where a procfs link leads when followed (looked up again, so inside the root)."""
    if node.name in (b"exe", b"root") and node.task is not None:
        where = lookup(t, AT_FDCWD, node.task.exe_path.encode() if node.name == b"exe" else b"/")
        if not isinstance(where, HostPath):
            raise KernelError(Errno.ENOENT)
        return where
    return procfs.link_target(node)


def _guest_path(t: Task, where: HostPath) -> str:
    """The absolute path a HostPath names, for /proc/PID/fd and maps."""
    if where.root is not None:
        if where.guest is not None:
            return os.path.normpath(where.display())
        base = fd_path(where.dirfd) if where.dirfd is not None else None
        inside = where.root.guest_path(base) if base is not None else None
        if inside is None:
            return where.display()
        return os.path.normpath(os.path.join(inside, where.display()))
    path = where.display()
    if path.startswith("/") or where.dirfd is None:
        return os.path.normpath(path) if path else path
    base = fd_path(where.dirfd) or ""
    return os.path.normpath(os.path.join(base, path))


def vfs_open(t: Task, dfd: int, name: bytes, flags: int, mode: int, resolve: int = 0) -> File:
    """Open `name` relative to `dfd` (Linux flags and mode; umask already applied)."""
    # O_CREAT|O_EXCL does not follow a final link: it fails with EEXIST (open_last_lookups).
    follow = not flags & O_NOFOLLOW and flags & (O_CREAT | O_EXCL) != O_CREAT | O_EXCL
    where = lookup(t, dfd, name, follow=follow, create=bool(flags & O_CREAT), resolve=resolve)
    if isinstance(where, HostPath):
        if where.root is not None:
            return open_host(where.dirfd, where.path, flags, mode, _guest_path(t, where), 0, where.root,
                             where.ftype, t=t)
        return open_host(where.dirfd, where.path, flags, mode, _guest_path(t, where), resolve, t=t)
    if isinstance(where, DevicePath):
        return devtmpfs.open_node(t, where.name, flags)
    if resolve & (RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS):
        node = procfs.resolve(t, where.parts)
        if node.kind == "link":
            raise KernelError(Errno.ELOOP)
    node = procfs.resolve(t, where.parts)
    if node.kind == "link":
        if flags & O_NOFOLLOW and not flags & O_PATH:
            raise KernelError(Errno.ELOOP)
        node = procfs.follow_internal(node) or node  # self, thread-self, mounts: links within /proc
    if node.kind == "link":
        target = _follow(t, node)
        if isinstance(target, HostPath):
            return open_host(target.dirfd, target.path, flags, mode, _guest_path(t, target), 0, target.root,
                             target.ftype, t=t)
        if isinstance(target, HostFile):
            # Reopening through /proc/self/fd/N opens the same file anew (proc_fd_link).
            try:
                return open_host(None, f"/proc/self/fd/{target.host_fd}".encode(), flags, mode, target.path,
                                 0, target.root)
            except KernelError:
                pass
        return target
    if flags & O_DIRECTORY and node.kind != "dir":
        raise KernelError(Errno.ENOTDIR)
    return procfs.open_node(node, flags, "/proc/" + b"/".join(where.parts).decode())


def vfs_stat(t: Task, dfd: int, name: bytes, follow: bool) -> Kstat:
    """stat or lstat of a path."""
    where = lookup(t, dfd, name, follow=follow)
    if isinstance(where, HostPath):
        try:
            return kstat_from_host(os.stat(where.path, dir_fd=where.dirfd, follow_symlinks=follow and where.follow_ok))
        except OSError as exc:
            raise kernel_error(exc) from None
    if isinstance(where, DevicePath):
        return devtmpfs.stat(t, where.name)
    node = procfs.resolve(t, where.parts)
    if node.kind == "link" and follow:
        node = procfs.follow_internal(node) or node
    if node.kind == "link" and follow:
        target = _follow(t, node)
        if isinstance(target, HostPath):
            try:
                return kstat_from_host(os.stat(target.path, dir_fd=target.dirfd, follow_symlinks=target.follow_ok))
            except OSError as exc:
                raise kernel_error(exc) from None
        return target.stat()
    return procfs.stat(node)


def vfs_readlink(t: Task, dfd: int, name: bytes) -> bytes:
    """The target of a symbolic link; EINVAL if `name` is not one."""
    where = lookup(t, dfd, name, follow=False)
    if isinstance(where, KernelPath):
        return procfs.readlink(procfs.resolve(t, where.parts))
    if isinstance(where, DevicePath):
        return devtmpfs.readlink(where.name)
    try:
        return os.readlink(where.path, dir_fd=where.dirfd)
    except OSError as exc:
        raise kernel_error(exc) from None


def vfs_access(t: Task, dfd: int, name: bytes, mode: int, follow: bool, effective: bool) -> None:
    """access()/faccessat(): ENOENT, EACCES ... or nothing."""
    where = lookup(t, dfd, name, follow=follow)
    if isinstance(where, DevicePath):
        devtmpfs.access(where.name, mode)
        return
    if isinstance(where, KernelPath):
        node = procfs.resolve(t, where.parts)
        if follow:
            node = procfs.follow_internal(node) or node
        if node.kind != "link":
            procfs.access(node, mode)
        return
    # The host's faccessat2 answers with the exact errno (ENOENT, EACCES, EROFS, ETXTBSY ...).
    flags = (0 if follow and where.follow_ok else AT_SYMLINK_NOFOLLOW) | (AT_EACCESS if effective else 0)
    host_syscall(_SYS_faccessat2, HOST_AT_FDCWD if where.dirfd is None else where.dirfd, where.path, mode, flags)


_SYS_faccessat2 = 439


def file_of(t: Task, dfd: int) -> File:
    """The File for `dfd` for AT_EMPTY_PATH operations (AT_FDCWD is the cwd)."""
    if dfd == -100:
        return t.fs.cwd
    return t.files.get(dfd)


def is_host_file(file: File) -> bool:
    return isinstance(file, HostFile)
