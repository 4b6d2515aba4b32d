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

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from sysgate.argtypes import IN, OUT, UserPtr
from sysgate.errors import GuestFault, KernelError
from sysgate.trace import quote
from sysgate.trace.options import TraceOptions
from sysgate.trace.xlat import Xlat, printflags, printxval
from sysgate.uapi.errno import MAX_ERRNO
from sysgate.uapi.fcntl import AT_FDCWD
from sysgate.uapi.stat import S_IFBLK, S_IFCHR, S_IFMT

if TYPE_CHECKING:
    from sysgate.fs.file import File
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

    def printfd(self, fd: int) -> str:
        """printfd: the descriptor as a C int, and with -y / -yy / -e decode-fds= what it is."""
        return printfd(self.t, self.opts, fd)


AT_FDCWD_XLAT = Xlat.of([(AT_FDCWD, "AT_FDCWD")], fmt="d")

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


def flags_printer(name: str, table: Xlat, dflt: str) -> None:
    """Register `name` as a 32-bit flags argument printed by printflags from `table`,
    with `dflt` as the comment for leftover bits (strace's printflags(..., "X_???"))."""

    def p_flags(ctx: Ctx, v: int, p: Param) -> str:
        return printflags(ctx.opts.xlat_style, table, v & 0xFFFFFFFF, dflt)

    PRINTERS[name] = p_flags


def xval_printer(name: str, table: Xlat, dflt: str) -> None:
    """Register `name` as a 32-bit value printed by printxval from `table` (one symbol or a
    number with the `dflt` comment)."""

    def p_xval(ctx: Ctx, v: int, p: Param) -> str:
        return printxval(ctx.opts.xlat_style, table, v & 0xFFFFFFFF, dflt)

    PRINTERS[name] = p_xval


WHOLE_CALL: dict[str, Callable[[Ctx], str]] = {}
"""Calls without parameters that strace still decodes from the task's state (rt_sigreturn's
mask, read from the signal frame on the stack): the text between the parentheses."""

EntryTest = Callable[[Ctx, int, "Param"], bool]
AT_ENTRY: dict[str, EntryTest] = {}
"""For an "exit:" printer: whether this call's argument is known at entry. strace's decoders
print what they can at entry (fcntl's F_SETLK lock, ioctl's TCSETS termios, prctl's
PR_SET_NAME) and only the rest at exit; the difference shows when another task's line
cuts the call (`fcntl(3, F_SETLKW, {...} <unfinished ...>`)."""
EXIT_SEP: set[str] = set()
"""The "exit:" printers whose ", " strace writes with the argument at exit (tprint_arg_next
in the exiting branch: clone's tail, ioctl's and fcntl's argument), so that a cut line
reads `ioctl(0, TCGETS <unfinished ...>` and `<... ioctl resumed>, {...}) = 0`."""


def at_entry(name: str, exit_sep: bool = False) -> Callable[[EntryTest], EntryTest]:
    """Register the entry test of the "exit:" printer `name`."""

    def register(fn: EntryTest) -> EntryTest:
        AT_ENTRY[name] = fn
        if exit_sep:
            EXIT_SEP.add(name)
        return fn

    return register


def known_at_entry(ctx: Ctx, p: Param, value: int) -> bool:
    """Whether an argument strace may print at exit is printed at entry for this call."""
    test = AT_ENTRY.get(p.arg.show.removeprefix("exit:"))
    return test is not None and test(ctx, value, p)


def exit_separator(p: Param) -> bool:
    return p.arg.show.removeprefix("exit:") in EXIT_SEP


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


# -- primitives the decoders share ------------------------------------------------------

U32 = (1 << 32) - 1
U64 = (1 << 64) - 1


def addr(value: int) -> str:
    """printaddr: NULL or hex."""
    return "NULL" if value == 0 else f"{value:#x}"


def xval(value: int) -> str:
    """PRINT_VAL_X: `%#llx`, which prints zero as a bare 0."""
    return f"{value & U64:#x}" if value else "0"


def s32(v: int) -> int:
    """A register's low 32 bits as a C int."""
    v &= U32
    return v - (1 << 32) if v >> 31 else v


def s64(v: int) -> int:
    """A register as a signed 64-bit value (PRINT_VAL_D of a kernel_long_t)."""
    v &= U64
    return v - (1 << 64) if v >> 63 else v


def fetch(ctx: Ctx, ptr: int, size: int, ignore_syserror: bool = False) -> bytes | None:
    """tfetch_mem: what strace reads at `ptr`, or None where it prints the address instead
    (NULL, unreadable, structures not decoded for this call (-e verbose=), or, on the way
    out of a failed call, anything)."""
    if not ptr or not ctx.opts.structs or (ctx.exiting and ctx.failed and not ignore_syserror):
        return None
    return ctx.read(ptr, size)


def umove(ctx: Ctx, ptr: int, size: int, ignore_syserror: bool = False) -> bytes | str:
    """umove_or_printaddr: `size` bytes at `ptr`, or the text strace prints instead (NULL
    or the address)."""
    data = fetch(ctx, ptr, size, ignore_syserror)
    return addr(ptr) if data is None else data


def printnum(ctx: Ctx, ptr: int, size: int = 8, signed: bool = True) -> str:
    """printnum_int / printnum_int64: `[value]`, or the address."""
    data = fetch(ctx, ptr, size)
    if data is None:
        return addr(ptr)
    return f"[{int.from_bytes(data, 'little', signed=signed)}]"


def print_array(ctx: Ctx, start: int, nmemb: int, elem_size: int, elem: Callable[[bytes], str],
                ignore_syserror: bool = False) -> str:
    """print_array_ex: `[e0, e1, ...]`, each element fetched on its own.

    NULL for a null pointer, `[]` for no elements, the address if the array wraps or its
    first element cannot be read, `..., /* addr */` where a later one cannot; without -v
    at most -s elements are shown, then `...`.
    """
    if not start:
        return "NULL"
    if not nmemb:
        return "[]"
    if nmemb * elem_size > U64 or start + nmemb * elem_size > U64:
        return addr(start)
    shown = nmemb if ctx.opts.verbose else min(nmemb, ctx.opts.string_limit)
    out: list[str] = []
    for i in range(min(nmemb, shown + 1)):
        cur = start + i * elem_size
        data = fetch(ctx, cur, elem_size, ignore_syserror)
        if data is None:
            if not i:
                return addr(start)
            out.append(f"... /* {cur:#x} */")
            break
        if i >= shown:
            out.append("...")
            break
        out.append(elem(data))
    return "[" + ", ".join(out) + "]"


# -- generic printers -------------------------------------------------------------------


@printer("dec")
def p_dec(ctx: Ctx, v: int, p: Param) -> str:
    return str(v)


@printer("udec")
def p_udec(ctx: Ctx, v: int, p: Param) -> str:
    return str(v & 0xFFFFFFFFFFFFFFFF)


@printer("hex")
def p_hex(ctx: Ctx, v: int, p: Param) -> str:
    return xval(v)


def umode(mode: int) -> str:
    """print_numeric_umode_t: octal with its leading 0 and at least three digits (`%#03o`:
    0644, 007, 000)."""
    return (f"0{mode:o}" if mode else "0").rjust(3, "0")


@printer("oct")
def p_oct(ctx: Ctx, v: int, p: Param) -> str:
    """A mode (umode_t): its low 16 bits in octal."""
    return umode(v & 0xFFFF)


@printer("ptr")
def p_ptr(ctx: Ctx, v: int, p: Param) -> str:
    return addr(v)


_DELETED = " (deleted)"


def printfd(t: Task, opts: TraceOptions, fd: int) -> str:
    """printfd: the descriptor as a C int; for an open one, with `-y` (decode-fds=path) its
    path in angle brackets, `(deleted)` after it once unlinked, and with `-yy`
    (decode-fds=dev) a device's kind and numbers: `0</dev/null<char 1:3>>`."""
    fd = s32(fd)
    kinds = opts.decode_fds
    file = t.files.lookup(fd) if fd >= 0 and kinds else None
    if file is None:
        return str(fd)
    path = file.d_path()
    deleted = path.endswith(_DELETED) and len(path) > len(_DELETED) and _unlinked(file)
    if deleted:
        path = path[: -len(_DELETED)]
    if "dev" in kinds and path.startswith("/"):
        dev = _device(file)
        if dev is not None:
            return f"{fd}<{quote.quote_fd_path(path, opts.xflag)}<{dev}>>"
    if "path" in kinds:
        return f"{fd}<{quote.quote_fd_path(path, opts.xflag)}>" + ("(deleted)" if deleted else "")
    return str(fd)


def _unlinked(file: File) -> bool:
    try:
        return file.stat().nlink == 0
    except KernelError:
        return False


def _device(file: File) -> str | None:
    """printdev's `char 136:0` / `block 8:1`, for a character or block device."""
    try:
        st = file.stat()
    except KernelError:
        return None
    kind = st.mode & S_IFMT
    if kind not in (S_IFCHR, S_IFBLK):
        return None
    return f"{'block' if kind == S_IFBLK else 'char'} {os.major(st.rdev)}:{os.minor(st.rdev)}"


@printer("fd")
def p_fd(ctx: Ctx, v: int, p: Param) -> str:
    """printfd."""
    return ctx.printfd(v)


def cwd_path(t: Task) -> str:
    """The working directory as /proc/PID/cwd reads it (d_path, " (deleted)" once removed)."""
    return t.fs.cwd.d_path()


@printer("dirfd")
def p_dirfd(ctx: Ctx, v: int, p: Param) -> str:
    """print_dirfd: AT_FDCWD by name (-X as a decimal constant), followed under -y by the
    working directory; any other descriptor as printfd."""
    v = s32(v)
    if v != AT_FDCWD:
        return ctx.printfd(v)
    text = printxval(ctx.opts.xlat_style, AT_FDCWD_XLAT, v)
    if "path" in ctx.opts.decode_fds:
        text += f"<{quote.quote_fd_path(cwd_path(ctx.t), ctx.opts.xflag)}>"
    return text


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
    return xval(v)


@ret_printer("oct")
def r_oct(ctx: Ctx, v: int) -> str:
    """RVAL_OCTAL: `%#03lo`."""
    return umode(v)


@ret_printer("fd")
def r_fd(ctx: Ctx, v: int) -> str:
    """RVAL_FD: a new descriptor as printfd shows it (a plain number past INT_MAX)."""
    return ctx.printfd(v) if 0 <= v <= 0x7FFFFFFF else str(v)
