"""What a system-call argument is: the metadata SYSCALL_DEFINE carries in the kernel.

Counterpart: include/linux/syscalls.h (SYSCALL_DEFINEx, __SC_DECL, __SC_LONG and the
__se_sys_* step that truncates and sign-extends each register to the declared C type)
and SYSCALL_METADATA (argument names and types for ftrace).

A handler parameter is annotated with one of the aliases below, e.g.

    def sys_read(t: Task, fd: Fd, buf: Annotated[int, UserPtr("char __user *",
                 direction=OUT, size="ret")], count: SizeT) -> int: ...

Handlers always receive plain ints. The Arg object is read once, at import, by
sysgate.syscall to build the argument decoder, and later by the tracer and the docs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated


class Direction(enum.Enum):
    """Which way data moves through a user pointer."""

    IN = "in"  # the kernel reads from user memory (write's buf)
    OUT = "out"  # the kernel writes to user memory (read's buf)
    INOUT = "inout"  # both (e.g. select's fd sets)


IN = Direction.IN
OUT = Direction.OUT
INOUT = Direction.INOUT


@dataclass(frozen=True, slots=True)
class Arg:
    """A scalar argument.

    `bits` is the width of the C type (0 means the ABI's word: 64 on x86-64, 32 on
    i386); the register is truncated to it and, when `signed`, sign-extended, as the
    kernel's __se_sys_* wrappers do. `show` names the renderer the tracer uses.
    """

    ctype: str
    bits: int = 0
    signed: bool = False
    show: str = "dec"

    @property
    def is_pointer(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class UserPtr(Arg):
    """A pointer into user memory (a `__user` pointer in the kernel's declaration).

    `direction` says whether the kernel reads or writes through it; `size` names the
    parameter that holds the length in bytes, or "ret" when the return value is the
    length transferred; `struct` names the C struct it points to, for the tracer.
    """

    direction: Direction = IN
    size: str | None = None
    struct: str | None = None

    @property
    def is_pointer(self) -> bool:
        return True


# Scalars, named after the kernel types they decode as.
Int = Annotated[int, Arg("int", 32, True)]
UInt = Annotated[int, Arg("unsigned int", 32)]
Long = Annotated[int, Arg("long", 0, True)]
ULong = Annotated[int, Arg("unsigned long")]
SizeT = Annotated[int, Arg("size_t")]
LoffT = Annotated[int, Arg("loff_t", 64, True)]
OffT = Annotated[int, Arg("off_t", 0, True)]
PidT = Annotated[int, Arg("pid_t", 32, True)]
UidT = Annotated[int, Arg("uid_t", 32)]
GidT = Annotated[int, Arg("gid_t", 32)]
ModeT = Annotated[int, Arg("umode_t", 16, show="oct")]
ClockId = Annotated[int, Arg("clockid_t", 32, True, show="clockid")]
U32 = Annotated[int, Arg("u32", 32)]
U64 = Annotated[int, Arg("u64", 64)]
Flags = Annotated[int, Arg("unsigned int", 32, show="hex")]
IntFlags = Annotated[int, Arg("int", 32, True, show="hex")]
ULongFlags = Annotated[int, Arg("unsigned long", show="hex")]
Fd = Annotated[int, Arg("unsigned int", 32, show="fd")]
IntFd = Annotated[int, Arg("int", 32, True, show="fd")]
DirFd = Annotated[int, Arg("int", 32, True, show="dirfd")]
Addr = Annotated[int, Arg("unsigned long", show="hex")]

# User pointers.
Path = Annotated[int, UserPtr("const char __user *", show="path")]
StrIn = Annotated[int, UserPtr("const char __user *", show="str")]
BufIn = Annotated[int, UserPtr("const char __user *", show="buf", size="count")]
BufOut = Annotated[int, UserPtr("char __user *", show="buf", direction=OUT, size="ret")]
PtrIn = Annotated[int, UserPtr("const void __user *", show="ptr")]
PtrOut = Annotated[int, UserPtr("void __user *", show="ptr", direction=OUT)]
PtrInOut = Annotated[int, UserPtr("void __user *", show="ptr", direction=INOUT)]


def struct_in(ctype: str, struct: str) -> UserPtr:
    """A pointer to a struct the kernel reads."""
    return UserPtr(ctype, show="struct", direction=IN, struct=struct)


def struct_out(ctype: str, struct: str) -> UserPtr:
    """A pointer to a struct the kernel fills."""
    return UserPtr(ctype, show="struct", direction=OUT, struct=struct)


def buf_in(size: str, ctype: str = "const char __user *") -> UserPtr:
    """A byte buffer the kernel reads, whose length is the parameter `size`."""
    return UserPtr(ctype, show="buf", direction=IN, size=size)


def buf_out(size: str, ctype: str = "char __user *") -> UserPtr:
    """A byte buffer the kernel fills, `size` bytes long at most."""
    return UserPtr(ctype, show="buf", direction=OUT, size=size)
