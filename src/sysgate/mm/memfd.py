"""File seals of memfds: F_ADD_SEALS, F_GET_SEALS, and what they mean to mmap.

Counterpart: mm/memfd.c (memfd_fcntl, memfd_add_seals, memfd_check_seals_mmap). A guest
memfd is a memfd of the host (sysgate.mm.sys_memfd), so its seals are the host's: the
host kernel refuses the writes, truncations and chmods they forbid, on every path. What
the host cannot see is the guest's address space: a write seal is refused (EBUSY) while
a guest mapping could write to the file, and a new shared mapping of a write-sealed
file may not be writable (EPERM) and may never become so (VM_MAYWRITE is dropped), as
Linux decides from its own VMAs. Any other file has no seals (EINVAL), as on Linux.
"""

from __future__ import annotations

import fcntl as host_fcntl
import os
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.fs.file import FMODE_WRITE, File
from sysgate.fs.hostfs import HostFile
from sysgate.host import kernel_error
from sysgate.mm.vma import VM_MAYWRITE, VM_SHARED
from sysgate.uapi import fcntl as o
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.mm.mm import Mm

F_ALL_SEALS = (o.F_SEAL_SEAL | o.F_SEAL_SHRINK | o.F_SEAL_GROW | o.F_SEAL_WRITE | o.F_SEAL_FUTURE_WRITE
               | o.F_SEAL_EXEC)
_HOST_GET_SEALS = getattr(host_fcntl, "F_GET_SEALS", o.F_GET_SEALS)
_HOST_ADD_SEALS = getattr(host_fcntl, "F_ADD_SEALS", o.F_ADD_SEALS)


class MemfdFile(HostFile):
    """A memfd: a host memfd, read-write, whose /proc/PID/fd link is "/memfd:NAME (deleted)"."""

    def drop_idle_mapping(self) -> None:
        """Give back the host's shared windows of the file once no mapping uses them.

        The mapped-file object (and so its windows, writable host mappings of the file)
        stays with the open file after the guest unmaps; the host would count them as
        writable mappings and refuse F_SEAL_WRITE where Linux, seeing none, allows it.
        """
        mapping = self._mapping
        if mapping is not None and mapping.refs == 1:  # held by this file only: no VMA uses it
            self._mapping = None
            mapping.put()


def host_seals(fd: int) -> int:
    """The seals of host file `fd`; EINVAL for a file that cannot have any."""
    try:
        return host_fcntl.fcntl(fd, _HOST_GET_SEALS)
    except OSError as exc:
        raise kernel_error(exc) from None


def is_write_sealed(fd: int) -> bool:
    """F_SEAL_WRITE or F_SEAL_FUTURE_WRITE on host file `fd` (never for files without seals)."""
    try:
        return bool(host_fcntl.fcntl(fd, _HOST_GET_SEALS) & (o.F_SEAL_WRITE | o.F_SEAL_FUTURE_WRITE))
    except OSError:
        return False


def memfd_check_seals_mmap(fd: int, vm_flags: int, writable: bool) -> int:
    """check_write_seal: the vm_flags of a new mapping of host file `fd`, or EPERM.

    A shared mapping of a write-sealed file cannot be writable, nor become writable
    later (VM_MAYWRITE goes); private mappings are not affected.
    """
    if not vm_flags & VM_SHARED or not is_write_sealed(fd):
        return vm_flags
    if writable:
        raise KernelError(Errno.EPERM)
    return vm_flags & ~VM_MAYWRITE


def _writably_mapped(mm: Mm, fd: int) -> bool:
    """mapping_writably_mapped: a shared mapping of the file that may write to it."""
    st = os.fstat(fd)
    return any(
        vma.file is not None and vma.file.dev == st.st_dev and vma.file.ino == st.st_ino
        and vma.flags & VM_SHARED and vma.flags & VM_MAYWRITE
        for vma in mm.vmas
    )


def memfd_add_seals(mm: Mm, file: File, seals: int) -> int:
    """F_ADD_SEALS, checked in memfd_add_seals' order, then made on the host."""
    fd = file.host_fd
    if not file.f_mode & FMODE_WRITE:
        raise KernelError(Errno.EPERM)
    if seals & ~F_ALL_SEALS:
        raise KernelError(Errno.EINVAL)
    if fd is None:
        raise KernelError(Errno.EINVAL)  # not a memfd: no seals
    current = host_seals(fd)
    if current & o.F_SEAL_SEAL:
        raise KernelError(Errno.EPERM)
    want = seals
    if want & o.F_SEAL_EXEC and file.stat().mode & 0o111:
        want |= o.F_SEAL_SHRINK | o.F_SEAL_GROW | o.F_SEAL_WRITE | o.F_SEAL_FUTURE_WRITE  # W^X from the start
    if want & o.F_SEAL_WRITE and not current & o.F_SEAL_WRITE:
        if _writably_mapped(mm, fd):
            raise KernelError(Errno.EBUSY)  # mapping_deny_writable
        if isinstance(file, MemfdFile):
            file.drop_idle_mapping()  # windows of mappings since unmapped would make the host refuse
    try:
        host_fcntl.fcntl(fd, _HOST_ADD_SEALS, seals)
    except OSError as exc:
        raise kernel_error(exc) from None
    return 0


def memfd_fcntl(mm: Mm, file: File, cmd: int, arg: int) -> int:
    """fcntl's F_ADD_SEALS and F_GET_SEALS (arg is the unsigned int of the seals)."""
    if cmd == o.F_ADD_SEALS:
        return memfd_add_seals(mm, file, arg & 0xFFFFFFFF)
    fd = file.host_fd
    if fd is None:
        raise KernelError(Errno.EINVAL)
    return host_seals(fd)
