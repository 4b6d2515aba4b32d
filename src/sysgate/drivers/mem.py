"""The memory devices: /dev/null, /dev/zero, /dev/full, /dev/random and /dev/urandom.

Counterpart: drivers/char/mem.c (devlist, null_fops, zero_fops, full_fops) and the
file operations of drivers/char/random.c (random_fops, urandom_fops). Each is a File
with the operations Linux gives it and no others:

| device  | read            | write         | lseek          | RWF_NOWAIT |
|---------|-----------------|---------------|----------------|------------|
| null    | end of file (0) | all accepted  | 0 (null_lseek) | yes        |
| zero    | zero bytes      | all accepted  | 0              | yes        |
| full    | zero bytes      | ENOSPC        | 0              | no         |
| random  | random bytes    | all accepted  | f_pos, i.e. 0  | yes        |
| urandom | random bytes    | all accepted  | f_pos, i.e. 0  | yes        |

mmap of /dev/zero is anonymous memory (sys_mmap recognises the 1:5 device). The random
bytes are the host's (the kernel's getrandom source); bytes written to /dev/random are
accepted but not mixed into the host's pool, and the entropy ioctls answer as a fully
seeded pool does.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.fs.file import FMODE_LSEEK, FMODE_PREAD, FMODE_PWRITE, RWF_NOWAIT, File, Kstat
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

MEM_MAJOR = 1
NULL_MINOR, ZERO_MINOR, FULL_MINOR, RANDOM_MINOR, URANDOM_MINOR = 3, 5, 7, 8, 9

# include/uapi/linux/random.h
RNDGETENTCNT = 0x80045200
RNDADDTOENTCNT = 0x40045201
RNDADDENTROPY = 0x40085203
RNDZAPENTCNT = 0x5204
RNDCLEARPOOL = 0x5206
RNDRESEEDCRNG = 0x5207
POOL_READY_BITS = 256
"""input_pool.init_bits once the pool is seeded (POOL_BITS): what RNDGETENTCNT reports."""


class CharDevice(File):
    """An open character device of the kernel's own; `kstat` is its node's attributes."""

    nowait = False
    """FMODE_NOWAIT: preadv2/pwritev2 may pass RWF_NOWAIT."""

    def __init__(self, flags: int, path: str, kstat: Kstat) -> None:
        super().__init__(flags, path)
        self.f_mode |= FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE  # do_dentry_open's defaults
        self.kstat = kstat

    def stat(self) -> Kstat:
        return self.kstat

    def pread(self, t: Task, count: int, pos: int) -> bytes:
        return self.read(t, count)

    def pwrite(self, t: Task, data: bytes, pos: int) -> int:
        return self.write(t, data)

    def llseek(self, offset: int, whence: int) -> int:
        return 0  # null_lseek and noop_llseek (f_pos never moves from 0)

    def read_flags(self, t: Task, count: int, pos: int | None, flags: int) -> bytes:
        if flags & RWF_NOWAIT and not self.nowait:
            raise KernelError(Errno.EOPNOTSUPP)
        return self.read(t, count)

    def write_flags(self, t: Task, data: bytes, pos: int | None, flags: int) -> int:
        if flags & RWF_NOWAIT and not self.nowait:
            raise KernelError(Errno.EOPNOTSUPP)
        return self.write(t, data)


class NullDevice(CharDevice):
    """/dev/null: reads see end of file, writes vanish."""

    nowait = True

    def read(self, t: Task, count: int) -> bytes:
        return b""

    def write(self, t: Task, data: bytes) -> int:
        return len(data)


class ZeroDevice(CharDevice):
    """/dev/zero: an endless supply of zero bytes; writes vanish."""

    nowait = True

    def read(self, t: Task, count: int) -> bytes:
        return bytes(count)

    def write(self, t: Task, data: bytes) -> int:
        return len(data)

    @property
    def can_splice_read(self) -> bool:
        return True


class FullDevice(CharDevice):
    """/dev/full: reads give zero bytes, every write fails with ENOSPC."""

    def read(self, t: Task, count: int) -> bytes:
        return bytes(count)

    def write(self, t: Task, data: bytes) -> int:
        raise KernelError(Errno.ENOSPC)

    @property
    def can_splice_read(self) -> bool:
        return True


class RandomDevice(CharDevice):
    """/dev/random and /dev/urandom: the same bytes as getrandom(2), never blocking
    (the host's pool is seeded long before sysgate runs)."""

    nowait = True

    def read(self, t: Task, count: int) -> bytes:
        return os.urandom(count) if count else b""

    def write(self, t: Task, data: bytes) -> int:
        return len(data)  # write_pool_user: accepted (not mixed into the host's pool)

    @property
    def can_splice_read(self) -> bool:
        return True

    def ioctl(self, t: Task, cmd: int, arg: int) -> int:
        """random_ioctl: the entropy count, and the privileged pool controls."""
        from sysgate.mm.uaccess import copy_from_user, copy_to_user

        if cmd == RNDGETENTCNT:
            copy_to_user(t.mm, arg, POOL_READY_BITS.to_bytes(4, "little"))
            return 0
        if cmd not in (RNDADDTOENTCNT, RNDADDENTROPY, RNDZAPENTCNT, RNDCLEARPOOL, RNDRESEEDCRNG):
            raise KernelError(Errno.EINVAL)
        if not t.cred.capable():
            raise KernelError(Errno.EPERM)
        if cmd in (RNDADDTOENTCNT, RNDADDENTROPY):
            count = int.from_bytes(copy_from_user(t.mm, arg, 4), "little", signed=True)
            if count < 0:
                raise KernelError(Errno.EINVAL)
            if cmd == RNDADDENTROPY:
                size = int.from_bytes(copy_from_user(t.mm, arg + 4, 4), "little", signed=True)
                if size < 0:
                    raise KernelError(Errno.EFAULT)  # import_ubuf of a negative length
                copy_from_user(t.mm, arg + 8, size)  # the bytes must be readable (EFAULT)
        return 0
