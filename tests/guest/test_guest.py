"""Each guest program x each build variant: natively and under sysgate, compared whole.

The host kernel is the oracle (gVisor's rule: a test must pass on Linux first). Every
case states the status Linux gives; the native run is checked against it, so a broken
program or an unusual host shows up as such, and then the sysgate run must equal the
native one: returncode, stdout and stderr.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sysgate.uapi.signal import SIGABRT, SIGSEGV
from tests.guest.build import VARIANTS
from tests.guest.conftest import GuestRunner, Outcome, assert_same


@dataclass(frozen=True, slots=True)
class Case:
    """One run of a guest program and the status Linux gives it."""

    program: str
    args: tuple[str, ...] = ()
    stdin: bytes = b""
    returncode: int = 0  # subprocess convention: -N for signal N
    label: str = ""

    @property
    def id(self) -> str:
        return self.label or self.program


STDIN_DATA = bytes(range(256)) * 1000 + b"end"
"""More than a pipe's 64 KiB, so the program reads across several pipe fills."""

CASES = [
    Case("hello"),
    Case("args", ("one", "two words", "", "\u00fcnic\u00f8de")),
    Case("files"),
    Case("readdir"),
    Case("malloc_big"),
    Case("mmap"),
    Case("mprotect_segv", returncode=-SIGSEGV),
    Case("munmap_segv", returncode=-SIGSEGV),
    Case("null_write", returncode=-SIGSEGV),
    Case("clock"),
    Case("getrandom"),
    Case("enosys"),
    Case("efault"),
    Case("short_read", stdin=b"x" * 300),
    Case("stdin_sum", stdin=STDIN_DATA),
    Case("stdin_sum", stdin=b"", label="stdin_sum-empty"),
    Case("exit_code", ("0",), label="exit_code-0"),
    Case("exit_code", ("1",), returncode=1, label="exit_code-1"),
    Case("exit_code", ("255",), returncode=255, label="exit_code-255"),
    Case("abort", returncode=-SIGABRT),
    Case("proc_syscall"),
    Case("exec_at"),
    Case("epoll_et"),
    Case("threads"),
    Case("sig_procs"),
    Case("exec_perm"),
]


@pytest.mark.guest
@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_guest_matches_native(case: Case, variant: str, guest: GuestRunner) -> None:
    exe = guest.build(case.program, variant)
    argv = [str(exe), *case.args]
    native = guest.native(argv, stdin=case.stdin)
    assert native.returncode == case.returncode, f"the host disagrees with Linux:\n{native}"
    ours = guest.sysgate(argv, stdin=case.stdin)
    assert_same(ours, native)


SHELL_MESSAGES = {SIGSEGV: "Segmentation fault", SIGABRT: "Aborted"}
"""What bash prints when a job dies of the signal (glibc's strsignal)."""
CLI_CASES = [c for c in CASES if c.id in {"hello", "args", "stdin_sum", "null_write", "abort", "exit_code-255"}]


@pytest.mark.guest
@pytest.mark.parametrize("case", CLI_CASES, ids=lambda c: c.id)
def test_cli_matches_native(case: Case, guest: GuestRunner) -> None:
    """`sysgate run PROG`: the guest's output, then the shell's status and signal message."""
    exe = guest.build(case.program, "glibc-static")
    argv = [str(exe), *case.args]
    native = guest.native(argv, stdin=case.stdin)
    assert native.returncode == case.returncode, f"the host disagrees with Linux:\n{native}"
    ours = guest.cli(["run", *argv], stdin=case.stdin)
    if native.returncode < 0:
        # A shell's view of a signal death: status 128+N and strsignal(N) on stderr.
        signo = -native.returncode
        expected = Outcome(128 + signo, native.stdout, native.stderr + SHELL_MESSAGES[signo].encode() + b"\n")
    else:
        expected = native
    assert_same(ours, expected, "sysgate run")
