"""`sysgate trace` options: strace's getopt syntax, each option's meaning, the -e sets,
and the one-line errors for values strace refuses (exit status 1)."""

from __future__ import annotations

import pytest

from sysgate.errors import SysgateError
from sysgate.tables.tbl import x86_64_table
from sysgate.trace.options import TraceOptions, parse, scan
from sysgate.trace.qualify import (
    SyscallNames,
    parse_decode_fds,
    parse_descriptors,
    parse_duration,
    parse_quiet,
    parse_signals,
    parse_statuses,
    signal_number,
)

TABLE = x86_64_table()
NAME_OF = {nr: s.name for nr, s in TABLE.slots.items()}
NR = {name: nr for nr, name in NAME_OF.items()}


def opts(*argv: str) -> TraceOptions:
    o, program = parse([*argv, "prog"], NAME_OF)
    assert program == ["prog"]
    return o


def error(*argv: str) -> str:
    with pytest.raises(SysgateError) as exc:
        parse([*argv, "prog"], NAME_OF)
    assert exc.value.status == 1
    assert "\n" not in str(exc.value)
    return str(exc.value)


# -- getopt -----------------------------------------------------------------------------------


def test_scan_bundles_flags_and_values() -> None:
    pairs, program = scan(["-ffyv", "-s64", "-e", "trace=open", "-etrace=close", "prog", "-x"])
    assert pairs == [("f", None), ("f", None), ("y", None), ("v", None), ("s", "64"), ("e", "trace=open"),
                     ("e", "trace=close")]
    assert program == ["prog", "-x"]


def test_scan_stops_at_double_dash_and_at_the_program() -> None:
    assert scan(["-c", "--", "-prog"]) == ([("c", None)], ["-prog"])
    assert scan(["-", "x"]) == ([], ["-", "x"])


def test_long_options_values_and_prefixes() -> None:
    pairs, _ = scan(["--output", "f", "--string-limit=9", "--summary-only", "--string-l=10", "--syscall-times", "p"])
    assert pairs == [("o", "f"), ("s", "9"), ("c", None), ("s", "10"), ("T", None)]


@pytest.mark.parametrize(("argv", "message"), [
    (["-j"], "invalid option -- 'j'"),
    (["-s"], "option requires an argument -- 's'"),
    (["--nope"], "unrecognized option '--nope'"),
    (["--summary-only=1"], "option '--summary-only' doesn't allow an argument"),
    (["--output"], "option '--output' requires an argument"),
    (["--s"], "option '--s' is ambiguous"),
])
def test_getopt_errors(argv: list[str], message: str) -> None:
    with pytest.raises(SysgateError, match=message):
        scan(argv)


# -- options ----------------------------------------------------------------------------------


def test_defaults() -> None:
    o = opts()
    assert (o.string_limit, o.column, o.xflag, o.yflag, o.xlat_style) == (32, 40, 0, 0, "abbrev")
    assert NR["write"] in o.traced and 1000 in o.traced
    assert o.prints_calls and not o.counts and not o.verbose


def test_short_flags() -> None:
    o = opts("-xx", "-yy", "-n", "-i", "-T", "-r", "-ttt", "-v", "-a", "50", "-s", "7", "-X", "verbose")
    assert (o.xflag, o.yflag, o.numbers, o.ip, o.column, o.string_limit, o.xlat_style) == (
        2, 2, True, True, 50, 7, "verbose")
    assert o.syscall_times == (1000, 6) and o.relative == (1000, 6)
    assert o.time_format == "%s" and o.time_scale == (1000, 6)
    assert NR["write"] not in o.abbrev


@pytest.mark.parametrize(("argv", "fmt", "scale"), [
    (["-t"], "%T", (1000, 0)), (["-tt"], "%T", (1000, 6)), (["-ttt"], "%s", (1000, 6)),
    (["--timestamps"], "%T", (1000, 0)), (["--absolute-timestamps=unix,ns"], "%s", (1, 9)),
    (["--timestamps=precision:ms"], "%T", (10**6, 3)), (["--timestamps=format:none"], None, (1000, 0)),
])
def test_timestamps(argv: list[str], fmt: str | None, scale: tuple[int, int]) -> None:
    o = opts(*argv)
    assert (o.time_format, o.time_scale) == (fmt, scale)


def test_precision_of_relative_and_syscall_times() -> None:
    o = opts("--relative-timestamps=s", "--syscall-times=ns")
    assert o.relative == (10**9, 0) and o.syscall_times == (1, 9)
    assert "invalid -T argument" in error("--syscall-times=hours")
    assert "invalid --absolute-timestamps argument" in error("--timestamps=format:weekday")


def test_strings_in_hex() -> None:
    assert opts("--strings-in-hex").xflag == 2
    assert opts("--strings-in-hex=non-ascii-chars").xflag == 3
    assert opts("-x").xflag == 1 and opts("-xxx").xflag == 2
    assert "simultaneously" in error("-x", "--strings-in-hex=all")


def test_decode_fds() -> None:
    assert opts("-y").decode_fds == {"path"} and opts("-y").yflag == 1
    assert opts("-yy").decode_fds == {"path", "socket", "dev", "pidfd"}
    assert opts("-e", "decode-fds=socket").yflag == 2
    assert opts("--decode-fds").decode_fds == {"path"}
    assert "simultaneously" in error("-y", "--decode-fds=all")
    assert error("-e", "decode-fds=colour") == "trace: invalid decode-fds 'colour'"


def test_quiet() -> None:
    assert opts("-q").quiet == {"attach", "personality"}
    assert opts("-qq").quiet == {"attach", "personality", "exit"}
    assert "thread-execve" in opts("-qqq").quiet
    assert opts("-e", "quiet=exits").quiet == {"exit"}
    assert opts("-o", "f").quiet == {"attach", "personality"}  # -o FILE implies -q
    assert "cannot be provided simultaneously" in error("-q", "-e", "quiet=exit")
    assert error("-e", "quiet=loud") == "trace: invalid quiet 'loud'"


def test_summary_options() -> None:
    o = opts("-c", "-S", "calls", "-U", "name,calls", "-w", "-O", "2us")
    assert (o.summary, o.sort_by, o.columns, o.wall_time, o.overhead_ns) == (True, "calls", ("name", "calls"), True,
                                                                             2000)
    assert opts("-C").counts and opts("-C").prints_calls and not opts("-c").prints_calls
    assert opts("-c", "-U", "calls").columns == ("calls", "name")
    assert "mutually exclusive" in error("-c", "-C")
    assert "must be given with" in error("-w")
    assert "must be given with" in error("-U", "calls")
    assert error("-c", "-S", "speed") == "trace: invalid sortby: 'speed'"
    assert error("-c", "-U", "calls,calls").startswith("trace: call summary column has been provided more than once")
    assert error("-c", "-U", "colour") == "trace: unknown column name: 'colour'"
    assert "mutually exclusive" in error("-c", "-ff", "-o", "x")


def test_follow_and_output() -> None:
    assert opts("-f").follow and not opts("-f").output_separately
    o = opts("-ff", "-o", "log", "-A")
    assert (o.follow, o.output_separately, o.append, o.output) == (True, True, True, "log")
    assert not opts("-ff").output_separately  # -ff without -o is -f
    assert opts("-F").follow
    assert "simultaneously" in error("-f", "--follow-forks")


def test_environment_and_sysgate_options() -> None:
    o = opts("-E", "A=1", "--env=B", "--unset-env", "C", "--syscalls", "x.py", "--trace-format=json")
    assert (o.env, o.unset_env, o.syscall_files, o.json) == (["A=1", "B"], ["C"], ["x.py"], True)
    assert "text or json" in error("--trace-format=xml")
    assert "json" in error("--trace-format=json", "-c")


@pytest.mark.parametrize(("argv", "message"), [
    (["-a", "x"], "trace: invalid -a argument: 'x'"),
    (["-a", "-1"], "trace: invalid -a argument: '-1'"),
    (["-s", "many"], "trace: invalid -s argument: 'many'"),
    (["-s", "4294967295"], "trace: invalid -s argument: '4294967295'"),
    (["-X", "pretty"], "trace: invalid -X argument: 'pretty'"),
    (["-O", "soon"], "trace: invalid -O argument: 'soon'"),
])
def test_bad_values(argv: list[str], message: str) -> None:
    assert error(*argv) == message


@pytest.mark.parametrize("argv", [["-p", "1"], ["-u", "nobody"], ["-D"], ["--daemonize"], ["-b", "execve"],
                                  ["-I", "1"], ["-d"], ["-P", "/tmp"], ["-Y"], ["--pidns-translation"], ["--tips"],
                                  ["--secontext"], ["-e", "kvm=vcpu"], ["-e", "decode-pids=comm"]])
def test_options_sysgate_cannot_honour_are_refused(argv: list[str]) -> None:
    message = error(*argv)
    assert "sysgate" in message, message


def test_help_and_version_flags() -> None:
    assert opts("-h").show_help and opts("-V").show_version


# -- -e trace= and the other sets ---------------------------------------------------------------


def trace_set(expr: str) -> set[int]:
    s = opts("-e", expr).traced
    return {nr for nr in range(1024) if nr in s}


def test_trace_names_numbers_and_negation() -> None:
    assert trace_set("trace=write,close") == {NR["write"], NR["close"]}
    assert trace_set("write") == {NR["write"]}  # -e without NAME= is trace=
    assert trace_set("trace=1,3") == {1, 3}
    assert NR["write"] not in opts("-e", "trace=!write").traced and 1000 in opts("-e", "trace=!write").traced
    assert trace_set("trace=!!write") == {NR["write"]}
    assert trace_set("trace=none") == set()
    assert trace_set("trace=all") == set(range(1024))


def test_a_later_trace_replaces_an_earlier_one() -> None:
    assert {nr for nr in range(512) if nr in opts("-e", "trace=read", "-e", "trace=write").traced} == {NR["write"]}


def test_trace_regex_classes_and_optional_names() -> None:
    assert trace_set("trace=/^(read|write)$") == {NR["read"], NR["write"]}
    assert NR["openat"] in trace_set("trace=%file") and NR["read"] not in trace_set("trace=%file")
    assert NR["read"] in trace_set("trace=desc") and NR["read"] in trace_set("trace=%desc")
    assert trace_set("trace=%%stat") == {NR[n] for n in ("stat", "fstat", "lstat", "newfstatat", "statx")}
    assert {NR["getpid"], NR["getuid"]} <= trace_set("trace=%pure")
    assert trace_set("trace=%net") == trace_set("trace=%network")
    assert trace_set("trace=?nosuch,close") == {NR["close"]}
    assert trace_set("trace=close@64") == {NR["close"]}
    assert trace_set("trace=close@32") == set()


@pytest.mark.parametrize(("expr", "message"), [
    ("trace=nosuch", "trace: invalid system call 'nosuch'"),
    ("trace=%FILE", "trace: invalid system call '%FILE'"),
    ("trace=999", "trace: invalid system call '999'"),
    ("trace=", "trace: invalid system call ''"),
    ("trace=/[", "trace: regcomp: ["),
    ("trace=read@16", "trace: incorrect personality designator '16' in qualification 'read@16'"),
    ("signal=SIGNOPE", "trace: invalid signal 'SIGNOPE'"),
    ("status=fine", "trace: invalid status 'fine'"),
    ("read=x", "trace: invalid descriptor 'x'"),
    ("abbrev=nosuch", "trace: invalid system call 'nosuch'"),
])
def test_set_errors(expr: str, message: str) -> None:
    assert error("-e", expr).startswith(message)


def test_user_system_calls_can_be_named() -> None:
    names = SyscallNames({**NAME_OF, 548: "iam"})
    assert 548 in names.parse("iam") and 548 in names.parse("/^ia")
    assert 548 not in names.parse("%file")


def test_abbrev_verbose_and_raw_sets() -> None:
    o = opts("-e", "abbrev=!write", "-e", "verbose=none", "-e", "raw=read")
    assert NR["write"] not in o.abbrev and NR["read"] in o.abbrev
    assert NR["read"] not in o.verbose_set and NR["read"] in o.raw and NR["write"] not in o.raw
    view = o.for_call(abbrev=False, structs=False)
    assert view.verbose and not view.structs and o.for_call(abbrev=True, structs=True) is o


def test_status_sets() -> None:
    assert opts("-z").statuses == {"successful"} and opts("-Z").statuses == {"failed"}
    assert opts("-z", "-Z").statuses == {"failed"}  # the last one, as strace warns
    assert parse_statuses("!successful") == {"failed", "unfinished", "unavailable", "detached"}
    assert parse_statuses("FAILED,unfinished") == {"failed", "unfinished"}


def test_signal_sets() -> None:
    assert signal_number("SIGSEGV") == 11 == signal_number("segv") == signal_number("11")
    assert signal_number("SIGRTMIN") == 32 and signal_number("rt_3") == 35 and signal_number("256") == -1
    s = parse_signals("!SIGSEGV,chld")
    assert 11 not in s and 17 not in s and 2 in s
    assert 2 not in parse_signals("none")


def test_descriptor_sets_and_durations() -> None:
    assert 3 in parse_descriptors("1,3") and 2 not in parse_descriptors("1,3")
    assert 7 in parse_descriptors("all") and 1 not in parse_descriptors("!1")
    assert parse_quiet("all") >= {"exit", "attach"} and parse_decode_fds("!path") == {"socket", "dev", "pidfd"}
    assert (parse_duration("5"), parse_duration("2ms"), parse_duration("1.5s"), parse_duration("7ns")) == (
        5000, 2 * 10**6, 15 * 10**8, 7)
    assert parse_duration("-1") is None and parse_duration("x") is None and parse_duration("") is None


def test_warnings_strace_prints_and_goes_on(capsys: pytest.CaptureFixture[str]) -> None:
    opts("-c", "-n", "-y", "-T")
    opts("-S", "calls")
    opts("-F")
    opts("-z", "-Z")
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "sysgate: trace: -n/--syscall-number has no effect with -c/--summary-only",
        "sysgate: trace: -T/--syscall-times has no effect with -c/--summary-only",
        "sysgate: trace: -y/--decode-fds has no effect with -c/--summary-only",
        "sysgate: trace: -S/--summary-sort-by has no effect without (-c/--summary-only or -C/--summary)",
        "sysgate: trace: option -F is deprecated, please use -f/--follow-forks instead",
        "sysgate: trace: Only the last of -z/--successful-only/-Z/--failed-only options will take effect. "
        "See status qualifier for more complex filters.",
    ]
