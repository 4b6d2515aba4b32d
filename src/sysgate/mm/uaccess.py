"""The only way handlers touch user memory: a bad pointer becomes EFAULT.

Counterpart: arch/x86/include/asm/uaccess_64.h (access_ok), lib/usercopy.c,
lib/strncpy_from_user.c and fs/namei.c (getname). access_ok() rejects any range that
reaches past USER_PTR_MAX (the kernel half, or a range that wraps) before anything is
copied; after that, an unmapped page or one without the needed permission stops the
copy with EFAULT. Partial transfers (read() into a buffer whose second page is
unmapped) use the `*_prefix` helpers, which say how far an access can go.
"""

from __future__ import annotations

import struct
from typing import Protocol

from sysgate.errors import GuestFault, KernelError
from sysgate.mm.mm import READ, TASK_SIZE_MAX, WRITE
from sysgate.mm.physmem import PAGE_SIZE
from sysgate.uapi.errno import Errno

USER_PTR_MAX = TASK_SIZE_MAX
"""arch/x86/kernel/cpu/common.c: USER_PTR_MAX = TASK_SIZE_MAX on 4-level paging."""
PATH_MAX = 4096


class UserMemory(Protocol):
    """An address space as uaccess sees it (Mm, or a fake in tests)."""

    def read(self, addr: int, size: int) -> bytes: ...

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None: ...

    def accessible(self, addr: int, size: int, access: int) -> int: ...


def access_ok(addr: int, size: int) -> bool:
    """Whether [addr, addr+size) lies wholly in user space (no wrap, not the kernel half)."""
    return addr + size <= USER_PTR_MAX


def copy_from_user(mm: UserMemory, addr: int, size: int) -> bytes:
    """`size` bytes at `addr`, or EFAULT. Copying nothing always succeeds, as in Linux."""
    if not size:
        return b""
    if not access_ok(addr, size):
        raise KernelError(Errno.EFAULT)
    try:
        return mm.read(addr, size)
    except GuestFault:
        raise KernelError(Errno.EFAULT) from None


def copy_to_user(mm: UserMemory, addr: int, data: bytes | bytearray | memoryview) -> None:
    """Store `data` at `addr`, or EFAULT (bytes before a bad page are stored, as in Linux)."""
    if not data:
        return
    if not access_ok(addr, len(data)):
        raise KernelError(Errno.EFAULT)
    try:
        mm.write(addr, data)
    except GuestFault:
        raise KernelError(Errno.EFAULT) from None


def clear_user(mm: UserMemory, addr: int, size: int) -> None:
    copy_to_user(mm, addr, bytes(size))


def readable_prefix(mm: UserMemory, addr: int, size: int) -> int:
    """How many bytes from `addr` the kernel can read: EFAULT if none of a non-empty range.

    This is the length a write() from a buffer that runs into a bad page transfers.
    """
    if not access_ok(addr, size):
        raise KernelError(Errno.EFAULT)
    n = mm.accessible(addr, size, READ)
    if n == 0 and size:
        raise KernelError(Errno.EFAULT)
    return n


def writable_prefix(mm: UserMemory, addr: int, size: int) -> int:
    """How many bytes from `addr` the kernel can store: EFAULT if none of a non-empty range."""
    if not access_ok(addr, size):
        raise KernelError(Errno.EFAULT)
    n = mm.accessible(addr, size, WRITE)
    if n == 0 and size:
        raise KernelError(Errno.EFAULT)
    return n


def strncpy_from_user(mm: UserMemory, addr: int, maxlen: int) -> bytes | None:
    """The NUL-terminated string at `addr` without its NUL, or None if none within maxlen."""
    out = bytearray()
    while len(out) < maxlen:
        # Copy up to each page edge: a string may end just before an unmapped page.
        step = min(PAGE_SIZE - addr % PAGE_SIZE, maxlen - len(out))
        if not access_ok(addr, 1):
            raise KernelError(Errno.EFAULT)
        chunk = copy_from_user(mm, addr, min(step, USER_PTR_MAX - addr))
        nul = chunk.find(0)
        if nul >= 0:
            return bytes(out + chunk[:nul])
        out += chunk
        addr += len(chunk)
    return None


def getname(mm: UserMemory, addr: int, empty_ok: bool = False) -> bytes:
    """A path argument (getname_flags): EFAULT, ENAMETOOLONG, or ENOENT for "" unless allowed."""
    name = strncpy_from_user(mm, addr, PATH_MAX)
    if name is None:
        raise KernelError(Errno.ENAMETOOLONG)
    if not name and not empty_ok:
        raise KernelError(Errno.ENOENT)
    return name


_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_S32 = struct.Struct("<i")
_S64 = struct.Struct("<q")


def get_user_u32(mm: UserMemory, addr: int) -> int:
    return int(_U32.unpack(copy_from_user(mm, addr, 4))[0])


def get_user_u64(mm: UserMemory, addr: int) -> int:
    return int(_U64.unpack(copy_from_user(mm, addr, 8))[0])


def get_user_s32(mm: UserMemory, addr: int) -> int:
    return int(_S32.unpack(copy_from_user(mm, addr, 4))[0])


def put_user_u32(mm: UserMemory, addr: int, value: int) -> None:
    copy_to_user(mm, addr, _U32.pack(value & 0xFFFFFFFF))


def put_user_s32(mm: UserMemory, addr: int, value: int) -> None:
    copy_to_user(mm, addr, _S32.pack(value))


def put_user_u64(mm: UserMemory, addr: int, value: int) -> None:
    copy_to_user(mm, addr, _U64.pack(value & 0xFFFFFFFFFFFFFFFF))


def put_user_s64(mm: UserMemory, addr: int, value: int) -> None:
    copy_to_user(mm, addr, _S64.pack(value))
