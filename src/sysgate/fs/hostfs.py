"""Files that live on the host: regular files, directories, devices, ttys, host pipes.

Counterpart: the file_operations of a real file system (fs/ext4/file.c, fs/ext4/dir.c,
drivers/tty). A HostFile owns one host descriptor; its offset, O_APPEND and
O_NONBLOCK are the host's, so dup'd guest descriptors share them as on Linux. Host
errors come back as Linux errnos through sysgate.host.

A file opened inside a root folder knows that root (HostFile.root): its d_path is the
path the guest sees, and the root's /dev lists the kernel's device nodes too.

Waiting: a read or write that would block on a descriptor shared with host processes
(a terminal, a pipe or socket sysgate inherited as stdin/stdout/stderr, a device)
must not block sysgate, which runs every guest task. Before a blocking read the
descriptor is polled with timeout 0 and, if not ready, the task waits for it
(wait_host_fd) and the call is run again. Writes to pipes use RWF_NOWAIT, so a full
pipe also makes the task wait (and a blocking write still writes everything, as
pipe_write does); writes to terminals and other devices are polled first, and a
write larger than the room the device has left can still block sysgate briefly.
Regular files, directories and block devices never wait, as in Linux. Pipes and
FIFOs sysgate makes itself are fs/pipe.py's PipeFile, whose host descriptor is
always O_NONBLOCK.
"""

from __future__ import annotations

import fcntl as host_fcntl
import os
import select
import stat as host_stat
import sys
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.fs.file import (
    DEFAULT_POLLMASK,
    FMODE_LSEEK,
    FMODE_PREAD,
    FMODE_PWRITE,
    RWF_NOWAIT,
    Dirent,
    File,
    Kstat,
    PollWait,
)
from sysgate.host import fd_path, kernel_error, open_flags_to_host
from sysgate.kernel.wait import signal_pending, wait_host_fd
from sysgate.mm.vma import MappedFile
from sysgate.uapi import stat as ls
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import (
    O_APPEND,
    O_DIRECT,
    O_NOATIME,
    O_NONBLOCK,
    SEEK_CUR,
    SEEK_END,
    SEEK_SET,
)

if TYPE_CHECKING:
    from sysgate.fs.root import Root
    from sysgate.kernel.task import Task

# Terminal ioctls forwarded to a host tty (include/uapi/asm-generic/ioctls.h). On a
# Linux host the request numbers and structs are the guest's own.
TCGETS, TCSETS, TCSETSW, TCSETSF = 0x5401, 0x5402, 0x5403, 0x5404
TIOCGPGRP, TIOCSPGRP, TIOCGWINSZ, TIOCSWINSZ = 0x540F, 0x5410, 0x5413, 0x5414
FIONREAD = 0x541B
TTY_IOCTL_SIZES = {TCGETS: 36, TCSETS: 36, TCSETSW: 36, TCSETSF: 36, TIOCGWINSZ: 8,
                   TIOCSWINSZ: 8, TIOCGPGRP: 4, TIOCSPGRP: 4}
TTY_IOCTL_OUT = {TCGETS, TIOCGWINSZ, TIOCGPGRP}

MEM_MAJOR = 1
"""drivers/char/mem.c's major number: /dev/null, /dev/zero, /dev/full, /dev/random, /dev/urandom."""
POLL_ALL = (select.POLLIN | select.POLLPRI | select.POLLOUT | select.POLLRDNORM | select.POLLRDBAND
            | select.POLLWRNORM | select.POLLWRBAND | select.POLLMSG | getattr(select, "POLLRDHUP", 0x2000))
"""Every event a host poll can report; on a Linux host the bits are the guest's own."""
HOST_RWF_NOWAIT = getattr(os, "RWF_NOWAIT", 0)


def host_poll(fd: int, events: int = POLL_ALL) -> int:
    """The host's current poll mask of `fd` (a poll with timeout 0)."""
    p = select.poll()
    p.register(fd, events)
    try:
        ready = p.poll(0)
    except OSError as exc:
        raise kernel_error(exc) from None
    return ready[0][1] if ready else 0


def call_data(t: Task) -> dict[str, object]:
    """The progress a waiting call keeps across its runs (kernel.wait.CallState.data)."""
    return t.call_state().data


def kstat_from_host(st: os.stat_result) -> Kstat:
    """A Kstat from a host stat result (st_dev is already in the kernel's encoding on Linux)."""
    return Kstat(
        dev=st.st_dev, ino=st.st_ino, mode=st.st_mode, nlink=st.st_nlink, uid=st.st_uid,
        gid=st.st_gid, rdev=st.st_rdev, size=st.st_size, blksize=st.st_blksize,
        blocks=st.st_blocks, atime_ns=st.st_atime_ns, mtime_ns=st.st_mtime_ns,
        ctime_ns=st.st_ctime_ns,
    )


class HostFile(File):
    """A File over a host descriptor."""

    def __init__(self, hostfd: int, flags: int, path: str, root: Root | None = None) -> None:
        super().__init__(flags, path)
        self.fd = hostfd
        self.root = root  # the root folder it was opened in (None: the host's /)
        st = os.fstat(hostfd)
        self._mode = st.st_mode
        if host_stat.S_ISREG(st.st_mode) or host_stat.S_ISBLK(st.st_mode) or host_stat.S_ISDIR(st.st_mode):
            self.f_mode |= FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE
        elif host_stat.S_ISCHR(st.st_mode):
            self.f_mode |= FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE
        self._mapping: MappedFile | None = None
        self._entries: list[Dirent] | None = None
        self._dir_pos = 0
        # Reads and writes that can wait: pipes, FIFOs, sockets, terminals and devices
        # (not the memory devices, major 1: /dev/null, zero, full, random, urandom never do).
        self.waits = host_stat.S_IFMT(st.st_mode) in (host_stat.S_IFIFO, host_stat.S_IFSOCK) or (
            host_stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) != MEM_MAJOR)
        self.host_nonblock = False  # PipeFile: the host fd is always O_NONBLOCK, the guest's flag is f_flags
        self._can_poll: bool | None = None

    def release(self) -> None:
        if self._mapping is not None:
            self._mapping.put()
        os.close(self.fd)

    @property
    def host_fd(self) -> int:
        return self.fd

    def d_path(self) -> str:
        """The host's d_path of the same file: renames and unlinks since open show.
        Inside a root folder, the path from that root, as d_path gives it to a chrooted
        task (a file outside the root keeps its whole path, as Linux shows it)."""
        path = fd_path(self.fd)
        if path is None:
            return self.path
        if self.root is not None:
            return self.root.guest_path(path) or path
        return path

    @property
    def nonblock(self) -> bool:
        """The guest's O_NONBLOCK."""
        return bool(self.f_flags & O_NONBLOCK)

    def read(self, t: Task, count: int) -> bytes:
        if self.waits:
            return self.read_waiting(t, count, self.nonblock)
        try:
            return os.read(self.fd, count)
        except OSError as exc:
            raise kernel_error(exc) from None

    def read_waiting(self, t: Task, count: int, nonblock: bool) -> bytes:
        """A read that waits (for a blocking file) instead of blocking sysgate."""
        if not self.host_nonblock and not host_poll(self.fd, select.POLLIN | select.POLLPRI):
            if nonblock:
                raise KernelError(Errno.EAGAIN)
            wait_host_fd(t, self.fd, select.POLLIN)
        try:
            return os.read(self.fd, count)
        except BlockingIOError:
            if nonblock:
                raise KernelError(Errno.EAGAIN) from None
            wait_host_fd(t, self.fd, select.POLLIN)
        except OSError as exc:
            raise kernel_error(exc) from None

    def write(self, t: Task, data: bytes) -> int:
        if self.waits:
            return self.write_waiting(t, data, self.nonblock)
        try:
            return os.write(self.fd, data)
        except BrokenPipeError:
            # A write to a pipe with no reader: EPIPE, and SIGPIPE (pipe_write).
            t.send_sigpipe()
            raise KernelError(Errno.EPIPE) from None
        except OSError as exc:
            raise kernel_error(exc) from None

    def _write_once(self, data: bytes) -> int:
        """One write that never blocks sysgate, or BlockingIOError."""
        if self.host_nonblock:
            return os.write(self.fd, data)
        if self.is_pipe and HOST_RWF_NOWAIT:
            try:
                return os.pwritev(self.fd, [data], -1, HOST_RWF_NOWAIT)
            except OSError as exc:
                if exc.errno not in (95, 22):  # EOPNOTSUPP, EINVAL: a host without it
                    raise
        if not host_poll(self.fd, select.POLLOUT):
            raise BlockingIOError
        return os.write(self.fd, data)

    def write_waiting(self, t: Task, data: bytes, nonblock: bool) -> int:
        """pipe_write's rules: a blocking write writes everything before it returns
        (the count so far is kept across the waits), a signal after some progress returns
        that count, no reader gives SIGPIPE and EPIPE (or the count). Writes of at most
        PIPE_BUF bytes are atomic: the host writes them whole or not at all."""
        if not data:
            return 0  # pipe_write: nothing to write is no write, even without readers
        state = call_data(t) if not nonblock else {}
        done = state.get("written", 0)
        assert isinstance(done, int)
        while done < len(data):
            try:
                n = self._write_once(data[done:])
            except BlockingIOError:
                if nonblock:
                    if done:
                        return done
                    raise KernelError(Errno.EAGAIN) from None
                if done and signal_pending(t):
                    return done
                state["written"] = done
                wait_host_fd(t, self.fd, select.POLLOUT)
            except BrokenPipeError:
                t.send_sigpipe()
                if done:
                    return done
                raise KernelError(Errno.EPIPE) from None
            except OSError as exc:
                if done:
                    return done
                raise kernel_error(exc) from None
            done += n
            if nonblock:
                break
        return done

    # -- readiness ----------------------------------------------------------------

    def poll(self, t: Task | None) -> int:
        if not self.waits:
            return DEFAULT_POLLMASK  # regular files, directories, block devices: always ready
        return host_poll(self.fd)

    def poll_wait(self) -> PollWait:
        if not self.waits:
            return [], []
        return [], [(self.fd, select.POLLIN | select.POLLPRI | select.POLLOUT)]

    @property
    def can_poll(self) -> bool:
        """Whether the host file has a ->poll: the host's epoll_ctl answers (EPERM if not)."""
        if self._can_poll is None:
            self._can_poll = self.waits and _host_can_poll(self.fd)
        return self._can_poll

    def pread(self, t: Task, count: int, pos: int) -> bytes:
        if not self.f_mode & FMODE_PREAD:
            raise KernelError(Errno.ESPIPE)
        try:
            return os.pread(self.fd, count, pos)
        except OSError as exc:
            raise kernel_error(exc) from None

    def pwrite(self, t: Task, data: bytes, pos: int) -> int:
        if not self.f_mode & FMODE_PWRITE:
            raise KernelError(Errno.ESPIPE)
        try:
            return os.pwrite(self.fd, data, pos)
        except OSError as exc:
            raise kernel_error(exc) from None

    def read_flags(self, t: Task, count: int, pos: int | None, flags: int) -> bytes:
        if self.is_pipe and pos is None:
            return self.read_waiting(t, count, self.nonblock or bool(flags & RWF_NOWAIT))
        # The host's preadv2 applies the RWF_* flags exactly (pos -1: the file offset).
        buf = bytearray(count)
        try:
            n = os.preadv(self.fd, [buf], -1 if pos is None else pos, flags)
        except OSError as exc:
            raise kernel_error(exc) from None
        return bytes(buf[:n])

    def write_flags(self, t: Task, data: bytes, pos: int | None, flags: int) -> int:
        if self.is_pipe and pos is None:
            return self.write_waiting(t, data, self.nonblock or bool(flags & RWF_NOWAIT))
        try:
            return os.pwritev(self.fd, [data], -1 if pos is None else pos, flags)
        except BrokenPipeError:
            t.send_sigpipe()
            raise KernelError(Errno.EPIPE) from None
        except OSError as exc:
            raise kernel_error(exc) from None

    def llseek(self, offset: int, whence: int) -> int:
        if self.is_dir:
            return self.dir_llseek(offset, whence)
        host_whence = {SEEK_SET: os.SEEK_SET, SEEK_CUR: os.SEEK_CUR, SEEK_END: os.SEEK_END}.get(whence)
        if host_whence is None:
            host_whence = {3: getattr(os, "SEEK_DATA", -1), 4: getattr(os, "SEEK_HOLE", -1)}.get(whence, -1)
            if host_whence < 0:
                raise KernelError(Errno.EINVAL)
        try:
            return os.lseek(self.fd, offset, host_whence)
        except OSError as exc:
            raise kernel_error(exc) from None

    def stat(self) -> Kstat:
        try:
            return kstat_from_host(os.fstat(self.fd))
        except OSError as exc:
            raise kernel_error(exc) from None

    def ioctl(self, t: Task, cmd: int, arg: int) -> int:
        from sysgate.mm.uaccess import copy_from_user, copy_to_user

        size = TTY_IOCTL_SIZES.get(cmd)
        if size is None or sys.platform != "linux" or not os.isatty(self.fd):
            raise KernelError(Errno.ENOTTY)
        buf = bytearray(size) if cmd in TTY_IOCTL_OUT else bytearray(copy_from_user(t.mm, arg, size))
        try:
            host_fcntl.ioctl(self.fd, cmd, buf)
        except OSError as exc:
            raise kernel_error(exc) from None
        if cmd in TTY_IOCTL_OUT:
            copy_to_user(t.mm, arg, bytes(buf))
        return 0

    def readable_bytes(self) -> int:
        if host_stat.S_ISREG(self._mode):
            # file_ioctl: i_size - f_pos stored as an int, negative past the end of the file.
            left = (os.fstat(self.fd).st_size - os.lseek(self.fd, 0, os.SEEK_CUR)) & 0xFFFFFFFF
            return left - (1 << 32) if left >> 31 else left
        buf = bytearray(4)
        try:
            host_fcntl.ioctl(self.fd, FIONREAD, buf)
        except OSError as exc:
            raise kernel_error(exc) from None
        return int.from_bytes(buf, "little", signed=True)

    def fsync(self, datasync: bool) -> None:
        try:
            (os.fdatasync if datasync else os.fsync)(self.fd)
        except OSError as exc:
            raise kernel_error(exc) from None

    def truncate(self, length: int) -> None:
        if not host_stat.S_ISREG(self._mode):
            raise KernelError(Errno.EINVAL)
        try:
            os.ftruncate(self.fd, length)
        except OSError as exc:
            raise kernel_error(exc) from None

    def allocate(self, mode: int, offset: int, length: int) -> None:
        if mode != 0:
            raise KernelError(Errno.EOPNOTSUPP)
        if not host_stat.S_ISREG(self._mode):
            raise KernelError(Errno.ENODEV)
        try:
            os.posix_fallocate(self.fd, offset, length)
        except OSError as exc:
            raise kernel_error(exc) from None

    def set_status_flags(self, flags: int) -> None:
        super().set_status_flags(flags)
        changeable = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME
        host = host_fcntl.fcntl(self.fd, host_fcntl.F_GETFL)
        host &= ~open_flags_to_host(changeable)
        host |= open_flags_to_host(flags & changeable) & ~os.O_ACCMODE
        try:
            host_fcntl.fcntl(self.fd, host_fcntl.F_SETFL, host)
        except OSError as exc:
            raise kernel_error(exc) from None

    def mapping(self) -> MappedFile:
        if not host_stat.S_ISREG(self._mode):
            raise KernelError(Errno.ENODEV)
        if self._mapping is None:
            self._mapping = MappedFile(self.fd, self.path, writable=bool(self.f_mode & 0x2), host_named=True,
                                       root=self.root).get()
        return self._mapping

    @property
    def is_dir(self) -> bool:
        return host_stat.S_ISDIR(self._mode)

    @property
    def is_pipe(self) -> bool:
        return host_stat.S_ISFIFO(self._mode)

    # -- directories --------------------------------------------------------------

    def getdents(self) -> list[Dirent]:
        if not self.is_dir:
            raise KernelError(Errno.ENOTDIR)
        if self._entries is None or self._dir_pos == 0:
            self._entries = self._scan()
        return self._entries[self._dir_pos :]

    def seek_dir(self, off: int) -> None:
        self._dir_pos = off

    def _scan(self) -> list[Dirent]:
        """Snapshot the directory: ".", "..", then the host's entries, offsets 1, 2, ..."""
        try:
            me = os.fstat(self.fd)
            parent = os.stat("..", dir_fd=self.fd)
            entries = [(b".", me.st_ino, ls.DT_DIR), (b"..", parent.st_ino, ls.DT_DIR)]
            with os.scandir(self.fd) as it:
                for entry in it:
                    entries.append((os.fsencode(entry.name), entry.inode(), _dtype(entry)))
        except OSError as exc:
            raise kernel_error(exc) from None
        if self.root is not None and self.root.dev_ident() == (me.st_dev, me.st_ino):
            # The root's /dev: the kernel's nodes are there, over any of the same name.
            from sysgate.drivers import devtmpfs

            entries = [e for e in entries if e[0] not in devtmpfs.NODES] + devtmpfs.entries()
        return [Dirent(ino, i + 1, typ, name) for i, (name, ino, typ) in enumerate(entries)]

    def dir_llseek(self, offset: int, whence: int) -> int:
        """lseek on a directory moves the getdents position (generic_file_llseek)."""
        if whence == SEEK_SET:
            pos = offset
        elif whence == SEEK_CUR:
            pos = self._dir_pos + offset
        else:
            raise KernelError(Errno.EINVAL)
        if pos < 0:
            raise KernelError(Errno.EINVAL)
        self._dir_pos = pos
        return pos


def _host_can_poll(fd: int) -> bool:
    ep = select.epoll()
    try:
        ep.register(fd, select.EPOLLIN)
    except OSError:
        return False
    finally:
        ep.close()
    return True


def _dtype(entry: os.DirEntry[str]) -> int:
    try:
        if entry.is_symlink():
            return ls.DT_LNK
        if entry.is_dir(follow_symlinks=False):
            return ls.DT_DIR
        if entry.is_file(follow_symlinks=False):
            return ls.DT_REG
        return ls.dt_type(entry.stat(follow_symlinks=False).st_mode)
    except OSError:
        return ls.DT_UNKNOWN
