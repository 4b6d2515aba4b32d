"""`sysgate trace` options, with strace's syntax and meaning.

Counterpart: strace's strace.c (init: getopt_long over "+a:Ab:cCdDe:E:fFhiI:kno:O:p:P:..."
and the checks after it) and filter_qualify.c (the `-e` qualifiers). Short options may
be bundled (`-ff`, `-tt`, `-yyv`), values attached or apart (`-s64`, `-s 64`,
`-etrace=open`); long options take `--name=value` or `--name value` and may be
abbreviated to a unique prefix, as getopt_long allows. Parsing stops at the program.

Options whose meaning needs something sysgate does not have (attaching to a running
process, another user, a separate tracer process) fail with a one-line error instead
of being accepted without effect. The sysgate-only options are --syscalls FILE,
--unset-env NAME, --trace-format=text|json, --aslr, --aslr-seed N, --seed N and --root DIR.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

from sysgate.trace.inject import InjectSpec, parse_inject
from sysgate.trace.qualify import (
    ALL,
    DECODE_FDS,
    NONE,
    STATUSES,
    NumberSet,
    SyscallNames,
    parse_decode_fds,
    parse_descriptors,
    parse_duration,
    parse_quiet,
    parse_signals,
    parse_statuses,
    timescale,
    usage_error,
)
from sysgate.trace.summary import DEFAULT_COLUMNS, sort_key, summary_columns

__all__ = ["TraceOptions", "parse", "scan", "build", "usage_error"]


@dataclass(slots=True)
class TraceOptions:
    """Everything `sysgate trace` was asked for."""

    output: str | None = None  # -o FILE ("|cmd" or "!cmd": a pipe to a command)
    append: bool = False  # -A
    output_separately: bool = False  # -ff, --output-separately: FILE.PID for each process
    follow: bool = False  # -f
    traced: NumberSet = ALL  # -e trace=
    abbrev: NumberSet = ALL  # -e abbrev= (-v: none)
    verbose_set: NumberSet = ALL  # -e verbose=: the calls whose structures are decoded
    raw: NumberSet = NONE  # -e raw=: the calls printed undecoded
    signals: NumberSet = ALL  # -e signal=: the signals whose lines are printed
    statuses: frozenset[str] = frozenset(STATUSES)  # -e status=, -z, -Z
    quiet: frozenset[str] = frozenset()  # -q, -qq, -qqq, -e quiet=
    read_fds: NumberSet = NONE  # -e read=: descriptors whose reads are dumped
    write_fds: NumberSet = NONE  # -e write=
    decode_fds: frozenset[str] = frozenset()  # -y (path), -yy (all), -e decode-fds=
    string_limit: int = 32  # -s
    xflag: int = 0  # -x, -xx, --strings-in-hex
    time_format: str | None = None  # -t: "%T" (time of day) or "%s" (seconds since the epoch)
    time_scale: tuple[int, int] = (1000, 0)  # -t precision: (ns per unit, digits)
    relative: tuple[int, int] | None = None  # -r: (ns per unit, digits)
    syscall_times: tuple[int, int] | None = None  # -T
    numbers: bool = False  # -n
    ip: bool = False  # -i
    xlat_style: str = "abbrev"  # -X raw|abbrev|verbose
    verbose: bool = False  # not abbreviated (-v); per call, from `abbrev`
    structs: bool = True  # structures decoded (strace's verbose(tcp)); per call, from `verbose_set`
    column: int = 40  # -a
    summary: bool = False  # -c
    summary_too: bool = False  # -C
    sort_by: str = "time_100s"  # -S
    columns: tuple[str, ...] = DEFAULT_COLUMNS  # -U
    wall_time: bool = False  # -w
    overhead_ns: int = 0  # -O
    stack: bool = False  # -k
    json: bool = False  # --trace-format=json
    inject: list[InjectSpec] = field(default_factory=list)
    env: list[str] = field(default_factory=list)  # -E VAR=VAL / -E VAR, in order
    unset_env: list[str] = field(default_factory=list)  # --unset-env
    syscall_files: list[str] = field(default_factory=list)  # --syscalls
    show_help: bool = False  # -h
    show_version: bool = False  # -V

    @property
    def prints_calls(self) -> bool:
        return not self.summary

    @property
    def counts(self) -> bool:
        return self.summary or self.summary_too

    @property
    def yflag(self) -> int:
        """The -y level printers use: 0, 1 (paths) or 2 (-yy: sockets, devices, pidfds too)."""
        if not self.decode_fds:
            return 0
        return 1 if self.decode_fds == {"path"} else 2

    def for_call(self, abbrev: bool, structs: bool) -> TraceOptions:
        """The options one call is printed with, after -e abbrev= and -e verbose=."""
        if self.verbose == (not abbrev) and self.structs == structs:
            return self
        return dataclasses.replace(self, verbose=not abbrev, structs=structs)


# -- getopt_long ------------------------------------------------------------------------------

SHORT = "+a:Ab:cCdDe:E:fFhiI:kno:O:p:P:qrs:S:tTu:U:vVwxX:yYzZ"
_TAKES_VALUE = {c for i, c in enumerate(SHORT) if i + 1 < len(SHORT) and SHORT[i + 1] == ":"}
NO, REQUIRED, OPTIONAL = 0, 1, 2
LONG: dict[str, tuple[int, str]] = {
    "columns": (REQUIRED, "a"), "output-append-mode": (NO, "A"), "detach-on": (REQUIRED, "b"),
    "summary-only": (NO, "c"), "summary": (NO, "C"), "debug": (NO, "d"), "daemonize": (OPTIONAL, "daemonize"),
    "daemonised": (OPTIONAL, "daemonize"), "daemonized": (OPTIONAL, "daemonize"), "env": (REQUIRED, "E"),
    "follow-forks": (NO, "follow-forks"), "output-separately": (NO, "output-separately"),
    "help": (NO, "h"), "instruction-pointer": (NO, "i"), "interruptible": (REQUIRED, "I"),
    "stack-traces": (NO, "k"), "syscall-number": (NO, "n"), "output": (REQUIRED, "o"),
    "summary-syscall-overhead": (REQUIRED, "O"), "attach": (REQUIRED, "p"), "trace-path": (REQUIRED, "P"),
    "relative-timestamps": (OPTIONAL, "r"), "string-limit": (REQUIRED, "s"), "summary-sort-by": (REQUIRED, "S"),
    "absolute-timestamps": (OPTIONAL, "timestamps"), "timestamps": (OPTIONAL, "timestamps"),
    "syscall-times": (OPTIONAL, "T"), "user": (REQUIRED, "u"), "summary-columns": (REQUIRED, "U"),
    "no-abbrev": (NO, "v"), "version": (NO, "V"), "summary-wall-clock": (NO, "w"),
    "strings-in-hex": (OPTIONAL, "strings-in-hex"), "const-print-style": (REQUIRED, "X"),
    "pidns-translation": (NO, "pidns-translation"), "successful-only": (NO, "z"), "failed-only": (NO, "Z"),
    "failing-only": (NO, "Z"), "seccomp-bpf": (NO, "seccomp-bpf"), "tips": (OPTIONAL, "tips"),
    "trace": (REQUIRED, "=trace"), "abbrev": (REQUIRED, "=abbrev"), "verbose": (REQUIRED, "=verbose"),
    "raw": (REQUIRED, "=raw"), "signals": (REQUIRED, "=signal"), "status": (REQUIRED, "=status"),
    "read": (REQUIRED, "=read"), "write": (REQUIRED, "=write"), "fault": (REQUIRED, "=fault"),
    "inject": (REQUIRED, "=inject"), "kvm": (REQUIRED, "=kvm"), "quiet": (OPTIONAL, "=quiet"),
    "silent": (OPTIONAL, "=quiet"), "silence": (OPTIONAL, "=quiet"), "decode-fds": (OPTIONAL, "=decode-fds"),
    "decode-pids": (REQUIRED, "=decode-pids"), "secontext": (OPTIONAL, "=secontext"),
    # sysgate's own
    "syscalls": (REQUIRED, "syscalls"), "unset-env": (REQUIRED, "unset-env"),
    "trace-format": (REQUIRED, "trace-format"), "aslr": (NO, "aslr"), "aslr-seed": (REQUIRED, "aslr-seed"),
    "seed": (REQUIRED, "seed"),
    "root": (REQUIRED, "root"),
}
"""strace's longopts (and sysgate's): name -> (argument, the option it stands for; "=q" is -e q=)."""

QUALIFIERS = {
    "trace": "trace", "t": "trace", "abbrev": "abbrev", "a": "abbrev", "verbose": "verbose", "v": "verbose",
    "raw": "raw", "x": "raw", "signal": "signal", "signals": "signal", "s": "signal", "status": "status",
    "quiet": "quiet", "silent": "quiet", "silence": "quiet", "q": "quiet", "read": "read", "reads": "read",
    "r": "read", "write": "write", "writes": "write", "w": "write", "fault": "fault", "inject": "inject",
    "kvm": "kvm", "decode-fd": "decode-fds", "decode-fds": "decode-fds", "decode-pid": "decode-pids",
    "decode-pids": "decode-pids", "secontext": "secontext",
}
"""filter_qualify.c's qual_options: -e NAME=... (a value without a known NAME= is a trace= set)."""

UNSUPPORTED = {
    "b": "-b/--detach-on: sysgate does not detach from a program",
    "D": "-D/--daemonize: sysgate and the traced program are one process",
    "daemonize": "-D/--daemonize: sysgate and the traced program are one process",
    "d": "-d/--debug: sysgate has no tracer debug output",
    "I": "-I/--interruptible: sysgate and the traced program are one process",
    "p": "-p/--attach: sysgate traces only the programs it runs",
    "P": "-P/--trace-path is not supported by sysgate trace",
    "u": "-u/--user: sysgate runs the program as the user running sysgate",
    "Y": "-Y/--decode-pids is not supported by sysgate trace",
    "pidns-translation": "--pidns-translation is not supported by sysgate trace",
    "tips": "--tips is not supported by sysgate trace",
    "decode-pids": "-e decode-pids/--decode-pids is not supported by sysgate trace",
    "secontext": "--secontext: sysgate has no SELinux contexts",
    "kvm": "-e kvm=: sysgate does not run KVM guests",
}
"""Options whose meaning sysgate cannot give: refused with a reason, never ignored."""


def scan(argv: list[str]) -> tuple[list[tuple[str, str | None]], list[str]]:
    """getopt_long with "+": the options as (key, value) pairs in order, and the program's argv."""
    pairs: list[tuple[str, str | None]] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            full = _long_name(name)
            kind, key = LONG[full]
            if kind == NO and eq:
                raise usage_error(f"option '--{full}' doesn't allow an argument")
            if kind == REQUIRED and not eq:
                i += 1
                if i >= len(argv):
                    raise usage_error(f"option '--{full}' requires an argument")
                value = argv[i]
            pairs.append((key, value if (eq or kind == REQUIRED) else None))
            i += 1
            continue
        if not arg.startswith("-") or arg == "-":
            break
        j = 1
        while j < len(arg):
            c = arg[j]
            if c not in SHORT or c in "+:":
                raise usage_error(f"invalid option -- '{c}'")
            if c in _TAKES_VALUE:
                value = arg[j + 1 :]
                if not value:
                    i += 1
                    if i >= len(argv):
                        raise usage_error(f"option requires an argument -- '{c}'")
                    value = argv[i]
                pairs.append((c, value))
                break
            pairs.append((c, None))
            j += 1
        i += 1
    return pairs, argv[i:]


def _long_name(name: str) -> str:
    if name in LONG:
        return name
    matches = [n for n in LONG if n.startswith(name)]
    targets = {LONG[n] for n in matches}
    if not matches:
        raise usage_error(f"unrecognized option '--{name}'")
    if len(targets) > 1:
        raise usage_error(f"option '--{name}' is ambiguous; possibilities: " + " ".join(f"'--{n}'" for n in matches))
    return matches[0]


# -- meaning ----------------------------------------------------------------------------------


def build(pairs: list[tuple[str, str | None]], names: SyscallNames, has_program: bool = True) -> TraceOptions:
    """The options `pairs` (from scan) ask for; system-call names resolve against `names`."""
    b = _Builder(names)
    for key, value in pairs:
        b.option(key, value)
    b.settle(has_program)
    return b.opts


def parse(argv: list[str], name_of: dict[int, str], known: Iterable[int] | None = None) -> tuple[TraceOptions,
                                                                                                   list[str]]:
    """Parse strace-style options up to the program; return them and the program's argv.

    `name_of` maps the kernel's numbers to names (with its user system calls); `known` is
    accepted for older callers and unused: every number the table or strace names counts.
    """
    pairs, program = scan(argv)
    return build(pairs, SyscallNames(name_of), bool(program)), program


class _Builder:
    """strace's init(): options applied in order, then the checks made after all of them."""

    def __init__(self, names: SyscallNames) -> None:
        self.opts = TraceOptions()
        self.names = names
        self.f = self.q = self.t = self.x = self.y = self.z = 0
        self.F = self.follow_long = self.timestamps_long = False
        self.strings_long: int | None = None
        self.quiet_set = self.decode_set = self.sort_set = self.columns_set = False

    def option(self, key: str, value: str | None) -> None:
        opts = self.opts
        if key in UNSUPPORTED:
            raise usage_error(UNSUPPORTED[key])
        if key.startswith("="):
            self.qualify(key[1:], value)
        elif key == "e":
            assert value is not None
            name, sep, rest = value.partition("=")
            if sep and name in QUALIFIERS:
                self.qualify(QUALIFIERS[name], rest)
            else:
                self.qualify("trace", value)
        elif key in ("c", "C"):
            if (opts.summary_too if key == "c" else opts.summary):
                raise usage_error("-c/--summary-only and -C/--summary are mutually exclusive")
            opts.summary, opts.summary_too = key == "c", key == "C"
        elif key in ("f", "q", "t", "y"):
            setattr(self, key, getattr(self, key) + 1)
        elif key == "x":
            self.x = min(self.x + 1, 2)
        elif key in ("z", "Z"):
            opts.statuses = frozenset({"successful" if key == "z" else "failed"})
            self.z += 1
        elif key == "F":
            self.F = True
        elif key == "follow-forks":
            self.follow_long = True
        elif key in _SIMPLE:
            setattr(opts, _SIMPLE[key], True)
        elif key == "r":
            opts.relative = timescale(value, "-r")
        elif key == "T":
            opts.syscall_times = timescale(value, "-T")
        elif key == "v":
            opts.abbrev = NONE
        elif key == "timestamps":
            self.timestamps_long = True
            _timestamps(opts, value if value is not None else "format:time", "--absolute-timestamps")
        elif key == "strings-in-hex":
            levels = {"none": 0, "non-ascii-chars": 3, "non-ascii": 1, "all": 2}
            level = levels.get((value if value is not None else "all").lower())
            if level is None:
                raise usage_error(f"invalid --strings-in-hex argument: '{value}'")
            self.strings_long = level
        elif key == "seccomp-bpf":
            pass  # an optimisation of ptrace tracing; sysgate stops at no call it does not trace anyway
        elif key == "aslr":
            pass  # the kernel's (--aslr), read by the command line before it makes the kernel
        else:
            assert value is not None
            self.valued(key, value)

    def valued(self, key: str, value: str) -> None:
        opts = self.opts
        if key == "a":
            opts.column = _uint(value, "-a")
        elif key == "E":
            opts.env.append(value)
        elif key == "o":
            opts.output = value
        elif key == "O":
            ns = parse_duration(value)
            if ns is None:
                raise usage_error(f"invalid -O argument: '{value}'")
            opts.overhead_ns = ns
        elif key == "s":
            opts.string_limit = _uint(value, "-s", 0xFFFFFFFF // 4)
        elif key == "S":
            opts.sort_by = sort_key(value)
            self.sort_set = True
        elif key == "U":
            opts.columns = summary_columns(value)
            self.columns_set = True
        elif key == "X":
            if value not in ("raw", "abbrev", "verbose"):
                raise usage_error(f"invalid -X argument: '{value}'")
            opts.xlat_style = value
        elif key == "syscalls":
            opts.syscall_files.append(value)
        elif key == "unset-env":
            opts.unset_env.append(value)
        elif key in ("aslr-seed", "root", "seed"):
            pass  # the kernel's, read by the command line before it makes the kernel
        elif key == "trace-format":
            if value not in ("text", "json"):
                raise usage_error(f"invalid --trace-format argument: '{value}' (text or json)")
            opts.json = value == "json"
        else:  # pragma: no cover - scan() produces no other key
            raise usage_error(f"invalid option -- '{key}'")

    def qualify(self, name: str, value: str | None) -> None:
        """One -e NAME=VALUE (filter_qualify.c: qualify)."""
        opts, names = self.opts, self.names
        if name in UNSUPPORTED:
            raise usage_error(UNSUPPORTED[name])
        text = value or ""
        if name == "trace":
            opts.traced = names.parse(text)  # a later trace= replaces an earlier one, as in strace
        elif name == "abbrev":
            opts.abbrev = names.parse(text)
        elif name == "verbose":
            opts.verbose_set = names.parse(text)
        elif name == "raw":
            opts.raw = names.parse(text)
        elif name in ("inject", "fault"):
            opts.inject.append(parse_inject(text, names, fault=name == "fault"))
        elif name == "signal":
            opts.signals = parse_signals(text)
        elif name == "status":
            opts.statuses = parse_statuses(text)
        elif name == "quiet":
            opts.quiet = parse_quiet(value if value is not None else "attach,personality")
            self.quiet_set = True
        elif name == "read":
            opts.read_fds = parse_descriptors(text)
        elif name == "write":
            opts.write_fds = parse_descriptors(text)
        else:  # decode-fds
            opts.decode_fds = parse_decode_fds(value if value is not None else "path")
            self.decode_set = True

    def settle(self, has_program: bool) -> None:
        """What strace decides after reading every option (the checks at the end of init)."""
        opts = self.opts
        if self.t:
            if self.timestamps_long:
                raise usage_error("-t and --absolute-timestamps cannot be provided simultaneously")
            spec = {1: "format:time", 2: "precision:us,format:time"}.get(self.t, "format:unix,precision:us")
            _timestamps(opts, spec, "-t")
        if self.strings_long is not None:
            if self.x:
                raise usage_error("-x and --strings-in-hex cannot be provided simultaneously")
            opts.xflag = self.strings_long
        else:
            opts.xflag = self.x
        if self.y:
            if self.decode_set:
                raise usage_error("-y and --decode-fds cannot be provided simultaneously")
            opts.decode_fds = frozenset({"path"}) if self.y == 1 else frozenset(DECODE_FDS)
        if self.f:
            if self.follow_long:
                raise usage_error("-f and --follow-forks cannot be provided simultaneously")
            if self.f >= 2 and opts.output_separately:
                raise usage_error("-ff and --output-separately cannot be provided simultaneously")
            opts.follow, opts.output_separately = True, self.f >= 2
        elif self.follow_long:
            opts.follow = True
        if self.F:
            if opts.follow:
                _warn("deprecated option -F ignored")
            else:
                _warn("option -F is deprecated, please use -f/--follow-forks instead")
                opts.follow = True
        if opts.output_separately and opts.counts:
            raise usage_error("(-c/--summary-only or -C/--summary) and -ff/--output-separately are mutually "
                              "exclusive")
        if opts.wall_time and not opts.counts:
            raise usage_error("-w/--summary-wall-clock must be given with (-c/--summary-only or -C/--summary)")
        if self.columns_set and not opts.counts:
            raise usage_error("-U/--summary-columns must be given with (-c/--summary-only or -C/--summary)")
        if self.sort_set and not opts.counts:
            _warn("-S/--summary-sort-by has no effect without (-c/--summary-only or -C/--summary)")
        if opts.summary:
            for given, name in ((opts.ip, "-i/--instruction-pointer"), (opts.stack, "-k/--stack-traces"),
                                (opts.numbers, "-n/--syscall-number"), (opts.relative, "-r/--relative-timestamps"),
                                (opts.time_format, "-t/--absolute-timestamps"), (opts.syscall_times,
                                                                                  "-T/--syscall-times"),
                                (opts.decode_fds, "-y/--decode-fds")):
                if given:
                    _warn(f"{name} has no effect with -c/--summary-only")
        if opts.output and has_program and not self.q and not self.quiet_set:
            self.q = 1  # strace: -o FILE with a program implies -q
        if self.q:
            if self.quiet_set:
                raise usage_error("-q and -e quiet/--quiet cannot be provided simultaneously")
            opts.quiet = parse_quiet({1: "attach,personality", 2: "exit,attach,personality"}.get(self.q, "all"))
        if self.z > 1:
            _warn("Only the last of -z/--successful-only/-Z/--failed-only options will take effect. "
                  "See status qualifier for more complex filters.")
        if not opts.output:
            if opts.output_separately and not opts.follow:
                _warn("--output-separately has no effect without -o/--output")
            if opts.append:
                _warn("-A/--output-append-mode has no effect without -o/--output")
            opts.output_separately = False  # -ff without -o FILE is -f
        if opts.json and opts.summary:
            raise usage_error("--trace-format=json prints each system call; -c/--summary-only prints none")


_SIMPLE = {"output-separately": "output_separately", "A": "append", "h": "show_help", "V": "show_version",
           "k": "stack", "n": "numbers", "i": "ip", "w": "wall_time"}
"""Flags that only set one field."""


def _timestamps(opts: TraceOptions, arg: str, what: str) -> None:
    """parse_ts_arg: format:none|time|unix and precision:s|ms|us|ns, comma-separated."""
    fmt: str | None = opts.time_format or "%T"
    for token in (t for t in arg.split(",") if t):
        low = token.lower()
        kind = "any"
        if low.startswith("format:"):
            low, kind = low[7:], "format"
        elif low.startswith("precision:"):
            low, kind = low[10:], "precision"
        if kind != "precision" and low in ("none", "time", "unix"):
            fmt = {"none": None, "time": "%T", "unix": "%s"}[low]
            continue
        if kind != "format" and low in ("s", "ms", "us", "ns"):
            opts.time_scale = timescale(low, what)
            continue
        raise usage_error(f"invalid {what} argument: '{arg}'")
    opts.time_format = fmt


def _uint(value: str, what: str, limit: int = 0x7FFFFFFF) -> int:
    if not value.isdigit() or int(value) > limit:
        raise usage_error(f"invalid {what} argument: '{value}'")
    return int(value)


def _warn(message: str) -> None:
    """A warning strace prints and goes on after."""
    sys.stderr.write(f"sysgate: trace: {message}\n")
