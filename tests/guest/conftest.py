"""Fixtures for the guest tests: build a program, then run it natively and under sysgate.

The host kernel is the oracle: a guest program runs three ways with the same argv,
environment, stdin and a fresh working directory each time:

- natively, with subprocess.run;
- under sysgate in this process, with sysgate.run (internal errors raise here, so a
  sysgate bug fails the test with its traceback);
- under sysgate through the `sysgate run` command line, in a subprocess.

Each run returns an Outcome (returncode in subprocess's convention: -N for signal N,
stdout, stderr) so the tests compare them whole.
"""

from __future__ import annotations

import contextlib
import difflib
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

import sysgate
from tests.guest.build import VARIANTS, build

GUEST_ENV: dict[str, str] = {
    "PATH": "/usr/bin:/bin",
    "LC_ALL": "C",
    "TZ": "UTC",
    "SYSGATE_TEST": "hello world",
}
"""The controlled environment every run gets, natively and under sysgate."""
TIMEOUT = 120


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run ended, in a form two runs can be compared by."""

    returncode: int
    stdout: bytes
    stderr: bytes

    def __str__(self) -> str:
        out = self.stdout.decode(errors="replace")
        err = self.stderr.decode(errors="replace")
        return f"returncode={self.returncode}\n--- stdout\n{out}--- stderr\n{err}"


class GuestRunner:
    """Runs programs in fresh directories under one test's tmp_path."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self._dirs = 0

    def fresh_dir(self, label: str) -> Path:
        """A new empty directory: each run starts from the same state."""
        self._dirs += 1
        d = self.tmp_path / f"{self._dirs}-{label}"
        d.mkdir()
        return d

    def build(self, program: str, variant: str) -> Path:
        return build(program, variant)

    def native(self, argv: Sequence[str], *, env: Mapping[str, str] = GUEST_ENV, stdin: bytes = b"",
               cwd: Path | None = None) -> Outcome:
        """Run on the host kernel."""
        r = subprocess.run(list(argv), env=dict(env), input=stdin, capture_output=True,
                           cwd=cwd or self.fresh_dir("native"), timeout=TIMEOUT, check=False)
        return Outcome(r.returncode, r.stdout, r.stderr)

    def sysgate(self, argv: Sequence[str], *, env: Mapping[str, str] = GUEST_ENV, stdin: bytes = b"",
                cwd: Path | None = None) -> Outcome:
        """Run under sysgate in this process (sysgate.run); the guest's cwd is ours at start."""
        with contextlib.chdir(cwd or self.fresh_dir("sysgate")):
            r = sysgate.run(list(argv), env=dict(env), stdin=stdin, capture_output=True)
        assert r.stdout is not None and r.stderr is not None
        return Outcome(r.returncode, r.stdout, r.stderr)

    def cli(self, args: Sequence[str], *, env: Mapping[str, str] = GUEST_ENV, stdin: bytes = b"",
            cwd: Path | None = None) -> Outcome:
        """Run `sysgate ARGS...` as a command; its returncode is the CLI's exit status.

        The command gets exactly `env` (and passes it on to the guest), so sysgate must be
        importable without PYTHONPATH: installed, as `pip install -e .` does.
        """
        r = subprocess.run([sys.executable, "-m", "sysgate", *args], env=dict(env), input=stdin,
                           capture_output=True, cwd=cwd or self.fresh_dir("cli"), timeout=TIMEOUT, check=False)
        return Outcome(r.returncode, r.stdout, r.stderr)


@pytest.fixture
def guest(tmp_path: Path) -> GuestRunner:
    """Build guest programs and run them natively, under sysgate, or through the CLI."""
    return GuestRunner(tmp_path)


@pytest.fixture
def first_variant() -> Callable[[str], Path]:
    """Build a program with the first variant whose compiler is installed (for CLI tests)."""
    def pick(program: str) -> Path:
        reasons = []
        for name in VARIANTS:
            try:
                return build(program, name)
            except pytest.skip.Exception as exc:
                reasons.append(str(exc))
        pytest.skip("; ".join(reasons))

    return pick



def assert_same(ours: Outcome, expected: Outcome, what: str = "sysgate") -> None:
    """Fail with a line diff (expected -> ours) unless the two runs ended the same way."""
    if ours == expected:
        return
    a = str(expected).splitlines(keepends=True)
    b = str(ours).splitlines(keepends=True)
    diff = "".join(difflib.unified_diff(a, b, "native", what, n=2))
    pytest.fail(f"{what} differs from native:\n{diff}", pytrace=False)
