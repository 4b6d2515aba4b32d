"""The sets `-e QUALIFIER=SET` selects: system calls, signals, statuses, descriptors.

Counterpart: strace's basic_filters.c (qualify_syscall_tokens, qualify_tokens) and
filter_qualify.c (the string-to-number functions of each qualifier). A set is written
as comma-separated items; each leading `!` inverts it, `all` and `none` are the whole
and the empty set, and an item that names nothing is an error. As in strace's
number_set, an inverted set also holds every number it never heard of: with
`-e trace=!write`, a call with no name (syscall_0x3e8) is traced.

System-call items are names, numbers, `/regex` (extended regular expression searched in
the name), classes (`%file`, `%desc`, ...; legacy `file`, `desc`, ... without the %)
and `?item` (no error if it selects nothing). Names come from the kernel's table, so
user system calls declared with Kernel.syscall can be selected by name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sysgate.errors import SysgateError
from sysgate.trace.sysent import SYSENT
from sysgate.uapi.signal import _NSIG, SIGRTMIN
from sysgate.uapi.signal import NAMES as SIGNAL_NAMES

CLASSES: dict[str, frozenset[str]] = {
    "%desc": frozenset({"desc"}), "%file": frozenset({"file"}), "%memory": frozenset({"memory"}),
    "%process": frozenset({"process"}), "%creds": frozenset({"creds"}), "%signal": frozenset({"signal"}),
    "%ipc": frozenset({"ipc"}), "%net": frozenset({"network"}), "%network": frozenset({"network"}),
    "%stat": frozenset({"stat"}), "%lstat": frozenset({"lstat"}), "%fstat": frozenset({"fstat"}),
    "%%stat": frozenset({"%stat"}), "%statfs": frozenset({"statfs"}), "%fstatfs": frozenset({"fstatfs"}),
    "%%statfs": frozenset({"%statfs"}), "%pure": frozenset({"pure"}), "%clock": frozenset({"clock"}),
    # strace's legacy class names ("all" is every named call)
    "all": frozenset(), "desc": frozenset({"desc"}), "file": frozenset({"file"}),
    "memory": frozenset({"memory"}), "process": frozenset({"process"}), "signal": frozenset({"signal"}),
    "ipc": frozenset({"ipc"}), "network": frozenset({"network"}),
}
"""strace's syscall classes (basic_filters.c: qualify_syscall_class), matched case-sensitively."""
STATUSES = ("successful", "failed", "unfinished", "unavailable", "detached")
QUIET = {"attach": "attach", "exit": "exit", "exits": "exit", "path-resolution": "path-resolution",
         "personality": "personality", "superseded": "thread-execve", "thread-execve": "thread-execve"}
"""-e quiet= names (filter_qualify.c: quietstr_to_uint), matched case-insensitively."""
DECODE_FDS = ("path", "socket", "dev", "pidfd")
PERSONALITIES = ("64", "32", "x32")
"""The designators of `name@64` and friends on x86-64; sysgate runs 64-bit programs only."""
HIGHEST_I386_NR = 450
"""The largest number strace 6.1's i386 table has: a number up to it is a valid -e trace= item."""


def usage_error(message: str) -> SysgateError:
    """A bad option: one line on stderr and exit status 1, as strace's usage errors."""
    return SysgateError(f"trace: {message}", 1)


@dataclass(frozen=True, slots=True)
class NumberSet:
    """strace's number_set: the numbers listed, or (inverted) all numbers but those."""

    numbers: frozenset[int] = frozenset()
    inverted: bool = False

    def __contains__(self, n: object) -> bool:
        return (n in self.numbers) != self.inverted

    @property
    def complete(self) -> bool:
        """Every number: `all` (as strace's is_complete_set for the sets it checks)."""
        return self.inverted and not self.numbers

    @property
    def empty(self) -> bool:
        return not self.inverted and not self.numbers


ALL = NumberSet(inverted=True)
NONE = NumberSet()


def _parse_set(expr: str, item: Callable[[str], set[int]], what: str) -> NumberSet:
    """qualify_tokens: leading `!`s invert, `all`/`none`, else comma-separated items."""
    inverted = False
    s = expr
    while s.startswith("!"):
        inverted = not inverted
        s = s[1:]
    if s == "none":
        return NumberSet(frozenset(), inverted)
    if s == "all":
        return NumberSet(frozenset(), not inverted)
    numbers: set[int] = set()
    tokens = [t for t in s.split(",") if t]
    if not tokens:
        raise usage_error(f"invalid {what} '{expr}'")
    for token in tokens:
        numbers |= item(token)
    return NumberSet(frozenset(numbers), inverted)


# -- system calls ---------------------------------------------------------------------------


class SyscallNames:
    """The system calls a set may name: the kernel's table (with user calls) and strace's."""

    def __init__(self, name_of: dict[int, str]) -> None:
        self.name_of = dict(name_of)
        for nr, (_, name, _flags) in SYSENT.items():
            self.name_of.setdefault(nr, name)
        self.by_name: dict[str, set[int]] = {}
        for nr, name in self.name_of.items():
            self.by_name.setdefault(name, set()).add(nr)

    def parse(self, expr: str) -> NumberSet:
        """A `-e trace=` (abbrev=, verbose=, raw=, inject=) set."""
        return _parse_set(expr, self._item, "system call")

    def _item(self, token: str) -> set[int]:
        name = token
        optional = False
        while name.startswith("?"):
            name, optional = name[1:], True
        found: set[int] | None = self._personality(name)
        if found is None:
            found = self._pers(name)
        if found is None:
            if optional:
                return set()
            raise usage_error(f"invalid system call '{token}'")
        return found

    def _personality(self, name: str) -> set[int] | None:
        base, at, pers = name.rpartition("@")
        if not at:
            return None
        if pers not in PERSONALITIES:
            raise usage_error(f"incorrect personality designator '{pers}' in qualification '{name}'")
        found = self._pers(base)
        if pers != "64":
            return set() if found is not None else None  # no 32-bit or x32 programs here
        return found

    def _pers(self, name: str) -> set[int] | None:
        """One item for the 64-bit table; None when it selects nothing (an error unless `?`)."""
        if name[:1].isdigit():
            if not name.isdigit():
                return None
            nr = int(name)
            return {nr} if nr in self.name_of or nr <= HIGHEST_I386_NR else None
        if name.startswith("/"):
            try:
                pattern = re.compile(name[1:])
            except re.error as exc:
                raise usage_error(f"regcomp: {name[1:]}: {exc}") from None
            found = {nr for nr, n in self.name_of.items() if pattern.search(n)}
            return found or None
        cls = CLASSES.get(name)
        if cls is not None:
            return {nr for nr in self.name_of if cls <= self.flags(nr)}
        return set(self.by_name[name]) if name in self.by_name else None

    @staticmethod
    def flags(nr: int) -> frozenset[str]:
        entry = SYSENT.get(nr)
        return entry[2] if entry is not None else frozenset()


# -- the other sets ---------------------------------------------------------------------------


def signal_number(text: str) -> int:
    """sigstr_to_uint: a number up to 255, or a name with or without SIG, any case; -1 if none."""
    if text[:1].isdigit():
        return int(text) if text.isdigit() and int(text) <= 255 else -1
    name = text.upper()
    if name.startswith("SIG"):
        name = name[3:]
    for num, sig in SIGNAL_NAMES.items():
        if sig[3:] == name:
            return num
    if name == "RTMIN":
        return SIGRTMIN
    m = re.fullmatch(r"RT_(\d+)", name)
    if m and SIGRTMIN + int(m.group(1)) <= _NSIG:
        return SIGRTMIN + int(m.group(1))
    return -1


def _lookup(table: Iterable[str], what: str) -> Callable[[str], set[int]]:
    names = list(table)

    def item(token: str) -> set[int]:
        low = token.lower()
        if low not in names:
            raise usage_error(f"invalid {what} '{token}'")
        return {names.index(low)}

    return item


def parse_signals(expr: str) -> NumberSet:
    def item(token: str) -> set[int]:
        n = signal_number(token)
        if n < 0:
            raise usage_error(f"invalid signal '{token}'")
        return {n}

    return _parse_set(expr, item, "signal")


def parse_statuses(expr: str) -> frozenset[str]:
    s = _parse_set(expr, _lookup(STATUSES, "status"), "status")
    return frozenset(name for i, name in enumerate(STATUSES) if i in s)


def parse_quiet(expr: str) -> frozenset[str]:
    kinds = sorted(set(QUIET.values()))

    def item(token: str) -> set[int]:
        kind = QUIET.get(token.lower())
        if kind is None:
            raise usage_error(f"invalid quiet '{token}'")
        return {kinds.index(kind)}

    s = _parse_set(expr, item, "quiet")
    return frozenset(kind for i, kind in enumerate(kinds) if i in s)


def parse_decode_fds(expr: str) -> frozenset[str]:
    s = _parse_set(expr, _lookup(DECODE_FDS, "decode-fds"), "decode-fds")
    return frozenset(name for i, name in enumerate(DECODE_FDS) if i in s)


def parse_descriptors(expr: str) -> NumberSet:
    """-e read= / write=: descriptor numbers."""
    def item(token: str) -> set[int]:
        if not token.isdigit() or int(token) > 0x7FFFFFFF:
            raise usage_error(f"invalid descriptor '{token}'")
        return {int(token)}

    return _parse_set(expr, item, "descriptor")


# -- time units --------------------------------------------------------------------------------

TIME_UNITS = {"s": (10**9, 0), "ms": (10**6, 3), "us": (10**3, 6), "ns": (1, 9)}
"""str2timescale: a unit's length in nanoseconds and the digits strace prints for it."""


def timescale(arg: str | None, what: str) -> tuple[int, int]:
    """A precision argument (-r, -T, --absolute-timestamps=precision:): (scale ns, width)."""
    if arg is None:
        return TIME_UNITS["us"]
    unit = TIME_UNITS.get(arg.lower())
    if unit is None:
        raise usage_error(f"invalid {what} argument: '{arg}'")
    return unit


def parse_duration(text: str) -> int | None:
    """parse_ts: a non-negative number with an optional unit (default us); nanoseconds or None."""
    m = re.fullmatch(r"([0-9eE.+-]*?)(s|ms|us|ns)?", text)
    if not m or not m.group(1):
        return None
    number = m.group(1)
    try:
        value = float(number) if re.search(r"[eE.-]", number) else int(number)
    except ValueError:
        return None
    if value < 0:
        return None
    return int(value * TIME_UNITS[m.group(2) or "us"][0])
