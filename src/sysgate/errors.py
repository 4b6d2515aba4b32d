"""The exceptions that cross sysgate's layers.

Counterpart: the kernel's convention of returning -errno (include/linux/err.h).
A handler raises KernelError; only the entry code (sysgate.entry.common) turns it
into a -errno in rax. GuestFault is what the memory layer raises for an access the
page tables refuse; uaccess turns it into EFAULT. SysgateError is a one-line error
for the user (bad ELF file, missing program); the CLI prints it and exits non-zero.
"""

from __future__ import annotations

from sysgate.uapi.errno import Errno


class KernelError(Exception):
    """A system call failed with a Linux errno."""

    __slots__ = ("errno",)

    def __init__(self, errno: Errno) -> None:
        super().__init__(errno)
        self.errno = errno

    def __str__(self) -> str:
        return f"{self.errno.name} ({self.errno.message})"


class GuestFault(Exception):
    """An access to guest memory that the page tables refuse.

    `addr` is the first byte that could not be accessed, `access` the PROT_* bit that
    was needed (1 read, 2 write, 4 execute) and `mapped` whether a VMA covers the
    address (SEGV_ACCERR) or not (SEGV_MAPERR). `bus` marks an access past the end
    of a file mapping, which Linux reports as SIGBUS.
    """

    __slots__ = ("access", "addr", "bus", "mapped")

    def __init__(self, addr: int, access: int, mapped: bool, bus: bool = False) -> None:
        super().__init__(addr, access, mapped, bus)
        self.addr = addr
        self.access = access
        self.mapped = mapped
        self.bus = bus


class SysgateError(Exception):
    """An error for the user of sysgate: printed as one line, with an exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status
