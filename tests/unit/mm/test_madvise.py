"""madvise, msync and mincore.

Counterpart: mm/madvise.c, mm/msync.c and mm/mincore.c.
"""

from __future__ import annotations

import ctypes
import os

import pytest

from sysgate.kernel.task import Task
from sysgate.mm.mm import TASK_SIZE_MAX
from sysgate.mm.physmem import PAGE_SHIFT
from sysgate.uapi import mman as m
from sysgate.uapi.errno import Errno
from tests.conftest import KERNEL_ADDR, RO_PAGE, USER_BUF, sys
from tests.unit.mm.oracle import (
    ANON,
    GW,
    RW,
    SHANON,
    U64,
    WIN,
    Files,
    P,
    Rel,
    compare,
    host,
    resolve,
)

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


