"""Signals on the guest stack, natively and under sysgate, compared whole.

Each program checks its own behaviour ([OK]/[FAIL] lines, the exit status is the
verdict) and the sysgate run must print and end exactly as the native one: handlers
running and returning through rt_sigreturn (every general and XMM register restored),
SA_SIGINFO, SA_RESETHAND, SA_NODEFER, sa_mask, blocked and pending signals; faults
caught (SIGSEGV with si_addr and si_code and siglongjmp out, a stack overflow on a
sigaltstack, SIGFPE, SIGILL, SIGTRAP); alarm and pause, sigsuspend, interrupted
nanosleep, rt_sigtimedwait, setitimer and POSIX timers; and default actions.
"""

from __future__ import annotations

import subprocess

import pytest

from sysgate.uapi import signal as ls
from tests.guest.build import VARIANTS
from tests.guest.conftest import GUEST_ENV, TIMEOUT, GuestRunner, Outcome, assert_same

PROGRAMS = ["sig_handlers", "sig_faults", "sig_wait"]


@pytest.mark.guest
@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("program", PROGRAMS)
def test_signal_program_matches_native(program: str, variant: str, guest: GuestRunner) -> None:
    exe = guest.build(program, variant)
    native = guest.native([str(exe)])
    assert native.returncode == 0, f"the host disagrees with Linux:\n{native}"
    assert_same(guest.sysgate([str(exe)]), native)


DEFAULTS = [
    (ls.SIGTERM, "raise"), (ls.SIGUSR1, "kill"), (ls.SIGABRT, "raise"), (ls.SIGSEGV, "tgkill"),
    (ls.SIGKILL, "kill0"), (ls.SIGQUIT, "kill0"), (40, "tgkill"), (ls.SIGCHLD, "raise"), (ls.SIGWINCH, "kill"),
]


@pytest.mark.guest
@pytest.mark.parametrize(("sig", "how"), DEFAULTS, ids=[f"{ls.signame(s)}-{h}" for s, h in DEFAULTS])
def test_default_action_matches_native(sig: int, how: str, guest: GuestRunner) -> None:
    exe = guest.build("sig_default", next(iter(VARIANTS)))
    argv = [str(exe), str(sig), how]
    # kill(0, sig) signals the caller's process group: natively, in a session of its own
    # (the guest's process group under sysgate is its own already).
    r = subprocess.run(argv, env=dict(GUEST_ENV), capture_output=True, cwd=guest.fresh_dir("native"),
                       timeout=TIMEOUT, check=False, start_new_session=True)
    native = Outcome(r.returncode, r.stdout, r.stderr)
    ignored = sig in (ls.SIGCHLD, ls.SIGWINCH)
    assert native.returncode == (0 if ignored else -sig), f"the host disagrees with Linux:\n{native}"
    assert_same(guest.sysgate(argv), native)
