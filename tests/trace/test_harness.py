"""The comparison harness itself: it forgives what differs by nature and nothing else."""

from __future__ import annotations

import pytest

from tests.trace.harness import Normaliser, Run, assert_same_trace, differences

NATIVE = """\
execve("/bin/p", ["/bin/p"], 0x7ffd0d403398 /* 4 vars */) = 0
brk(NULL)                               = 0x4ae000
set_tid_address(0x4ae650)               = 30154
getrandom("\\x2e\\xc2\\xcb\\x27", 4, GRND_NONBLOCK) = 4
getdents64(3, 0x4af710 /* 2 entries */, 32768) = 48
mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f3d16e8e000
clock_gettime(CLOCK_MONOTONIC, {tv_sec=1, tv_nsec=2}) = 0
tgkill(30154, 30154, SIGABRT)           = 0
--- SIGABRT {si_signo=SIGABRT, si_code=SI_TKILL, si_pid=30154, si_uid=0} ---
+++ killed by SIGABRT +++
"""
OURS = """\
execve("/bin/p", ["/bin/p"], 0x7fffffffe5e0 /* 4 vars */) = 0
brk(NULL)                               = 0x4ae000
set_tid_address(0x4ae650)               = 2
getrandom("\\x01\\x02\\x03\\x04", 4, GRND_NONBLOCK) = 4
getdents64(3, 0x4af210 /* 2 entries */, 32768) = 48
mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7ffff7ffb000
tgkill(2, 2, SIGABRT)                   = 0
--- SIGABRT {si_signo=SIGABRT, si_code=SI_TKILL, si_pid=2, si_uid=0} ---
+++ killed by SIGABRT +++
"""


def run(trace: str) -> Run:
    return Run(trace, 0, b"", b"")


def test_what_differs_by_nature_is_equal() -> None:
    assert_same_trace(run(NATIVE), run(OURS))


@pytest.mark.parametrize(("old", "new"), [
    ("PROT_READ,", "PROT_WRITE,"),  # a flag
    ("= 48", "= 47"),  # a result
    ("/* 4 vars */", "/* 5 vars */"),
    ("brk(NULL)                               =", "brk(NULL)                              ="),  # the column
    ("+++ killed by SIGABRT +++", "+++ exited with 0 +++"),
    ("si_code=SI_TKILL", "si_code=SI_USER"),
    ("\"/bin/p\"]", "\"/bin/q\"]"),
])
def test_a_real_difference_fails_with_a_diff(old: str, new: str) -> None:
    with pytest.raises(pytest.fail.Exception) as exc:
        assert_same_trace(run(NATIVE), run(OURS.replace(old, new, 1)))
    assert "--- strace (native)" in str(exc.value) and "+++ sysgate trace" in str(exc.value)


def test_loose_calls_compare_by_name_and_errno() -> None:
    a = "openat(AT_FDCWD, \"x\", O_RDONLY) = 3\nclose(3) = -1 EBADF (Bad file descriptor)\n"
    b = "openat(AT_FDCWD, \"x\", 0) = 3\nclose(3) = -1 EIO (Input/output error)\n"
    norm = Normaliser(loose=frozenset({"openat", "close"}))
    assert norm.lines(a)[0] == norm.lines(b)[0]
    assert norm.lines(a)[1] != norm.lines(b)[1]


def test_differences_are_listed_by_system_call() -> None:
    d = differences(NATIVE, OURS.replace("PROT_READ,", "1,").replace("+++ killed by SIGABRT +++\n", ""))
    assert list(d) == ["mmap", "(only in strace)"]
    assert d["mmap"][0].startswith("- mmap(NULL, 4096, PROT_READ")
