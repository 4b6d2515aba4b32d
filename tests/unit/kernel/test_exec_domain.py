"""personality(2) and the behaviours its flags change (kernel/exec_domain.c, kernel/sys.c's
override_release/override_architecture, mm's READ_IMPLIES_EXEC), and how strace prints it."""

from __future__ import annotations

import pytest

from sysgate.kernel.exec_domain import override_architecture, override_release
from sysgate.kernel.task import Task
from sysgate.uapi import mman as m
from sysgate.uapi import personality as per
from tests.conftest import USER_BUF, sys
from tests.unit.trace.conftest import line, traced


def test_personality_stores_and_returns_any_value(task: Task) -> None:
    task.personality = per.ADDR_NO_RANDOMIZE
    assert sys(task, "personality", 0xFFFFFFFF) == per.ADDR_NO_RANDOMIZE  # only asks
    assert task.personality == per.ADDR_NO_RANDOMIZE
    assert sys(task, "personality", per.PER_LINUX32 | per.UNAME26) == per.ADDR_NO_RANDOMIZE
    assert sys(task, "personality", 0x12345678) == per.PER_LINUX32 | per.UNAME26
    assert sys(task, "personality", 0xFFFFFFFE) == 0x12345678
    # The old value comes back as an unsigned int: never mistaken for an error.
    assert sys(task, "personality", 0) == 0xFFFFFFFE
    assert sys(task, "personality", 0xFFFFFFFF) == 0


def test_the_argument_is_an_unsigned_int(task: Task) -> None:
    task.personality = 0
    assert sys(task, "personality", 0xABCD_0000_0000_0000 | per.READ_IMPLIES_EXEC) == 0
    assert task.personality == per.READ_IMPLIES_EXEC
    assert sys(task, "personality", 0x1_FFFF_FFFF) == per.READ_IMPLIES_EXEC  # 0xffffffff after truncation
    assert task.personality == per.READ_IMPLIES_EXEC


@pytest.mark.parametrize(("release", "patchlevel", "expected"), [
    (b"6.12.117-sysgate", 12, b"2.6.72-sysgate"),
    (b"6.18.44-fc-v669", 18, b"2.6.78-fc-v669"),
    (b"4.4.0", 4, b"2.6.64"),
    (b"5.10.1.2.3-x", 10, b"2.6.70.2.3-x"),  # stops at the third dot
])
def test_uname26_release(release: bytes, patchlevel: int, expected: bytes) -> None:
    assert override_release(per.UNAME26, release, patchlevel) == expected
    assert override_release(0, release, patchlevel) == release


def test_linux32_machine() -> None:
    assert override_architecture(per.PER_LINUX32, b"x86_64") == b"i686"
    assert override_architecture(per.PER_LINUX32_3GB, b"x86_64") == b"i686"
    assert override_architecture(per.PER_LINUX, b"x86_64") == b"x86_64"
    assert override_architecture(per.ADDR_LIMIT_32BIT, b"x86_64") == b"x86_64"


def test_uname_under_a_personality(task: Task) -> None:
    task.personality = per.PER_LINUX32 | per.UNAME26
    assert sys(task, "uname", USER_BUF) == 0
    fields = [task.mm.read(USER_BUF + 65 * i, 65).split(b"\0")[0] for i in range(6)]
    assert (fields[2], fields[4]) == (b"2.6.72-sysgate", b"i686")


def test_read_implies_exec_in_mmap_and_mprotect(task: Task) -> None:
    anon = m.MAP_PRIVATE | m.MAP_ANONYMOUS
    task.personality = per.READ_IMPLIES_EXEC
    a = sys(task, "mmap", 0, 4096, m.PROT_READ, anon, -1, 0)
    b = sys(task, "mmap", 0, 4096, m.PROT_WRITE, anon, -1, 0)
    assert task.mm.vma_at(a).prot == m.PROT_READ | m.PROT_EXEC
    assert task.mm.vma_at(b).prot == m.PROT_WRITE
    assert sys(task, "mprotect", b, 4096, m.PROT_READ | m.PROT_WRITE) == 0
    assert task.mm.vma_at(b).prot == m.PROT_READ | m.PROT_WRITE | m.PROT_EXEC
    task.personality = 0
    assert sys(task, "mprotect", b, 4096, m.PROT_READ) == 0
    assert task.mm.vma_at(b).prot == m.PROT_READ


@pytest.mark.parametrize(("arg", "ret", "style", "call", "result"), [
    (0xFFFFFFFF, 0x40000, "abbrev", "personality(0xffffffff)", "0x40000 (PER_LINUX|ADDR_NO_RANDOMIZE)"),
    (per.PER_LINUX32 | per.UNAME26, 0, "abbrev", "personality(PER_LINUX32|UNAME26)", "0 (PER_LINUX)"),
    (per.PER_SVR4, 0, "abbrev", "personality(0x1 /* PER_??? */|MMAP_PAGE_ZERO|STICKY_TIMEOUTS)", "0 (PER_LINUX)"),
    (0x80000000, 0, "abbrev", "personality(PER_LINUX|0x80000000)", "0 (PER_LINUX)"),
    (0x12345678, 0, "abbrev",
     "personality(0x78 /* PER_??? */|ADDR_NO_RANDOMIZE|MMAP_PAGE_ZERO|ADDR_COMPAT_LAYOUT|WHOLE_SECONDS|0x10005600)",
     "0 (PER_LINUX)"),
    (per.PER_LINUX32 | per.UNAME26, 0x20008, "verbose", "personality(0x8 /* PER_LINUX32 */|0x20000 /* UNAME26 */)",
     "0x20008 (0x8 /* PER_LINUX32 */|0x20000 /* UNAME26 */)"),
    (0xFFFFFFFF, 0, "verbose", "personality(0xffffffff)", "0 (0 /* PER_LINUX */)"),
    (per.PER_LINUX32 | per.UNAME26, 0x20008, "raw", "personality(0x8|0x20000)", "0x20008 (0x8|0x20000)"),
])
def test_traced_as_strace_prints_it(arg: int, ret: int, style: str, call: str, result: str, task: Task) -> None:
    """Lines the host's strace 6.1 printed for a program making these calls."""
    task.personality = ret
    assert traced(task, "personality", arg, options=("-X", style)) == line(call, result)


def test_the_first_program_starts_as_under_setarch_r(task: Task) -> None:
    """Without --aslr (Kernel(aslr=False)), PER_LINUX|ADDR_NO_RANDOMIZE."""
    assert sys(task, "personality", 0xFFFFFFFF) == per.ADDR_NO_RANDOMIZE
