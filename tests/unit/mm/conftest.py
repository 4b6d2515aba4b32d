"""Fixtures of the memory system-call tests (see oracle.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sysgate.kernel.task import Task
from sysgate.uapi import mman as m
from tests.conftest import sys
from tests.unit.mm.oracle import ANON, FIXED, GW, MMAP_BASE, RW, WIN, Files, P, host


@pytest.fixture
def hw() -> Iterator[int]:
    """A host window: WIN read-write pages of our own, then a hole of WIN pages."""
    base = host("mmap", 0, 2 * WIN * P, m.PROT_NONE, ANON, -1, 0)
    assert base > 0
    assert host("munmap", base + WIN * P, WIN * P) == 0
    assert host("mprotect", base, WIN * P, RW) == 0
    yield base
    host("munmap", base, WIN * P)  # never the hole: something else may live there now


@pytest.fixture
def t(task: Task) -> Task:
    """The task, with mmap_base set and a guest window like the host's at GW."""
    task.mm.mmap_base = MMAP_BASE
    assert sys(task, "mmap", GW, WIN * P, RW, FIXED, -1, 0) == GW
    return task



@pytest.fixture
def files(t: Task, tmp_path: Path) -> Iterator[Files]:
    f = Files(t, tmp_path, [])
    yield f
    for fd in f.host_fds:
        os.close(fd)
