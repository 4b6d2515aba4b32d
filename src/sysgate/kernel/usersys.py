"""System calls declared by the user of a Kernel: the "add a system call" lab in Python.

Counterpart: Documentation/process/adding-syscalls.rst. Adding a system call to Linux
means a SYSCALL_DEFINE, a number in syscall_64.tbl and a kernel rebuild; here it is one
decorated function registered at a number of this Kernel's table. It goes through the
same declaration machinery as the built-in handlers (typed arguments, user pointers,
support level), so it takes part in dispatch, `sysgate syscalls`, the generated docs
and the tracer exactly like them, and a bad declaration fails at once, not at the
first call.
"""

from __future__ import annotations

from collections.abc import Callable

from sysgate.syscall import Handler, Support, SyscallDeclarationError, make_spec
from sysgate.tables.tbl import NI_SYSCALL, Slot, SyscallTable

X32_RANGE = range(512, 548)
"""Numbers the x86-64 table keeps for x32 (syscall_64.tbl: "548 and above are available")."""
MAX_NR = 4095
"""The highest number sysgate accepts for a user system call."""


def declare(
    table: SyscallTable,
    fn: Handler,
    *,
    nr: int,
    name: str | None = None,
    replace: bool = False,
    support: Support = Support.FULL,
    note: str = "",
) -> Slot:
    """Check a user declaration and install it in `table` at `nr`."""
    if not isinstance(nr, int) or isinstance(nr, bool) or not 0 <= nr <= MAX_NR:
        raise SyscallDeclarationError(f"system call number must be an int from 0 to {MAX_NR}, not {nr!r}")
    name = name or fn.__name__.removeprefix("sys_")
    if not name.isidentifier():
        raise SyscallDeclarationError(f"system call name {name!r} is not an identifier")
    existing = table.slots.get(nr)
    if nr in X32_RANGE and not replace:
        raise SyscallDeclarationError(
            f"number {nr} is in the range syscall_64.tbl keeps for x32 (512-547); use 548 or above"
        )
    if existing is not None and not replace:
        if existing.user:
            raise SyscallDeclarationError(f"number {nr} is already declared here as {existing.name!r}")
        owner = "" if existing.entry != NI_SYSCALL else ", which Linux leaves unimplemented"
        raise SyscallDeclarationError(
            f"number {nr} is {existing.name!r} ({existing.entry}{owner}) in Linux's {table.abi_name} table; "
            "pass replace=True to replace it in this kernel"
        )
    spec = make_spec(fn, symbol=f"sys_{name}", support=support, note=note)
    slot = Slot(nr, name, spec.symbol, spec, user=True)
    table.install(slot)
    return slot


def decorator(
    table: SyscallTable, *, nr: int, name: str | None, replace: bool, support: Support, note: str
) -> Callable[[Handler], Handler]:
    """`@kernel.syscall(nr=548)`: declare and install, returning the function unchanged."""

    def register(fn: Handler) -> Handler:
        declare(table, fn, nr=nr, name=name, replace=replace, support=support, note=note)
        return fn

    return register
