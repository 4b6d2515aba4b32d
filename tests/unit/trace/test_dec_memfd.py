"""memfd_create, membarrier, flock and fadvise64 traced as strace 6.1 prints them (every
line below was printed by the host's strace for the same calls)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sysgate.kernel.task import Task
from tests.conftest import USER_BUF, put_str, sys
from tests.unit.trace.conftest import line, traced

NAME = USER_BUF
EINVAL = "-1 EINVAL (Invalid argument)"
EPERM = "-1 EPERM (Operation not permitted)"
QUERY = ("0x3ff (MEMBARRIER_CMD_GLOBAL|MEMBARRIER_CMD_GLOBAL_EXPEDITED|MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED|"
         "MEMBARRIER_CMD_PRIVATE_EXPEDITED|MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED|"
         "MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE|MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE|"
         "MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ|MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ|0x200)")


def test_membarrier(task: Task) -> None:
    for args, call, result in [
        ((0, 0, 0), "membarrier(MEMBARRIER_CMD_QUERY, 0)", QUERY),
        ((0, 1, 0), "membarrier(MEMBARRIER_CMD_QUERY, MEMBARRIER_CMD_FLAG_CPU, 0)", EINVAL),
        ((8, 0, 0), "membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0)", EPERM),
        ((16, 0, 0), "membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0)", "0"),
        ((512, 0, 0), "membarrier(0x200 /* MEMBARRIER_CMD_??? */, 0)", "16"),
        ((128, 1, 5), "membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, MEMBARRIER_CMD_FLAG_CPU, 5)", EPERM),
        ((128, 2, 0), "membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0x2 /* MEMBARRIER_CMD_FLAG_??? */)", EINVAL),
        ((0xFFFFFFFF, 0, 0), "membarrier(0xffffffff /* MEMBARRIER_CMD_??? */, 0)", EINVAL),
    ]:
        assert traced(task, "membarrier", *args) == line(call, result)
    assert traced(task, "membarrier", 0, 0, 0, options=("-X", "raw")) == line(
        "membarrier(0, 0)", "0x3ff (0x3ff)")
    names = QUERY.removeprefix("0x3ff (").removesuffix(")")
    assert traced(task, "membarrier", 0, 0, 0, options=("-X", "verbose")) == line(
        "membarrier(0 /* MEMBARRIER_CMD_QUERY */, 0)", f"0x3ff (0x3ff /* {names} */)")


@pytest.mark.parametrize("options, flags, text", [
    ((), 0, "0"), ((), 1, "MFD_CLOEXEC"), ((), 2, "MFD_ALLOW_SEALING"), ((), 8, "0x8 /* MFD_??? */"),
    ((), 0xB, "MFD_CLOEXEC|MFD_ALLOW_SEALING|0x8"), ((), 0x100, "0x100 /* MFD_??? */"),
    ((), 4, "MFD_HUGETLB"), ((), 0x54000004, "MFD_HUGETLB|21<<MFD_HUGE_SHIFT"),
    (("-X", "verbose"), 0x10, "0x10 /* 0x10 /* MFD_??? */ */"), (("-X", "verbose"), 4, "0x4 /* MFD_HUGETLB */"),
    (("-X", "verbose"), 0x54000004, "0x54000004 /* MFD_HUGETLB|21<<MFD_HUGE_SHIFT */"),
    (("-X", "verbose"), 0xB, "0xb /* MFD_CLOEXEC|MFD_ALLOW_SEALING|0x8 */"),
    (("-X", "verbose"), 0, "0"), (("-X", "raw"), 0x54000004, "0x54000004"),
])
def test_memfd_flags(task: Task, options: tuple[str, ...], flags: int, text: str) -> None:
    out = traced(task, "memfd_create", put_str(task, "a", NAME), flags, options=options)
    assert out.startswith(f'memfd_create("a", {text})'), out


def test_memfd_names(task: Task) -> None:
    assert traced(task, "memfd_create", put_str(task, "x", NAME), 0) == line('memfd_create("x", 0)', "3")
    assert traced(task, "memfd_create", put_str(task, b"\xff\n", NAME), 0) == line(
        'memfd_create("\\377\\n", 0)', "4")
    assert traced(task, "memfd_create", put_str(task, "n" * 249, NAME), 2) == line(
        f'memfd_create("{"n" * 32}"..., MFD_ALLOW_SEALING)', "5")
    assert traced(task, "memfd_create", put_str(task, "n" * 250, NAME), 0) == line(
        f'memfd_create("{"n" * 32}"..., 0)', EINVAL)
    assert traced(task, "memfd_create", put_str(task, "abcd", NAME), 0, options=("-s", "4")) == line(
        'memfd_create("abcd", 0)', "6")
    assert traced(task, "memfd_create", put_str(task, "abcde", NAME), 0, options=("-s", "4")) == line(
        'memfd_create("abcd"..., 0)', "7")
    assert traced(task, "memfd_create", put_str(task, "m", NAME), 1, options=("-y",)) == line(
        'memfd_create("m", MFD_CLOEXEC)', "8</memfd:m>(deleted)")
    assert traced(task, "memfd_create", 0, 0) == line("memfd_create(NULL, 0)", "-1 EFAULT (Bad address)")


@pytest.fixture
def fd(task: Task, tmp_path: Path) -> int:
    (tmp_path / "f").write_bytes(b"")
    return sys(task, "open", put_str(task, "f", NAME), 0, 0)


def test_flock(task: Task, fd: int) -> None:
    for cmd, text, result in [(1, "LOCK_SH", "0"), (6, "LOCK_EX|LOCK_NB", "0"), (8, "LOCK_UN", "0"),
                              (12, "LOCK_NB|LOCK_UN", "0"), (32, "LOCK_MAND", "0"), (64, "LOCK_READ", EINVAL),
                              (3, "LOCK_SH|LOCK_EX", EINVAL), (0, "0", EINVAL), (16, "0x10 /* LOCK_??? */", EINVAL),
                              (0xFFFFFFFF, "LOCK_SH|LOCK_EX|LOCK_NB|LOCK_UN|LOCK_MAND|LOCK_RW|0xffffff10", "0")]:
        assert traced(task, "flock", fd, cmd) == line(f"flock({fd}, {text})", result)
    assert traced(task, "flock", 99, 1) == line("flock(99, LOCK_SH)", "-1 EBADF (Bad file descriptor)")


def test_fadvise64(task: Task, fd: int) -> None:
    for args, text, result in [
        ((0, 0, 0), "0, 0, POSIX_FADV_NORMAL", "0"),
        ((10, 100, 2), "10, 100, POSIX_FADV_SEQUENTIAL", "0"),
        ((-1, 5, 4), "-1, 5, POSIX_FADV_DONTNEED", "0"),
        ((0, -1, 3), "0, 18446744073709551615, POSIX_FADV_WILLNEED", EINVAL),
        ((0, 0, 6), "0, 0, 0x6 /* POSIX_FADV_??? */", EINVAL),
        ((0, 0, -1), "0, 0, 0xffffffff /* POSIX_FADV_??? */", EINVAL),
        ((1 << 62, 1 << 63, 5), "4611686018427387904, 9223372036854775808, POSIX_FADV_NOREUSE", EINVAL),
    ]:
        assert traced(task, "fadvise64", fd, *args) == line(f"fadvise64({fd}, {text})", result)
    assert traced(task, "fadvise64", -5, 0, 0, 0) == line("fadvise64(-5, 0, 0, POSIX_FADV_NORMAL)",
                                                          "-1 EBADF (Bad file descriptor)")
