"""The memory system calls through the entry's stubs: mmap, munmap, mprotect, mremap, brk,
madvise, msync, mincore.

Counterpart: mm/mmap.c, mm/vma.c, mm/mprotect.c, mm/mremap.c, mm/madvise.c, mm/msync.c,
mm/mincore.c and arch/x86/kernel/sys_x86_64.c. Where the host can run the same call
safely (inside a window of its own memory that this test reserved, followed by a hole),
the host kernel is the oracle: the guest must give the same result and leave the same
page protections. What the host cannot show (it runs as root, and is a newer Linux)
is checked against the 6.12 source, cited next to each test.
"""

from __future__ import annotations

import ctypes
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sysgate.kernel.task import Task
from sysgate.mm import mmap as mmap_mod
from sysgate.mm.mm import STACK_GUARD_GAP, TASK_SIZE_MAX
from sysgate.mm.physmem import PAGE_SHIFT, PAGE_SIZE
from sysgate.mm.vma import VM_GROWSDOWN, VM_LOCKED, VM_MAYWRITE, VM_SHARED
from sysgate.tables.tbl import read_tbl
from sysgate.uapi import mman as m
from sysgate.uapi.errno import Errno
from sysgate.uapi.resource import RLIMIT_DATA
from tests.conftest import KERNEL_ADDR, RO_PAGE, USER_BUF, put_str, sys

P = PAGE_SIZE
U64 = (1 << 64) - 1
RW = m.PROT_READ | m.PROT_WRITE
ANON = m.MAP_PRIVATE | m.MAP_ANONYMOUS
SHANON = m.MAP_SHARED | m.MAP_ANONYMOUS
FIXED = ANON | m.MAP_FIXED
WIN = 8
"""Pages in a test window; a hole of WIN pages follows it, on the host and in the guest."""
GW = 0x50000000
"""The guest's window."""
MMAP_BASE = 0x7F0000000000
"""mmap_base for these tests (a run sets it from the stack limit; the fixture leaves TASK_SIZE)."""
HEAP = 0x20000000


# -- the host as the oracle ---------------------------------------------------------------

_NR = {row.name: row.nr for row in read_tbl("syscall_64.tbl") if row.abi in ("common", "64")}
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def host(name: str, *args: int) -> int:
    """The host kernel's answer for the same call: the result or -errno."""
    ctypes.set_errno(0)
    r = _libc.syscall(ctypes.c_long(_NR[name]), *(ctypes.c_ulong(a & U64) for a in args))
    return -ctypes.get_errno() if r == -1 else int(r)


def host_pages(base: int, n: int) -> list[str | None]:
    """The protection of each page in [base, base + n pages) in /proc/self/maps ("rw-"), or None."""
    ranges = []
    with open("/proc/self/maps") as f:
        for line in f:
            span, perms = line.split()[:2]
            lo, hi = (int(x, 16) for x in span.split("-"))
            if hi > base and lo < base + n * P:
                ranges.append((lo, hi, perms[:3]))
    out: list[str | None] = []
    for i in range(n):
        addr = base + i * P
        out.append(next((p for lo, hi, p in ranges if lo <= addr < hi), None))
    return out


def prot_str(prot: int) -> str:
    return ("r" if prot & 1 else "-") + ("w" if prot & 2 else "-") + ("x" if prot & 4 else "-")


def guest_pages(t: Task, base: int, n: int) -> list[str | None]:
    out: list[str | None] = []
    for i in range(n):
        vma = t.mm.vma_at(base + i * P)
        out.append(None if vma is None else prot_str(vma.prot))
    return out


@dataclass(frozen=True)
class Rel:
    """An argument meaning "this far into the window"."""

    off: int


FD = object()
"""An argument meaning "the descriptor of the case's file"."""


def resolve(args: tuple[object, ...], base: int, fd: int) -> list[int]:
    out = []
    for a in args:
        if isinstance(a, Rel):
            out.append(base + a.off)
        elif a is FD:
            out.append(fd)
        else:
            assert isinstance(a, int)
            out.append(a)
    return out


@pytest.fixture
def hw() -> Iterator[int]:
    """A host window: WIN read-write pages of our own, then a hole of WIN pages."""
    base = host("mmap", 0, 2 * WIN * P, m.PROT_NONE, ANON, -1, 0)
    assert base > 0
    assert host("munmap", base + WIN * P, WIN * P) == 0
    assert host("mprotect", base, WIN * P, RW) == 0
    yield base
    host("munmap", base, WIN * P)  # never the hole: something else may live there now


@pytest.fixture
def t(task: Task) -> Task:
    """The task, with mmap_base set and a guest window like the host's at GW."""
    task.mm.mmap_base = MMAP_BASE
    assert sys(task, "mmap", GW, WIN * P, RW, FIXED, -1, 0) == GW
    return task


@dataclass
class Files:
    """Opens the same kind of file in the guest and on the host."""

    t: Task
    dir: Path
    host_fds: list[int]

    def path(self, content: bytes = b"A" * P + b"B" * P + b"C" * 100) -> Path:
        p = self.dir / "data"
        p.write_bytes(content)
        return p

    def guest_open(self, path: str | Path, flags: int) -> int:
        put_str(self.t, str(path), USER_BUF + 0x8000)
        fd = sys(self.t, "openat", -100, USER_BUF + 0x8000, flags, 0)
        assert fd >= 0
        return fd

    def open(self, kind: str) -> tuple[int, int]:
        """(guest fd, host fd) for a kind of file."""
        if kind in ("pipe_r", "pipe_w"):
            assert sys(self.t, "pipe2", USER_BUF + 0x9000, 0) == 0
            gr, gw = struct.unpack("<ii", self.t.mm.read(USER_BUF + 0x9000, 8))
            hr, hw_ = os.pipe()
            self.host_fds += [hr, hw_]
            return (gr, hr) if kind == "pipe_r" else (gw, hw_)
        path, flags = {
            "rdonly": (self.path(), os.O_RDONLY),
            "wronly": (self.path(), os.O_WRONLY),
            "rdwr": (self.path(), os.O_RDWR),
            "dir": (self.dir, os.O_RDONLY | os.O_DIRECTORY),
            "null": (Path(os.devnull), os.O_RDWR),
            "zero": (Path("/dev/zero"), os.O_RDWR),
        }[kind]
        hfd = os.open(path, flags)
        self.host_fds.append(hfd)
        return self.guest_open(path, flags), hfd


@pytest.fixture
def files(t: Task, tmp_path: Path) -> Iterator[Files]:
    f = Files(t, tmp_path, [])
    yield f
    for fd in f.host_fds:
        os.close(fd)


HOST_IS_47_BIT = host("munmap", TASK_SIZE_MAX, 2 * P) == -Errno.EINVAL
"""Whether the host's TASK_SIZE is the guest's (not so with 5-level paging)."""


def compare(t: Task, hw: int, name: str, *args: object, fd: tuple[int, int] = (-1, -1)) -> tuple[int, int]:
    """Run the call in the guest window and in the host window; both results."""
    hargs = resolve(args, hw, fd[1])
    if not HOST_IS_47_BIT and any(TASK_SIZE_MAX - 16 * P <= a < 1 << 57 for a in hargs):
        pytest.skip("the host's address space is larger than the guest's")  # and may hold our stack there
    g = sys(t, name, *resolve(args, GW, fd[0]))
    h = host(name, *hargs)
    return g, h


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


# -- mprotect --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, errno",
    [
        ((Rel(1), P, m.PROT_READ), Errno.EINVAL),
        ((Rel(0), 0, 0x10), 0),  # len 0 returns before the prot check
        ((Rel(1), 0, m.PROT_READ), Errno.EINVAL),  # alignment comes first
        ((Rel(0), P, 0x10), Errno.EINVAL),
        ((Rel(0), P, m.PROT_READ | m.PROT_SEM), 0),
        ((Rel(0), P, m.PROT_READ | m.PROT_GROWSDOWN | m.PROT_GROWSUP), Errno.EINVAL),
        ((Rel(0), P, m.PROT_READ | m.PROT_GROWSDOWN), Errno.EINVAL),  # not a VM_GROWSDOWN VMA
        ((Rel(0), P, m.PROT_READ | m.PROT_GROWSUP), Errno.EINVAL),  # x86 has no VM_GROWSUP
        ((Rel(0), U64, m.PROT_READ), Errno.ENOMEM),  # len rounds up to 0: end <= start
        ((Rel(P), U64 - P, m.PROT_READ), Errno.ENOMEM),  # wraps
        ((Rel(WIN * P), P, m.PROT_READ), Errno.ENOMEM),  # nothing mapped
        ((Rel(WIN * P), P, 0x10), Errno.EINVAL),  # the prot check comes before the lookup
        ((KERNEL_ADDR, P, m.PROT_READ), Errno.ENOMEM),
    ],
)
def test_mprotect_errno_matches_host(t: Task, hw: int, args: tuple[object, ...], errno: int) -> None:
    g, h = compare(t, hw, "mprotect", *args)
    assert h == -errno
    assert g == -errno
    assert guest_pages(t, GW, WIN) == host_pages(hw, WIN)


def test_mprotect_partial_apply_then_enomem_matches_host(t: Task, hw: int) -> None:
    # do_mprotect_pkey: VMAs before a hole are changed, then the hole gives ENOMEM.
    g, h = compare(t, hw, "mprotect", Rel(5 * P), 5 * P, m.PROT_READ)
    assert g == h == -Errno.ENOMEM
    assert guest_pages(t, GW, WIN + 2) == host_pages(hw, WIN + 2) == ["rw-"] * 5 + ["r--"] * 3 + [None] * 2


def test_mprotect_stops_at_an_inner_hole(t: Task, hw: int) -> None:
    assert compare(t, hw, "munmap", Rel(3 * P), P) == (0, 0)
    g, h = compare(t, hw, "mprotect", Rel(P), 6 * P, m.PROT_NONE)
    assert g == h == -Errno.ENOMEM
    assert guest_pages(t, GW, WIN) == host_pages(hw, WIN) == ["rw-", "---", "---", None] + ["rw-"] * 4


def test_mprotect_starting_in_a_hole_changes_nothing(t: Task, hw: int) -> None:
    assert compare(t, hw, "munmap", Rel(0), P) == (0, 0)
    assert compare(t, hw, "mprotect", Rel(0), 4 * P, m.PROT_READ) == (-Errno.ENOMEM, -Errno.ENOMEM)
    assert guest_pages(t, GW, WIN) == host_pages(hw, WIN) == [None] + ["rw-"] * 7


def test_mprotect_partial_apply_then_eacces(t: Task, hw: int, files: Files) -> None:
    # The anonymous VMA is changed; the shared read-only file VMA after it refuses PROT_WRITE.
    fds = files.open("rdonly")
    flags = m.MAP_SHARED | m.MAP_FIXED
    assert compare(t, hw, "mmap", Rel(4 * P), 2 * P, m.PROT_READ, flags, FD, 0, fd=fds) == (GW + 4 * P, hw + 4 * P)
    assert compare(t, hw, "mprotect", Rel(0), 4 * P, m.PROT_READ) == (0, 0)
    assert compare(t, hw, "mprotect", Rel(2 * P), 4 * P, RW) == (-Errno.EACCES, -Errno.EACCES)
    assert guest_pages(t, GW, 6) == host_pages(hw, 6) == ["r--", "r--", "rw-", "rw-", "r--", "r--"]


def test_mprotect_splits_and_merges(t: Task) -> None:
    t.mm.write(GW, b"x" * WIN * P)
    assert sys(t, "mprotect", GW + 2 * P, 2 * P, m.PROT_READ) == 0
    assert len(t.mm.vmas_in(GW, GW + WIN * P)) == 3
    assert sys(t, "mprotect", GW + 6 * P, P, m.PROT_READ) == 0
    assert len(t.mm.vmas_in(GW, GW + WIN * P)) == 5
    assert sys(t, "mprotect", GW, WIN * P, RW) == 0
    assert [(v.start, v.end) for v in t.mm.vmas_in(GW, GW + WIN * P)] == [(GW, GW + WIN * P)]
    assert t.mm.read(GW, WIN * P) == b"x" * WIN * P  # no PTE lost on the way


def test_mprotect_updates_present_ptes(t: Task) -> None:
    t.mm.write(GW, b"x")
    assert sys(t, "mprotect", GW, P, m.PROT_READ) == 0
    assert t.mm.pt[GW >> PAGE_SHIFT] & 7 == 1
    assert t.mm.fill(GW, 2) == 0  # a write now faults, as SEGV_ACCERR
    assert t.mm.last_fault is not None and t.mm.last_fault.mapped
    assert sys(t, "mprotect", GW, P, m.PROT_NONE) == 0
    assert t.mm.fill(GW, 1) == 0


def test_mprotect_growsdown_extends_to_the_vma_start(t: Task) -> None:
    base = 0x61000000
    assert sys(t, "mmap", base, 4 * P, RW, FIXED | m.MAP_GROWSDOWN, -1, 0) == base
    assert sys(t, "mprotect", base + 2 * P, P, m.PROT_READ | m.PROT_GROWSDOWN) == 0
    assert guest_pages(t, base, 4) == ["r--", "r--", "r--", "rw-"]


# -- random sequences against a model of page permissions ------------------------------------------

PAGES = 12
OPS = st.lists(
    st.tuples(
        st.sampled_from(["mmap", "munmap", "mprotect"]),
        st.integers(0, PAGES - 1),
        st.integers(1, 6),
        st.sampled_from([m.PROT_NONE, m.PROT_READ, RW, m.PROT_READ | m.PROT_EXEC]),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_random_sequences_match_a_page_model(task: Task, ops: list[tuple[str, int, int, int]]) -> None:
    t = task
    base = 0x58000000
    assert sys(t, "munmap", base, (PAGES + 8) * P) == 0
    pt_before = len(t.mm.pt)
    alloc_before = t.mm.phys.allocated
    model: dict[int, tuple[int, int]] = {}  # page -> (prot, tag byte)
    tag = 0
    for op, first, n, prot in ops:
        n = min(n, PAGES - first)
        addr = base + first * P
        pages = range(first, first + n)
        if op == "mmap":
            assert sys(t, "mmap", addr, n * P, prot, FIXED, -1, 0) == addr
            for i in pages:
                tag = tag % 255 + 1
                model[i] = (prot, 0)
                if prot & m.PROT_WRITE:
                    t.mm.write(base + i * P, bytes([tag]))
                    model[i] = (prot, tag)
        elif op == "munmap":
            assert sys(t, "munmap", addr, n * P) == 0
            for i in pages:
                model.pop(i, None)
        else:
            want = 0
            for i in pages:  # changed up to the first hole; a hole gives ENOMEM
                if i not in model:
                    want = -Errno.ENOMEM
                    break
                model[i] = (prot, model[i][1])
            assert sys(t, "mprotect", addr, n * P, prot) == want
        # The VMAs agree with the model, page by page ...
        assert guest_pages(t, base, PAGES) == [prot_str(model[i][0]) if i in model else None for i in range(PAGES)]
        # ... no data was lost in splits and merges ...
        for i, (p, want_tag) in model.items():
            if p:
                assert t.mm.read(base + i * P, 1) == bytes([want_tag])
        # ... the list is sorted, disjoint, indexed, and merged where it can be ...
        vmas = t.mm.vmas
        assert t.mm._starts == [v.start for v in vmas]
        assert all(a.end <= b.start for a, b in pairwise(vmas))
        inside = t.mm.vmas_in(base, base + PAGES * P)
        assert not any(a.can_merge(b) for a, b in pairwise(inside))
        # ... and every frame is accounted for.
        assert t.mm.phys.allocated - alloc_before == len(t.mm.pt) - pt_before


# -- mremap ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, errno",
    [
        ((Rel(0), P, P, 8, 0), Errno.EINVAL),  # unknown flag
        ((Rel(0), P, P, m.MREMAP_FIXED, Rel(WIN * P)), Errno.EINVAL),  # FIXED needs MAYMOVE
        ((Rel(0), P, P, m.MREMAP_DONTUNMAP, 0), Errno.EINVAL),  # DONTUNMAP needs MAYMOVE
        ((Rel(0), P, 2 * P, m.MREMAP_DONTUNMAP | m.MREMAP_MAYMOVE, 0), Errno.EINVAL),  # and the same size
        ((Rel(1), P, P, 0, 0), Errno.EINVAL),
        ((Rel(0), P, 0, 0, 0), Errno.EINVAL),  # new_len 0
        ((Rel(0), P, U64, m.MREMAP_MAYMOVE, 0), Errno.EINVAL),  # new_len rounds up to 0
        ((Rel(0), 0, P, m.MREMAP_MAYMOVE, 0), Errno.EINVAL),  # duplicating a private mapping
        ((Rel(WIN * P), P, P, 0, 0), Errno.EFAULT),  # nothing mapped at addr
        ((Rel(WIN * P), P, 0, 0, 0), Errno.EINVAL),  # EINVAL for new_len comes before the lookup
        ((Rel(0), 2 * WIN * P, 3 * WIN * P, m.MREMAP_MAYMOVE, 0), Errno.EFAULT),  # grows across a VMA end
        ((Rel(0), P, 2 * P, 0, 0), Errno.ENOMEM),  # cannot grow in place, may not move
        ((Rel(0), P, P, m.MREMAP_MAYMOVE | m.MREMAP_FIXED, Rel(0)), Errno.EINVAL),  # overlaps
        ((Rel(P), 2 * P, 2 * P, m.MREMAP_MAYMOVE | m.MREMAP_FIXED, Rel(0)), Errno.EINVAL),  # overlaps
        ((Rel(0), P, P, m.MREMAP_MAYMOVE | m.MREMAP_FIXED, Rel(WIN * P + 1)), Errno.EINVAL),  # unaligned
        ((Rel(0), P, 2 * P, m.MREMAP_MAYMOVE | m.MREMAP_FIXED, TASK_SIZE_MAX - P), Errno.EINVAL),  # too high
    ],
)
def test_mremap_errno_matches_host(t: Task, hw: int, args: tuple[object, ...], errno: int) -> None:
    g, h = compare(t, hw, "mremap", *args)
    assert h == -errno
    assert g == -errno
    assert guest_pages(t, GW, WIN) == host_pages(hw, WIN) == ["rw-"] * WIN


def test_mremap_same_size_returns_addr(t: Task) -> None:
    assert sys(t, "mremap", GW, P, P, 0, 0) == GW
    assert sys(t, "mremap", GW + P, P - 5, 1, 0, 0) == GW + P  # both round to a page


def test_mremap_shrink_unmaps_the_tail(t: Task, hw: int) -> None:
    g, h = compare(t, hw, "mremap", Rel(0), WIN * P, 3 * P, 0, 0)
    assert (g, h) == (GW, hw)
    assert guest_pages(t, GW, WIN) == host_pages(hw, WIN) == ["rw-"] * 3 + [None] * 5


def test_mremap_shrink_may_run_past_the_vma(t: Task) -> None:
    # Shrinking only unmaps [addr + new_len, addr + old_len); that range need not be mapped.
    assert sys(t, "mremap", GW + 6 * P, 6 * P, P, 0, 0) == GW + 6 * P
    assert guest_pages(t, GW, WIN) == ["rw-"] * 7 + [None]


def test_mremap_grows_in_place(t: Task, hw: int) -> None:
    t.mm.write(GW, b"keep")
    g, h = compare(t, hw, "mremap", Rel(0), WIN * P, (WIN + 2) * P, 0, 0)
    assert (g, h) == (GW, hw)
    assert guest_pages(t, GW, WIN + 3) == host_pages(hw, WIN + 3) == ["rw-"] * (WIN + 2) + [None]
    assert t.mm.read(GW, 4) == b"keep"
    assert len(t.mm.vmas_in(GW, GW + (WIN + 2) * P)) == 1
    host("munmap", hw + WIN * P, 2 * P)


def test_mremap_grow_blocked_moves_with_maymove(t: Task) -> None:
    t.mm.write(GW, b"moving")
    t.mm.write(GW + P, b"second")
    new = sys(t, "mremap", GW, 2 * P, 4 * P, m.MREMAP_MAYMOVE, 0)
    assert new == MMAP_BASE - 4 * P  # a new place, found top-down
    assert t.mm.read(new, 6) == b"moving"
    assert t.mm.read(new + P, 6) == b"second"
    assert t.mm.read(new + 3 * P, 1) == b"\0"
    assert guest_pages(t, GW, WIN) == [None, None] + ["rw-"] * 6


def test_mremap_fixed_moves_over_an_existing_mapping(t: Task) -> None:
    target = sys(t, "mmap", 0, 4 * P, m.PROT_READ, ANON, -1, 0)
    t.mm.write(GW + P, b"data")
    assert sys(t, "mremap", GW + P, P, 2 * P, m.MREMAP_MAYMOVE | m.MREMAP_FIXED, target + P) == target + P
    assert t.mm.read(target + P, 4) == b"data"
    assert guest_pages(t, target, 4) == ["r--", "rw-", "rw-", "r--"]
    assert guest_pages(t, GW, 3) == ["rw-", None, "rw-"]


def test_mremap_fixed_shrinking_move(t: Task) -> None:
    t.mm.write(GW, b"a" * 4 * P)
    assert sys(t, "mremap", GW, 4 * P, 2 * P, m.MREMAP_MAYMOVE | m.MREMAP_FIXED, 0x62000000) == 0x62000000
    assert guest_pages(t, GW, 5) == [None] * 4 + ["rw-"]
    assert t.mm.read(0x62000000 + 2 * P - 1, 1) == b"a"
    assert guest_pages(t, 0x62000000, 3) == ["rw-", "rw-", None]


def test_mremap_dontunmap_leaves_an_empty_mapping_behind(t: Task) -> None:
    t.mm.write(GW, b"moved")
    new = sys(t, "mremap", GW, P, P, m.MREMAP_MAYMOVE | m.MREMAP_DONTUNMAP, 0)
    assert new not in (GW, -Errno.EINVAL)
    assert t.mm.read(new, 5) == b"moved"
    assert guest_pages(t, GW, 1) == ["rw-"]
    assert t.mm.read(GW, 5) == bytes(5)  # anonymous: the old range is demand-zero again


def test_mremap_moves_a_private_file_mapping(t: Task, files: Files) -> None:
    fd = files.guest_open(files.path(), os.O_RDONLY)
    addr = sys(t, "mmap", 0, 2 * P, m.PROT_READ, m.MAP_PRIVATE, fd, 0)
    new = sys(t, "mremap", addr + P, P, 2 * P, m.MREMAP_MAYMOVE | m.MREMAP_FIXED, 0x63000000)
    assert new == 0x63000000
    assert t.mm.read(new, 1) == b"B"  # the file offset moved with it
    assert t.mm.read(new + P, 1) == b"C"


def test_mremap_grow_shared_file_mapping_never_corrupts_memory(t: Task, files: Files) -> None:
    path = files.path(b"A" * P + b"B" * P + b"C" * P)
    fd = files.guest_open(path, os.O_RDWR)
    addr = sys(t, "mmap", 0x64000000, P, RW, m.MAP_SHARED, fd, 0)
    vma = t.mm.vma_at(addr)
    assert vma is not None and vma.file is not None
    refs = vma.file.refs
    for flags in (0, m.MREMAP_MAYMOVE):
        r = sys(t, "mremap", addr, P, 2 * P, flags, 0)
        if r < 0:
            assert r == -Errno.ENOMEM
            assert guest_pages(t, addr, 2) == ["rw-", None]
            assert vma.file.refs == refs  # a failed move holds nothing
        else:
            assert t.mm.read(r + P, 1) == b"B"


def test_mremap_grows_a_shared_file_mapping(t: Task, files: Files) -> None:
    path = files.path(b"A" * P + b"B" * P + b"C" * P)
    fd = files.guest_open(path, os.O_RDWR)
    addr = sys(t, "mmap", 0x64000000, P, RW, m.MAP_SHARED, fd, 0)
    assert sys(t, "mremap", addr, P, 2 * P, 0, 0) == addr
    t.mm.write(addr + P, b"grown")
    assert path.read_bytes()[P : P + 5] == b"grown"


# -- brk -------------------------------------------------------------------------------------------


@pytest.fixture
def heap(t: Task) -> Task:
    mm = t.mm
    mm.start_data, mm.end_data = HEAP - 0x10000, HEAP - 0xF000
    mm.start_brk = mm.brk = HEAP
    return t


def heap_vmas(t: Task) -> list[tuple[int, int, str]]:
    return [(v.start - HEAP, v.end - HEAP, v.name) for v in t.mm.vmas_in(HEAP, HEAP + 0x1000000)]


def test_brk_zero_reports_the_break(heap: Task) -> None:
    assert sys(heap, "brk", 0) == HEAP
    assert heap_vmas(heap) == []


def test_brk_grows_and_shrinks(heap: Task) -> None:
    t = heap
    assert sys(t, "brk", HEAP + 10) == HEAP + 10
    assert heap_vmas(t) == [(0, P, "[heap]")]
    t.mm.write(HEAP, b"heap")
    assert sys(t, "brk", HEAP + 3 * P) == HEAP + 3 * P
    assert heap_vmas(t) == [(0, 3 * P, "[heap]")]
    assert t.mm.read(HEAP, 4) == b"heap"
    t.mm.write(HEAP + 2 * P, b"x")
    allocated = t.mm.phys.allocated
    assert sys(t, "brk", HEAP + P + 1) == HEAP + P + 1
    assert heap_vmas(t) == [(0, 2 * P, "[heap]")]
    assert t.mm.phys.allocated == allocated - 1  # the page that went was freed
    assert sys(t, "brk", HEAP + 2 * P) == HEAP + 2 * P  # same page: only the value changes
    assert sys(t, "brk", HEAP) == HEAP
    assert heap_vmas(t) == []


def test_brk_below_start_brk_is_refused(heap: Task) -> None:
    assert sys(heap, "brk", HEAP + P) == HEAP + P
    assert sys(heap, "brk", HEAP - 1) == HEAP + P
    assert sys(heap, "brk", 1) == HEAP + P


def test_brk_respects_rlimit_data(heap: Task) -> None:
    # check_data_rlimit: (brk - start_brk) + (end_data - start_data) > RLIMIT_DATA fails.
    heap.group.rlimits[RLIMIT_DATA] = (0x1000 + 4 * P, 0x1000 + 4 * P)
    assert sys(heap, "brk", HEAP + 4 * P) == HEAP + 4 * P
    assert sys(heap, "brk", HEAP + 4 * P + 1) == HEAP + 4 * P


def test_brk_stops_a_page_before_the_next_mapping(heap: Task) -> None:
    # SYSCALL_DEFINE1(brk): newbrk + PAGE_SIZE must not pass vm_start_gap(next).
    assert sys(heap, "mmap", HEAP + 16 * P, P, RW, FIXED, -1, 0) == HEAP + 16 * P
    assert sys(heap, "brk", HEAP + 15 * P) == HEAP + 15 * P
    assert sys(heap, "brk", HEAP + 15 * P + 1) == HEAP + 15 * P
    assert heap_vmas(heap)[0] == (0, 15 * P, "[heap]")


def test_brk_keeps_the_guard_gap_below_a_stack(heap: Task) -> None:
    stack = HEAP + STACK_GUARD_GAP + 16 * P
    assert sys(heap, "mmap", stack, P, RW, FIXED | m.MAP_GROWSDOWN, -1, 0) == stack
    assert sys(heap, "brk", HEAP + 15 * P) == HEAP + 15 * P
    assert sys(heap, "brk", HEAP + 16 * P) == HEAP + 15 * P


def test_brk_shrink_into_a_foreign_mapping_is_refused(heap: Task) -> None:
    # The break was moved by hand below a mapping that is not the heap's.
    assert sys(heap, "mmap", HEAP + P, P, RW, FIXED, -1, 0) == HEAP + P
    heap.mm.brk = HEAP + 4 * P
    assert sys(heap, "brk", HEAP + 3 * P) == HEAP + 4 * P


# -- madvise ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, errno",
    [
        ((Rel(0), P, 999), Errno.EINVAL),
        ((Rel(0), P, -1), Errno.EINVAL),
        ((Rel(0), P, m.MADV_GUARD_INSTALL + 50), Errno.EINVAL),
        ((Rel(1), P, m.MADV_NORMAL), Errno.EINVAL),
        ((Rel(0), U64, m.MADV_NORMAL), Errno.EINVAL),  # len rounds up to 0
        ((Rel(P), U64 - 2 * P, m.MADV_NORMAL), Errno.EINVAL),  # end wraps
        ((Rel(0), 0, m.MADV_NORMAL), 0),
        ((Rel(WIN * P), 0, 999), Errno.EINVAL),  # the advice is checked first
        ((Rel(0), (WIN + 1) * P, m.MADV_NORMAL), Errno.ENOMEM),
        ((Rel(WIN * P), P, m.MADV_DONTNEED), Errno.ENOMEM),
        ((Rel(0), P, m.MADV_REMOVE), Errno.EINVAL),  # private anonymous memory has no file
        ((Rel(0), P, m.MADV_WIPEONFORK), 0),
        ((Rel(0), P, m.MADV_FREE), 0),
        ((Rel(0), P, m.MADV_DONTFORK), 0),
        ((Rel(0), P, m.MADV_POPULATE_READ), 0),
        ((Rel(0), P, m.MADV_POPULATE_WRITE), 0),
        ((Rel(WIN * P), P, m.MADV_POPULATE_READ), Errno.ENOMEM),
        ((Rel((WIN - 1) * P), 2 * P, m.MADV_POPULATE_WRITE), Errno.ENOMEM),
    ],
)
def test_madvise_errno_matches_host(t: Task, hw: int, args: tuple[object, ...], errno: int) -> None:
    g, h = compare(t, hw, "madvise", *args)
    assert h == -errno
    assert g == -errno


@pytest.mark.parametrize("prot, advice", [(m.PROT_READ, m.MADV_POPULATE_WRITE), (m.PROT_NONE, m.MADV_POPULATE_READ)])
def test_madvise_populate_without_permission_is_einval(t: Task, hw: int, prot: int, advice: int) -> None:
    # faultin_page_range -> check_vma_flags fails -> madvise_populate returns EINVAL.
    assert compare(t, hw, "mprotect", Rel(0), P, prot) == (0, 0)
    assert compare(t, hw, "madvise", Rel(0), 2 * P, advice) == (-Errno.EINVAL, -Errno.EINVAL)


def test_madvise_populate_past_eof_is_efault(t: Task, hw: int, files: Files) -> None:
    # VM_FAULT_SIGBUS -> -EFAULT from madvise_populate.
    gfd, hfd = files.open("rdonly")
    g = sys(t, "mmap", 0, 8 * P, m.PROT_READ, m.MAP_PRIVATE, gfd, 0)
    h = host("mmap", 0, 8 * P, m.PROT_READ, m.MAP_PRIVATE, hfd, 0)
    try:
        assert host("madvise", h, 8 * P, m.MADV_POPULATE_READ) == -Errno.EFAULT
        assert sys(t, "madvise", g, 8 * P, m.MADV_POPULATE_READ) == -Errno.EFAULT
        assert sys(t, "madvise", g, 3 * P, m.MADV_POPULATE_READ) == 0
        assert (g >> PAGE_SHIFT) + 2 in t.mm.pt
    finally:
        host("munmap", h, 8 * P)


def test_madvise_dontneed_zeroes_anonymous_memory(t: Task, hw: int) -> None:
    t.mm.write(GW, b"a" * 3 * P)
    ctypes.memmove(hw, b"a" * 3 * P, 3 * P)
    before = t.mm.phys.allocated
    assert compare(t, hw, "madvise", Rel(P), P, m.MADV_DONTNEED) == (0, 0)
    assert t.mm.phys.allocated == before - 1
    for off in (0, P, 2 * P):
        assert t.mm.read(GW + off, 1) == ctypes.string_at(hw + off, 1)
    assert t.mm.read(GW + P, 1) == b"\0"


def test_madvise_goes_on_past_a_hole_and_then_gives_enomem(t: Task, hw: int) -> None:
    # madvise_walk_vmas: unmapped parts are skipped; -ENOMEM is returned at the end.
    assert compare(t, hw, "munmap", Rel(P), P) == (0, 0)
    t.mm.write(GW + 2 * P, b"z")
    ctypes.memmove(hw + 2 * P, b"z", 1)
    assert compare(t, hw, "madvise", Rel(0), 3 * P, m.MADV_DONTNEED) == (-Errno.ENOMEM, -Errno.ENOMEM)
    assert ctypes.string_at(hw + 2 * P, 1) == b"\0"
    assert t.mm.read(GW + 2 * P, 1) == b"\0"


def test_madvise_dontneed_rereads_a_private_file_mapping(t: Task, files: Files) -> None:
    path = files.path()
    fd = files.guest_open(path, os.O_RDWR)
    addr = sys(t, "mmap", 0, 2 * P, RW, m.MAP_PRIVATE, fd, 0)
    t.mm.write(addr, b"private")
    with open(path, "r+b") as f:
        f.write(b"ondisk")
    assert t.mm.read(addr, 7) == b"private"
    assert sys(t, "madvise", addr, 2 * P, m.MADV_DONTNEED) == 0
    assert t.mm.read(addr, 7) == b"ondiskA"  # the private copy went; the file is read again


def test_madvise_dontneed_keeps_shared_file_data(t: Task, files: Files) -> None:
    path = files.path()
    fd = files.guest_open(path, os.O_RDWR)
    addr = sys(t, "mmap", 0, P, RW, m.MAP_SHARED, fd, 0)
    t.mm.write(addr, b"shared")
    assert sys(t, "madvise", addr, P, m.MADV_DONTNEED) == 0
    assert t.mm.read(addr, 6) == b"shared"
    assert path.read_bytes()[:6] == b"shared"


def test_madvise_dontneed_keeps_shared_anonymous_data(t: Task, hw: int) -> None:
    g = sys(t, "mmap", 0, P, RW, SHANON, -1, 0)
    h = host("mmap", 0, P, RW, SHANON, -1, 0)
    try:
        ctypes.memmove(h, b"kept", 4)
        assert host("madvise", h, P, m.MADV_DONTNEED) == 0
        assert ctypes.string_at(h, 4) == b"kept"  # the host's shmem keeps it
        t.mm.write(g, b"kept")
        assert sys(t, "madvise", g, P, m.MADV_DONTNEED) == 0
        assert t.mm.read(g, 4) == b"kept"
    finally:
        host("munmap", h, P)


def test_madvise_remove_punches_shared_anonymous_memory(t: Task, hw: int) -> None:
    g = sys(t, "mmap", 0, P, RW, SHANON, -1, 0)
    h = host("mmap", 0, P, RW, SHANON, -1, 0)
    try:
        ctypes.memmove(h, b"gone", 4)
        t.mm.write(g, b"gone")
        assert host("madvise", h, P, m.MADV_REMOVE) == 0
        assert sys(t, "madvise", g, P, m.MADV_REMOVE) == 0
        assert ctypes.string_at(h, 4) == t.mm.read(g, 4) == bytes(4)
    finally:
        host("munmap", h, P)


def test_madvise_remove_on_a_private_file_mapping_is_eacces(t: Task, files: Files) -> None:
    gfd, hfd = files.open("rdwr")
    g = sys(t, "mmap", 0, P, RW, m.MAP_PRIVATE, gfd, 0)
    h = host("mmap", 0, P, RW, m.MAP_PRIVATE, hfd, 0)
    try:
        assert host("madvise", h, P, m.MADV_REMOVE) == -Errno.EACCES
        assert sys(t, "madvise", g, P, m.MADV_REMOVE) == -Errno.EACCES
    finally:
        host("munmap", h, P)


def test_madvise_dontneed_on_locked_memory_is_einval(t: Task) -> None:
    # madvise_dontneed_free_valid_vma: VM_LOCKED is forbidden except for DONTNEED_LOCKED.
    addr = sys(t, "mmap", 0, P, RW, ANON | m.MAP_LOCKED, -1, 0)
    assert sys(t, "madvise", addr, P, m.MADV_DONTNEED) == -Errno.EINVAL
    assert sys(t, "madvise", addr, P, m.MADV_DONTNEED_LOCKED) == 0


def test_madvise_free_is_for_private_anonymous_memory(t: Task, files: Files) -> None:
    # madvise_free_single_vma: !vma_is_anonymous(vma) -> EINVAL.
    shared = sys(t, "mmap", 0, P, RW, SHANON, -1, 0)
    assert sys(t, "madvise", shared, P, m.MADV_FREE) == -Errno.EINVAL
    fd = files.guest_open(files.path(), os.O_RDONLY)
    private = sys(t, "mmap", 0, P, m.PROT_READ, m.MAP_PRIVATE, fd, 0)
    assert sys(t, "madvise", private, P, m.MADV_FREE) == -Errno.EINVAL
    assert sys(t, "madvise", shared, P, m.MADV_WIPEONFORK) == -Errno.EINVAL


def test_madvise_hwpoison_needs_privilege(t: Task) -> None:
    # madvise_inject_error: !capable(CAP_SYS_ADMIN) -> EPERM.
    t.cred.euid = 1000
    assert sys(t, "madvise", GW, P, m.MADV_HWPOISON) == -Errno.EPERM
    assert sys(t, "madvise", GW, P, m.MADV_SOFT_OFFLINE) == -Errno.EPERM


# -- msync -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, errno",
    [
        ((Rel(0), P, 8), Errno.EINVAL),
        ((Rel(1), P, m.MS_SYNC), Errno.EINVAL),
        ((Rel(0), P, m.MS_ASYNC | m.MS_SYNC), Errno.EINVAL),
        ((Rel(0), 0, m.MS_SYNC), 0),
        ((Rel(0), U64, m.MS_SYNC), 0),  # len rounds to 0: nothing to do
        ((Rel(0), U64 - P + 2, 0), 0),
        ((Rel(0), U64 - P + 1, 0), Errno.ENOMEM),  # page-aligned already: end wraps
        ((Rel(P), U64 - 2 * P, 0), Errno.ENOMEM),  # end wraps
        ((Rel(0), WIN * P, m.MS_ASYNC), 0),
        ((Rel(0), WIN * P, m.MS_INVALIDATE), 0),
        ((Rel(0), (WIN + 1) * P, m.MS_SYNC), Errno.ENOMEM),
        ((Rel(0), (WIN + 1) * P, m.MS_ASYNC), Errno.ENOMEM),
        ((Rel(WIN * P), P, 0), Errno.ENOMEM),
    ],
)
def test_msync_errno_matches_host(t: Task, hw: int, args: tuple[object, ...], errno: int) -> None:
    g, h = compare(t, hw, "msync", *args)
    assert h == -errno
    assert g == -errno


def test_msync_invalidate_on_locked_memory_is_ebusy(t: Task) -> None:
    addr = sys(t, "mmap", 0, P, RW, ANON | m.MAP_LOCKED, -1, 0)
    assert sys(t, "msync", addr, P, m.MS_INVALIDATE) == -Errno.EBUSY
    assert sys(t, "msync", addr, P, m.MS_SYNC) == 0


# -- mincore ---------------------------------------------------------------------------------------


def test_mincore_vector_matches_host(t: Task, hw: int) -> None:
    for off in (0, 3 * P + 5, 7 * P):
        t.mm.write(GW + off, b"x")
        ctypes.memmove(hw + off, b"x", 1)
    vec = ctypes.create_string_buffer(WIN)
    assert host("mincore", hw, WIN * P, ctypes.addressof(vec)) == 0
    assert sys(t, "mincore", GW, WIN * P, USER_BUF) == 0
    assert t.mm.read(USER_BUF, WIN) == vec.raw == bytes([1, 0, 0, 1, 0, 0, 0, 1])


def test_mincore_partial_length_and_len_zero(t: Task) -> None:
    t.mm.write(GW, b"x")
    t.mm.write(USER_BUF, b"\xff" * 4)
    assert sys(t, "mincore", GW, 1, USER_BUF) == 0  # one page for a partial length
    assert t.mm.read(USER_BUF, 2) == b"\x01\xff"
    assert sys(t, "mincore", GW + WIN * P, 0, USER_BUF) == 0  # nothing asked: no lookup


def test_mincore_file_pages_count_as_resident(t: Task, files: Files) -> None:
    fd = files.guest_open(files.path(), os.O_RDONLY)
    addr = sys(t, "mmap", 0, 2 * P, m.PROT_READ, m.MAP_PRIVATE, fd, 0)
    assert sys(t, "mincore", addr, 2 * P, USER_BUF) == 0
    assert t.mm.read(USER_BUF, 2) == b"\x01\x01"


def test_mincore_stores_entries_before_a_hole(t: Task, hw: int) -> None:
    # do_mincore works one VMA at a time, and each part is copied out before the next.
    t.mm.write(GW + 7 * P, b"x")
    ctypes.memmove(hw + 7 * P, b"x", 1)
    vec = ctypes.create_string_buffer(b"\xff" * 3, 3)
    t.mm.write(USER_BUF, b"\xff" * 3)
    assert host("mincore", hw + 7 * P, 2 * P, ctypes.addressof(vec)) == -Errno.ENOMEM
    assert sys(t, "mincore", GW + 7 * P, 2 * P, USER_BUF) == -Errno.ENOMEM
    assert t.mm.read(USER_BUF, 3) == vec.raw[:3] == b"\x01\xff\xff"


@pytest.mark.parametrize(
    "args, errno",
    [
        ((Rel(1), P, "vec"), Errno.EINVAL),
        ((Rel(WIN * P), P, "vec"), Errno.ENOMEM),
        ((Rel(0), (WIN + 1) * P, "vec"), Errno.ENOMEM),
        ((TASK_SIZE_MAX, P, "vec"), Errno.ENOMEM),  # not a user range
        ((Rel(0), U64 - P, "vec"), Errno.ENOMEM),
        ((Rel(0), P, KERNEL_ADDR), Errno.EFAULT),  # access_ok(vec) fails
        ((Rel(0), P, 0), Errno.EFAULT),  # the copy faults
        ((Rel(0), P, "ro"), Errno.EFAULT),  # a read-only vector
        ((Rel(1), P, KERNEL_ADDR), Errno.EINVAL),  # alignment first
        ((Rel(WIN * P), P, KERNEL_ADDR), Errno.EFAULT),  # access_ok(vec) before the lookup
    ],
)
def test_mincore_errno_matches_host(t: Task, hw: int, args: tuple[object, ...], errno: int) -> None:
    hvec = ctypes.create_string_buffer(WIN + 1)
    ro = host("mmap", 0, P, m.PROT_READ, ANON, -1, 0)
    try:
        vecs = {"vec": (USER_BUF, ctypes.addressof(hvec)), "ro": (RO_PAGE, ro)}
        gargs = [vecs[a][0] if isinstance(a, str) else a for a in args]
        hargs = [vecs[a][1] if isinstance(a, str) else a for a in args]
        g = sys(t, "mincore", *resolve(tuple(gargs), GW, -1))
        h = host("mincore", *resolve(tuple(hargs), hw, -1))
    finally:
        host("munmap", ro, P)
    assert h == -errno
    assert g == -errno


# -- what remains to be done ---------------------------------------------------------------------------


def test_map_32bit_places_below_2gib(t: Task) -> None:
    # arch_get_unmapped_area_topdown: MAP_32BIT -> bottom-up in [0x40000000, 0x80000000).
    addr = sys(t, "mmap", 0, P, RW, ANON | m.MAP_32BIT, -1, 0)
    assert 0x40000000 <= addr < 0x80000000

