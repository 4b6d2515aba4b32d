"""Processes, exec and pipes (issue 4), natively and under sysgate, compared whole.

The guest programs check their own behaviour ([OK]/[FAIL] lines, the exit status is the
verdict) and the sysgate run must print and end exactly as the native one:

- proc_wait: fork trees and exit statuses, children killed by signals (the segfault's
  core bit as the host gives it), wait4 with WNOHANG and pid -1/0/-pgid, __WCLONE and
  __WALL, ECHILD, waitid's siginfo with WNOWAIT, a zombie in /proc/PID/stat, an orphan
  adopted, SIGCHLD ignored, setpgid/setsid/getsid across fork and exec;
- proc_clone: vfork, a raw clone thread with every flag glibc uses, clone3 and its
  checks, /proc/PID/task, execve from a thread of a multithreaded process;
- proc_exec: #! scripts and exec's errors, fds and signal dispositions across exec;
- proc_pipe: pipes and a FIFO between processes, PIPE_BUF atomicity, EOF, EPIPE and
  SIGPIPE, poll and epoll woken by another process.

Then the commands of the issue's first point (busybox sh and dash pipelines with a
background job, make -j2, python3's subprocess, threading and concurrent.futures), and
guests that deadlock, which sysgate must end with its report.

Differences from Linux that these tests allow for: an orphan is adopted by pid 1 under
sysgate (sysgate itself); on a host where a subreaper adopts it natively, the native
line is rewritten to what Linux without a subreaper prints.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.guest.build import VARIANTS
from tests.guest.conftest import GUEST_ENV, TIMEOUT, GuestRunner, Outcome, assert_same

pytestmark = pytest.mark.guest

PROGRAMS = ["proc_wait", "proc_clone", "proc_exec", "proc_pipe"]
ORPHAN_LINE = b"orphan adopted by pid 1: "


def _native_without_subreaper(native: Outcome) -> Outcome:
    """The native outcome as Linux gives it when init adopts orphans (see the docstring)."""
    out = native.stdout.replace(ORPHAN_LINE + b"no\n", ORPHAN_LINE + b"yes\n")
    return Outcome(native.returncode, out, native.stderr)


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("program", PROGRAMS)
def test_process_program_matches_native(program: str, variant: str, guest: GuestRunner) -> None:
    exe = guest.build(program, variant)
    native = guest.native([str(exe)])
    assert native.returncode == 0, f"the host disagrees with Linux:\n{native}"
    assert_same(guest.sysgate([str(exe)]), _native_without_subreaper(native))


# -- the commands ------------------------------------------------------------------

SHELL_SCRIPT = ("for i in 1 2 3; do echo $i; done | wc -l; ls / | sort | head -3; "
                "(sleep 0.1; echo child) & echo parent; wait; echo done")


@pytest.mark.parametrize("shell", [["/bin/busybox", "sh"], ["/bin/sh"], ["/bin/bash"]], ids=lambda s: s[-1])
def test_shell_pipeline_and_background_job(shell: list[str], guest: GuestRunner) -> None:
    if not os.path.exists(shell[0]):
        pytest.skip(f"{shell[0]} is not installed")
    argv = [*shell, "-c", SHELL_SCRIPT]
    native = guest.native(argv)
    assert native.returncode == 0 and native.stdout.endswith(b"parent\nchild\ndone\n"), native
    assert_same(guest.sysgate(argv), native)


def test_shell_exit_statuses(guest: GuestRunner) -> None:
    """$? of a child that exits, is killed, or is not found; exec replacing the shell."""
    script = ("/bin/busybox false; echo $?; /bin/busybox sh -c 'kill -TERM $$'; echo $?; "
              "/nonexistent 2>/dev/null; echo $?; (exit 7); echo $?; exec /bin/busybox echo replaced")
    native = guest.native(["/bin/sh", "-c", script])
    assert native.stdout == b"1\n143\n127\n7\nreplaced\n", native
    assert_same(guest.sysgate(["/bin/sh", "-c", script]), native)


def test_bash_exec_releasing_a_shared_mapping(guest: GuestRunner) -> None:
    """bash maps gconv-modules.cache MAP_SHARED; the exec that releases it used to die of
    SIGSEGV at the host chunk's address (uc_mem_unmap asked the TLB-fill hook for it)."""
    if not os.path.exists("/bin/bash"):
        pytest.skip("bash is not installed")
    argv = ["/bin/bash", "-c", "/bin/busybox echo child; exec /bin/busybox echo replaced"]
    native = guest.native(argv)
    assert native.stdout == b"child\nreplaced\n", native
    assert_same(guest.sysgate(argv), native)


MAKEFILE = "all: a b\n\t@echo all done\na:\n\techo making a\n\ttouch a\nb:\n\techo making b\n\ttouch b\n"


def _make(run: object, guest: GuestRunner) -> tuple[Outcome, list[str]]:
    d = guest.fresh_dir("make")
    (d / "Makefile").write_text(MAKEFILE)
    out: Outcome = run(["/usr/bin/make", "-j2"], cwd=d)  # type: ignore[operator]
    # -j2 runs a and b at once: their lines come in either order, natively too.
    lines = sorted(out.stdout.decode().splitlines())
    return Outcome(out.returncode, "\n".join(lines).encode(), out.stderr), sorted(os.listdir(d))


def test_make_j2(guest: GuestRunner) -> None:
    if not os.path.exists("/usr/bin/make"):
        pytest.skip("make is not installed")
    native, native_files = _make(guest.native, guest)
    assert native.returncode == 0 and native_files == ["Makefile", "a", "b"], native
    ours, our_files = _make(guest.sysgate, guest)
    assert_same(ours, native)
    assert our_files == native_files


PYTHON = os.path.realpath(sys.executable)
PY_SUBPROCESS = "import subprocess; print(subprocess.run(['echo','hi'],capture_output=True).stdout)"
PY_THREADS = """
import concurrent.futures as cf, queue, threading
def square(x):
    return x * x
if __name__ == "__main__":
    lock, total, q = threading.Lock(), [0], queue.Queue()
    def worker(n):
        for _ in range(500):
            with lock:
                total[0] += 1
        q.put(n)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("threads", total[0], sorted(q.get() for _ in range(4)))
    with cf.ThreadPoolExecutor(4) as ex:
        print("thread pool", list(ex.map(square, range(10))))
    with cf.ProcessPoolExecutor(2) as ex:
        print("process pool", list(ex.map(square, range(10))))
"""


@pytest.mark.parametrize("code", [PY_SUBPROCESS, PY_THREADS], ids=["subprocess", "threads-futures"])
def test_python(code: str, guest: GuestRunner, tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(code)  # a file: ProcessPoolExecutor's workers import __main__ from it
    argv = [PYTHON, "-S", str(script)]
    native = guest.native(argv)
    assert native.returncode == 0, native
    assert_same(guest.sysgate(argv), native)


# -- deadlocks ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["pause", "wait"])
def test_deadlock_is_reported(mode: str, guest: GuestRunner, first_variant: object) -> None:
    exe = first_variant("proc_deadlock")  # type: ignore[operator]
    ours = guest.cli(["run", str(exe), mode])
    assert ours.returncode == 125, ours
    assert ours.stderr.startswith(b"sysgate: deadlock: every task waits and nothing can wake one ("), ours
    assert ours.stderr.count(b"\n") == 1, ours
    assert b" in pause" in ours.stderr, ours


def test_deadlock_on_pipes_is_reported(guest: GuestRunner, first_variant: object) -> None:
    exe = first_variant("proc_deadlock")  # type: ignore[operator]
    try:
        r = subprocess.run([sys.executable, "-m", "sysgate", "run", str(exe), "pipes"], env=dict(GUEST_ENV),
                           capture_output=True, cwd=guest.fresh_dir("cli"), timeout=min(TIMEOUT, 15), check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("sysgate hung instead of reporting the deadlock")
    assert r.returncode == 125 and b"deadlock" in r.stderr
