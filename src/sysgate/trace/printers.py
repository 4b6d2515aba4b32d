"""Argument printers: how each kind of argument appears in a trace line.

Counterpart: strace's printers (util.c printfd/printpath/printaddr, print_*.c, the
decoders of each system call). Every parameter of a syscall declaration names its
printer in `Arg.show` (with an optional ":detail", e.g. "flags:open"); a printer gets the
call's context and the decoded value and returns the text, or None to leave the argument
out (as strace does with open's mode when there is no O_CREAT). A pointer to a structure
(`struct_in`/`struct_out`) is printed by the printer registered as "struct NAME" (e.g.
"struct stat"), or as its address when there is none. Pointers the kernel
writes through are printed when the call returns; everything else when it is made.

This module holds the framework and the generic printers; the printers of particular
system calls (flag sets, structures) are registered by the modules in sysgate.trace.decoders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from sysgate.argtypes import IN, OUT, UserPtr
from sysgate.errors import GuestFault
from sysgate.trace import quote
from sysgate.trace.options import TraceOptions
from sysgate.uapi.errno import MAX_ERRNO

if TYPE_CHECKING:
    from sysgate.kernel.task import Task
    from sysgate.syscall import SyscallSpec

from sysgate.syscall import Param


@dataclass(slots=True)
class Ctx:
    """One call being printed."""

    t: Task
    opts: TraceOptions
    spec: SyscallSpec | None
    args: list[int]  # decoded as the declaration says
    exiting: bool = False
    ret: int | None = None  # the result, once exiting
    extra: dict[str, object] = field(default_factory=dict)  # state a printer keeps from entry to exit

    def arg(self, name: str) -> int:
        """The decoded value of the parameter called `name`."""
        assert self.spec is not None
        for i, p in enumerate(self.spec.params):
            if p.name == name:
                return self.args[i]
        raise KeyError(name)

    @property
    def failed(self) -> bool:
        return self.ret is not None and -MAX_ERRNO <= self.ret < 0

    def read(self, addr: int, size: int) -> bytes | None:
        """Guest memory, or None where the guest could not read it (no fault is raised)."""
        if addr + size > 1 << 47:
            return None
        try:
            return self.t.mm.read(addr, size)
        except GuestFault:
            return None

    def fd_path(self, fd: int) -> str | None:
        file = self.t.files.lookup(fd)
        return None if file is None else file.path


Printer = Callable[[Ctx, int, "Param"], "str | None"]
PRINTERS: dict[str, Printer] = {}


P = TypeVar("P", bound=Printer)


def printer(*names: str) -> Callable[[P], P]:
    """Register a printer under one or more show names."""

    def register(fn: P) -> P:
        for name in names:
            PRINTERS[name] = fn
        return fn

    return register


def prints_on_exit(p: Param) -> bool:
    """Whether strace prints this argument when the call returns: what the kernel writes
    (an OUT or INOUT pointer), and what a declaration marks "exit:"."""
    if p.arg.show.startswith("exit:"):
        return True
    return isinstance(p.arg, UserPtr) and p.arg.direction is not IN


def render(ctx: Ctx, p: Param, value: int) -> str | None:
    """The text of one argument."""
    show = p.arg.show.removeprefix("exit:")
    if show == "struct" and isinstance(p.arg, UserPtr) and p.arg.struct:
        show = f"struct {p.arg.struct}"  # e.g. "struct stat": the printer of that structure
    fn = PRINTERS.get(show) or PRINTERS.get(show.split(":", 1)[0])
    if isinstance(p.arg, UserPtr) and p.arg.direction is OUT and ctx.failed:
        return addr(value)  # nothing was written: strace shows where
    if fn is None:
        return addr(value) if p.arg.is_pointer else str(value)
    return fn(ctx, value, p)


# -- generic printers -------------------------------------------------------------------


def addr(value: int) -> str:
    """printaddr: NULL or hex."""
    return "NULL" if value == 0 else f"{value:#x}"


@printer("dec")
def p_dec(ctx: Ctx, v: int, p: Param) -> str:
    return str(v)


@printer("udec")
def p_udec(ctx: Ctx, v: int, p: Param) -> str:
    return str(v & 0xFFFFFFFFFFFFFFFF)


@printer("hex")
def p_hex(ctx: Ctx, v: int, p: Param) -> str:
    return f"{v & 0xFFFFFFFFFFFFFFFF:#x}"


@printer("oct")
def p_oct(ctx: Ctx, v: int, p: Param) -> str:
    return f"0{v:o}" if v else "000"


@printer("ptr")
def p_ptr(ctx: Ctx, v: int, p: Param) -> str:
    return addr(v)


@printer("fd")
def p_fd(ctx: Ctx, v: int, p: Param) -> str:
    """printfd: the number, and with -y the file's path."""
    if ctx.opts.yflag and v >= 0:
        path = ctx.fd_path(v)
        if path is not None:
            return f"{v}<{path}>"
    return str(v)


@printer("dirfd")
def p_dirfd(ctx: Ctx, v: int, p: Param) -> str:
    """print_dirfd: AT_FDCWD by name."""
    if v == -100:
        return "AT_FDCWD"
    return p_fd(ctx, v, p)


@printer("path")
def p_path(ctx: Ctx, v: int, p: Param) -> str:
    return quote.printpath(ctx.read, v, ctx.opts.xflag)


@printer("str")
def p_str(ctx: Ctx, v: int, p: Param) -> str:
    return quote.printstr_nul(ctx.read, v, ctx.opts.string_limit, ctx.opts.xflag)


@printer("buf")
def p_buf(ctx: Ctx, v: int, p: Param) -> str:
    """A buffer whose length is another argument, or the result for read-like calls."""
    size_name = p.arg.size if isinstance(p.arg, UserPtr) else None
    length = ctx.ret if size_name == "ret" else (ctx.arg(size_name) if size_name else 0)
    if length is None or length < 0:
        return addr(v)
    return quote.printstr(ctx.read, v, length, ctx.opts.string_limit, ctx.opts.xflag)


@printer("struct")
def p_struct(ctx: Ctx, v: int, p: Param) -> str:
    """A structure without a printer of its own: its address."""
    return addr(v)


# -- return values ------------------------------------------------------------------------

RetPrinter = Callable[[Ctx, int], str]
RET_PRINTERS: dict[str, RetPrinter] = {}


def ret_printer(*names: str) -> Callable[[RetPrinter], RetPrinter]:
    def register(fn: RetPrinter) -> RetPrinter:
        for name in names:
            RET_PRINTERS[name] = fn
        return fn

    return register


@ret_printer("dec")
def r_dec(ctx: Ctx, v: int) -> str:
    return str(v)


@ret_printer("hex")
def r_hex(ctx: Ctx, v: int) -> str:
    return f"{v & 0xFFFFFFFFFFFFFFFF:#x}"


@ret_printer("oct")
def r_oct(ctx: Ctx, v: int) -> str:
    return f"0{v:o}" if v else "0"


@ret_printer("fd")
def r_fd(ctx: Ctx, v: int) -> str:
    if ctx.opts.yflag and v >= 0:
        path = ctx.fd_path(v)
        if path is not None:
            return f"{v}<{path}>"
    return str(v)
