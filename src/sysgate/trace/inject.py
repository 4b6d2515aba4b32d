"""Fault injection: `-e inject=SET:error=ERRNO|retval=N[:signal=SIG][:delay_enter=T][:delay_exit=T][:when=EXPR]`.

Counterpart: strace's filter_qualify.c (parse_inject_token, the `when=` grammar) and
syscall.c (tamper_with_syscall_entering/exiting). As in strace, an injected error or
return value means the call is not executed; `when=` counts the calls of each system
call in each process: F (only the F-th), F+ (from the F-th on), F+S (every S-th from
the F-th), F..L and F..L+S. Delays are microseconds unless suffixed s, ms, us or ns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sysgate.errors import SysgateError
from sysgate.uapi.errno import Errno
from sysgate.uapi.signal import NAMES as SIGNAL_NAMES

INJECT_LAST_INF = 0xFFFF
_SCALE = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1, "": 10**3}


def _bad(expr: str) -> SysgateError:
    return SysgateError(f"trace: invalid inject expression {expr!r}", 1)


@dataclass(slots=True)
class InjectSpec:
    """One -e inject= (or fault=) qualifier."""

    expr: str  # the syscall set, resolved to numbers by the tracer
    error: int = 0  # errno to inject
    retval: int | None = None
    signal: int = 0
    delay_enter_ns: int = 0
    delay_exit_ns: int = 0
    first: int = 1
    last: int = INJECT_LAST_INF
    step: int = 1
    numbers: set[int] = field(default_factory=set)
    counts: dict[tuple[int, int], int] = field(default_factory=dict)  # (tgid, nr) -> calls seen

    @property
    def tampers(self) -> bool:
        """Whether the call is replaced by an injected result (error or return value)."""
        return bool(self.error) or self.retval is not None

    def due(self, tgid: int, nr: int) -> bool:
        """Count this call; whether `when=` selects it."""
        n = self.counts.get((tgid, nr), 0) + 1
        self.counts[(tgid, nr)] = n
        if n < self.first or (self.last != INJECT_LAST_INF and n > self.last):
            return False
        if self.step == 0:
            return n == self.first
        return (n - self.first) % self.step == 0


def _uint(text: str, limit: int, expr: str) -> int:
    if not text.isdigit():
        raise _bad(expr)
    value = int(text)
    if value > limit:
        raise _bad(expr)
    return value


def _when(value: str, spec: InjectSpec, expr: str) -> None:
    m = re.fullmatch(r"(\d+)(?:\.\.(\d+))?(\+(\d*))?", value)
    if not m:
        raise _bad(expr)
    spec.first = _uint(m.group(1), 0xFFFF, expr)
    if spec.first < 1:
        raise _bad(expr)
    if m.group(2) is not None:
        spec.last = _uint(m.group(2), 0xFFFF, expr)
        if spec.last < spec.first or spec.last == INJECT_LAST_INF:
            raise _bad(expr)
    else:
        spec.last = INJECT_LAST_INF
    if m.group(3) is not None:
        spec.step = _uint(m.group(4), 0xFFFF, expr) if m.group(4) else 1
        if spec.step < 1:
            raise _bad(expr)
    else:
        spec.step = 0 if spec.last == INJECT_LAST_INF else 1


def _delay(value: str, expr: str) -> int:
    m = re.fullmatch(r"([0-9.eE+-]+?)(s|ms|us|ns)?", value)
    if not m:
        raise _bad(expr)
    try:
        number = float(m.group(1)) if re.search(r"[.eE-]", m.group(1)) else int(m.group(1))
    except ValueError:
        raise _bad(expr) from None
    if number < 0:
        raise _bad(expr)
    return int(number * _SCALE[m.group(2) or ""])


def signal_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    for num, sig in SIGNAL_NAMES.items():
        if sig == name:
            return num
    return -1


def parse_inject(value: str, fault: bool = False) -> InjectSpec:
    """Parse the value of -e inject= (or, with `fault`, -e fault=, whose default is ENOSYS)."""
    tokens = value.split(":")
    if not tokens[0]:
        raise _bad(value)
    spec = InjectSpec(tokens[0])
    for token in tokens[1:]:
        key, sep, val = token.partition("=")
        if not sep:
            raise _bad(value)
        if key == "when":
            _when(val, spec, value)
        elif key == "error":
            if spec.tampers:
                raise _bad(value)
            spec.error = int(val) if val.isdigit() else (Errno[val].value if val in Errno.__members__ else 0)
            if not 1 <= spec.error <= 4095:
                raise _bad(value)
        elif key == "retval" and not fault:
            if spec.tampers:
                raise _bad(value)
            try:
                spec.retval = int(val, 0)
            except ValueError:
                raise _bad(value) from None
            if not 0 <= spec.retval < 1 << 64:
                raise _bad(value)
        elif key == "signal" and not fault:
            spec.signal = signal_number(val)
            if not 1 <= spec.signal <= 64:
                raise _bad(value)
        elif key == "delay_enter" and not fault:
            spec.delay_enter_ns = _delay(val, value)
        elif key == "delay_exit" and not fault:
            spec.delay_exit_ns = _delay(val, value)
        else:
            raise _bad(value)
    if fault and not spec.error:
        spec.error = Errno.ENOSYS
    if not (spec.tampers or spec.signal or spec.delay_enter_ns or spec.delay_exit_ns):
        raise _bad(value)
    return spec
