"""Copying between descriptors in the kernel: sendfile64, copy_file_range.

Counterpart: fs/read_write.c (do_sendfile, sendfile64, vfs_copy_file_range,
copy_file_range) and mm/filemap.c (generic_file_rw_checks). The descriptor and offset
checks come first, in Linux's order; between two host files the host's own sendfile
or copy_file_range then moves the data, so file positions, short counts, EOVERFLOW,
EXDEV and the rest are the host kernel's. A kernel-generated file (procfs) is read and
its bytes written, as splice from a seq_file does.
"""

from __future__ import annotations

import ctypes
import os
from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import INOUT, IntFd, SizeT, UInt, UserPtr
from sysgate.errors import KernelError
from sysgate.fs.file import FMODE_PREAD, FMODE_READ, FMODE_WRITE, MAX_RW_COUNT, File
from sysgate.fs.sys_read_write import fdget
from sysgate.host import host_check, kernel_error, libc_fn
from sysgate.mm.uaccess import copy_from_user, put_user_s64
from sysgate.syscall import syscall
from sysgate.uapi import fcntl as o
from sysgate.uapi import stat as ls
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

SendfileOff = Annotated[int, UserPtr("loff_t __user *", show="sendfile_off", direction=INOUT)]
CopyOff = Annotated[int, UserPtr("loff_t __user *", show="copy_off", direction=INOUT)]

LLONG_MAX = (1 << 63) - 1
_copy_file_range = libc_fn("copy_file_range", ctypes.c_ssize_t, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                           ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint)


def _get_loff(t: Task, ptr: int) -> int:
    return int.from_bytes(copy_from_user(t.mm, ptr, 8), "little", signed=True)


def _copy_through(t: Task, fin: File, fout: File, pos: int | None, count: int) -> int:
    """Move up to `count` bytes by reading and writing (a file with no host descriptor)."""
    if not fin.can_splice_read:
        raise KernelError(Errno.EINVAL)  # do_splice_read: no ->splice_read
    data = fin.read(t, count) if pos is None else fin.pread(t, count, pos)
    if not data:
        return 0
    n = fout.write(t, data)
    if pos is None and n < len(data):
        try:
            fin.llseek(n - len(data), o.SEEK_CUR)  # give back what was not written
        except KernelError:
            pass
    return n


def do_sendfile(t: Task, out_fd: int, in_fd: int, pos: int | None, count: int) -> int:
    """do_sendfile: the bytes moved; `pos` is the input offset when the caller gave one."""
    fin = fdget(t, in_fd)
    if not fin.f_mode & FMODE_READ:
        raise KernelError(Errno.EBADF)
    if pos is not None and not fin.f_mode & FMODE_PREAD:
        raise KernelError(Errno.ESPIPE)
    if count > LLONG_MAX:  # rw_verify_area: (ssize_t)count < 0
        raise KernelError(Errno.EINVAL)
    if pos is not None and (pos < 0 or pos + count > LLONG_MAX):
        raise KernelError(Errno.EINVAL)
    count = min(count, MAX_RW_COUNT)
    fout = fdget(t, out_fd)
    if not fout.f_mode & FMODE_WRITE:
        raise KernelError(Errno.EBADF)
    if fin.host_fd is None or fout.host_fd is None:
        return _copy_through(t, fin, fout, pos, count)
    try:
        return os.sendfile(fout.host_fd, fin.host_fd, pos, count)
    except BrokenPipeError:
        t.send_sigpipe()  # a pipe without readers: EPIPE and SIGPIPE (wait_for_space)
        raise KernelError(Errno.EPIPE) from None
    except OSError as exc:
        raise kernel_error(exc) from None


@syscall()
def sys_sendfile64(t: Task, out_fd: IntFd, in_fd: IntFd, offset: SendfileOff, count: SizeT) -> int:
    """transfer data between file descriptors"""
    if not offset:
        return do_sendfile(t, out_fd, in_fd, None, count)
    pos = _get_loff(t, offset)
    try:
        n = do_sendfile(t, out_fd, in_fd, pos, count)
    except KernelError:
        put_user_s64(t.mm, offset, pos)  # written back even on failure; EFAULT wins
        raise
    put_user_s64(t.mm, offset, pos + n)
    return n


def generic_file_rw_checks(fin: File, fout: File) -> None:
    """What copy_file_range refuses before looking at the file systems."""
    mode_in, mode_out = fin.stat().mode, fout.stat().mode
    if ls.s_isdir(mode_in) or ls.s_isdir(mode_out):
        raise KernelError(Errno.EISDIR)
    if not ls.s_isreg(mode_in) or not ls.s_isreg(mode_out):
        raise KernelError(Errno.EINVAL)
    if not fin.f_mode & FMODE_READ or not fout.f_mode & FMODE_WRITE or fout.f_flags & o.O_APPEND:
        raise KernelError(Errno.EBADF)


def _host_copy_file_range(fd_in: int, pos_in: int | None, fd_out: int, pos_out: int | None, length: int) -> int:
    if _copy_file_range is None:
        try:
            return os.copy_file_range(fd_in, fd_out, min(length, LLONG_MAX), pos_in, pos_out)
        except OSError as exc:
            raise kernel_error(exc) from None
    off_in = None if pos_in is None else ctypes.byref(ctypes.c_int64(pos_in))
    off_out = None if pos_out is None else ctypes.byref(ctypes.c_int64(pos_out))
    return host_check(_copy_file_range(fd_in, off_in, fd_out, off_out, length, 0))


@syscall()
def sys_copy_file_range(t: Task, fd_in: IntFd, off_in: CopyOff, fd_out: IntFd, off_out: CopyOff,
                        len: SizeT, flags: UInt) -> int:  # noqa: A002
    """copy a range of data from one file to another"""
    fin = fdget(t, fd_in)
    fout = fdget(t, fd_out)
    pos_in = _get_loff(t, off_in) if off_in else None
    pos_out = _get_loff(t, off_out) if off_out else None
    if flags:
        raise KernelError(Errno.EINVAL)
    if fin.host_fd is None or fout.host_fd is None:
        generic_file_rw_checks(fin, fout)
        raise KernelError(Errno.EXDEV)  # the kernel's own files are another file system
    n = _host_copy_file_range(fin.host_fd, pos_in, fout.host_fd, pos_out, len)
    if n > 0:
        fault = False
        for ptr, pos in ((off_in, pos_in), (off_out, pos_out)):
            if ptr and pos is not None:
                try:
                    put_user_s64(t.mm, ptr, pos + n)
                except KernelError:
                    fault = True
        if fault:
            raise KernelError(Errno.EFAULT)
    return n
