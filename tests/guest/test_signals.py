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
from collections.abc import Callable
from pathlib import Path

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


def _started_like_nohup_in_background() -> None:
    """The parent's part of `nohup prog &` from a script, plus a blocked SIGUSR2."""
    import signal

    for s in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGRTMIN + 3):
        signal.signal(s, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2, signal.SIGTERM])


@pytest.mark.guest
def test_ignored_and_blocked_signals_are_inherited_as_exec_keeps_them(
        first_variant: Callable[[str], Path], guest: GuestRunner) -> None:
    """sysgate started under nohup, as a background job or with a mask gives its first
    program that state, as execve does natively; SIGPIPE, which Python ignores for itself,
    is not passed on."""
    import sys

    exe = first_variant("sig_inherit")
    runs = []
    for argv in ([str(exe)], [sys.executable, "-m", "sysgate", "run", str(exe)]):
        r = subprocess.run(argv, env=dict(GUEST_ENV), capture_output=True, cwd=guest.fresh_dir("inherit"),
                           timeout=TIMEOUT, check=False, preexec_fn=_started_like_nohup_in_background)
        runs.append(Outcome(r.returncode, r.stdout, r.stderr))
    native, under = runs
    assert native.stdout == b"ignored: 1 2 3 37\nblocked: 12 15\n", f"the host disagrees with Linux:\n{native}"
    assert_same(under, native)


@pytest.mark.guest
def test_a_stop_before_a_woken_call_runs_again_does_not_lose_its_signal(
        first_variant: Callable[[str], Path], guest: GuestRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """A task woken by a signal runs its blocked call again from the `syscall` instruction.
    The watcher may stop the CPU just as that run begins (a timer was due for both
    threads); the signal must then wait for the call, whose -ERESTART* code decides
    between EINTR and a restart. Delivered at once, the handler ran around the unfinished
    pause, which then waited forever (sig_wait deadlocked). Here every run that starts at
    a `syscall` where the last one stopped is stopped before its first instruction."""
    from sysgate.cpu.base import Stop, StopKind
    from sysgate.cpu.uc import UnicornCpu

    real_run = UnicornCpu.run
    last = {"pc": -1}

    def stopped_at_once(self: UnicornCpu, pc: int, count: int = 0) -> Stop:
        if pc == last["pc"] and self.mm.read(pc, 2) == b"\x0f\x05":
            last["pc"] = -1
            return Stop(StopKind.STOPPED, pc)
        stop = real_run(self, pc, count)
        last["pc"] = stop.pc
        return stop

    monkeypatch.setattr(UnicornCpu, "run", stopped_at_once)
    exe = first_variant("sig_wait")
    native = guest.native([str(exe)])
    assert native.returncode == 0, f"the host disagrees with Linux:\n{native}"
    assert_same(guest.sysgate([str(exe)]), native)
