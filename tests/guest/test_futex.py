"""futex against the host: every operation and error in one thread (futex.c), and the
operations between threads (futex_threads.c: a 10^4 ping-pong, requeue, wake-op, waitv,
a condition variable broadcast to 8 threads, PI and robust mutexes whose owner exits).

Each program checks what Linux does and prints one line per check; the run under sysgate
must equal the native run, in every build variant (glibc and musl implement mutexes and
condition variables on futexes differently).
"""

from __future__ import annotations

import pytest

from tests.guest.build import VARIANTS
from tests.guest.conftest import GuestRunner, assert_same

pytestmark = pytest.mark.guest


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("program", ["futex", "futex_threads"])
def test_futex_matches_native(program: str, variant: str, guest: GuestRunner) -> None:
    exe = guest.build(program, variant)
    native = guest.native([str(exe)])
    assert native.returncode == 0, f"the host disagrees with Linux:\n{native}"
    assert b"[FAIL]" not in native.stdout
    ours = guest.sysgate([str(exe)])
    assert_same(ours, native)
