"""Where a new program's areas go: the mmap base, the stack top, the break, and their
randomisation.

Counterpart: arch/x86/mm/mmap.c (arch_pick_mmap_layout, mmap_base, arch_mmap_rnd,
stack_maxrandom_size), mm/util.c (randomize_stack_top, randomize_page) and
arch/x86/kernel/process.c (arch_align_stack, arch_randomize_brk), for 64-bit tasks.

A task randomises (PF_RANDOMIZE) when its personality lacks ADDR_NO_RANDOMIZE and
kernel.randomize_va_space is set. The random numbers come from a `Randomness`
(random.Random fits), so a seed reproduces a randomised layout; without PF_RANDOMIZE
every function here is the identity Linux's is, and `rng` is None.
"""

from __future__ import annotations

from typing import Protocol

from sysgate.mm.physmem import PAGE_SIZE, page_align
from sysgate.uapi.personality import ADDR_NO_RANDOMIZE

DEFAULT_MAP_WINDOW = (1 << 47) - PAGE_SIZE
"""TASK_SIZE_LOW with 4-level page tables: the top of a 64-bit task's address space."""
ELF_ET_DYN_BASE = DEFAULT_MAP_WINDOW // 3 * 2
"""Where PIE programs go: 0x555555554aaa, so 0x555555554000 once page-aligned."""
STACK_TOP = DEFAULT_MAP_WINDOW
SIZE_128M = 128 << 20
SIZE_1G = 1 << 30
STACK_GUARD_GAP = 256 * PAGE_SIZE
MMAP_RND_BITS = 28
"""vm.mmap_rnd_bits: CONFIG_ARCH_MMAP_RND_BITS, x86-64's default (ARCH_MMAP_RND_BITS_MIN)."""
STACK_RND_MASK = 0x3FFFFF
"""Pages the stack top may move down by on x86-64 (__STACK_RND_MASK for 64-bit tasks)."""
RANDOMIZE_VA_SPACE = 2
"""kernel.randomize_va_space: 2 randomises the break too (Linux's default)."""


class Randomness(Protocol):
    """The kernel's random numbers for address randomisation (random.Random fits)."""

    def getrandbits(self, k: int, /) -> int: ...


def pf_randomize(personality: int, randomize_va_space: int = RANDOMIZE_VA_SPACE) -> bool:
    """load_elf_binary: whether the new program's addresses are randomised (PF_RANDOMIZE)."""
    return not personality & ADDR_NO_RANDOMIZE and randomize_va_space != 0


def get_random_long(rng: Randomness) -> int:
    return rng.getrandbits(64)


def arch_mmap_rnd(rng: Randomness | None) -> int:
    """arch_rnd(mmap64_rnd_bits): up to 2^28 pages, or 0 without PF_RANDOMIZE."""
    if rng is None:
        return 0
    return (get_random_long(rng) & ((1 << MMAP_RND_BITS) - 1)) << 12


def mmap_base(stack_limit: int, task_size: int = DEFAULT_MAP_WINDOW, rnd: int = 0,
              randomize: bool = False) -> int:
    """Top of the top-down mmap area (mmap_base): below the stack's limit, its random
    range when randomising (stack_maxrandom_size) and the guard gap, then `rnd` lower."""
    gap = stack_limit
    pad = STACK_GUARD_GAP + ((STACK_RND_MASK << 12) if randomize else 0)
    if gap + pad < 1 << 64:  # "Values close to RLIM_INFINITY can overflow."
        gap += pad
    gap = min(max(gap, SIZE_128M), task_size // 6 * 5)
    return page_align(task_size - gap - rnd)


def randomize_stack_top(rng: Randomness | None, stack_top: int) -> int:
    """The stack top moved down by up to STACK_RND_MASK pages."""
    rnd = (get_random_long(rng) & STACK_RND_MASK) << 12 if rng is not None else 0
    return page_align(stack_top) - rnd


def arch_align_stack(rng: Randomness | None, sp: int) -> int:
    """Up to 8 KiB lower when randomising, then 16-byte aligned."""
    if rng is not None:
        sp -= get_random_long(rng) % 8192  # get_random_u32_below(8192)
    return sp & ~0xF


def randomize_page(rng: Randomness, start: int, range_: int) -> int:
    """A page-aligned address in [start, start + range_)."""
    if start & (PAGE_SIZE - 1):
        range_ -= page_align(start) - start
        start = page_align(start)
    range_ = min(range_, (1 << 64) - 1 - start) >> 12
    if range_ == 0:
        return start
    return start + ((get_random_long(rng) % range_) << 12)


def arch_randomize_brk(rng: Randomness, brk: int) -> int:
    """A 64-bit task's break: anywhere in the 1 GiB above where it would start."""
    return randomize_page(rng, brk, SIZE_1G)
