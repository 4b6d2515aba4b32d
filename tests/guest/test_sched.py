"""The scheduler: preemption, Ctrl-C, reproducible schedules, the deadlock report.

Counterpart of what kernel/sched.py promises: a thread spinning without system calls
cannot keep the others from running (the time slice ends), a Ctrl-C at the terminal
reaches the guest as SIGINT (a handler in pause(), or the default action in a compute
loop), `--seed N` replays the same order of switches, and a guest that waits with
nothing that could wake it ends with a report instead of hanging.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sysgate.uapi import signal as ls
from tests.guest.conftest import TIMEOUT, GuestRunner, assert_same

pytestmark = pytest.mark.guest
VARIANT = "glibc-static"


def test_a_spinning_thread_is_preempted(guest: GuestRunner) -> None:
    exe = guest.build("sched_spin", VARIANT)
    native = guest.native([str(exe)])
    ours = guest.sysgate([str(exe)])
    assert native.stdout == ours.stdout == b"joined, spun: yes\n"
    assert ours.returncode == 0


def _at_terminal(argv: list[str]) -> tuple[bytes, int]:
    """Run argv on a new pseudo-terminal, press Ctrl-C once it says "ready"; return
    what it printed and its exit status (subprocess's convention)."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.execvp(argv[0], argv)  # noqa: S606 - the program under test
        finally:
            os._exit(127)
    out = b""
    deadline = time.monotonic() + TIMEOUT
    try:
        while b"ready" not in out and time.monotonic() < deadline:
            out += os.read(fd, 1024)
        time.sleep(0.3)
        os.write(fd, b"\x03")
        while time.monotonic() < deadline:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return out, os.waitstatus_to_exitcode(status)


CLI = [sys.executable, "-m", "sysgate", "run"]


def test_ctrl_c_reaches_a_handler(guest: GuestRunner) -> None:
    exe = str(guest.build("sched_sigint", VARIANT))
    native_out, native_status = _at_terminal([exe])
    ours_out, ours_status = _at_terminal([*CLI, exe])
    assert b"got SIGINT" in native_out and native_status == 3
    assert b"got SIGINT" in ours_out and ours_status == 3


def test_ctrl_c_kills_a_compute_loop(guest: GuestRunner) -> None:
    exe = str(guest.build("sched_sigint", VARIANT))
    _, native_status = _at_terminal([exe, "spin"])
    _, ours_status = _at_terminal([*CLI, exe, "spin"])
    assert native_status == -ls.SIGINT
    assert ours_status == 128 + ls.SIGINT  # sysgate exits as a shell reports a killed program


def test_the_same_seed_gives_the_same_schedule(guest: GuestRunner, tmp_path: Path) -> None:
    exe = str(guest.build("sched_order", VARIANT))
    runs = [guest.cli(["run", "--seed", str(seed), exe]) for seed in (1, 1, 2)]
    assert all(r.returncode == 0 for r in runs), runs
    assert runs[0].stdout == runs[1].stdout
    assert runs[0].stdout.startswith(b"32 ")
    # A different seed is allowed to give the same order, but over several seeds the
    # choices must differ somewhere: the seed does steer the schedule.
    others = {guest.cli(["run", "--seed", str(seed), exe]).stdout for seed in range(2, 6)}
    assert len(others | {runs[0].stdout}) > 1


def test_a_deadlocked_guest_is_reported(guest: GuestRunner) -> None:
    exe = str(guest.build("sched_sigint", VARIANT))
    result = subprocess.run([*CLI, exe], check=False, capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert result.returncode == 125
    assert result.stderr.decode().strip().endswith(
        "deadlock: every task waits and nothing can wake one (2 in pause)"), result.stderr


def test_blocking_file_locks_wait_for_another_process(guest: GuestRunner) -> None:
    exe = str(guest.build("proc_locks", VARIANT))
    native = guest.native([exe])
    assert native.returncode == 0, native
    assert native.stdout.startswith(b"nonblocking flock: EWOULDBLOCK\nchild releases\nflock: 0\nofd lock: 0\n")
    assert_same(guest.sysgate([exe]), native)


def test_sigterm_three_times_ends_sysgate(guest: GuestRunner) -> None:
    """sysgate passes SIGTERM to the guest, which may ignore it; a third one within two
    seconds ends sysgate itself, so `timeout` and a user can always stop a run."""
    import signal

    exe = str(guest.build("sched_sigint", VARIANT))
    proc = subprocess.Popen([*CLI, exe, "ignterm"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(0.5)  # the guest has ignored SIGTERM and spins
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert proc.poll() is None  # passed to the guest, which ignores it
        for _ in range(2):
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)  # two at once would merge into one pending host signal
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM
    assert err.endswith(b"sysgate: SIGTERM received three times; ending the run\n")


def test_the_same_seed_preempts_compute_bound_threads_at_the_same_points(guest: GuestRunner) -> None:
    exe = str(guest.build("sched_slices", VARIANT))
    runs = [guest.cli(["run", "--seed", "3", exe]) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs
    assert len(runs[0].stdout.split()) == 5
    assert runs[0].stdout == runs[1].stdout
