"""Fixtures for comparing `sysgate trace` with the host's strace (see harness.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.guest.build import build
from tests.guest.conftest import first_variant, guest  # noqa: F401  (fixtures for the CLI tests)
from tests.trace.harness import Normaliser, Run, assert_same_trace, native, require_host_tools, traced

TRACE_SRC = Path(__file__).resolve().parent / "src"
"""Guest programs written for the tracer's tests (tests/guest/src has the general ones)."""


def program(name: str, variant: str = "glibc-static") -> Path:
    """A guest program from tests/trace/src or tests/guest/src, built once (cached by source hash)."""
    if (TRACE_SRC / f"{name}.c").exists():
        return build(name, variant, source_dir=TRACE_SRC)
    return build(name, variant)


Compare = Callable[..., tuple[Run, Run]]


@pytest.fixture
def compare(tmp_path: Path) -> Compare:
    """compare(name, opts, args=(), stdin=b"", variant=..., norm=None, same_output=True):
    run the program under the host's strace and under sysgate trace with `opts`; fail
    unless the normalised traces, the status and the output are the same."""
    require_host_tools()

    def run(name: str, opts: Sequence[str] = (), args: Sequence[str] = (), stdin: bytes = b"",
            variant: str = "glibc-static", norm: Normaliser | None = None,
            same_output: bool = True) -> tuple[Run, Run]:
        exe = program(name, variant)
        argv = [str(exe), *args]
        cwd = tmp_path / "run"
        theirs = native(argv, list(opts), cwd, stdin)
        ours = traced(argv, list(opts), cwd, stdin)
        assert_same_trace(theirs, ours, norm)
        if same_output:
            assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), \
                f"the program behaved differently:\nnative {theirs.returncode} {theirs.stdout!r}\n" \
                f"sysgate {ours.returncode} {ours.stdout!r}"
        return theirs, ours

    return run
