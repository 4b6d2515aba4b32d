"""Crossing the user boundary: access_ok, copies, strings, path names, prefixes.

Counterpart: arch/x86/include/asm/uaccess_64.h (__access_ok, valid_user_address),
arch/x86/kernel/cpu/common.c (USER_PTR_MAX = TASK_SIZE_MAX), lib/strncpy_from_user.c
and fs/namei.c (getname_flags).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sysgate.errors import KernelError
from sysgate.mm import uaccess as ua
from sysgate.mm.mm import Mm
from sysgate.mm.physmem import PAGE_SIZE, PhysMem
from sysgate.mm.vma import Vma
from sysgate.uapi.errno import Errno
from sysgate.uapi.mman import PROT_NONE, PROT_READ, PROT_WRITE

P = PAGE_SIZE
U64 = (1 << 64) - 1
TASK_SIZE_MAX = 0x7FFFFFFFF000
KERNEL_ADDR = 0xFFFF800000000000
RW_BASE = 0x10000000  # 4 read-write pages, then a hole
RO_PAGE = 0x10010000  # one read-only page, then a hole
NONE_PAGE = 0x10020000  # one PROT_NONE page
HOLE = 0x10030000


@pytest.fixture(scope="module")
def mm() -> Iterator[Mm]:
    phys = PhysMem(limit=1 << 20)
    m = Mm(phys)
    m.insert_vma(Vma(RW_BASE, RW_BASE + 4 * P, PROT_READ | PROT_WRITE))
    m.insert_vma(Vma(RO_PAGE, RO_PAGE + P, PROT_READ))
    m.insert_vma(Vma(NONE_PAGE, NONE_PAGE + P, PROT_NONE))
    yield m
    m.destroy()
    phys.close()


def errno_of(fn: object, *args: object) -> Errno:
    with pytest.raises(KernelError) as exc:
        fn(*args)  # type: ignore[operator]
    return exc.value.errno


def kernel_access_ok(addr: int, size: int) -> bool:
    """__access_ok for a size that is not a small constant, in 64-bit arithmetic."""
    total = (addr + size) & U64
    return total <= TASK_SIZE_MAX and total >= addr


# -- access_ok -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "addr, size, ok",
    [
        (0, 0, True),
        (0, 1, True),  # NULL passes access_ok; the fault comes later
        (TASK_SIZE_MAX, 0, True),
        (TASK_SIZE_MAX - P, P, True),  # ends exactly at USER_PTR_MAX
        (TASK_SIZE_MAX - P + 1, P, False),
        (TASK_SIZE_MAX, 1, False),
        (TASK_SIZE_MAX + 1, 0, False),
        (KERNEL_ADDR, 0, False),  # the kernel half
        (KERNEL_ADDR, 8, False),
        (U64, 1, False),  # wraps to 0
        (U64 - 7, 16, False),  # wraps
        (8, U64, False),  # wraps
        (0, TASK_SIZE_MAX, True),
        (0, TASK_SIZE_MAX + 1, False),
    ],
)
def test_access_ok_edges(addr: int, size: int, ok: bool) -> None:
    assert ua.access_ok(addr, size) is ok
    assert kernel_access_ok(addr, size) is ok


@given(st.integers(0, U64), st.integers(0, U64))
def test_access_ok_is_the_kernels_check(addr: int, size: int) -> None:
    assert ua.access_ok(addr, size) == kernel_access_ok(addr, size)


# -- copies ------------------------------------------------------------------------------


def test_copy_round_trip_across_pages(mm: Mm) -> None:
    data = bytes(range(256)) * 20
    ua.copy_to_user(mm, RW_BASE + 100, data)
    assert ua.copy_from_user(mm, RW_BASE + 100, len(data)) == data


@pytest.mark.parametrize("addr", [HOLE, 0, NONE_PAGE, KERNEL_ADDR, U64 - 3, RW_BASE + 4 * P - 2])
def test_copy_from_user_efault(mm: Mm, addr: int) -> None:
    assert errno_of(ua.copy_from_user, mm, addr, 4) == Errno.EFAULT


@pytest.mark.parametrize("addr", [HOLE, 0, RO_PAGE, NONE_PAGE, KERNEL_ADDR, U64 - 3])
def test_copy_to_user_efault(mm: Mm, addr: int) -> None:
    assert errno_of(ua.copy_to_user, mm, addr, b"abcd") == Errno.EFAULT


def test_copy_to_user_stores_the_bytes_before_the_bad_page(mm: Mm) -> None:
    edge = RW_BASE + 4 * P
    ua.copy_to_user(mm, edge - 8, bytes(8))
    assert errno_of(ua.copy_to_user, mm, edge - 4, b"12345678") == Errno.EFAULT
    assert ua.copy_from_user(mm, edge - 8, 8) == b"\0\0\0\x001234"


@pytest.mark.parametrize("addr", [0, HOLE, NONE_PAGE, KERNEL_ADDR, U64])
def test_zero_length_copies_always_succeed(mm: Mm, addr: int) -> None:
    assert ua.copy_from_user(mm, addr, 0) == b""
    ua.copy_to_user(mm, addr, b"")
    ua.clear_user(mm, addr, 0)


def test_clear_user(mm: Mm) -> None:
    ua.copy_to_user(mm, RW_BASE, b"xxxx")
    ua.clear_user(mm, RW_BASE + 1, 2)
    assert ua.copy_from_user(mm, RW_BASE, 4) == b"x\0\0x"
    assert errno_of(ua.clear_user, mm, RO_PAGE, 1) == Errno.EFAULT


def test_get_and_put_user(mm: Mm) -> None:
    ua.put_user_u32(mm, RW_BASE, -1)
    assert ua.get_user_u32(mm, RW_BASE) == 0xFFFFFFFF
    assert ua.get_user_s32(mm, RW_BASE) == -1
    ua.put_user_s32(mm, RW_BASE, -2)
    assert ua.get_user_u32(mm, RW_BASE) == 0xFFFFFFFE
    ua.put_user_u64(mm, RW_BASE, -1)
    assert ua.get_user_u64(mm, RW_BASE) == U64
    ua.put_user_s64(mm, RW_BASE, -3)
    assert ua.get_user_u64(mm, RW_BASE) == U64 - 2
    assert errno_of(ua.get_user_u64, mm, HOLE) == Errno.EFAULT
    assert errno_of(ua.put_user_u32, mm, RO_PAGE, 1) == Errno.EFAULT


# -- strings --------------------------------------------------------------------------------


def test_string_ending_right_before_an_unmapped_page(mm: Mm) -> None:
    edge = RW_BASE + 4 * P
    ua.copy_to_user(mm, edge - 4, b"abc\0")
    assert ua.strncpy_from_user(mm, edge - 4, 100) == b"abc"
    ua.copy_to_user(mm, edge - 1, b"\0")
    assert ua.strncpy_from_user(mm, edge - 1, 100) == b""


def test_string_running_into_an_unmapped_page_is_efault(mm: Mm) -> None:
    edge = RW_BASE + 4 * P
    ua.copy_to_user(mm, edge - 4, b"abcd")
    assert errno_of(ua.strncpy_from_user, mm, edge - 4, 100) == Errno.EFAULT
    # ... unless maxlen ends before the bad page: no NUL within maxlen.
    assert ua.strncpy_from_user(mm, edge - 4, 4) is None


def test_string_longer_than_maxlen(mm: Mm) -> None:
    ua.copy_to_user(mm, RW_BASE, b"abcd\0")
    assert ua.strncpy_from_user(mm, RW_BASE, 4) is None
    assert ua.strncpy_from_user(mm, RW_BASE, 5) == b"abcd"
    assert ua.strncpy_from_user(mm, RW_BASE, 0) is None


def test_string_across_a_page_boundary(mm: Mm) -> None:
    ua.copy_to_user(mm, RW_BASE + P - 3, b"across\0")
    assert ua.strncpy_from_user(mm, RW_BASE + P - 3, 4096) == b"across"


@pytest.mark.parametrize("addr", [0, HOLE, NONE_PAGE, KERNEL_ADDR, TASK_SIZE_MAX, U64])
def test_string_at_a_bad_address_is_efault(mm: Mm, addr: int) -> None:
    assert errno_of(ua.strncpy_from_user, mm, addr, 10) == Errno.EFAULT


def test_string_in_read_only_memory(mm: Mm) -> None:
    assert ua.strncpy_from_user(mm, RO_PAGE, 10) == b""  # a zero page reads as ""


# -- getname ----------------------------------------------------------------------------------


def test_getname(mm: Mm) -> None:
    ua.copy_to_user(mm, RW_BASE, b"/etc/passwd\0")
    assert ua.getname(mm, RW_BASE) == b"/etc/passwd"


def test_getname_longest_name_fits(mm: Mm) -> None:
    ua.copy_to_user(mm, RW_BASE, b"a" * (ua.PATH_MAX - 1) + b"\0")
    assert len(ua.getname(mm, RW_BASE)) == ua.PATH_MAX - 1


def test_getname_enametoolong_at_path_max(mm: Mm) -> None:
    ua.copy_to_user(mm, RW_BASE, b"a" * ua.PATH_MAX + b"\0")
    assert errno_of(ua.getname, mm, RW_BASE) == Errno.ENAMETOOLONG


def test_getname_enametoolong_even_if_an_unmapped_page_follows(mm: Mm) -> None:
    # strncpy_from_user(..., PATH_MAX) reads exactly PATH_MAX bytes: no fault past them.
    start = RW_BASE + 4 * P - ua.PATH_MAX
    ua.copy_to_user(mm, start, b"b" * ua.PATH_MAX)
    assert errno_of(ua.getname, mm, start) == Errno.ENAMETOOLONG
    assert errno_of(ua.getname, mm, start + 1) == Errno.EFAULT  # 4095 bytes, then the hole


def test_getname_empty(mm: Mm) -> None:
    ua.copy_to_user(mm, RW_BASE, b"\0")
    assert errno_of(ua.getname, mm, RW_BASE) == Errno.ENOENT
    assert ua.getname(mm, RW_BASE, empty_ok=True) == b""  # LOOKUP_EMPTY (AT_EMPTY_PATH)


@pytest.mark.parametrize("addr", [0, HOLE, KERNEL_ADDR])
def test_getname_efault(mm: Mm, addr: int) -> None:
    assert errno_of(ua.getname, mm, addr) == Errno.EFAULT
    assert errno_of(ua.getname, mm, addr, True) == Errno.EFAULT


# -- prefixes ---------------------------------------------------------------------------------


def test_readable_prefix(mm: Mm) -> None:
    assert ua.readable_prefix(mm, RW_BASE, 100) == 100
    assert ua.readable_prefix(mm, RW_BASE + 4 * P - 10, 100) == 10  # up to the hole
    assert ua.readable_prefix(mm, RO_PAGE, 2 * P) == P
    assert ua.readable_prefix(mm, HOLE, 0) == 0
    assert errno_of(ua.readable_prefix, mm, HOLE, 1) == Errno.EFAULT
    assert errno_of(ua.readable_prefix, mm, NONE_PAGE, 1) == Errno.EFAULT
    assert errno_of(ua.readable_prefix, mm, KERNEL_ADDR, 0) == Errno.EFAULT  # access_ok first
    assert errno_of(ua.readable_prefix, mm, TASK_SIZE_MAX - 10, 11) == Errno.EFAULT


def test_writable_prefix(mm: Mm) -> None:
    assert ua.writable_prefix(mm, RW_BASE, 4 * P + 100) == 4 * P
    assert ua.writable_prefix(mm, RW_BASE, 0) == 0
    assert errno_of(ua.writable_prefix, mm, RO_PAGE, 1) == Errno.EFAULT
    assert errno_of(ua.writable_prefix, mm, U64 - 1, 4) == Errno.EFAULT
