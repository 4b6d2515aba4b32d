"""The file-descriptor table of a process.

Counterpart: fs/file.c (struct files_struct, alloc_fd, close_fd, do_dup2). Descriptors
are allocated lowest-free-first below RLIMIT_NOFILE; FD_CLOEXEC belongs to the
descriptor, the offset and status flags to the shared File.
"""

from __future__ import annotations

from sysgate.errors import KernelError
from sysgate.fs.file import File
from sysgate.uapi.errno import Errno

NR_OPEN = 1024 * 1024
"""fs/file.c: sysctl_nr_open, the ceiling for RLIMIT_NOFILE."""


class FdTable:
    """fd -> File, with close-on-exec bits."""

    def __init__(self) -> None:
        self.files: dict[int, File] = {}
        self.cloexec: set[int] = set()
        self.refs = 1  # tasks sharing this table (CLONE_FILES)

    def get(self, fd: int) -> File:
        """The File behind `fd`, or EBADF (fdget)."""
        try:
            return self.files[fd]
        except KeyError:
            raise KernelError(Errno.EBADF) from None

    def lookup(self, fd: int) -> File | None:
        return self.files.get(fd)

    def alloc_fd(self, start: int, nofile: int) -> int:
        """The lowest free descriptor >= start, below `nofile`, or EMFILE (alloc_fd)."""
        fd = start
        while fd in self.files:
            fd += 1
        if fd >= nofile:
            raise KernelError(Errno.EMFILE)
        return fd

    def install(self, fd: int, file: File, cloexec: bool) -> int:
        """Put `file` at `fd` (which must be free), taking a reference."""
        self.files[fd] = file.get()
        if cloexec:
            self.cloexec.add(fd)
        else:
            self.cloexec.discard(fd)
        return fd

    def add(self, file: File, nofile: int, cloexec: bool = False, start: int = 0) -> int:
        """Install at the lowest free descriptor: what open() does."""
        return self.install(self.alloc_fd(start, nofile), file, cloexec)

    def replace(self, fd: int, file: File, cloexec: bool) -> None:
        """Install at `fd`, closing what was there (do_dup2)."""
        old = self.files.get(fd)
        self.install(fd, file, cloexec)
        if old is not None:
            old.put()

    def close(self, fd: int) -> None:
        """Close `fd`, or EBADF (close_fd)."""
        file = self.files.pop(fd, None)
        if file is None:
            raise KernelError(Errno.EBADF)
        self.cloexec.discard(fd)
        file.put()

    def close_on_exec(self) -> None:
        """Close every FD_CLOEXEC descriptor (do_close_on_exec)."""
        for fd in sorted(self.cloexec):
            self.close(fd)

    def close_all(self) -> None:
        for fd in sorted(self.files):
            self.close(fd)

    def copy(self) -> FdTable:
        """A new table with the same Files (dup_fd, for fork without CLONE_FILES)."""
        new = FdTable()
        for fd, file in self.files.items():
            new.install(fd, file, fd in self.cloexec)
        return new
