"""The loader run as a program: `ld.so PROG ARGS` (issue 5, point 1's last sentence).

Linux maps a loader started directly like a static PIE: in the mmap area, with the
break moved to ELF_ET_DYN_BASE; the loader then maps PROG itself. Every guest program of
tests/guest/test_guest.py runs this way with glibc's and musl's loaders, natively and
under sysgate, compared whole (the dynamic builds run through PT_INTERP in
test_guest.py's matrix). A system program run through the loader by the command line
must print what it prints natively.
"""

from __future__ import annotations

import os

import pytest

from tests.guest.build import GLIBC_LOADER, INTERPRETERS, MUSL_LOADER
from tests.guest.conftest import GuestRunner, assert_same
from tests.guest.test_guest import CASES, Case

pytestmark = pytest.mark.guest

LOADED = ["glibc-dynamic-pie", "musl-dynamic"]


def require(path: str) -> None:
    if not os.path.exists(path):
        pytest.skip(f"{path} is not installed")


@pytest.mark.parametrize("variant", LOADED)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_loader_runs_the_program(case: Case, variant: str, guest: GuestRunner) -> None:
    loader = INTERPRETERS[variant]
    require(loader)
    exe = guest.build(case.program, variant)
    argv = [loader, str(exe), *case.args]
    native = guest.native(argv, stdin=case.stdin)
    # What the program sees may differ from an execve'd run (musl's loader leaves
    # AT_EXECFN naming itself, which `args` checks): the native run is the oracle.
    assert_same(guest.sysgate(argv, stdin=case.stdin), native)


def test_cli_runs_ls_through_glibcs_loader(guest: GuestRunner) -> None:
    """`sysgate run /lib64/ld-linux-x86-64.so.2 /bin/ls /`: the same listing as natively."""
    require(GLIBC_LOADER)
    argv = [GLIBC_LOADER, "/bin/ls", "/"]
    native = guest.native(argv)
    assert native.returncode == 0, str(native)
    assert_same(guest.cli(["run", *argv]), native, "sysgate run")


def test_cli_runs_a_musl_program_through_musls_loader(guest: GuestRunner) -> None:
    require(MUSL_LOADER)
    argv = [MUSL_LOADER, str(guest.build("hello", "musl-dynamic"))]
    native = guest.native(argv)
    assert native.returncode == 0, str(native)
    assert_same(guest.cli(["run", *argv]), native, "sysgate run")


def test_loader_without_a_program_says_so(guest: GuestRunner) -> None:
    """glibc's loader alone prints its usage and fails: the program's own error path."""
    require(GLIBC_LOADER)
    native = guest.native([GLIBC_LOADER])
    assert native.returncode != 0
    assert_same(guest.sysgate([GLIBC_LOADER]), native)
