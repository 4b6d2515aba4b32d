"""Hooks on system calls: read or rewrite the arguments, answer a call without running it,
read or rewrite the result.

    k = sysgate.Kernel()

    @k.on_syscall_enter("openat")
    def deny_etc(call):
        if call.path("filename").startswith(b"/etc/"):
            call.fail(Errno.EACCES)           # the handler does not run

    @k.on_syscall_exit("getpid")
    def fake_pid(call):
        call.result = 1234

Counterpart: what ptrace's syscall stops and seccomp user notification offer a tracer,
here without a second process. A hook sees the arguments decoded as the declaration
says (`call.args["fd"]`), not raw registers; changing one changes what the handler gets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sysgate.errors import GuestFault
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task
    from sysgate.syscall import SyscallSpec
    from sysgate.tables.tbl import Slot


class Args(MutableMapping[str, int]):
    """The decoded arguments of a call by parameter name; writes go back to the frame."""

    def __init__(self, call: SyscallCall) -> None:
        self._call = call

    def _index(self, name: str) -> int:
        spec = self._call.spec
        if spec is not None:
            for i, p in enumerate(spec.params):
                if p.name == name:
                    return i
        if name.startswith("arg") and name[3:].isdigit() and int(name[3:]) < 6:
            return int(name[3:])
        raise KeyError(name)

    def __getitem__(self, name: str) -> int:
        i = self._index(name)
        return self._call.decoded[i] if i < len(self._call.decoded) else self._call.frame[i + 1]

    def __setitem__(self, name: str, value: int) -> None:
        i = self._index(name)
        self._call.frame[i + 1] = value & 0xFFFFFFFFFFFFFFFF
        if i < len(self._call.decoded):
            self._call.decoded[i] = value

    def __delitem__(self, name: str) -> None:
        raise TypeError("system call arguments cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        spec = self._call.spec
        names = [p.name for p in spec.params] if spec is not None else [f"arg{i}" for i in range(6)]
        return iter(names)

    def __len__(self) -> int:
        return len(list(iter(self)))


@dataclass(slots=True)
class SyscallCall:
    """One system call as hooks and the tracer see it."""

    task: Task
    nr: int
    slot: Slot | None
    frame: list[int]  # the registers: [nr, arg0 .. arg5, ip, flags]; args written here reach the handler
    decoded: list[int]
    answer: int | None = None  # set by an enter hook: the result, and the handler does not run
    result: int | None = None  # at exit: what the guest gets (an exit hook may change it)
    injected: bool = False
    delayed: bool = False
    start_ns: int = 0
    duration_ns: int = 0  # wall-clock time in the handler (-T, -c -w)
    cpu_ns: int = 0  # CPU time sysgate's thread spent in the handler (-c), when counted
    state: dict[str, object] = field(default_factory=dict)  # the tracer's per-call data

    @property
    def name(self) -> str:
        if self.slot is not None:
            return self.slot.name
        # strace gets the number as the kernel's int nr, sign-extended: -1 is 0xffffffffffffffff
        wide = self.nr - (1 << 32) if self.nr & 0x80000000 else self.nr
        return f"syscall_{wide & 0xFFFFFFFFFFFFFFFF:#x}"

    @property
    def spec(self) -> SyscallSpec | None:
        return self.slot.spec if self.slot is not None else None

    @property
    def args(self) -> Args:
        return Args(self)

    def fail(self, errno: Errno | int) -> None:
        """Answer the call with -errno without running it."""
        self.answer = -int(errno)

    def succeed(self, value: int = 0) -> None:
        """Answer the call with `value` without running it."""
        self.answer = value

    def path(self, name: str, maxlen: int = 4096) -> bytes:
        """The NUL-terminated string an argument points to (b"" if it cannot be read)."""
        addr = self.args[name]
        out = bytearray()
        while len(out) < maxlen:
            try:
                chunk = self.task.mm.read(addr + len(out), min(256, 4096 - (addr + len(out)) % 4096))
            except GuestFault:
                break
            nul = chunk.find(0)
            if nul >= 0:
                return bytes(out + chunk[:nul])
            out += chunk
        return bytes(out)


Hook = Callable[[SyscallCall], None]


class Hooks:
    """Hooks by system call number (None: every call)."""

    def __init__(self) -> None:
        self.enter: dict[int | None, list[Hook]] = {}
        self.exit: dict[int | None, list[Hook]] = {}

    def __bool__(self) -> bool:
        return bool(self.enter or self.exit)

    def add(self, table: dict[int | None, list[Hook]], nr: int | None, fn: Hook) -> None:
        table.setdefault(nr, []).append(fn)

    def run(self, table: dict[int | None, list[Hook]], call: SyscallCall) -> None:
        for fn in table.get(call.nr, ()):
            fn(call)
        for fn in table.get(None, ()):
            fn(call)
