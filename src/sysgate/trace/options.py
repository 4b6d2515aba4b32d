"""`sysgate trace` options, with strace's syntax and meaning.

Counterpart: strace's strace.c (option parsing) and filter_qualify.c (`-e` qualifiers).
Short options may be bundled (`-ff`, `-tt`, `-xx`, `-yyv`), values attached or apart
(`-s64`, `-s 64`, `-etrace=open`), and the `-e` qualifiers take sets: names, `!` for
negation, `/regex`, `?name` (no error for an unknown name), and the classes `%file`,
`%desc`, `%process`, `%network`, `%signal`, `%ipc`, `%memory`, `%creds`, `%clock`,
`%stat`, `%lstat`, `%fstat`, `%%stat`, `%statfs`, `%fstatfs`, `%%statfs`, `%pure`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sysgate.errors import SysgateError
from sysgate.trace.inject import InjectSpec, parse_inject
from sysgate.trace.sysent import SYSENT

CLASSES = {
    "%file": "file", "%desc": "desc", "%process": "process", "%network": "network", "%net": "network",
    "%signal": "signal", "%ipc": "ipc", "%memory": "memory", "%creds": "creds", "%clock": "clock",
    "%stat": "stat", "%lstat": "lstat", "%fstat": "fstat", "%%stat": "%stat", "%statfs": "statfs",
    "%fstatfs": "fstatfs", "%%statfs": "%statfs", "%pure": "pure",
}
STATUSES = ("successful", "failed", "unfinished", "unavailable", "detached")
SORT_KEYS = {"time": "time", "time-percent": "time", "time_percent": "time", "time-total": "time",
             "total-time": "time", "min-time": "min", "max-time": "max", "avg-time": "avg",
             "calls": "calls", "count": "calls", "errors": "errors", "error": "errors",
             "name": "name", "syscall": "name", "syscall_name": "name", "nothing": "nothing", "none": "nothing"}


def usage_error(message: str) -> SysgateError:
    return SysgateError(f"trace: {message}", 1)


@dataclass(slots=True)
class TraceOptions:
    """Everything `sysgate trace` was asked for."""

    output: str | None = None  # -o FILE
    traced: set[int] | None = None  # -e trace=: the numbers traced (None: all)
    statuses: frozenset[str] = frozenset(STATUSES)  # -e status=, -z, -Z
    string_limit: int = 32  # -s
    xflag: int = 0  # -x / -xx
    yflag: int = 0  # -y / -yy
    timestamps: int = 0  # -t, -tt, -ttt
    relative: bool = False  # -r
    syscall_times: bool = False  # -T
    numbers: bool = False  # -n
    xlat_style: str = "abbrev"  # -X raw|abbrev|verbose
    verbose: bool = False  # -v
    column: int = 40  # -a
    quiet: int = 0  # -q, -qq
    summary: bool = False  # -c
    summary_too: bool = False  # -C
    sort_by: str = "time"  # -S
    wall_time: bool = False  # -w
    follow: int = 0  # -f, -ff
    stack: bool = False  # -k
    json: bool = False  # --trace-format=json
    inject: list[InjectSpec] = field(default_factory=list)

    @property
    def prints_calls(self) -> bool:
        return not self.summary or self.summary_too


def syscall_set(expr: str, name_of: dict[int, str], known: Iterable[int]) -> set[int]:
    """A `-e trace=` set: the numbers it names (strace's qualify_syscall_*)."""
    negate = expr.startswith("!")
    if negate:
        expr = expr[1:]
    numbers: set[int] = set()
    known_list = sorted(known)
    if expr in ("all", ""):
        numbers = set(known_list)
    elif expr == "none":
        numbers = set()
    else:
        for item in expr.split(","):
            numbers |= _one(item.strip(), name_of, known_list)
    if negate:
        numbers = set(known_list) - numbers
    return numbers


def _one(item: str, name_of: dict[int, str], known: list[int]) -> set[int]:
    optional = item.startswith("?")
    if optional:
        item = item[1:]
    if item.startswith("/"):
        try:
            pattern = re.compile(item[1:])
        except re.error as exc:
            raise usage_error(f"invalid regular expression {item[1:]!r}: {exc}") from None
        found = {nr for nr in known if pattern.search(name_of.get(nr, ""))}
    elif item.startswith("%"):
        cls = CLASSES.get(item)
        if cls is None:
            if optional:
                return set()
            raise usage_error(f"invalid system call class {item!r}")
        found = {nr for nr in known if nr in SYSENT and cls in SYSENT[nr][2]}
    elif item.isdigit():
        found = {int(item)}
    else:
        found = {nr for nr in known if name_of.get(nr) == item}
    if not found and not optional:
        raise usage_error(f"invalid system call {item!r}")
    return found


def parse_status(expr: str) -> frozenset[str]:
    negate = expr.startswith("!")
    if negate:
        expr = expr[1:]
    wanted = set(STATUSES) if expr == "all" else {s.strip() for s in expr.split(",") if s.strip()}
    for s in wanted:
        if s not in STATUSES and s != "none":
            raise usage_error(f"invalid status {s!r}")
    wanted.discard("none")
    return frozenset(set(STATUSES) - wanted if negate else wanted)


_WITH_VALUE = set("aeoEsSXuUIpPb")
"""Short options that take a value (strace's optstring)."""
_FLAGS = set("cCdDfFhiknqrtTvVwxyzZ")


def parse(argv: list[str], name_of: dict[int, str], known: Iterable[int]) -> tuple[TraceOptions, list[str]]:
    """Parse strace-style options up to the program; return them and the program's argv."""
    opts = TraceOptions()
    known = list(known)
    trace_exprs: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if arg.startswith("--"):
            name, _, value = arg[2:].partition("=")
            if name == "trace-format":
                if value not in ("text", "json"):
                    raise usage_error(f"--trace-format must be text or json, not {value!r}")
                opts.json = value == "json"
            elif name in ("trace", "status", "inject", "fault", "signal", "abbrev", "verbose", "raw",
                          "read", "write", "quiet", "decode-fds"):
                _qualifier(opts, name, value, trace_exprs)
            elif name == "summary-only":
                opts.summary = True
            elif name == "summary":
                opts.summary_too = True
            elif name == "output":
                opts.output = value
            elif name == "string-limit":
                opts.string_limit = _int(value, "--string-limit")
            elif name == "follow-forks":
                opts.follow = max(opts.follow, 1)
            elif name == "stack-trace":
                opts.stack = True
            else:
                raise usage_error(f"unrecognized option '--{name}'")
            i += 1
            continue
        if not arg.startswith("-") or arg == "-":
            break
        j = 1
        while j < len(arg):
            c = arg[j]
            if c in _WITH_VALUE:
                value = arg[j + 1 :]
                if not value:
                    i += 1
                    if i >= len(argv):
                        raise usage_error(f"option requires an argument -- '{c}'")
                    value = argv[i]
                _short_value(opts, c, value, trace_exprs)
                break
            if c not in _FLAGS:
                raise usage_error(f"invalid option -- '{c}'")
            _short_flag(opts, c)
            j += 1
        i += 1
    if trace_exprs:
        selected: set[int] = set()
        for expr in trace_exprs:
            selected = syscall_set(expr, name_of, known) if expr.startswith("!") else selected | syscall_set(
                expr, name_of, known)
        opts.traced = selected
    return opts, argv[i:]


def _int(value: str, what: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise usage_error(f"invalid {what} argument: {value!r}") from None
    if n < 0:
        raise usage_error(f"invalid {what} argument: {value!r}")
    return n


def _short_flag(opts: TraceOptions, c: str) -> None:
    if c == "c":
        opts.summary = True
    elif c == "C":
        opts.summary_too = True
    elif c == "f":
        opts.follow += 1
    elif c == "k":
        opts.stack = True
    elif c == "n":
        opts.numbers = True
    elif c == "q":
        opts.quiet += 1
    elif c == "r":
        opts.relative = True
    elif c == "t":
        opts.timestamps += 1
    elif c == "T":
        opts.syscall_times = True
    elif c == "v":
        opts.verbose = True
    elif c == "w":
        opts.wall_time = True
    elif c == "x":
        opts.xflag = min(opts.xflag + 1, 2)
    elif c == "y":
        opts.yflag = min(opts.yflag + 1, 2)
    elif c == "z":
        opts.statuses = frozenset({"successful"})
    elif c == "Z":
        opts.statuses = frozenset({"failed"})
    else:  # d, D, F, h, i, V: accepted and without effect here
        pass


def _short_value(opts: TraceOptions, c: str, value: str, trace_exprs: list[str]) -> None:
    if c == "a":
        opts.column = _int(value, "-a")
    elif c == "e":
        name, sep, rest = value.partition("=")
        if not sep:
            name, rest = "trace", value
        _qualifier(opts, name, rest, trace_exprs)
    elif c == "o":
        opts.output = value
    elif c == "s":
        opts.string_limit = _int(value, "-s")
    elif c == "S":
        key = SORT_KEYS.get(value)
        if key is None:
            raise usage_error(f"invalid sortby: {value!r}")
        opts.sort_by = key
    elif c == "X":
        if value not in ("raw", "abbrev", "verbose"):
            raise usage_error(f"invalid xlat style: {value!r}")
        opts.xlat_style = value
    else:
        raise usage_error(f"option -{c} is not supported by sysgate trace")


def _qualifier(opts: TraceOptions, name: str, value: str, trace_exprs: list[str]) -> None:
    if name in ("trace", "t"):
        trace_exprs.append(value)
    elif name in ("status",):
        opts.statuses = parse_status(value)
    elif name in ("inject", "fault"):
        opts.inject.append(parse_inject(value, fault=name == "fault"))
    elif name in ("abbrev", "a"):
        opts.verbose = value in ("none", "!all")
    elif name in ("verbose", "v"):
        opts.verbose = value not in ("none", "!all")
    elif name in ("raw", "x"):
        opts.xlat_style = "raw" if value not in ("none", "!all") else opts.xlat_style
    elif name in ("signal", "signals", "s", "quiet", "q", "read", "r", "write", "w", "decode-fds"):
        pass  # accepted; not filtered yet
    else:
        raise usage_error(f"invalid qualifier {name!r}")
