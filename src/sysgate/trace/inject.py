"""Tampering: `-e inject=SET:TOKEN:...` and `-e fault=SET:TOKEN:...`.

Counterpart: strace's filter_qualify.c (parse_inject_token, qualify_inject_common) and
syscall.c (tamper_with_syscall_entering/exiting, print_injected_note), poke.c, delay.c.
The tokens:

    error=ERRNO       the call is not executed and fails with ERRNO (a name or 1..4095)
    retval=N          the call is not executed and returns N (strtoull syntax)
    signal=SIG        SIG is sent to the task when the call is entered
    delay_enter=T     sleep T before the call (a number with s, ms, us (default) or ns)
    delay_exit=T      sleep T after it
    poke_enter=@argN=HEX,...  write bytes where argument N points, before the call
    poke_exit=@argN=HEX,...   ... after it
    syscall=NAME      run the pure call NAME instead (it has no effect: the result is
                      replaced by error= or retval= anyway)
    when=EXPR         which calls of each system call, counted per thread: F (the F-th
                      only), F+ (from the F-th on), F+S (every S-th from the F-th),
                      F..L and F..L+S

Injection happens only to traced calls, as in strace. A later -e inject= for the same
system call replaces an earlier one.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field

from sysgate.errors import GuestFault, SysgateError
from sysgate.mm.mm import READ, Mm
from sysgate.mm.physmem import PAGE_SHIFT, PAGE_SIZE
from sysgate.trace.qualify import NumberSet, SyscallNames, parse_duration, signal_number
from sysgate.trace.sysent import SYSENT
from sysgate.uapi.errno import MAX_ERRNO, Errno

INJECT_LAST_INF = 0xFFFF


@dataclass(slots=True)
class Poke:
    """poke_enter=/poke_exit=: bytes written where argument `arg_no` (1-based) points."""

    arg_no: int
    data: bytes


@dataclass(slots=True)
class InjectSpec:
    """One -e inject= (or fault=) qualifier."""

    expr: str  # the system-call set as written
    syscalls: NumberSet = field(default_factory=NumberSet)
    error: int = 0  # errno to inject
    retval: int | None = None  # as a 64-bit register value
    signal: int = 0
    delay_enter_ns: int | None = None
    delay_exit_ns: int | None = None
    poke_enter: list[Poke] = field(default_factory=list)
    poke_exit: list[Poke] = field(default_factory=list)
    syscall: int | None = None  # syscall=NAME: its number
    first: int = 1
    last: int = INJECT_LAST_INF
    step: int = 1

    @property
    def tampers(self) -> bool:
        """Whether the call is replaced by an injected result (error or return value)."""
        return bool(self.error) or self.retval is not None

    @property
    def result(self) -> int:
        """What the guest gets instead of the call's result."""
        if self.error:
            return -self.error
        assert self.retval is not None
        return self.retval - (1 << 64) if self.retval >> 63 else self.retval


@dataclass(slots=True)
class Counter:
    """A thread's copy of one system call's `when=` state (strace copies inject_vec per tcb)."""

    first: int
    last: int


class Injector:
    """The specs by system-call number, and each thread's counters."""

    def __init__(self, specs: list[InjectSpec]) -> None:
        self.specs = specs
        self.counters: dict[tuple[int, int], Counter] = {}

    def spec_for(self, nr: int) -> InjectSpec | None:
        for spec in reversed(self.specs):  # the last qualifier naming the call wins
            if nr in spec.syscalls:
                return spec
        return None

    def due(self, tid: int, nr: int) -> InjectSpec | None:
        """Count this call (tamper_with_syscall_entering); the spec if it is injected now."""
        spec = self.spec_for(nr)
        if spec is None:
            return None
        c = self.counters.get((tid, nr))
        if c is None:
            c = self.counters[(tid, nr)] = Counter(spec.first, spec.last)
        if c.first == 0 or c.last == 0:
            return None
        if c.last != INJECT_LAST_INF:
            c.last -= 1
        c.first -= 1
        if c.first != 0:
            return None
        c.first = spec.step
        return spec


def _bad(value: str, fault: bool) -> SysgateError:
    return SysgateError(f"trace: invalid {'fault' if fault else 'inject'} argument '{value}'", 1)


def _uint(text: str, limit: int) -> int | None:
    return int(text) if text.isdigit() and int(text) <= limit else None


def _when(val: str, spec: InjectSpec) -> bool:
    m = re.fullmatch(r"(\d+)(?:\.\.(\d+))?(?:\+(\d*))?", val)
    if not m:
        return False
    first = _uint(m.group(1), 0xFFFF)
    if first is None or first < 1:
        return False
    spec.first = first
    if m.group(2) is not None:
        last = _uint(m.group(2), 0xFFFF)
        if last is None or last < first or last == INJECT_LAST_INF:
            return False
        spec.last = last
    else:
        spec.last = INJECT_LAST_INF
    if "+" in val:
        step = _uint(m.group(3), 0xFFFF) if m.group(3) else 1
        if step is None or step < 1:
            return False
        spec.step = step
    else:
        spec.step = 0 if spec.last == INJECT_LAST_INF else 1
    return True


def _pokes(val: str, into: list[Poke]) -> bool:
    if into or not val:
        return False
    for token in (t for t in val.split(",") if t):
        m = re.fullmatch(r"@arg([1-7])=((?:[0-9a-fA-F]{2}){1,1024})", token)
        if not m or any(p.arg_no == int(m.group(1)) for p in into):
            return False
        into.append(Poke(int(m.group(1)), bytes.fromhex(m.group(2))))
    return bool(into)


def _strtoull(text: str) -> int | None:
    """C's strtoull(text, &end, 0) over the whole text: decimal, 0x hex, 0 octal, a sign."""
    m = re.fullmatch(r"\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)", text)
    if not m:
        return None
    digits = m.group(2)
    value = int(digits, 16) if digits[:2].lower() == "0x" else int(digits, 8) if digits.startswith("0") \
        else int(digits)
    return -value if m.group(1) == "-" else value


def _errno(val: str) -> int:
    n = _uint(val, MAX_ERRNO)
    if n is not None:
        return n
    for e in Errno:
        if e.name.lower() == val.lower():
            return int(e)
    return -1


def _token(token: str, spec: InjectSpec, names: SyscallNames, fault: bool) -> bool:
    """parse_inject_token: False for a token that is not valid here."""
    key, sep, val = token.partition("=")
    if not sep:
        return False
    if key == "when":
        return _when(val, spec)
    if key == "syscall":
        nrs = names.by_name.get(val, set())
        if spec.syscall is not None or not nrs or not all("pure" in SyscallNames.flags(n) for n in nrs):
            return False
        spec.syscall = min(nrs)
        return True
    if key == "error":
        if spec.tampers:
            return False
        spec.error = _errno(val)
        return spec.error >= 1
    if fault:
        return False
    if key == "retval":
        if spec.tampers:
            return False
        value = _strtoull(val)
        if value is None:
            return False
        if value >= 1 << 64 or value < -(1 << 64) + 1:
            return False
        spec.retval = value & ((1 << 64) - 1)
        if spec.retval >= (1 << 64) - MAX_ERRNO:
            sys.stderr.write(f"sysgate: trace: Inadvertent injection of error {(1 << 64) - spec.retval} "
                             f"is possible for retval={spec.retval}\n")
        return True
    if key == "signal":
        if spec.signal:
            return False
        spec.signal = signal_number(val)
        return 1 <= spec.signal <= 64
    if key in ("delay_enter", "delay_exit"):
        attr = f"{key}_ns"
        if getattr(spec, attr) is not None:
            return False
        ns = parse_duration(val)
        setattr(spec, attr, ns)
        return ns is not None
    if key == "poke_enter":
        return _pokes(val, spec.poke_enter)
    if key == "poke_exit":
        return _pokes(val, spec.poke_exit)
    return False


def parse_inject(value: str, names: SyscallNames, fault: bool = False) -> InjectSpec:
    """The value of -e inject= (or, with `fault`, -e fault=, whose default is error=ENOSYS)."""
    tokens = [t for t in value.split(":") if t]
    set_expr = "" if value.startswith(":") or not tokens else tokens.pop(0)
    spec = InjectSpec(set_expr)
    for token in tokens:
        if not _token(token, spec, names, fault):
            raise _bad(value, fault)
    spec.syscalls = names.parse(set_expr)
    acts = spec.tampers or spec.signal or spec.delay_enter_ns is not None or spec.delay_exit_ns is not None \
        or spec.poke_enter or spec.poke_exit
    if not acts:
        if not fault:
            raise _bad(value, fault)
        spec.error = Errno.ENOSYS
    return spec


def poke_memory(mm: Mm, addr: int, data: bytes) -> bool:
    """Write `data` into guest memory as ptrace's POKEDATA does (access_process_vm with
    FOLL_FORCE): also into read-only pages of private mappings, whose frames are the
    process's own. False if some byte could not be written (unmapped, or a shared
    mapping the process cannot write)."""
    try:
        mm.write(addr, data)
        return True
    except GuestFault:
        pass
    pos = 0
    while pos < len(data):
        a = addr + pos
        vma = mm.find_vma(a)
        if vma is None or vma.start > a or vma.shared:
            return False
        try:
            pte = mm.pt.get(a >> PAGE_SHIFT) or mm.handle_mm_fault(a, READ)
        except GuestFault:
            return False
        pfn = pte >> PAGE_SHIFT
        off = a & (PAGE_SIZE - 1)
        step = min(len(data) - pos, PAGE_SIZE - off)
        mm.phys.page(pfn)[off : off + step] = data[pos : pos + step]
        if pfn in mm.phys.code_pfns:
            mm.mmu.flush_code(a, a + step)
        pos += step
    return True


def nargs(nr: int, declared: int | None) -> int:
    """How many arguments a call has, for poke's argument numbers (strace's n_args)."""
    if nr in SYSENT:
        return SYSENT[nr][0]
    return declared if declared is not None else 6
