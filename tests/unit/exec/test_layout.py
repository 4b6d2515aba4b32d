"""The address-space layout functions and their randomisation (arch/x86/mm/mmap.c, mm/util.c)."""

from __future__ import annotations

import random

from sysgate.exec import layout as L
from sysgate.uapi.personality import ADDR_NO_RANDOMIZE, PER_LINUX32, READ_IMPLIES_EXEC


class Fixed:
    """A generator that always answers `value` (masked to the bits asked)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def getrandbits(self, k: int, /) -> int:
        return self.value & ((1 << k) - 1)


def test_linux_constants() -> None:
    assert L.ELF_ET_DYN_BASE & ~0xFFF == 0x555555554000
    assert L.STACK_TOP == 0x7FFFFFFFF000


def test_pf_randomize_follows_the_personality() -> None:
    assert L.pf_randomize(0)
    assert L.pf_randomize(PER_LINUX32 | READ_IMPLIES_EXEC)
    assert not L.pf_randomize(ADDR_NO_RANDOMIZE)
    assert not L.pf_randomize(0, randomize_va_space=0)


def test_mmap_base_without_randomisation() -> None:
    # An 8 MiB stack limit: the 128 MiB minimum gap applies (setarch -R's 0x7ffff7fff000 top).
    assert L.mmap_base(8 << 20) == 0x7FFFFFFFF000 - (128 << 20)
    assert L.mmap_base(1 << 30) == 0x7FFFFFFFF000 - (1 << 30) - (256 << 12)
    capped = L.DEFAULT_MAP_WINDOW - L.DEFAULT_MAP_WINDOW // 6 * 5  # the gap is at most 5/6 of the space
    assert L.mmap_base(1 << 63) == (capped + 0xFFF) & ~0xFFF
    assert L.mmap_base((1 << 64) - 1) == L.mmap_base(1 << 63)  # RLIM_INFINITY does not overflow


def test_mmap_base_with_randomisation() -> None:
    # The pad grows by the stack's random range (16 GiB), then rnd lowers it.
    assert L.mmap_base(8 << 20, rnd=0x5000, randomize=True) == (
        L.DEFAULT_MAP_WINDOW - (8 << 20) - (256 << 12) - (0x3FFFFF << 12) - 0x5000)


def test_random_amounts_use_linux_masks() -> None:
    ones = Fixed((1 << 64) - 1)
    assert L.arch_mmap_rnd(None) == 0
    assert L.arch_mmap_rnd(ones) == ((1 << 28) - 1) << 12
    assert L.randomize_stack_top(None, L.STACK_TOP) == L.STACK_TOP
    assert L.randomize_stack_top(ones, L.STACK_TOP) == L.STACK_TOP - (0x3FFFFF << 12)
    assert L.arch_align_stack(None, 0x7FFFFFFFE123) == 0x7FFFFFFFE120
    assert L.arch_align_stack(Fixed(8191 + 8192 * 5), 0x7FFFFFFFE123) == (0x7FFFFFFFE123 - 8191) & ~0xF


def test_randomize_page_stays_in_range() -> None:
    rng = random.Random(7)  # noqa: S311
    seen = {L.arch_randomize_brk(rng, 0x405123) for _ in range(200)}
    assert all(0x406000 <= b < 0x405123 + (1 << 30) and b % 4096 == 0 for b in seen)
    assert len(seen) > 150
    assert L.randomize_page(Fixed(5), 0x1000, 0x1000) == 0x1000  # one page: nothing to choose
    assert L.randomize_page(Fixed(5), 0x1000, 0x800) == 0x1000  # range rounds to no page


def test_a_seed_reproduces_the_numbers() -> None:
    a = [L.arch_mmap_rnd(random.Random(3)) for _ in range(3)]  # noqa: S311
    assert a[0] == a[1] == a[2]
    assert L.arch_mmap_rnd(random.Random(3)) != L.arch_mmap_rnd(random.Random(4))  # noqa: S311
