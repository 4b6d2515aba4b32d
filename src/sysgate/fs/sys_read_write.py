"""Reading and writing: read, write, readv, writev, pread64, pwrite64, preadv, pwritev,
preadv2, pwritev2, lseek.

Counterpart: fs/read_write.c and lib/iov_iter.c (import_iovec). The checks come in
Linux's order (EBADF for the descriptor and its mode, EINVAL, then EFAULT for the
buffer range), counts are capped at MAX_RW_COUNT, and a buffer that runs into a bad
page transfers the bytes before it, as Linux's copy loops do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from sysgate.arch.x86_64.structs import IOVEC
from sysgate.argtypes import IN, INOUT, Arg, BufIn, BufOut, Fd, LoffT, OffT, SizeT, ULong, UserPtr
from sysgate.errors import KernelError
from sysgate.fs.file import FMODE_PATH, FMODE_PREAD, FMODE_PWRITE, FMODE_READ, FMODE_WRITE, MAX_RW_COUNT, File
from sysgate.mm.physmem import PAGE_SIZE
from sysgate.mm.uaccess import access_ok, copy_from_user, copy_to_user, readable_prefix, writable_prefix
from sysgate.syscall import syscall
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import SEEK_HOLE

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

IovIn = Annotated[int, UserPtr("const struct iovec __user *", show="iovec", direction=IN, size="vlen")]
IovOut = Annotated[int, UserPtr("const struct iovec __user *", show="iovec", direction=INOUT, size="vlen")]
Whence = Annotated[int, Arg("unsigned int", 32, show="whence")]
RwfFlags = Annotated[int, Arg("rwf_t", 32, True, show="rwf")]
VecFd = Annotated[int, Arg("unsigned long", show="fd")]
PosL = Annotated[int, Arg("unsigned long", show="lld")]
"""The low word of a p*v offset: on x86-64 the whole offset, which strace prints signed."""
PosH = Annotated[int, Arg("unsigned long", show="omit")]
"""The high word of a p*v offset: unused on x86-64, and strace does not print it."""
UIO_MAXIOV = 1024
RWF_SUPPORTED = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x40
RWF_APPEND, RWF_NOAPPEND, RWF_ATOMIC = 0x10, 0x20, 0x40


def fdget(t: Task, fd: int) -> File:
    """The File of `fd` for I/O: O_PATH descriptors do not count (fdget)."""
    file = t.files.get(fd)
    if file.f_mode & FMODE_PATH:
        raise KernelError(Errno.EBADF)
    return file


def pipe_prefix(reachable: int, wanted: int) -> int:
    """What a pipe transfers when only `reachable` of `wanted` bytes of the buffer can be
    touched: pipe_read and pipe_write copy whole pipe buffers (pages), and a buffer copied
    in part is not transferred, so the count stops at the last whole page (EFAULT if none).
    With the host holding the pipe, its buffers are taken to be page-sized.
    """
    if reachable >= wanted:
        return wanted
    whole = reachable - reachable % PAGE_SIZE
    if not whole:
        raise KernelError(Errno.EFAULT)
    return whole


def vfs_read(t: Task, f: File, buf: int, count: int, pos: int | None) -> int:
    """Read into user memory (vfs_read): `pos` None means the file's own offset."""
    if not f.f_mode & FMODE_READ:
        raise KernelError(Errno.EBADF)
    if not access_ok(buf, count):
        raise KernelError(Errno.EFAULT)
    count = min(count, MAX_RW_COUNT)
    reachable = writable_prefix(t.mm, buf, count)
    if f.is_pipe and reachable < count:
        reachable = pipe_prefix(reachable, min(count, f.readable_bytes()))
    data = f.read(t, reachable) if pos is None else f.pread(t, reachable, pos)
    copy_to_user(t.mm, buf, data)
    return len(data)


def vfs_write(t: Task, f: File, buf: int, count: int, pos: int | None) -> int:
    """Write from user memory (vfs_write)."""
    if not f.f_mode & FMODE_WRITE:
        raise KernelError(Errno.EBADF)
    if not access_ok(buf, count):
        raise KernelError(Errno.EFAULT)
    count = min(count, MAX_RW_COUNT)
    reachable = readable_prefix(t.mm, buf, count)
    if f.is_pipe:
        reachable = pipe_prefix(reachable, count)
    data = copy_from_user(t.mm, buf, reachable)
    return f.write(t, data) if pos is None else f.pwrite(t, data, pos)


@syscall()
def sys_read(t: Task, fd: Fd, buf: BufOut, count: SizeT) -> int:
    """read from a file descriptor"""
    return vfs_read(t, fdget(t, fd), buf, count, None)


@syscall()
def sys_write(t: Task, fd: Fd, buf: BufIn, count: SizeT) -> int:
    """write to a file descriptor"""
    return vfs_write(t, fdget(t, fd), buf, count, None)


@syscall()
def sys_pread64(t: Task, fd: Fd, buf: BufOut, count: SizeT, pos: LoffT) -> int:
    """read from a file descriptor at a given offset"""
    if pos < 0:
        raise KernelError(Errno.EINVAL)
    f = fdget(t, fd)
    if not f.f_mode & FMODE_PREAD:
        raise KernelError(Errno.ESPIPE)
    return vfs_read(t, f, buf, count, pos)


@syscall()
def sys_pwrite64(t: Task, fd: Fd, buf: BufIn, count: SizeT, pos: LoffT) -> int:
    """write to a file descriptor at a given offset"""
    if pos < 0:
        raise KernelError(Errno.EINVAL)
    f = fdget(t, fd)
    if not f.f_mode & FMODE_PWRITE:
        raise KernelError(Errno.ESPIPE)
    return vfs_write(t, f, buf, count, pos)


def import_iovec(t: Task, vec: int, vlen: int) -> list[tuple[int, int]]:
    """The (base, len) segments of a user iovec array, checked and capped (import_iovec)."""
    nr = vlen & 0xFFFFFFFF
    if nr > UIO_MAXIOV:
        raise KernelError(Errno.EINVAL)
    raw = copy_from_user(t.mm, vec, nr * IOVEC.size)
    # copy_iovec_from_user: a length that does not fit ssize_t is EINVAL, in any segment,
    # before any base is checked.
    if any(length >> 63 for _, length in IOVEC.iter_unpack(raw)):
        raise KernelError(Errno.EINVAL)
    segs = []
    total = 0
    for base, length in IOVEC.iter_unpack(raw):
        if nr == 1:
            length = min(length, MAX_RW_COUNT)
        if not access_ok(base, length):
            raise KernelError(Errno.EFAULT)
        length = min(length, MAX_RW_COUNT - total)
        total += length
        segs.append((base, length))
    return segs


def _prefix(t: Task, segs: list[tuple[int, int]], access: int) -> list[tuple[int, int]]:
    """The segments up to the first byte the kernel cannot reach (a short transfer)."""
    out = []
    for base, length in segs:
        n = t.mm.accessible(base, length, access)
        if n:
            out.append((base, n))
        if n < length:
            break
    if not out and any(length for _, length in segs):
        raise KernelError(Errno.EFAULT)
    return out


def _trim(segs: list[tuple[int, int]], limit: int) -> list[tuple[int, int]]:
    out = []
    for base, n in segs:
        if limit <= 0:
            break
        out.append((base, min(n, limit)))
        limit -= n
    return out


def _rwf(flags: int) -> None:
    """The checks of kiocb_set_rw_flags."""
    if flags & ~RWF_SUPPORTED:
        raise KernelError(Errno.EOPNOTSUPP)
    if flags & RWF_APPEND and flags & RWF_NOAPPEND:
        raise KernelError(Errno.EINVAL)
    if flags & RWF_ATOMIC:
        raise KernelError(Errno.EOPNOTSUPP)  # reads never; no file here has FMODE_CAN_ATOMIC_WRITE


def do_readv(t: Task, f: File, vec: int, vlen: int, pos: int | None, flags: int = 0) -> int:
    if not f.f_mode & FMODE_READ:
        raise KernelError(Errno.EBADF)
    segs = import_iovec(t, vec, vlen)
    wanted = sum(n for _, n in segs)
    if not wanted:
        return 0
    _rwf(flags)  # kiocb_set_rw_flags, in do_iter_readv_writev: after the iovec is imported
    segs = _prefix(t, segs, 2)
    reachable = sum(n for _, n in segs)
    if f.is_pipe and reachable < wanted:
        segs = _trim(segs, pipe_prefix(reachable, min(wanted, f.readable_bytes())))
    total = sum(n for _, n in segs)
    if flags:
        data = f.read_flags(t, total, pos, flags)
    else:
        data = f.read(t, total) if pos is None else f.pread(t, total, pos)
    done = 0
    for base, n in segs:
        if done >= len(data):
            break
        copy_to_user(t.mm, base, data[done : done + n])
        done += n
    return len(data)


def do_writev(t: Task, f: File, vec: int, vlen: int, pos: int | None, flags: int = 0) -> int:
    if not f.f_mode & FMODE_WRITE:
        raise KernelError(Errno.EBADF)
    segs = import_iovec(t, vec, vlen)
    wanted = sum(n for _, n in segs)
    if not wanted:
        return 0
    _rwf(flags)  # kiocb_set_rw_flags, in do_iter_readv_writev: after the iovec is imported
    segs = _prefix(t, segs, 1)
    if f.is_pipe:
        segs = _trim(segs, pipe_prefix(sum(n for _, n in segs), wanted))
    data = b"".join(copy_from_user(t.mm, base, n) for base, n in segs)
    if flags:
        return f.write_flags(t, data, pos, flags)
    return f.write(t, data) if pos is None else f.pwrite(t, data, pos)


@syscall()
def sys_readv(t: Task, fd: VecFd, vec: IovOut, vlen: ULong) -> int:
    """read data into multiple buffers"""
    return do_readv(t, fdget(t, fd & 0xFFFFFFFF), vec, vlen, None)


@syscall()
def sys_writev(t: Task, fd: VecFd, vec: IovIn, vlen: ULong) -> int:
    """write data from multiple buffers"""
    return do_writev(t, fdget(t, fd & 0xFFFFFFFF), vec, vlen, None)


def _positioned(t: Task, fd: int, pos: int, write: bool) -> File:
    if pos < 0:
        raise KernelError(Errno.EINVAL)
    f = fdget(t, fd & 0xFFFFFFFF)
    if not f.f_mode & (FMODE_PWRITE if write else FMODE_PREAD):
        raise KernelError(Errno.ESPIPE)
    return f


def pos_from_hilo(high: int, low: int) -> int:
    """The offset preadv/pwritev pass in two registers: on a 64-bit ABI all of it is in `low`."""
    return low - (1 << 64) if low >> 63 else low


def _target(t: Task, fd: int, pos: int, write: bool, with_flags: bool) -> tuple[File, int | None]:
    """The file and position of a p*v call; preadv2/pwritev2 take -1 as "the file offset"."""
    if with_flags and pos == -1:
        return fdget(t, fd & 0xFFFFFFFF), None
    return _positioned(t, fd, pos, write), pos


@syscall()
def sys_preadv(t: Task, fd: VecFd, vec: IovOut, vlen: ULong, pos_l: PosL, pos_h: PosH) -> int:
    """read data into multiple buffers at a given offset"""
    f, pos = _target(t, fd, pos_from_hilo(pos_h, pos_l), False, False)
    return do_readv(t, f, vec, vlen, pos)


@syscall()
def sys_pwritev(t: Task, fd: VecFd, vec: IovIn, vlen: ULong, pos_l: PosL, pos_h: PosH) -> int:
    """write data from multiple buffers at a given offset"""
    f, pos = _target(t, fd, pos_from_hilo(pos_h, pos_l), True, False)
    return do_writev(t, f, vec, vlen, pos)


@syscall()
def sys_preadv2(t: Task, fd: VecFd, vec: IovOut, vlen: ULong, pos_l: PosL, pos_h: PosH,
                flags: RwfFlags) -> int:
    """read data into multiple buffers, with flags"""
    f, pos = _target(t, fd, pos_from_hilo(pos_h, pos_l), False, True)
    return do_readv(t, f, vec, vlen, pos, flags)


@syscall()
def sys_pwritev2(t: Task, fd: VecFd, vec: IovIn, vlen: ULong, pos_l: PosL, pos_h: PosH,
                 flags: RwfFlags) -> int:
    """write data from multiple buffers, with flags"""
    f, pos = _target(t, fd, pos_from_hilo(pos_h, pos_l), True, True)
    return do_writev(t, f, vec, vlen, pos, flags)


@syscall()
def sys_lseek(t: Task, fd: Fd, offset: OffT, whence: Whence) -> int:
    """reposition read/write file offset"""
    f = fdget(t, fd)
    if whence > SEEK_HOLE:
        raise KernelError(Errno.EINVAL)
    return f.llseek(offset, whence)

