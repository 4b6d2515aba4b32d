"""Operations on paths: open, stat, readlink, access, whatever the path leads to.

Counterpart: fs/open.c (do_sys_openat2, do_faccessat), fs/stat.c (vfs_fstatat) and
fs/namei.c (do_readlinkat). Handlers call these with the user's dfd and path; the
result of sysgate.fs.namei.lookup decides whether the host or the kernel's own
procfs answers.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.fs import procfs
from sysgate.fs.file import File, Kstat
from sysgate.fs.hostfs import HostFile, kstat_from_host, open_host
from sysgate.fs.namei import HostPath, KernelPath, lookup
from sysgate.host import HOST_AT_FDCWD, host_syscall, kernel_error
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import (
    AT_EACCESS,
    AT_SYMLINK_NOFOLLOW,
    O_DIRECTORY,
    O_NOFOLLOW,
    O_PATH,
    RESOLVE_NO_MAGICLINKS,
    RESOLVE_NO_SYMLINKS,
)

if TYPE_CHECKING:
    from sysgate.kernel.task import Task


def _follow(t: Task, node: procfs.ProcNode) -> HostPath | File:
    """Where a procfs link leads when followed."""
    if node.name == b"exe":
        return HostPath(None, node.task.exe_path.encode())
    if node.name == b"root":
        return HostPath(None, b"/")
    return procfs.link_target(node)


def _guest_path(t: Task, where: HostPath) -> str:
    """The absolute path a HostPath names, for /proc/PID/fd and maps."""
    path = where.display()
    if path.startswith("/") or where.dirfd is None:
        return os.path.normpath(path) if path else path
    from sysgate.host import fd_path

    base = fd_path(where.dirfd) or ""
    return os.path.normpath(os.path.join(base, path))


def vfs_open(t: Task, dfd: int, name: bytes, flags: int, mode: int, resolve: int = 0) -> File:
    """Open `name` relative to `dfd` (Linux flags and mode; umask already applied)."""
    where = lookup(t, dfd, name)
    if isinstance(where, HostPath):
        return open_host(where.dirfd, where.path, flags, mode, _guest_path(t, where), resolve)
    if resolve & (RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS):
        node = procfs.resolve(t, where.parts)
        if node.kind == "link":
            raise KernelError(Errno.ELOOP)
    node = procfs.resolve(t, where.parts)
    if node.kind == "link":
        if flags & O_NOFOLLOW and not flags & O_PATH:
            raise KernelError(Errno.ELOOP)
        target = _follow(t, node)
        if isinstance(target, HostPath):
            return open_host(target.dirfd, target.path, flags, mode, target.display())
        if target.host_fd is not None:
            # Reopening through /proc/self/fd/N opens the same file anew (proc_fd_link).
            try:
                return open_host(None, f"/proc/self/fd/{target.host_fd}".encode(), flags, mode, target.path)
            except KernelError:
                pass
        return target
    if flags & O_DIRECTORY and node.kind != "dir":
        raise KernelError(Errno.ENOTDIR)
    return procfs.open_node(node, flags, "/proc/" + b"/".join(where.parts).decode())


def vfs_stat(t: Task, dfd: int, name: bytes, follow: bool) -> Kstat:
    """stat or lstat of a path."""
    where = lookup(t, dfd, name)
    if isinstance(where, HostPath):
        try:
            return kstat_from_host(os.stat(where.path, dir_fd=where.dirfd, follow_symlinks=follow))
        except OSError as exc:
            raise kernel_error(exc) from None
    node = procfs.resolve(t, where.parts)
    if node.kind == "link" and follow:
        target = _follow(t, node)
        if isinstance(target, HostPath):
            try:
                return kstat_from_host(os.stat(target.path))
            except OSError as exc:
                raise kernel_error(exc) from None
        return target.stat()
    return procfs.stat(node)


def vfs_readlink(t: Task, dfd: int, name: bytes) -> bytes:
    """The target of a symbolic link; EINVAL if `name` is not one."""
    where = lookup(t, dfd, name)
    if isinstance(where, KernelPath):
        return procfs.readlink(procfs.resolve(t, where.parts))
    try:
        return os.readlink(where.path, dir_fd=where.dirfd)
    except OSError as exc:
        raise kernel_error(exc) from None


def vfs_access(t: Task, dfd: int, name: bytes, mode: int, follow: bool, effective: bool) -> None:
    """access()/faccessat(): ENOENT, EACCES ... or nothing."""
    where = lookup(t, dfd, name)
    if isinstance(where, KernelPath):
        node = procfs.resolve(t, where.parts)
        if mode & 2 and node.kind == "file":
            raise KernelError(Errno.EACCES)
        return
    # The host's faccessat2 answers with the exact errno (ENOENT, EACCES, EROFS, ETXTBSY ...).
    flags = (0 if follow else AT_SYMLINK_NOFOLLOW) | (AT_EACCESS if effective else 0)
    host_syscall(_SYS_faccessat2, HOST_AT_FDCWD if where.dirfd is None else where.dirfd, where.path, mode, flags)


_SYS_faccessat2 = 439


def file_of(t: Task, dfd: int) -> File:
    """The File for `dfd` for AT_EMPTY_PATH operations (AT_FDCWD is the cwd)."""
    if dfd == -100:
        return t.fs.cwd
    return t.files.get(dfd)


def is_host_file(file: File) -> bool:
    return isinstance(file, HostFile)
