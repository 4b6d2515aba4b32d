"""Helpers for tracer tests: run one system call on a task through the traced entry and
get the line `sysgate trace` prints for it."""

from __future__ import annotations

import io
import pathlib
import time
from collections.abc import Iterator

import pytest

from sysgate.entry.traced import make_traced_entry
from sysgate.kernel.task import Task
from sysgate.trace.options import parse
from sysgate.uapi import fcntl as o
from tests.conftest import USER_BUF, put_str, sys


def traced(t: Task, name: str, *args: int, options: tuple[str, ...] = ()) -> str:
    """Dispatch `name(*args)` as the guest would, with the tracer on; return what it printed.

    `options` are `sysgate trace` options (`("-y", "-s", "8")`). The call really runs: its
    result and what it wrote to guest memory are those of the handler.
    """
    kernel = t.kernel
    table = kernel.table64
    slot = table.by_name(name)
    assert slot is not None, f"no system call named {name}"
    opts, _ = parse([*options, "prog"], {nr: s.name for nr, s in table.slots.items()}, table.slots)
    out = io.StringIO()
    kernel.trace(opts, out)
    kernel.current = t
    try:
        entry = make_traced_entry(kernel)
        frame = [slot.nr, *[a & 0xFFFFFFFFFFFFFFFF for a in args], *([0] * (6 - len(args))), 0, 0x202]
        entry(frame)
    finally:
        kernel.tracer = None
    return out.getvalue()


def line(call: str, result: str) -> str:
    """A whole trace line: the result at column 40 (-a), as strace pads it."""
    return f"{call:<39} = {result}\n"


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Dates in the comments are local time: make it UTC, as on the host strace ran on."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def f3(task: Task, tmp_path: pathlib.Path) -> int:
    """A regular file "data" in the cwd, open read-write as descriptor 3."""
    (tmp_path / "data").write_bytes(b"")
    put_str(task, "data", USER_BUF)
    fd = sys(task, "openat", o.AT_FDCWD, USER_BUF, o.O_RDWR, 0)
    assert fd == 3
    return fd
