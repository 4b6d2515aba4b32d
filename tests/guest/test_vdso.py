"""The vDSO and the vsyscall page, natively and under sysgate (issue 5).

- vdso.c resolves __vdso_* through AT_SYSINFO_EHDR by hand (glibc's GNU-hash lookup and
  musl's DT_HASH one, with the LINUX_2.6 version), calls each function against the
  system call, and reads /proc/self/maps; its output must be the host's.
- vsyscall.c calls the three legacy entries.
- vdso_loop.c reads the clocks 10^5 times through the C library: under sysgate not one
  system call may happen in that stretch (the vDSO does not trap), for every build
  variant, static glibc included.
"""

from __future__ import annotations

import pytest

import sysgate
from tests.guest.build import VARIANTS
from tests.guest.conftest import GuestRunner, assert_same

pytestmark = pytest.mark.guest
GETPPID = 110


def host_has_vsyscall() -> bool:
    with open("/proc/self/maps") as f:
        return any(line.rstrip().endswith("[vsyscall]") for line in f)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_vdso_program_matches_native(variant: str, guest: GuestRunner) -> None:
    exe = guest.build("vdso", variant)
    native = guest.native([str(exe)])
    assert native.returncode == 0, f"the host disagrees with Linux:\n{native}"
    assert_same(guest.sysgate([str(exe)]), native)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_vsyscall_entries_match_native(variant: str, guest: GuestRunner) -> None:
    if not host_has_vsyscall():
        pytest.skip("the host kernel runs with vsyscall=none: no oracle for the calls")
    exe = guest.build("vsyscall", variant)
    native = guest.native([str(exe), "calls"])
    assert native.returncode == 0, f"the host disagrees with Linux:\n{native}"
    assert_same(guest.sysgate([str(exe), "calls"]), native)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_clock_reads_through_the_c_library_make_no_system_call(variant: str, guest: GuestRunner) -> None:
    exe = guest.build("vdso_loop", variant)
    kernel = sysgate.Kernel()
    seen: list[int] = []
    kernel.on_syscall_enter(None, lambda call: seen.append(call.nr))
    r = sysgate.run([str(exe), "100000"], kernel=kernel, capture_output=True)
    assert r.returncode == 0, r.stdout
    start = seen.index(GETPPID)
    end = seen.index(GETPPID, start + 1)
    assert seen[start + 1 : end] == [], f"system calls inside the loop: {seen[start + 1 : end][:10]}"
    assert len(seen) < 200  # the whole run, start-up and exit included
