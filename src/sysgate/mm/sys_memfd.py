"""memfd_create: an anonymous file in memory.

Counterpart: mm/memfd.c (sys_memfd_create, check_sysctl_memfd_noexec). The flags and the
name are checked here in Linux's order (unknown flags and MFD_EXEC with
MFD_NOEXEC_SEAL: EINVAL; vm.memfd_noexec: EACCES; the name: EFAULT, or EINVAL past 249
bytes; then the descriptor: EMFILE), and the file is a memfd of the host's with the same
name and flags, so its contents, size, mode, seals and /proc/PID/fd link
("/memfd:NAME (deleted)") are a real memfd's. Its seals are sysgate.mm.memfd's.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import Arg, UserPtr
from sysgate.errors import KernelError
from sysgate.host import kernel_error
from sysgate.mm.memfd import MemfdFile
from sysgate.mm.uaccess import strncpy_from_user
from sysgate.syscall import Support, syscall
from sysgate.uapi import fcntl as o
from sysgate.uapi import memfd as mf
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

MemfdName = Annotated[int, UserPtr("const char __user *", show="memfd_name")]
MemfdFlags = Annotated[int, Arg("unsigned int", 32, show="memfd_flags")]

MEMFD_NOEXEC_SCOPE_NOEXEC_SEAL = 1
MEMFD_NOEXEC_SCOPE_NOEXEC_ENFORCED = 2
_HOST_FLAGS = {mf.MFD_ALLOW_SEALING: "MFD_ALLOW_SEALING", mf.MFD_NOEXEC_SEAL: "MFD_NOEXEC_SEAL",
               mf.MFD_EXEC: "MFD_EXEC"}


def memfd_noexec_scope() -> int:
    """vm.memfd_noexec: the host's, which the guest shares (0 where the host has none)."""
    try:
        with open("/proc/sys/vm/memfd_noexec", "rb") as f:
            return int(f.read().strip() or b"0")
    except (OSError, ValueError):
        return 0


def check_sysctl_memfd_noexec(flags: int) -> int:
    """The flags with MFD_EXEC or MFD_NOEXEC_SEAL chosen by the sysctl when neither is
    given; EACCES where the sysctl demands MFD_NOEXEC_SEAL."""
    scope = memfd_noexec_scope()
    if not flags & (mf.MFD_EXEC | mf.MFD_NOEXEC_SEAL):
        flags |= mf.MFD_NOEXEC_SEAL if scope >= MEMFD_NOEXEC_SCOPE_NOEXEC_SEAL else mf.MFD_EXEC
    if not flags & mf.MFD_NOEXEC_SEAL and scope >= MEMFD_NOEXEC_SCOPE_NOEXEC_ENFORCED:
        raise KernelError(Errno.EACCES)
    return flags


def _host_memfd(name: bytes, flags: int) -> int:
    """A host memfd with the guest's sealing and exec flags (always close-on-exec here)."""
    host = os.MFD_CLOEXEC
    for bit, attr in _HOST_FLAGS.items():
        if flags & bit:
            value = getattr(os, attr, None)
            host |= bit if value is None else value  # Linux's value where Python lacks the name
    try:
        return os.memfd_create(os.fsdecode(name), host)
    except OSError as exc:
        raise kernel_error(exc) from None


@syscall(ret="fd", support=Support.PARTIAL,
         note="MFD_HUGETLB gives ENOSYS, as a kernel without huge pages (CONFIG_HUGETLBFS=n) does; a shared "
         "writable mapping made before F_SEAL_FUTURE_WRITE writes to private copies of pages (64 MiB "
         "windows of the file) it first touches after the seal")
def sys_memfd_create(t: Task, uname: MemfdName, flags: MemfdFlags) -> int:
    """create an anonymous file"""
    allowed = mf.MFD_ALL_FLAGS
    if flags & mf.MFD_HUGETLB:
        allowed |= mf.MFD_HUGE_MASK << mf.MFD_HUGE_SHIFT  # a huge page size may be encoded
    if flags & ~allowed:
        raise KernelError(Errno.EINVAL)
    if flags & mf.MFD_EXEC and flags & mf.MFD_NOEXEC_SEAL:
        raise KernelError(Errno.EINVAL)
    check_sysctl_memfd_noexec(flags)
    name = strncpy_from_user(t.mm, uname, mf.MFD_NAME_MAX_LEN + 1)  # strnlen_user: EFAULT
    if name is None:
        raise KernelError(Errno.EINVAL)  # no NUL within MFD_NAME_MAX_LEN + 1 bytes
    fd = t.files.alloc_fd(0, t.group.nofile())  # get_unused_fd_flags: EMFILE
    if flags & mf.MFD_HUGETLB:
        raise KernelError(Errno.ENOSYS)  # hugetlb_file_setup without CONFIG_HUGETLBFS
    hostfd = _host_memfd(name, flags)
    path = "/memfd:" + os.fsdecode(name) + " (deleted)"
    try:
        file = MemfdFile(hostfd, o.O_RDWR | o.O_LARGEFILE, path)
    except BaseException:
        os.close(hostfd)
        raise
    t.files.install(fd, file, bool(flags & mf.MFD_CLOEXEC))
    return fd
