"""`sysgate trace` of several tasks against the host's strace: -f, -ff, and without -f.

The host's strace sees the tasks run at the same time, so the order of lines from
different tasks is the schedulers', not the tracer's. Each trace is cut into its tasks
(tests/trace/harness.py: tasks_of), a call cut by another task's line is joined again
with its `<... resumed>` part, and the tasks are named by who made them (P, P.1, ...),
not by pid. Each task's lines must then be the same.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.trace.conftest import program
from tests.trace.harness import (
    CHILD_TIMES,
    Normaliser,
    assert_same_tasks,
    assert_same_trace,
    native,
    separate_files,
    tasks_of,
    traced,
)

pytestmark = pytest.mark.guest

JOIN_WAIT = re.compile(r"^futex\(0x[0-9a-fA-F]+, FUTEX_WAIT_BITSET\|FUTEX_CLOCK_REALTIME, \d+, NULL, "
                       r"FUTEX_BITSET_MATCH_ANY\)")
"""pthread_join's wait: made only when the thread has not ended yet (a race on the host)."""


def both(name: str, opts: tuple[str, ...], tmp_path: Path, args: tuple[str, ...] = ()) -> tuple:
    exe = program(name)
    cwd = tmp_path / "run"
    theirs = native([str(exe), *args], list(opts), cwd)
    ours = traced([str(exe), *args], list(opts), cwd)
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout)
    return theirs, ours


@pytest.mark.parametrize("name", ["mp_fork", "mp_vfork"])
def test_follow_forks(name: str, tmp_path: Path) -> None:
    theirs, ours = both(name, ("-f",), tmp_path)
    assert_same_tasks(tasks_of(theirs.trace), tasks_of(ours.trace))


@pytest.mark.parametrize("name", ["mp_fork", "mp_vfork"])
def test_output_separately(name: str, tmp_path: Path) -> None:
    both(name, ("-ff",), tmp_path)
    theirs = separate_files(tmp_path / "run.native.trace")
    ours = separate_files(tmp_path / "run.sysgate.trace")
    assert len(ours) == len(theirs) >= 2
    assert_same_tasks(tasks_of(theirs), tasks_of(ours))


@pytest.mark.parametrize("name", ["mp_fork", "mp_vfork", "mp_thread"])
def test_without_follow_only_the_first_task(name: str, tmp_path: Path) -> None:
    """Without -f strace traces the process it started as one task: no child's line, no pid."""
    theirs, ours = both(name, (), tmp_path)
    a, b = tasks_of({1: theirs.trace}), tasks_of({1: ours.trace})
    for tasks in (a, b):
        tasks["P"] = [x for x in tasks["P"] if not JOIN_WAIT.match(x)]
    # Untraced, the thread may have ended (and the kernel cleared parent_tid) before the
    # host's strace reads it at clone3's return: `=> {parent_tid=[0]}` is that race.
    assert_same_tasks(a, b, Normaliser(extra=[*CHILD_TIMES, (r"=> \{parent_tid=\[\w+(\.\d+)?\]\}", "=> {TID}")]))
    assert all(not lines for name, lines in b.items() if name != "P")
    assert "[pid" not in ours.trace and not re.search(r"^\d+ ", ours.trace, re.M)


def test_threads(tmp_path: Path) -> None:
    theirs, ours = both("mp_thread", ("-f",), tmp_path)
    a, b = tasks_of(theirs.trace), tasks_of(ours.trace)
    for tasks in (a, b):
        tasks["P"] = [x for x in tasks["P"] if not JOIN_WAIT.match(x)]
    assert_same_tasks(a, b)
    assert any(x.startswith("clone3({flags=CLONE_VM|") and " => {parent_tid=[" in x for x in b["P"])


def test_poll_select_epoll(tmp_path: Path) -> None:
    theirs, ours = both("mp_poll", (), tmp_path)
    assert_same_trace(theirs, ours, Normaliser(extra=[(r"left \{tv_sec=\d+, tv_nsec=\d+\}", "left {T}")]))


def test_shell_pipeline(tmp_path: Path) -> None:
    """busybox sh -c 'echo a | cat' (two children, a pipe, an exec of /proc/self/exe)."""
    import shutil

    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("the host has no busybox")
    cwd = tmp_path / "run"
    argv = [busybox, "sh", "-c", "echo a | cat"]
    theirs = native(argv, ["-f"], cwd)
    ours = traced(argv, ["-f"], cwd)
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout) == (0, b"a\n")
    busy = Normaliser(extra=[*CHILD_TIMES, (r"^(rt_sigreturn\(.*\)) += \d+$", r"\1 = N"),
                             (r'"/(?:usr/)?bin/busybox", \d+', '"BUSYBOX", N'),
                             (r'prctl\(PR_GET_NAME, "busybox"\)', 'prctl(PR_GET_NAME, "exe")')])
    assert_same_tasks(_without_sigchld(tasks_of(theirs.trace)), _without_sigchld(tasks_of(ours.trace)), busy)


def _without_sigchld(tasks: dict[str, list[str]]) -> dict[str, list[str]]:
    """The shell's SIGCHLD lines and the rt_sigreturn after each: how many there are
    depends on timing (a SIGCHLD still pending when the second child exits is delivered
    once), natively as under sysgate."""
    out: dict[str, list[str]] = {}
    for name, lines in tasks.items():
        kept: list[str] = []
        skip_return = False
        for line in lines:
            if line.startswith("--- SIGCHLD "):
                skip_return = True
                continue
            if skip_return and line.startswith("rt_sigreturn("):
                skip_return = False
                continue
            skip_return = False
            kept.append(line)
        out[name] = kept
    return out
