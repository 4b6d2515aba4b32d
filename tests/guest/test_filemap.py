"""File mappings as shared libraries use them, natively and under sysgate (issue 5:
file-backed mmap): copy-on-write MAP_PRIVATE, MAP_SHARED writes reaching the file,
page-aligned offsets, code run from a file, and SIGBUS past the end of the file.

tests/guest/src/filemap.c checks each with [OK]/[FAIL] lines and dies of SIGBUS at the
end; the run must equal the native one in every build, and the signal must be what a
tracer sees natively: BUS_ADRERR at the byte the program touched.
"""

from __future__ import annotations

import re

import pytest

from tests.guest.build import VARIANTS
from tests.guest.conftest import GuestRunner, Outcome, assert_same
from tests.trace.harness import Normaliser, assert_same_trace, native, traced

pytestmark = pytest.mark.guest
SIGBUS = 7


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_file_mappings_match_native(variant: str, guest: GuestRunner) -> None:
    exe = str(guest.build("filemap", variant))
    theirs = masked(guest.native([exe]))
    assert theirs.returncode == -SIGBUS and b"[FAIL]" not in theirs.stdout, str(theirs)
    assert_same(masked(guest.sysgate([exe])), theirs)


def masked(run: Outcome) -> Outcome:
    """The run with the address it touched hidden (the host randomises its mmap area)."""
    return Outcome(run.returncode, re.sub(rb"touching 0x[0-9a-f]+", b"touching ADDR", run.stdout), run.stderr)


def test_sigbus_past_end_of_file_as_a_tracer_sees_it(guest: GuestRunner) -> None:
    exe = str(guest.build("filemap", "glibc-static"))
    cwd = guest.fresh_dir("trace")
    norm = Normaliser(extra=[(r"si_addr=0x[0-9a-f]+", "si_addr=ADDR")])
    theirs = native([exe], ["-e", "trace=none"], cwd)
    ours = traced([exe], ["-e", "trace=none"], cwd)
    assert_same_trace(theirs, ours, norm)
    assert "si_code=BUS_ADRERR" in ours.trace and "+++ killed by SIGBUS +++" in ours.trace
    for run in (theirs, ours):  # si_addr is the byte touched, in both
        touched = re.search(rb"touching (0x[0-9a-f]+)", run.stdout)
        assert touched is not None, run.stdout
        assert f"si_addr={touched.group(1).decode()}" in run.trace
