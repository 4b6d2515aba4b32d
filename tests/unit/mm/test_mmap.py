"""mmap and munmap through the entry's stubs, the host as the oracle (see oracle.py).

Counterpart: mm/mmap.c, mm/vma.c and arch/x86/kernel/sys_x86_64.c.
"""

from __future__ import annotations

import os

import pytest

from sysgate.kernel.task import Task
from sysgate.mm import mmap as mmap_mod
from sysgate.mm.mm import STACK_GUARD_GAP, TASK_SIZE_MAX
from sysgate.mm.physmem import PAGE_SHIFT
from sysgate.mm.vma import VM_GROWSDOWN, VM_LOCKED, VM_MAYWRITE, VM_SHARED
from sysgate.uapi import mman as m
from sysgate.uapi.errno import Errno
from tests.conftest import KERNEL_ADDR, sys
from tests.unit.mm.oracle import (
    ANON,
    FD,
    FIXED,
    GW,
    MMAP_BASE,
    RW,
    SHANON,
    U64,
    WIN,
    Files,
    P,
    Rel,
    compare,
    guest_pages,
    host,
    host_pages,
)

# -- mmap: every errno, in Linux's order (the host decides) ---------------------------------------

MMAP_ERRNO_CASES = [
    # label, file kind (None: anonymous), args (addr, len, prot, flags, fd, off), expected errno
    ("len 0", None, (0, 0, RW, ANON, -1, 0), Errno.EINVAL),
    ("unaligned offset", None, (0, P, RW, ANON, -1, 1), Errno.EINVAL),
    ("unaligned offset before EBADF", None, (0, P, RW, m.MAP_PRIVATE, 999, 1), Errno.EINVAL),
    ("MAP_TYPE 0", None, (0, P, RW, m.MAP_ANONYMOUS, -1, 0), Errno.EINVAL),
    ("MAP_TYPE 0xf", None, (0, P, RW, m.MAP_ANONYMOUS | 0xF, -1, 0), Errno.EINVAL),
    ("len 2**63", None, (0, 1 << 63, RW, ANON, -1, 0), Errno.ENOMEM),
    ("len rounds up to 0", None, (0, U64, RW, ANON, -1, 0), Errno.ENOMEM),
    ("len TASK_SIZE", None, (0, TASK_SIZE_MAX, RW, ANON, -1, 0), Errno.ENOMEM),
    ("MAP_FIXED unaligned", None, (Rel(1), P, RW, FIXED, -1, 0), Errno.EINVAL),
    ("MAP_FIXED past TASK_SIZE", None, (TASK_SIZE_MAX - P, 2 * P, RW, FIXED, -1, 0), Errno.ENOMEM),
    ("MAP_FIXED_NOREPLACE over a mapping", None,
     (Rel(P), P, RW, ANON | m.MAP_FIXED_NOREPLACE, -1, 0), Errno.EEXIST),
    ("MAP_FIXED_NOREPLACE partly over", None,
     (Rel((WIN - 1) * P), 2 * P, RW, ANON | m.MAP_FIXED_NOREPLACE, -1, 0), Errno.EEXIST),
    ("MAP_SHARED_VALIDATE on anonymous memory", None,
     (0, P, RW, m.MAP_ANONYMOUS | m.MAP_SHARED_VALIDATE, -1, 0), Errno.EINVAL),
    ("shared anon MAP_GROWSDOWN", None, (0, P, RW, SHANON | m.MAP_GROWSDOWN, -1, 0), Errno.EINVAL),
    ("anon MAP_HUGETLB without huge pages", None, (0, P, RW, ANON | m.MAP_HUGETLB, -1, 0), Errno.ENOMEM),
    ("MAP_DROPPABLE | MAP_LOCKED", None,
     (0, P, RW, m.MAP_ANONYMOUS | m.MAP_DROPPABLE | m.MAP_LOCKED, -1, 0), Errno.EINVAL),
    ("MAP_DROPPABLE | MAP_GROWSDOWN", None,
     (0, P, RW, m.MAP_ANONYMOUS | m.MAP_DROPPABLE | m.MAP_GROWSDOWN, -1, 0), Errno.EINVAL),
    ("bad fd", None, (0, P, RW, m.MAP_PRIVATE, 999, 0), Errno.EBADF),
    ("fd -1 without MAP_ANONYMOUS", None, (0, P, RW, m.MAP_PRIVATE, -1, 0), Errno.EBADF),
    ("EBADF before len 0", None, (0, 0, RW, m.MAP_PRIVATE, 999, 0), Errno.EBADF),
    ("write-only file, private", "wronly", (0, P, m.PROT_READ, m.MAP_PRIVATE, FD, 0), Errno.EACCES),
    ("write-only file, shared", "wronly", (0, P, m.PROT_WRITE, m.MAP_SHARED, FD, 0), Errno.EACCES),
    ("shared PROT_WRITE on a read-only fd", "rdonly", (0, P, RW, m.MAP_SHARED, FD, 0), Errno.EACCES),
    ("file MAP_TYPE 0", "rdonly", (0, P, m.PROT_READ, 0, FD, 0), Errno.EINVAL),
    ("file MAP_DROPPABLE", "rdonly", (0, P, m.PROT_READ, m.MAP_DROPPABLE, FD, 0), Errno.EINVAL),
    ("file MAP_GROWSDOWN", "rdonly", (0, P, m.PROT_READ, m.MAP_PRIVATE | m.MAP_GROWSDOWN, FD, 0), Errno.EINVAL),
    ("file MAP_HUGETLB", "rdonly", (0, P, m.PROT_READ, m.MAP_PRIVATE | m.MAP_HUGETLB, FD, 0), Errno.EINVAL),
    ("offset past MAX_LFS_FILESIZE", "rdonly", (0, 2 * P, m.PROT_READ, m.MAP_PRIVATE, FD, (1 << 63) - P),
     Errno.EOVERFLOW),
    ("offset 2**64 - 4096", "rdonly", (0, P, m.PROT_READ, m.MAP_PRIVATE, FD, (1 << 64) - P), Errno.EOVERFLOW),
    ("MAP_SHARED_VALIDATE unknown flag", "rdonly",
     (0, P, m.PROT_READ, m.MAP_SHARED_VALIDATE | 0x200000, FD, 0), Errno.EOPNOTSUPP),
    ("MAP_SHARED_VALIDATE MAP_SYNC on a plain file", "rdwr",
     (0, P, RW, m.MAP_SHARED_VALIDATE | m.MAP_SYNC, FD, 0), Errno.EOPNOTSUPP),
    ("EOPNOTSUPP before EACCES", "wronly",
     (0, P, RW, m.MAP_SHARED_VALIDATE | 0x200000, FD, 0), Errno.EOPNOTSUPP),
    ("directory", "dir", (0, P, m.PROT_READ, m.MAP_PRIVATE, FD, 0), Errno.ENODEV),
    ("directory, MAP_GROWSDOWN: ENODEV first", "dir",
     (0, P, m.PROT_READ, m.MAP_PRIVATE | m.MAP_GROWSDOWN, FD, 0), Errno.ENODEV),
    ("pipe read end", "pipe_r", (0, P, m.PROT_READ, m.MAP_PRIVATE, FD, 0), Errno.ENODEV),
    ("pipe write end: EACCES first", "pipe_w", (0, P, m.PROT_READ, m.MAP_PRIVATE, FD, 0), Errno.EACCES),
    ("/dev/null", "null", (0, P, m.PROT_READ, m.MAP_PRIVATE, FD, 0), Errno.ENODEV),
    ("EEXIST before EACCES", "wronly",
     (Rel(0), P, m.PROT_READ, m.MAP_PRIVATE | m.MAP_FIXED_NOREPLACE, FD, 0), Errno.EEXIST),
    ("EINVAL (fixed, unaligned) before ENODEV", "dir",
     (Rel(1), P, m.PROT_READ, m.MAP_PRIVATE | m.MAP_FIXED, FD, 0), Errno.EINVAL),
    ("ENOMEM before EACCES", "wronly", (0, 1 << 63, m.PROT_READ, m.MAP_PRIVATE, FD, 0), Errno.ENOMEM),
]


@pytest.mark.parametrize("label, kind, args, errno", MMAP_ERRNO_CASES, ids=[c[0] for c in MMAP_ERRNO_CASES])
def test_mmap_errno_matches_host(
    t: Task, hw: int, files: Files, label: str, kind: str | None, args: tuple[object, ...], errno: Errno
) -> None:
    fds = files.open(kind) if kind else (-1, -1)
    g, h = compare(t, hw, "mmap", *args, fd=fds)
    assert h == -errno, f"the host disagrees with the expectation for {label}"
    assert g == -errno


MMAP_OK_CASES = [
    ("anonymous", None, (0, P, RW, ANON, -1, 0)),
    ("shared anonymous", None, (0, P, RW, SHANON, -1, 0)),
    ("MAP_DROPPABLE", None, (0, P, RW, m.MAP_ANONYMOUS | m.MAP_DROPPABLE, -1, 0)),
    ("MAP_FIXED_NOREPLACE into the hole", None,
     (Rel(WIN * P), P, RW, ANON | m.MAP_FIXED_NOREPLACE, -1, 0)),
    ("unknown flags are ignored", None, (0, P, RW, ANON | 0x200000, -1, 0)),
    ("private PROT_WRITE on a read-only fd", "rdonly", (0, P, RW, m.MAP_PRIVATE, FD, 0)),
    ("shared read-only", "rdonly", (0, P, m.PROT_READ, m.MAP_SHARED, FD, 0)),
    ("shared read-write", "rdwr", (0, 2 * P, RW, m.MAP_SHARED, FD, P)),
    ("past the end of the file", "rdonly", (0, 16 * P, m.PROT_READ, m.MAP_PRIVATE, FD, 0)),
    ("MAP_SHARED drops unknown flags", "rdwr", (0, P, RW, m.MAP_SHARED | 0x200000, FD, 0)),
    ("MAP_SHARED_VALIDATE with MAP_ABOVE4G", "rdwr", (0, P, RW, m.MAP_SHARED_VALIDATE | m.MAP_ABOVE4G, FD, 0)),
    ("MAP_SHARED_VALIDATE with MAP_HUGE_2MB", "rdwr", (0, P, RW, m.MAP_SHARED_VALIDATE | 21 << 26, FD, 0)),
    ("MAP_SHARED_VALIDATE with MAP_UNINITIALIZED", "rdwr",
     (0, P, RW, m.MAP_SHARED_VALIDATE | m.MAP_UNINITIALIZED, FD, 0)),
    ("MAP_SHARED_VALIDATE with MAP_POPULATE", "rdwr", (0, P, RW, m.MAP_SHARED_VALIDATE | m.MAP_POPULATE, FD, 0)),
    ("/dev/zero private", "zero", (0, P, RW, m.MAP_PRIVATE, FD, 0)),
    ("/dev/zero shared", "zero", (0, P, RW, m.MAP_SHARED, FD, 0)),
]


@pytest.mark.parametrize("label, kind, args", MMAP_OK_CASES, ids=[c[0] for c in MMAP_OK_CASES])
def test_mmap_success_matches_host(
    t: Task, hw: int, files: Files, label: str, kind: str | None, args: tuple[object, ...]
) -> None:
    fds = files.open(kind) if kind else (-1, -1)
    g, h = compare(t, hw, "mmap", *args, fd=fds)
    length = args[1]
    assert isinstance(length, int)
    if h > 0:
        host("munmap", h, length)
    assert h > 0, f"the host refused {label}: {h}"
    assert g > 0 and g & (P - 1) == 0


# -- mmap: what the host cannot show ---------------------------------------------------------------


def test_mmap_below_mmap_min_addr_needs_privilege(t: Task) -> None:
    # security_mmap_addr -> cap_mmap_addr: EPERM below vm.mmap_min_addr without CAP_SYS_RAWIO.
    assert t.mm.mmap_min_addr == 0x10000
    assert sys(t, "mmap", 0x1000, P, RW, FIXED, -1, 0) == -Errno.EPERM
    assert sys(t, "mmap", 0, P, RW, ANON | m.MAP_FIXED_NOREPLACE, -1, 0) == -Errno.EPERM
    assert sys(t, "mmap", 0xF000, 2 * P, RW, FIXED, -1, 0) == -Errno.EPERM  # starts below
    assert sys(t, "mmap", 0x10000, P, RW, FIXED, -1, 0) == 0x10000
    t.mm.may_map_low = True
    assert sys(t, "mmap", 0x1000, P, RW, FIXED, -1, 0) == 0x1000


def test_mmap_hint_below_mmap_min_addr_is_rounded_up(t: Task) -> None:
    # round_hint_to_min: a hint below mmap_min_addr becomes mmap_min_addr.
    assert sys(t, "mmap", 0x1000, P, RW, ANON, -1, 0) == 0x10000
    assert sys(t, "mmap", 0x1000, P, RW, ANON, -1, 0) != 0x10000  # taken: placed elsewhere


def test_mmap_count_limit(t: Task, monkeypatch: pytest.MonkeyPatch) -> None:
    # do_mmap: mm->map_count > sysctl_max_map_count -> ENOMEM.
    monkeypatch.setattr(mmap_mod, "MAX_MAP_COUNT", len(t.mm.vmas))
    assert sys(t, "mmap", 0, P, m.PROT_READ, ANON, -1, 0) > 0
    assert sys(t, "mmap", 0, P, RW, ANON, -1, 0) == -Errno.ENOMEM


def test_mmap_no_room_is_enomem(t: Task) -> None:
    # The top-down search fails, then the bottom-up one from TASK_SIZE/3 does too.
    assert sys(t, "mmap", 0, TASK_SIZE_MAX - 0x10000, RW, ANON, -1, 0) == -Errno.ENOMEM


def test_top_down_search_stops_at_mmap_min_addr(t: Task) -> None:
    # unmapped_area_topdown: low_limit is raised to mmap_min_addr, so a failed top-down
    # search falls back to bottom-up from TASK_UNMAPPED_BASE instead of giving EPERM.
    t.mm.mmap_base = 0x12000
    addr = sys(t, "mmap", 0, 0x3000, RW, ANON, -1, 0)
    assert addr >= (TASK_SIZE_MAX // 3) & ~(P - 1)


def test_mmap_places_top_down_below_mmap_base(t: Task) -> None:
    a = sys(t, "mmap", 0, 2 * P, RW, ANON, -1, 0)
    assert a == MMAP_BASE - 2 * P
    b = sys(t, "mmap", 0, 3 * P, RW, ANON, -1, 0)
    assert b == a - 3 * P
    assert sys(t, "munmap", a, 2 * P) == 0
    assert sys(t, "mmap", 0, P, RW, ANON, -1, 0) == MMAP_BASE - P  # the highest gap that fits
    assert sys(t, "mmap", 0, 2 * P, RW, ANON, -1, 0) == b - 2 * P  # one page left above b: too small


def test_mmap_keeps_the_guard_gap_below_a_stack(t: Task) -> None:
    stack_top = MMAP_BASE - 0x1000000
    assert sys(t, "mmap", stack_top - P, P, RW, FIXED | m.MAP_GROWSDOWN, -1, 0) == stack_top - P
    vma = t.mm.vma_at(stack_top - P)
    assert vma is not None and vma.flags & VM_GROWSDOWN
    t.mm.mmap_base = stack_top
    assert sys(t, "mmap", 0, P, RW, ANON, -1, 0) == stack_top - P - STACK_GUARD_GAP - P


def test_mmap_hint_is_used_when_free(t: Task) -> None:
    assert sys(t, "mmap", 0x60000000, P, RW, ANON, -1, 0) == 0x60000000
    taken = sys(t, "mmap", 0x60000123, P, RW, ANON, -1, 0)
    assert taken == MMAP_BASE - P  # taken: top-down instead
    assert sys(t, "mmap", 0x70000123, P, RW, ANON, -1, 0) == 0x70000000  # rounded down
    overlap = sys(t, "mmap", GW + P, P, RW, ANON, -1, 0)
    assert overlap == MMAP_BASE - 2 * P  # overlaps the window: top-down instead
    too_high = sys(t, "mmap", TASK_SIZE_MAX - P, 2 * P, RW, ANON, -1, 0)
    assert too_high == MMAP_BASE - 4 * P  # does not fit below TASK_SIZE: ignored


def test_mmap_hint_must_leave_the_stack_gap(t: Task) -> None:
    assert sys(t, "mmap", 0x61000000, P, RW, FIXED | m.MAP_GROWSDOWN, -1, 0) == 0x61000000
    assert sys(t, "mmap", 0x61000000 - 2 * P, P, RW, ANON, -1, 0) == MMAP_BASE - P
    assert sys(t, "mmap", 0x61000000 - STACK_GUARD_GAP - P, P, RW, ANON, -1, 0) == (
        0x61000000 - STACK_GUARD_GAP - P
    )


def test_mmap_ignores_unknown_prot_bits_and_merges_like_the_host(t: Task, hw: int) -> None:
    # calc_vm_prot_bits keeps only PROT_READ/WRITE/EXEC: the VMA merges with a plain RW one.
    assert compare(t, hw, "munmap", Rel(0), 2 * P) == (0, 0)
    assert compare(t, hw, "mmap", Rel(0), P, RW | m.PROT_SEM | 0x10, FIXED, -1, 0) == (GW, hw)
    assert compare(t, hw, "mmap", Rel(P), P, RW, FIXED, -1, 0) == (GW + P, hw + P)
    assert guest_pages(t, GW, 2) == host_pages(hw, 2) == ["rw-", "rw-"]
    vma = t.mm.vma_at(GW)
    assert vma is not None and vma.prot == RW
    assert (vma.start, vma.end) == (GW, GW + WIN * P)  # one VMA, as the host's maps line shows


def test_map_fixed_replaces_part_of_a_mapping(t: Task) -> None:
    t.mm.write(GW, b"x" * WIN * P)
    assert sys(t, "mmap", GW + 2 * P, 2 * P, m.PROT_READ, FIXED, -1, 0) == GW + 2 * P
    assert guest_pages(t, GW, 5) == ["rw-", "rw-", "r--", "r--", "rw-"]
    assert t.mm.read(GW + 2 * P - 1, 2) == b"x\0"  # the new pages are fresh zero pages
    assert t.mm.read(GW + 4 * P - 1, 2) == b"\0x"
    assert [(v.start, v.end) for v in t.mm.vmas_in(GW, GW + WIN * P)] == [
        (GW, GW + 2 * P), (GW + 2 * P, GW + 4 * P), (GW + 4 * P, GW + WIN * P)
    ]


def test_map_fixed_over_several_mappings_and_holes(t: Task) -> None:
    assert sys(t, "munmap", GW + 3 * P, P) == 0
    assert sys(t, "mmap", GW + P, 5 * P, m.PROT_READ, FIXED, -1, 0) == GW + P
    assert guest_pages(t, GW, WIN) == ["rw-"] + ["r--"] * 5 + ["rw-"] * 2


def test_map_fixed_frees_the_replaced_frames(t: Task) -> None:
    t.mm.write(GW, b"x" * WIN * P)
    before = t.mm.phys.allocated
    assert sys(t, "mmap", GW, WIN * P, RW, FIXED, -1, 0) == GW
    assert t.mm.phys.allocated == before - WIN


def test_map_populate_faults_pages_in(t: Task) -> None:
    addr = sys(t, "mmap", 0, 3 * P, RW, ANON | m.MAP_POPULATE, -1, 0)
    assert all(((addr >> PAGE_SHIFT) + i) in t.mm.pt for i in range(3))


def test_map_growsdown_makes_a_stack(t: Task) -> None:
    addr = sys(t, "mmap", 0, P, RW, ANON | m.MAP_GROWSDOWN, -1, 0)
    t.mm.write(addr - 2 * P, b"grown")
    vma = t.mm.vma_at(addr)
    assert vma is not None and vma.start == addr - 2 * P


def test_map_locked_sets_vm_locked(t: Task) -> None:
    addr = sys(t, "mmap", 0, P, RW, ANON | m.MAP_LOCKED, -1, 0)
    vma = t.mm.vma_at(addr)
    assert vma is not None and vma.flags & VM_LOCKED


# -- file mappings -----------------------------------------------------------------------------------


def test_private_file_mapping_reads_the_file_and_keeps_writes_private(t: Task, files: Files) -> None:
    path = files.path()
    fd = files.guest_open(path, os.O_RDONLY)
    addr = sys(t, "mmap", 0, 3 * P, RW, m.MAP_PRIVATE, fd, 0)
    assert t.mm.read(addr, 2) == b"AA"
    assert t.mm.read(addr + 2 * P + 99, 2) == b"C\0"  # zero past EOF in the last page
    t.mm.write(addr, b"mine")
    assert path.read_bytes()[:4] == b"AAAA"
    assert sys(t, "close", fd) == 0
    assert t.mm.read(addr + P, 1) == b"B"  # the mapping outlives the descriptor


def test_private_file_mapping_at_an_offset(t: Task, files: Files) -> None:
    fd = files.guest_open(files.path(), os.O_RDONLY)
    addr = sys(t, "mmap", 0, P, m.PROT_READ, m.MAP_PRIVATE, fd, P)
    assert t.mm.read(addr, 1) == b"B"


def test_shared_file_writes_reach_the_file(t: Task, files: Files) -> None:
    path = files.path()
    fd = files.guest_open(path, os.O_RDWR)
    addr = sys(t, "mmap", 0, 2 * P, RW, m.MAP_SHARED, fd, P)
    t.mm.write(addr + 10, b"through")
    hfd = os.open(path, os.O_RDWR)
    try:
        assert os.pread(hfd, 9, P + 8) == b"BBthrough"
        os.pwrite(hfd, b"back", P + 100)
        assert t.mm.read(addr + 100, 4) == b"back"  # and the file's writes reach the mapping
    finally:
        os.close(hfd)
    assert sys(t, "msync", addr, 2 * P, m.MS_SYNC) == 0


def test_shared_read_only_fd_cannot_become_writable(t: Task, hw: int, files: Files) -> None:
    # do_mmap clears VM_MAYWRITE for a shared mapping of a read-only fd: mprotect gives EACCES.
    fds = files.open("rdonly")
    g = sys(t, "mmap", 0, P, m.PROT_READ, m.MAP_SHARED, fds[0], 0)
    h = host("mmap", 0, P, m.PROT_READ, m.MAP_SHARED, fds[1], 0)
    try:
        assert host("mprotect", h, P, RW) == -Errno.EACCES
        assert sys(t, "mprotect", g, P, RW) == -Errno.EACCES
        vma = t.mm.vma_at(g)
        assert vma is not None and not vma.flags & (VM_MAYWRITE | VM_SHARED)
        assert host("mprotect", h, P, m.PROT_READ | m.PROT_EXEC) == 0
        assert sys(t, "mprotect", g, P, m.PROT_READ | m.PROT_EXEC) == 0
    finally:
        host("munmap", h, P)


def test_file_mapping_past_eof_is_sigbus_for_the_guest(t: Task, files: Files) -> None:
    fd = files.guest_open(files.path(b"x" * 10), os.O_RDONLY)
    addr = sys(t, "mmap", 0, 3 * P, m.PROT_READ, m.MAP_PRIVATE, fd, 0)
    assert t.mm.fill(addr + P, 1) == 0
    assert t.mm.last_fault is not None and t.mm.last_fault.bus
    assert sys(t, "write", 1, addr + P, 1) == -Errno.EFAULT  # the kernel's access: EFAULT


# -- munmap ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, errno",
    [
        ((Rel(1), P), Errno.EINVAL),  # unaligned
        ((Rel(0), 0), Errno.EINVAL),  # nothing
        ((TASK_SIZE_MAX, 2 * P), Errno.EINVAL),  # len > TASK_SIZE - start
        ((TASK_SIZE_MAX + P, P), Errno.EINVAL),  # start > TASK_SIZE
        ((KERNEL_ADDR, P), Errno.EINVAL),
        ((Rel(WIN * P), P), 0),  # nothing mapped there: fine
        ((Rel(0), U64 & ~(P - 1)), Errno.EINVAL),
    ],
)
def test_munmap_errno_matches_host(t: Task, hw: int, args: tuple[object, ...], errno: int) -> None:
    g, h = compare(t, hw, "munmap", *args)
    assert h == -errno
    assert g == -errno


def test_munmap_splits_and_matches_host(t: Task, hw: int) -> None:
    for args in ((Rel(2 * P), P), (Rel(5 * P), 2 * P - 1)):  # len is rounded up
        g, h = compare(t, hw, "munmap", *args)
        assert g == h == 0
    assert guest_pages(t, GW, WIN) == host_pages(hw, WIN) == ["rw-", "rw-", None, "rw-", "rw-", None, None, "rw-"]
    assert len(t.mm.vmas_in(GW, GW + WIN * P)) == 3


def test_munmap_across_mappings_and_holes(t: Task) -> None:
    assert sys(t, "munmap", GW + 2 * P, P) == 0
    assert sys(t, "mprotect", GW + 5 * P, P, m.PROT_READ) == 0
    assert sys(t, "munmap", GW + P, 6 * P) == 0
    assert guest_pages(t, GW, WIN) == ["rw-"] + [None] * 6 + ["rw-"]


def test_munmap_frees_frames_and_faults_after(t: Task) -> None:
    t.mm.write(GW, b"x" * WIN * P)
    before = t.mm.phys.allocated
    assert sys(t, "munmap", GW, WIN * P) == 0
    assert t.mm.phys.allocated == before - WIN
    assert t.mm.fill(GW, 1) == 0 and t.mm.last_fault is not None and not t.mm.last_fault.mapped
    assert sys(t, "write", 1, GW, 1) == -Errno.EFAULT


# -- what remains to be done ---------------------------------------------------------------------------


def test_map_32bit_places_below_2gib(t: Task) -> None:
    # arch_get_unmapped_area_topdown: MAP_32BIT -> bottom-up in [0x40000000, 0x80000000).
    addr = sys(t, "mmap", 0, P, RW, ANON | m.MAP_32BIT, -1, 0)
    assert 0x40000000 <= addr < 0x80000000

