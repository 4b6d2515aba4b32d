"""The kernel's syscall tables, parsed into dispatch lists.

Counterpart: scripts/syscalltbl.sh and arch/x86/entry/syscall_64.c. The .tbl files
beside this module are copied verbatim from Linux 6.12.117 (Debian's linux-source-6.12
package, 6.12.117-1~deb12u1). As syscalltbl.sh does for syscalls_64.h, a table keeps
the rows of the requested ABIs ("common" and "64" for x86-64; x32 rows are left out)
and fills every hole with sys_ni_syscall; every row whose entry point has no handler
in sysgate also dispatches to sys_ni_syscall and is listed as missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from sysgate.syscall import REGISTRY, Stub, Support, SyscallSpec
from sysgate.uapi.errno import Errno

LINUX_RELEASE = "6.12.117"
"""The Linux release the .tbl files come from."""

NI_SYSCALL = "sys_ni_syscall"


@dataclass(frozen=True, slots=True)
class TblRow:
    """One line of a .tbl file: `<number> <abi> <name> [<entry point> [<compat> [noreturn]]]`."""

    nr: int
    abi: str
    name: str
    entry: str | None
    compat: str | None
    noreturn: bool


def parse_tbl(text: str) -> list[TblRow]:
    """Parse a .tbl file; rows must be sorted and unique per number, as the kernel requires."""
    rows: list[TblRow] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) < 3 or not fields[0].isdigit() or len(fields) > 6:
            raise ValueError(f"line {lineno}: not a syscall table row: {line!r}")
        entry = fields[3] if len(fields) > 3 else None
        compat = fields[4] if len(fields) > 4 and fields[4] != "-" else None
        noreturn = len(fields) > 5
        if noreturn and fields[5] != "noreturn":
            raise ValueError(f"line {lineno}: invalid string {fields[5]!r} in 'noreturn' column")
        rows.append(TblRow(int(fields[0]), fields[1], fields[2], entry, compat, noreturn))
    return rows


def read_tbl(filename: str) -> list[TblRow]:
    """Read one of the .tbl files shipped in this package."""
    return parse_tbl(resources.files(__package__).joinpath(filename).read_text("utf-8"))


@dataclass(frozen=True, slots=True)
class Slot:
    """What one number of a table dispatches to, for listings and the tracer."""

    nr: int
    name: str  # the .tbl name ("uname"), or a user syscall's name
    entry: str  # the entry point symbol ("sys_newuname"), or sys_ni_syscall
    spec: SyscallSpec | None  # None: dispatches to sys_ni_syscall (-ENOSYS)
    user: bool = False  # declared by the user of this Kernel, not by sysgate
    noreturn: bool = False  # the .tbl marks it: the call does not return (exit, exit_group)

    @property
    def support(self) -> Support:
        return self.spec.support if self.spec is not None else Support.MISSING

    @property
    def note(self) -> str:
        if self.spec is not None:
            return self.spec.note
        if self.entry == NI_SYSCALL:
            return "not implemented by Linux either (sys_ni_syscall)"
        return ""


def sys_ni_syscall(t: object, r: list[int]) -> int:
    """The handler of every number without one (kernel/sys_ni.c): -ENOSYS."""
    return -Errno.ENOSYS


class SyscallTable:
    """A dispatch list for one ABI: `stubs[nr](task, frame)`, holes -> sys_ni_syscall.

    `stubs` is a plain list indexed by number so the entry does one bounds check and
    one index; `slots` holds the same numbers' names and specs for everything else.
    """

    def __init__(self, abi_name: str, word_bits: int, rows: list[TblRow], abis: tuple[str, ...]):
        self.abi_name = abi_name
        self.word_bits = word_bits
        self.slots: dict[int, Slot] = {}
        nxt = 0
        for row in rows:
            if row.abi not in abis:
                continue
            if row.nr < nxt:
                raise ValueError(f"{abi_name} table is not sorted at {row.nr}")
            entry = row.entry or NI_SYSCALL
            self.slots[row.nr] = Slot(row.nr, row.name, entry, REGISTRY.get(entry), noreturn=row.noreturn)
            nxt = row.nr + 1
        self.nr_syscalls = nxt
        """NR_syscalls: one past the highest number of the table."""
        self.stubs: list[Stub] = []
        self._rebuild()

    def _rebuild(self) -> None:
        size = max([self.nr_syscalls, *(n + 1 for n in self.slots)])
        stubs: list[Stub] = [sys_ni_syscall] * size
        for nr, slot in self.slots.items():
            if slot.spec is not None:
                stubs[nr] = slot.spec.stub(self.word_bits)
        # In place: the entry holds a reference to this very list.
        self.stubs[:] = stubs

    def by_name(self, name: str) -> Slot | None:
        """The slot called `name`, if any (a lookup for users, never on the hot path)."""
        for slot in self.slots.values():
            if slot.name == name:
                return slot
        return None

    def install(self, slot: Slot) -> None:
        """Put a (user) handler at slot.nr, replacing what was there."""
        self.slots[slot.nr] = slot
        self._rebuild()


def x86_64_table() -> SyscallTable:
    """The x86-64 table, as syscalls_64.h is generated: ABIs common and 64."""
    import sysgate.handlers  # noqa: F401 - registers every built-in handler

    return SyscallTable("x86_64", 64, read_tbl("syscall_64.tbl"), ("common", "64"))
