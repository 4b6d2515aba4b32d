"""A root folder the guest cannot leave (sysgate run --root DIR): the task's `/`.

Counterpart: fs/open.c (chroot: fs_struct.root) and fs/d_path.c (paths as seen from a
task's root). A Root holds the folder by an O_PATH descriptor, turns host paths into the
guest's, and walks the guest's paths inside itself with sysgate.fs.rootwalk, whose
docstring says how nothing can leave it. It also gives sysgate itself (before a program
runs, or to explain why it did not) a view of a path inside the folder.
"""

from __future__ import annotations

import os
import stat as host_stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sysgate.errors import KernelError, SysgateError
from sysgate.fs.hostopen import host_openat2
from sysgate.fs.rootwalk import Walk
from sysgate.host import fd_path
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import RESOLVE_IN_ROOT

if TYPE_CHECKING:
    from sysgate.fs.namei import Lookup
    from sysgate.kernel.task import Task


def check_root_dir(path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> str:
    """The absolute host path of a root folder, or a SysgateError saying why it cannot be one."""
    name = os.fsdecode(path)
    try:
        st = os.stat(name)
    except OSError as exc:
        raise SysgateError(f"root folder {name}: {exc.strerror}", 2) from None
    if not host_stat.S_ISDIR(st.st_mode):
        raise SysgateError(f"root folder {name}: Not a directory", 2)
    return os.path.realpath(name)


class Root:
    """The folder a guest sees as `/` (fs_struct.root), held by an O_PATH descriptor."""

    def __init__(self, path: str) -> None:
        try:
            self.fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise SysgateError(f"root folder {path}: {exc.strerror}", 2) from None
        st = os.fstat(self.fd)
        self.st = st
        self.ident = (st.st_dev, st.st_ino)
        self.host = fd_path(self.fd) or path
        """The folder's host path, which every host path inside it starts with."""

    @property
    def host_fd(self) -> int:
        """The host descriptor of the folder (as File.host_fd names a file's)."""
        return self.fd

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    # -- host paths and guest paths ---------------------------------------------------

    def guest_path(self, host: str) -> str | None:
        """The path the guest sees for a host path (d_path from the task's root), or None
        if the host path is not inside the root."""
        if self.host == "/":
            return host
        if host == self.host:
            return "/"
        if host.startswith(self.host + "/"):
            return host[len(self.host):]
        if host == self.host + " (deleted)":
            return "/ (deleted)"
        return None

    def contains(self, fd: int) -> bool:
        """Whether a host descriptor's file is inside the root now."""
        path = fd_path(fd)
        return path is not None and self.guest_path(path) is not None

    def dev_ident(self) -> tuple[int, int] | None:
        """(st_dev, st_ino) of the folder's own /dev directory, if it has one."""
        try:
            fd = os.open(b"dev", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=self.fd)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
        finally:
            os.close(fd)
        return st.st_dev, st.st_ino

    @contextmanager
    def host_view(self, path: bytes) -> Iterator[bytes]:
        """A host path naming what `path` names inside the root (a /proc/self/fd link),
        or b"" if nothing is there: for sysgate's own checks of a program that did not
        start (is it a directory, a dangling link, a program for another machine?)."""
        fd = -1
        for flags in (0, os.O_NOFOLLOW):
            try:
                fd = host_openat2(self.fd, path, os.O_PATH | os.O_CLOEXEC | flags, 0, RESOLVE_IN_ROOT)
                break
            except KernelError:
                continue
        try:
            yield b"/proc/self/fd/%d" % fd if fd >= 0 else b""
        finally:
            if fd >= 0:
                os.close(fd)

    def find_program(self, name: bytes, search: bytes) -> bytes | None:
        """execvp's search inside the root: the first PATH entry holding an executable
        file `name` (what shutil.which does on the host)."""
        for entry in search.split(b":"):
            candidate = (entry or b".").rstrip(b"/") + b"/" + name
            with self.host_view(candidate) as probe:
                if probe and os.path.isfile(probe) and os.access(probe, os.X_OK):
                    return candidate
        return None

    # -- the walk -----------------------------------------------------------------

    def walk(self, t: Task, dfd: int, name: bytes, *, follow: bool, create: bool, parent: bool,
             resolve: int = 0, busy: Errno = Errno.EBUSY) -> Lookup:
        """Resolve `name` (relative to `dfd`) inside the root; see the module docstring.

        `follow`: a final symbolic link is followed. `create`: a missing last name is not
        an error (its parent and the name are returned, to create it). `parent`: stop
        before the last name, which is returned as given (mkdir, unlink, rename ...);
        naming a kernel mount point (/proc, /dev/null ...) then gives `busy`.
        `resolve` holds openat2's RESOLVE_* flags.
        """
        w = Walk(t, self, resolve)
        try:
            return w.run(dfd, name, follow, create, parent, busy)
        finally:
            w.close_unkept()


