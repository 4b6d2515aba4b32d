"""@syscall: one declaration per system call, read once at import.

Counterpart: include/linux/syscalls.h. In the kernel, SYSCALL_DEFINEn(read, unsigned
int, fd, ...) produces the handler, the per-ABI register stubs (__x64_sys_read ->
__se_sys_read -> __do_sys_read) and, through SYSCALL_METADATA, the names and types the
tracer prints. Here the decorated function's signature is the declaration: `@syscall()`
reads its annotations once and builds a frozen SyscallSpec holding the C types, the
support level and note, and a compiled stub that decodes the raw registers. Dispatch,
the tracer, `sysgate syscalls` and the generated docs all read this one object; nothing
is introspected per call.
"""

from __future__ import annotations

import enum
import inspect
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sysgate.argtypes import Arg

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

MAX_ARGS = 6
"""A system call takes at most six arguments (the registers of every Linux ABI)."""

Handler = Callable[..., int]
Stub = Callable[["Task", list[int]], int]
"""A compiled entry: takes the task and the raw frame [nr, arg0..arg5, ...]."""


class Support(enum.Enum):
    """How much of the Linux behaviour a handler provides."""

    FULL = "full"
    PARTIAL = "partial"
    MISSING = "missing"


class SyscallDeclarationError(TypeError):
    """A declaration that cannot be used: raised at declaration time, never per call."""


@dataclass(frozen=True, slots=True)
class Param:
    """One declared argument: its name and what it is."""

    name: str
    arg: Arg

    def c_decl(self) -> str:
        sep = "" if self.arg.ctype.endswith("*") else " "
        return f"{self.arg.ctype}{sep}{self.name}"


@dataclass(frozen=True, slots=True)
class SyscallSpec:
    """Everything known about one handler, built once by @syscall."""

    symbol: str  # the .tbl entry point it implements, e.g. "sys_newuname"
    params: tuple[Param, ...]
    summary: str  # the man page NAME line
    support: Support
    note: str  # what is missing, for PARTIAL
    fn: Handler
    ret: str = "dec"  # how the tracer prints the result (a sysgate.trace.printers RET_PRINTERS name)
    _stubs: dict[int, Stub] = field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The name without the sys_ prefix (the .tbl name may differ: newuname)."""
        return self.symbol.removeprefix("sys_")

    def signature(self, name: str | None = None) -> str:
        """The C prototype, as `man 2` writes it."""
        args = ", ".join(p.c_decl() for p in self.params) or "void"
        return f"long {name or self.name}({args})"

    def decode(self, frame: list[int], word_bits: int = 64) -> list[int]:
        """The arguments as the handler receives them (for tracers and hooks, not dispatch)."""
        out = []
        for i, p in enumerate(self.params):
            bits = p.arg.bits or word_bits
            v = frame[i + 1] & ((1 << min(bits, 64)) - 1)
            if p.arg.signed and v >> (bits - 1):
                v -= 1 << bits
            out.append(v)
        return out

    def stub(self, word_bits: int) -> Stub:
        """The decoder for an ABI whose registers are `word_bits` wide, compiled once."""
        stub = self._stubs.get(word_bits)
        if stub is None:
            stub = self._stubs[word_bits] = compile_stub(self, word_bits)
        return stub


def _decode_expr(index: int, arg: Arg, word_bits: int) -> str:
    """Python source that turns raw register `index` into the declared C type."""
    reg = f"r[{index}]"
    bits = arg.bits or word_bits
    if bits < 64:
        # Also a word-sized type on a 32-bit ABI: the frame holds 64-bit registers, and the
        # compat wrappers cast each one to 32 bits first (SC_IA32_REGS_TO_ARGS).
        reg = f"({reg} & {(1 << bits) - 1:#x})"
    if arg.signed:
        sign = 1 << (bits - 1)
        return f"(({reg} ^ {sign:#x}) - {sign:#x})"
    return reg


def compile_stub(spec: SyscallSpec, word_bits: int) -> Stub:
    """Generate `stub(t, r) -> fn(t, decoded args...)`, like __se_sys_* in the kernel.

    The raw frame `r` holds the number at index 0 and the six argument registers at
    1..6 in the ABI's order (x86-64: rdi rsi rdx r10 r8 r9; i386: ebx ecx edx esi edi
    ebp). Generated code is one call with inline masks: no loop, no lookup per call.
    """
    exprs = [_decode_expr(i + 1, p.arg, word_bits) for i, p in enumerate(spec.params)]
    src = f"def __stub_{spec.symbol}(t, r):\n    return fn(t{''.join(', ' + e for e in exprs)})\n"
    namespace: dict[str, Any] = {"fn": spec.fn}
    exec(compile(src, f"<syscall stub {spec.symbol}>", "exec"), namespace)  # noqa: S102 - our own generated stub
    stub: Stub = namespace[f"__stub_{spec.symbol}"]
    return stub


def _resolve(text: str, fn: Handler, where: str, param: str) -> object:
    """Evaluate a string annotation (`from __future__ import annotations`).

    In the handler's module first; then, for a handler defined inside a function (a user
    system call declared in a test or a script), in the scopes of the callers that are
    declaring it, where names such as a locally imported `Int` live.
    """
    try:
        return eval(text, fn.__globals__)  # noqa: S307 - the handler's own annotation
    except NameError as first:
        error: Exception = first
    frame: types.FrameType | None = sys._getframe(1)
    for _ in range(12):
        if frame is None:
            break
        try:
            return eval(text, fn.__globals__, frame.f_locals)  # noqa: S307
        except NameError:
            frame = frame.f_back
        except Exception as exc:  # noqa: BLE001 - reported as a declaration error below
            error = exc
            break
    raise SyscallDeclarationError(f"{where}: cannot resolve the type of {param!r}: {error}") from None


def _param_args(fn: Handler) -> tuple[Param, ...]:
    """Read the declared parameters after the task, with their Arg metadata."""
    where = f"{fn.__module__}.{fn.__qualname__}"
    params = list(inspect.signature(fn).parameters.values())
    if not params:
        raise SyscallDeclarationError(f"{where}: the first parameter must be the task")
    out: list[Param] = []
    for p in params[1:]:
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            raise SyscallDeclarationError(f"{where}: parameter {p.name!r} must be positional")
        ann = p.annotation
        if isinstance(ann, str):
            ann = _resolve(ann, fn, where, p.name)
        metas = [m for m in getattr(ann, "__metadata__", ()) if isinstance(m, Arg)]
        if typing.get_origin(ann) is not typing.Annotated or len(metas) != 1:
            raise SyscallDeclarationError(
                f"{where}: parameter {p.name!r} needs a type from sysgate.argtypes "
                f"(e.g. Int, Fd, SizeT, Path), not {p.annotation!r}"
            )
        out.append(Param(p.name, metas[0]))
    if len(out) > MAX_ARGS:
        raise SyscallDeclarationError(
            f"{where}: a system call takes at most {MAX_ARGS} arguments, not {len(out)}"
        )
    names = {q.name for q in out}
    for q in out:
        size = getattr(q.arg, "size", None)
        if size not in (None, "ret") and size not in names:
            raise SyscallDeclarationError(
                f"{where}: {q.name!r} names its size parameter {size!r}, which is not declared"
            )
    return tuple(out)


def make_spec(
    fn: Handler, *, symbol: str | None = None, support: Support = Support.FULL, note: str = "", ret: str = "dec"
) -> SyscallSpec:
    """Build the spec for `fn` (without registering it)."""
    doc = inspect.getdoc(fn) or ""
    summary = doc.splitlines()[0].strip() if doc else ""
    if support is Support.PARTIAL and not note:
        raise SyscallDeclarationError(f"{fn.__qualname__}: a partial handler must say what is missing")
    if support is Support.MISSING:
        raise SyscallDeclarationError(f"{fn.__qualname__}: a declared handler cannot be 'missing'")
    return SyscallSpec(
        symbol=symbol or fn.__name__,
        params=_param_args(fn),
        summary=summary,
        support=support,
        note=note,
        fn=fn,
        ret=ret,
    )


REGISTRY: dict[str, SyscallSpec] = {}
"""Built-in handlers by entry-point symbol; the table builder links .tbl rows to them."""


def syscall(
    *, support: Support = Support.FULL, note: str = "", symbol: str | None = None, ret: str = "dec"
) -> Callable[[Handler], Handler]:
    """Declare a built-in handler for the .tbl entry point named like the function.

    `ret` names how the tracer prints the result: "dec", "hex" (addresses: mmap, brk),
    "fd" (a new descriptor, shown with its path under -y), "oct" (umask) ...
    """

    def register(fn: Handler) -> Handler:
        spec = make_spec(fn, symbol=symbol, support=support, note=note, ret=ret)
        if spec.symbol in REGISTRY:
            raise SyscallDeclarationError(f"{spec.symbol} is declared twice")
        REGISTRY[spec.symbol] = spec
        return fn

    return register
