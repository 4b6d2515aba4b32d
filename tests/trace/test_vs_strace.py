"""`sysgate trace` against the host's strace: every guest program, and strace's options.

Each test runs the same program natively under `strace -o FILE OPTIONS` and under
`sysgate trace -o FILE OPTIONS`; the normalised traces (see harness.py) must be equal
line for line, and the program must behave the same (status and output).
"""

from __future__ import annotations

import pytest

from tests.guest.test_guest import CASES, Case
from tests.trace.conftest import Compare
from tests.trace.harness import Normaliser

PROC_SYSCALL = Normaliser(extra=[(r'^read\(3, "[^"]*"\.\.\., 511\) += \d+', 'read(3, "/proc/self/syscall") = N')])
"""/proc/self/syscall holds the caller's stack and instruction pointers: another kernel's."""
EXEC_AT = Normaliser(extra=[(r"exec_at\.\w{6}", "exec_at.XXXXXX")], skip=(r"--- SIGCHLD ",))
"""mkdtemp's name is random; the children run free (no -f), so whether SIGCHLD comes
before or after the parent's wait4 is the host's race."""
SIG_PROCS = Normaliser(skip=(r"--- SIGCHLD ",))
"""A child that stops or exits at once may signal before or after the parent enters
wait4: the host's schedule decides, and sysgate's runs the parent until it blocks."""
NORMALISERS = {"proc_syscall": PROC_SYSCALL, "exec_at": EXEC_AT, "sig_procs": SIG_PROCS}

UNTRACEABLE = ("threads",)
"""How often threads meet in a futex (the calls strace shows of the main thread) is the
schedule's: the program's output is compared in tests/guest, its trace is not."""
TRACE_CASES = [c for c in CASES if c.program not in UNTRACEABLE]
MUSL_CASES = [c for c in TRACE_CASES if c.program not in ("malloc_big", "readdir", "exit_code")]
"""musl makes other calls than glibc (writev, open, ...); the slowest and the repeated cases run with glibc only."""


@pytest.mark.guest
@pytest.mark.parametrize("case", TRACE_CASES, ids=lambda c: c.id)
def test_guest_program_trace(case: Case, compare: Compare) -> None:
    compare(case.program, (), case.args, case.stdin, "glibc-static", NORMALISERS.get(case.program))


@pytest.mark.guest
@pytest.mark.parametrize("case", MUSL_CASES, ids=lambda c: c.id)
def test_guest_program_trace_musl(case: Case, compare: Compare) -> None:
    compare(case.program, (), case.args, case.stdin, "musl-static", NORMALISERS.get(case.program))


@pytest.mark.guest
@pytest.mark.parametrize("name", ["hello", "files", "mmap", "null_write"])
def test_static_pie_trace(name: str, compare: Compare) -> None:
    compare(name, variant="glibc-static-pie")


OPTION_SETS = [
    ("-y",), ("-yy",), ("-e", "decode-fds=path"),
    ("-e", "decode-fds=all"),
    ("-x",), ("-xx",), ("--strings-in-hex=non-ascii",), ("-s", "5"), ("-s", "0"),
    ("-v",), ("-e", "verbose=none"), ("-e", "verbose=!readv,pipe2"), ("-X", "raw"), ("-X", "verbose"),
    ("-e", "abbrev=none"), ("-e", "abbrev=!write"), ("-f",), ("-f", "-n", "-tt"),
    ("-a", "20"), ("--columns=0",), ("-n",), ("-i",), ("-n", "-i", "-y"),
    ("-e", "raw=write,read,openat"), ("-e", "raw=all"), ("-e", "raw=pipe2,execve"),
    ("-z",), ("-Z",), ("-z", "-Z"), ("-e", "status=failed,unfinished"), ("-e", "status=!successful"),
    ("-e", "trace=!write"), ("-e", "trace=/^(read|write)"), ("-e", "trace=?nosuchcall,close"),
    ("-e", "trace=1,3"), ("-e", "trace=none"), ("-e", "trace=read", "-e", "trace=write"), ("-e", "!!write"),
    ("-e", "trace=close@64"), ("--trace=openat,dup",),
    ("-e", "read=3"), ("-e", "write=4"), ("-e", "write=1", "-e", "read=all"),
    ("-q",), ("-qq",), ("-qqq",), ("-e", "quiet=exit"),
    ("-T",), ("-t",), ("-tt",), ("-ttt",), ("-r",), ("-tt", "-r"),
    ("--syscall-times=ns",), ("--absolute-timestamps=format:unix,precision:ms",), ("--relative-timestamps=ms",),
    ("-e", "inject=close:error=EIO:when=2"), ("-e", "trace=close", "-e", "inject=close:retval=7"),
]


@pytest.mark.guest
@pytest.mark.parametrize("opts", OPTION_SETS, ids=" ".join)
def test_option(opts: tuple[str, ...], compare: Compare) -> None:
    compare("tracee", opts)


CLASSES = ["%desc", "%file", "%process", "%memory", "%creds", "%signal", "%network", "%clock", "%stat", "%fstat",
           "%%stat", "%pure", "file", "all", "%file,%desc", "!%desc"]


@pytest.mark.guest
@pytest.mark.parametrize("cls", CLASSES)
def test_trace_class(cls: str, compare: Compare) -> None:
    compare("files", ("-e", f"trace={cls}"))


STAT_TIMES = Normaliser(extra=[(r"st_ino=\d+", "st_ino=N"), (r"(st_[amc]time)=\d+ /\* [^*]* \*/", r"\1=T"),
                               (r"(st_[amc]time_nsec)=\d+", r"\1=N")])
"""A new file's inode and times are the moment's."""


@pytest.mark.guest
@pytest.mark.parametrize("opts", [("-v",), ("-v", "-e", "abbrev=!newfstatat"), ("-e", "verbose=!newfstatat")],
                         ids=" ".join)
def test_verbose_structures(opts: tuple[str, ...], compare: Compare) -> None:
    compare("files", opts, norm=STAT_TIMES)


SIGNAL_OPTIONS = [(), ("-X", "raw"), ("-X", "verbose"), ("-e", "signal=none"), ("-e", "signal=!SIGSEGV"),
                  ("-e", "signal=segv"), ("-e", "signal=11"),
                  ("-qq",), ("-qqq",), ("-n",), ("-i",), ("-e", "trace=none"), ("-z",), ("-Z",)]


@pytest.mark.guest
@pytest.mark.parametrize("opts", SIGNAL_OPTIONS, ids=lambda o: " ".join(o) or "default")
def test_signal_lines(opts: tuple[str, ...], compare: Compare) -> None:
    compare("null_write", opts)


@pytest.mark.guest
@pytest.mark.parametrize("opts", [(), ("-e", "signal=!SIGABRT"), ("-n", "-i")], ids=lambda o: " ".join(o) or "default")
def test_abort_lines(opts: tuple[str, ...], compare: Compare) -> None:
    compare("abort", opts)


@pytest.mark.guest
@pytest.mark.parametrize("how", ["unmapped", "readonly", "straddle", "noncanonical", "kernel", "int3", "bus"])
def test_fault_signal_lines(how: str, compare: Compare) -> None:
    """The `--- SIG... {...} ---` line of each kind of fault, si_addr to the byte."""
    compare("faults", ("-e", "trace=none"), (how,))


@pytest.mark.guest
def test_ignored_signals_are_shown_and_discarded(compare: Compare) -> None:
    compare("ignored")
