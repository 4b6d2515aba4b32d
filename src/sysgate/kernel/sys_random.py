"""getrandom: random bytes from the kernel's generator.

Counterpart: drivers/char/random.c (SYSCALL_DEFINE3(getrandom)). The bytes come from
the host's generator (os.urandom), which is always initialised, so GRND_NONBLOCK
never gives EAGAIN.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import OUT, Arg, SizeT, UserPtr
from sysgate.errors import KernelError
from sysgate.fs.file import MAX_RW_COUNT
from sysgate.mm.uaccess import copy_to_user, writable_prefix
from sysgate.syscall import syscall
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

RandomBuf = Annotated[int, UserPtr("char __user *", show="random_buf", direction=OUT, size="len")]
"""Filled with up to `len` bytes; strace shows the ones the call returned, in hex."""
GrndFlags = Annotated[int, Arg("unsigned int", 32, show="getrandom_flags")]

GRND_NONBLOCK = 0x0001
GRND_RANDOM = 0x0002
GRND_INSECURE = 0x0004


@syscall()
def sys_getrandom(t: Task, ubuf: RandomBuf, len: SizeT, flags: GrndFlags) -> int:  # noqa: A002
    """obtain a series of random bytes"""
    if flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE):
        raise KernelError(Errno.EINVAL)
    if flags & (GRND_INSECURE | GRND_RANDOM) == GRND_INSECURE | GRND_RANDOM:
        raise KernelError(Errno.EINVAL)
    count = writable_prefix(t.mm, ubuf, min(len, MAX_RW_COUNT))
    copy_to_user(t.mm, ubuf, os.urandom(count))
    return count
