"""The vsyscall page's faults as the host's strace reports them: each SIGSEGV with the
si_code and si_addr Linux's emulate_vsyscall and page-fault path give (SEGV_MAPERR at
the address for a read or write of the page or a pointer outside user space, SI_KERNEL
for a call to a non-entry offset, a bad stack, or a pointer that faults in the call)."""

from __future__ import annotations

import pytest

from tests.guest.test_vdso import host_has_vsyscall
from tests.trace.conftest import Compare

HOW = ["calls", "read", "write", "misaligned", "fourth", "badptr", "kernelptr", "badstack", "nextpage"]


@pytest.mark.guest
@pytest.mark.parametrize("how", HOW)
def test_vsyscall_signals_match_strace(compare: Compare, how: str) -> None:
    if not host_has_vsyscall():
        pytest.skip("the host kernel runs with vsyscall=none: no oracle")
    compare("vsyscall", ("-e", "trace=none"), (how,))
