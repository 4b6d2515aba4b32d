"""Helpers for the fs handler tests: names in guest memory, descriptors, the host as oracle.

The task's cwd is tmp_path, so relative names stay inside it. `host_rc` runs the same
operation on the host (Linux) and gives 0 or -errno, to compare with `sys(...)`.
`unprivileged` drops the effective ids to nobody for permission errors when the tests
run as root (the real ids stay, so they can be restored).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sysgate.host import errno_from_host
from sysgate.kernel.task import Task
from sysgate.uapi.fcntl import AT_FDCWD, O_RDONLY
from tests.conftest import USER_BUF, put_str, sys
from tests.unit.fs.rootfixture import box  # noqa: F401 - the confined task of test_root.py

NAME2 = USER_BUF + 0x1000
"""Where a second name goes (the first is at USER_BUF)."""
SCRATCH = USER_BUF + 0x3000
"""Where helper calls put their names."""
LONG_NAME = USER_BUF + 0x4000
"""A name with no NUL in PATH_MAX bytes (ENAMETOOLONG), written by `long_name`."""
OUT = USER_BUF + 0x8000
"""Where results are written (32 KiB)."""
NOBODY = 65534


def name(t: Task, s: str | bytes, slot: int = 0) -> int:
    """Put a NUL-terminated name in guest memory: slot 0 at USER_BUF, 1 at NAME2."""
    return put_str(t, s, USER_BUF + slot * 0x1000)


def long_name(t: Task) -> int:
    t.mm.write(LONG_NAME, b"a" * 4097)
    return LONG_NAME


def host_rc(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """0 if the host call succeeds, else -errno as Linux numbers it."""
    try:
        fn(*args, **kwargs)
    except OSError as exc:
        assert exc.errno is not None
        return -errno_from_host(exc.errno)
    return 0


def open_fd(t: Task, path: str | bytes, flags: int = O_RDONLY, mode: int = 0, dfd: int = AT_FDCWD) -> int:
    """A guest descriptor for `path`, opened through openat."""
    fd = sys(t, "openat", dfd, put_str(t, path, SCRATCH), flags, mode)
    assert fd >= 0, f"openat({path!r}) = {fd}"
    return fd


@contextmanager
def as_nobody(t: Task) -> Iterator[None]:
    """Run as an unprivileged user, on the host and in the guest's credentials."""
    if os.geteuid() != 0:
        yield  # already unprivileged
        return
    cred = t.cred
    saved = (cred.euid, cred.fsuid, cred.egid, cred.fsgid)
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    cred.euid = cred.fsuid = NOBODY
    cred.egid = cred.fsgid = NOBODY
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
        cred.euid, cred.fsuid, cred.egid, cred.fsgid = saved


@pytest.fixture
def shared_tmp(tmp_path: Path) -> Path:
    """tmp_path opened to everyone, so `as_nobody` can walk into it."""
    tmp_path.chmod(0o777)
    return tmp_path


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root on the host")
