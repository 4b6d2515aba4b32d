"""fadvise64: advice about how a file will be read.

Counterpart: mm/fadvise.c (ksys_fadvise64_64, vfs_fadvise, generic_fadvise). The page
cache is the host's, so a host file's advice goes to the host kernel, which checks it as
Linux does (ESPIPE for a pipe, EINVAL for a negative length or an unknown advice) and
acts on its own cache. The kernel's own files (procfs) have no backing device: Linux
only checks the advice for them, and so does this.
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import Arg, IntFd, LoffT
from sysgate.errors import KernelError
from sysgate.fs.sys_read_write import fdget
from sysgate.host import host_syscall
from sysgate.syscall import syscall
from sysgate.uapi import fadvise as fa
from sysgate.uapi import stat as ls
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.fs.file import File
    from sysgate.kernel.task import Task

Advice = Annotated[int, Arg("int", 32, True, show="fadvise_advice")]
FadviseLen = Annotated[int, Arg("size_t", show="udec")]

NR_FADVISE64 = 221
"""x86-64's number of fadvise64, for the host call."""
_ADVICE = {fa.POSIX_FADV_NORMAL, fa.POSIX_FADV_RANDOM, fa.POSIX_FADV_SEQUENTIAL, fa.POSIX_FADV_WILLNEED,
           fa.POSIX_FADV_DONTNEED, fa.POSIX_FADV_NOREUSE}


def vfs_fadvise(file: File, offset: int, length: int, advice: int) -> None:
    """generic_fadvise: a pipe has no page cache (ESPIPE); then the length and the advice."""
    fd = file.host_fd
    if fd is not None:
        host_syscall(NR_FADVISE64, ctypes.c_long(fd), ctypes.c_long(offset), ctypes.c_long(length),
                     ctypes.c_long(advice))
        return
    if file.is_pipe or file.stat().mode & ls.S_IFMT == ls.S_IFIFO:
        raise KernelError(Errno.ESPIPE)
    if length < 0 or advice not in _ADVICE:
        raise KernelError(Errno.EINVAL)  # no backing device: the advice is only checked


@syscall()
def sys_fadvise64(t: Task, fd: IntFd, offset: LoffT, len: FadviseLen, advice: Advice) -> int:  # noqa: A002 - Linux's name
    """predeclare an access pattern for file data"""
    file = fdget(t, fd)  # CLASS(fd): O_PATH descriptors are EBADF
    length = len - (1 << 64) if len >> 63 else len  # ksys_fadvise64_64 takes it as a loff_t
    vfs_fadvise(file, offset, length, advice)
    return 0

