"""The vsyscall page's address decoding and pointer checks (arch/x86/entry/vsyscall/
vsyscall_64.c); the emulation itself runs in tests/guest/test_vdso.py and
tests/trace/test_vdso_trace.py, against the host."""

from __future__ import annotations

import pytest

from sysgate.mm.mm import TASK_SIZE_MAX
from sysgate.vdso.vsyscall import VSYSCALL_ADDR, access_ok, addr_to_vsyscall_nr, is_vsyscall_vaddr


@pytest.mark.parametrize("offset, nr", [
    (0x000, 0), (0x400, 1), (0x800, 2),  # gettimeofday, time, getcpu
    (0xC00, -1), (0x001, -1), (0x3FF, -1), (0x401, -1), (0x810, -1), (0xFFF, -1), (0x1000, -1),
])
def test_entries(offset: int, nr: int) -> None:
    assert addr_to_vsyscall_nr(VSYSCALL_ADDR + offset) == nr


def test_the_page() -> None:
    assert is_vsyscall_vaddr(VSYSCALL_ADDR) and is_vsyscall_vaddr(VSYSCALL_ADDR + 0xFFF)
    assert not is_vsyscall_vaddr(VSYSCALL_ADDR - 1) and not is_vsyscall_vaddr(VSYSCALL_ADDR + 0x1000)


@pytest.mark.parametrize("ptr, size, ok", [
    (0, 16, True),  # NULL is a user pointer: "don't write anything"
    (0x10, 16, True),  # user space, even if nothing is mapped there (the call then faults)
    (TASK_SIZE_MAX - 16, 16, True),
    (TASK_SIZE_MAX - 15, 16, False),
    (0xFFFF800000000000, 4, False),
    (VSYSCALL_ADDR, 8, False),
])
def test_access_ok(ptr: int, size: int, ok: bool) -> None:
    assert access_ok(ptr, size) is ok
