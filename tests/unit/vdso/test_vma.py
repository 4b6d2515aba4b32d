"""[vvar] and [vdso] in an address space: where map_vdso puts them, what their pages
hold, and what munmap, mprotect, mremap and madvise may do to them (special mappings:
arch/x86/entry/vdso/vma.c and mm/mmap.c's special_mapping_* operations)."""

from __future__ import annotations

import pytest

from sysgate.errors import GuestFault, KernelError
from sysgate.kernel.task import Task
from sysgate.mm.mm import Mm
from sysgate.mm.physmem import PAGE_SIZE, PhysMem
from sysgate.uapi import mman as m
from sysgate.uapi.errno import Errno
from sysgate.vdso import vvar as vv
from sysgate.vdso.image import VDSO_SIZE, vdso_image
from sysgate.vdso.vma import arch_setup_additional_pages, map_vdso, vvar_frame
from tests.conftest import USER_BUF, sys

MMAP_BASE = 0x7FFFF7FFF000
VVAR_PAGES = vv.VVAR_PAGES * PAGE_SIZE


@pytest.fixture
def t(task: Task) -> Task:
    task.mm.mmap_base = MMAP_BASE
    return task


def mapped(t: Task) -> tuple[int, int]:
    """(vvar, vdso) addresses after map_vdso."""
    vdso = map_vdso(t.mm)
    return vdso - VVAR_PAGES, vdso


def test_vvar_lies_just_below_the_vdso_at_the_top_of_the_mmap_area(t: Task) -> None:
    vvar, vdso = mapped(t)
    assert vdso + VDSO_SIZE == MMAP_BASE and t.mm.vdso == vdso
    v, d = t.mm.vma_at(vvar), t.mm.vma_at(vdso)
    assert v is not None and d is not None
    assert (v.start, v.end, v.prot, v.name) == (vvar, vdso, m.PROT_READ, "[vvar]")
    assert (d.start, d.end, d.prot, d.name) == (vdso, vdso + VDSO_SIZE, m.PROT_READ | m.PROT_EXEC, "[vdso]")
    assert v.file is None and d.file is None  # /proc/PID/maps: 00000000 00:00 0


def test_a_second_program_maps_below_what_is_there(t: Task) -> None:
    sys(t, "mmap", MMAP_BASE - PAGE_SIZE, PAGE_SIZE, m.PROT_READ, m.MAP_PRIVATE | m.MAP_ANONYMOUS | m.MAP_FIXED,
        -1, 0)
    _, vdso = mapped(t)
    assert vdso + VDSO_SIZE == MMAP_BASE - PAGE_SIZE


def test_arch_setup_additional_pages_adds_the_vsyscall_page(t: Task) -> None:
    assert not t.mm.vsyscall
    assert arch_setup_additional_pages(t.mm) == t.mm.vdso
    assert t.mm.vsyscall


def test_the_vdso_pages_hold_the_image(t: Task) -> None:
    _, vdso = mapped(t)
    assert t.mm.read(vdso, VDSO_SIZE) == vdso_image().data


def test_the_vvar_page_is_the_kernels_and_the_rest_is_sigbus(t: Task) -> None:
    vvar, _ = mapped(t)
    frame = t.mm.phys.page(vvar_frame(t.mm.phys))
    frame[1000] = 0x5A  # the kernel writes its page; every process reads it
    assert t.mm.read(vvar + 1000, 1) == b"\x5a"
    for page in (1, 2, 3):  # pvclock, hvclock, timens: absent
        with pytest.raises(GuestFault) as exc:
            t.mm.read(vvar + page * PAGE_SIZE, 1)
        assert exc.value.bus and exc.value.addr == vvar + page * PAGE_SIZE
    with pytest.raises(GuestFault) as exc:
        t.mm.write(vvar, b"x")
    assert not exc.value.bus and exc.value.mapped  # SEGV_ACCERR


def test_syscalls_reading_and_writing_them(t: Task) -> None:
    vvar, vdso = mapped(t)
    assert sys(t, "write", 1, vdso, 16) == 16  # fd 1 is /dev/null
    assert sys(t, "write", 1, vvar + PAGE_SIZE, 16) == -Errno.EFAULT
    assert sys(t, "getcwd", vdso, 100) == -Errno.EFAULT  # copy_to_user into r-x
    assert sys(t, "getcwd", vvar, 100) == -Errno.EFAULT


def test_a_fresh_page_starts_with_no_clock(t: Task) -> None:
    """Until a timekeeper runs, the vDSO takes the system calls."""
    vvar, _ = mapped(t)
    page = t.mm.read(vvar, PAGE_SIZE)
    assert vv.unpack(page, vv.CS_HRES_COARSE)[1].clock_mode == vv.VDSO_CLOCKMODE_NONE
    assert vv.unpack(page, vv.CS_HRES_COARSE)[1].hrtimer_res == 1


@pytest.mark.parametrize("which, offset, length", [
    ("vdso", 0, PAGE_SIZE), ("vdso", PAGE_SIZE, PAGE_SIZE), ("vvar", PAGE_SIZE, PAGE_SIZE),
    ("vvar", 0, 3 * PAGE_SIZE),
])
def test_special_mappings_cannot_be_split(t: Task, which: str, offset: int, length: int) -> None:
    vvar, vdso = mapped(t)
    addr = (vdso if which == "vdso" else vvar) + offset
    assert sys(t, "munmap", addr, length) == -Errno.EINVAL
    assert sys(t, "mprotect", addr, length, m.PROT_READ) == -Errno.EINVAL
    assert sys(t, "mmap", addr, length, m.PROT_READ, m.MAP_PRIVATE | m.MAP_ANONYMOUS | m.MAP_FIXED,
               -1, 0) == -Errno.EINVAL
    assert t.mm.vma_at(vvar).end == vdso and t.mm.vma_at(vdso).end == vdso + VDSO_SIZE  # type: ignore[union-attr]


def test_whole_unmap_is_allowed_and_the_vvar_frame_survives(t: Task) -> None:
    vvar, vdso = mapped(t)
    t.mm.read(vvar, 8)
    assert sys(t, "munmap", vvar, VVAR_PAGES + VDSO_SIZE) == 0
    assert t.mm.vma_at(vvar) is None and t.mm.vma_at(vdso) is None
    t.mm.phys.page(vvar_frame(t.mm.phys))[0:1] = b"\x01"  # still the kernel's page


@pytest.mark.parametrize("prot, errno", [
    (m.PROT_READ | m.PROT_WRITE, Errno.EACCES),  # no VM_MAYWRITE
    (m.PROT_READ | m.PROT_EXEC, Errno.EACCES),  # no VM_MAYEXEC
    (m.PROT_NONE, 0),
    (m.PROT_READ, 0),
])
def test_mprotect_of_vvar(t: Task, prot: int, errno: int) -> None:
    vvar, _ = mapped(t)
    assert sys(t, "mprotect", vvar, VVAR_PAGES, prot) == -errno


def test_mprotect_of_the_vdso_makes_a_private_writable_copy(t: Task, tmp_path: object) -> None:
    _, vdso = mapped(t)
    assert sys(t, "mprotect", vdso, VDSO_SIZE, m.PROT_READ | m.PROT_WRITE | m.PROT_EXEC) == 0
    t.mm.write(vdso, b"\xcc")  # a debugger's breakpoint
    assert t.mm.read(vdso, 1) == b"\xcc"
    other = Mm(t.mm.phys)
    other.mmap_base = MMAP_BASE
    fresh = map_vdso(other)
    assert other.read(fresh, 4) == b"\x7fELF"  # another process still sees the image
    other.destroy()


def test_mremap_moves_the_vdso_whole(t: Task) -> None:
    _, vdso = mapped(t)
    target = USER_BUF + 0x100000
    got = sys(t, "mremap", vdso, VDSO_SIZE, VDSO_SIZE, m.MREMAP_MAYMOVE | m.MREMAP_FIXED, target)
    assert got == target and t.mm.vdso == target  # vdso_mremap
    assert t.mm.vma_at(target).name == "[vdso]"  # type: ignore[union-attr]
    assert t.mm.read(target, VDSO_SIZE) == vdso_image().data


@pytest.mark.parametrize("which", ["vdso", "vvar"])
def test_mremap_cannot_grow_shrink_or_leave_them(t: Task, which: str) -> None:
    vvar, vdso = mapped(t)
    addr, size = (vdso, VDSO_SIZE) if which == "vdso" else (vvar, VVAR_PAGES)
    assert sys(t, "mremap", addr, size, size + PAGE_SIZE, m.MREMAP_MAYMOVE, 0) == -Errno.EFAULT
    assert sys(t, "mremap", addr, size, size - PAGE_SIZE, 0, 0) == -Errno.EINVAL
    assert sys(t, "mremap", addr, size, size, m.MREMAP_MAYMOVE | m.MREMAP_DONTUNMAP, 0) == -Errno.EINVAL


def test_map_vdso_needs_room(t: Task) -> None:
    t.mm.mmap_base = t.mm.mmap_min_addr + PAGE_SIZE  # nothing fits top-down, nor bottom-up? then ENOMEM
    t.mm.task_size = t.mm.mmap_min_addr + 2 * PAGE_SIZE
    with pytest.raises(KernelError) as exc:
        map_vdso(t.mm)
    assert exc.value.errno == Errno.ENOMEM


def test_one_vvar_frame_per_physical_memory() -> None:
    phys = PhysMem(1 << 24)
    try:
        assert vvar_frame(phys) == vvar_frame(phys)
        other = PhysMem(1 << 24)
        try:
            assert other.page(vvar_frame(other)) is not phys.page(vvar_frame(phys))
        finally:
            other.close()
    finally:
        phys.close()


@pytest.mark.parametrize("advice", [m.MADV_DONTNEED, m.MADV_DONTNEED_LOCKED, m.MADV_FREE])
def test_madvise_cannot_drop_vvar(t: Task, advice: int) -> None:
    vvar, _ = mapped(t)
    assert sys(t, "madvise", vvar, PAGE_SIZE, advice) == -Errno.EINVAL


def test_madvise_dontneed_on_the_vdso_drops_a_private_copy(t: Task) -> None:
    _, vdso = mapped(t)
    assert sys(t, "mprotect", vdso, VDSO_SIZE, m.PROT_READ | m.PROT_WRITE) == 0
    t.mm.write(vdso, b"\x00")
    assert sys(t, "madvise", vdso, VDSO_SIZE, m.MADV_DONTNEED) == 0
    assert t.mm.read(vdso, 4) == b"\x7fELF"  # faulted in again from the image


ARCH_MAP_VDSO_X32, ARCH_MAP_VDSO_32, ARCH_MAP_VDSO_64 = 0x2001, 0x2002, 0x2003


def test_arch_prctl_map_vdso_64_maps_it_again_once(t: Task) -> None:
    vvar, vdso = mapped(t)
    assert sys(t, "arch_prctl", ARCH_MAP_VDSO_64, 0x50000000) == -Errno.EEXIST  # map_vdso_once
    assert sys(t, "munmap", vdso, VDSO_SIZE) == 0
    assert sys(t, "arch_prctl", ARCH_MAP_VDSO_64, 0x50000000) == -Errno.EEXIST  # [vvar] is still there
    assert sys(t, "munmap", vvar, VVAR_PAGES) == 0
    assert sys(t, "arch_prctl", ARCH_MAP_VDSO_64, 0x50000000) == VDSO_SIZE  # prctl_map_vdso: the size
    assert t.mm.vdso == 0x50000000 + VVAR_PAGES  # the hint is where [vvar] starts
    assert t.mm.read(t.mm.vdso, 4) == b"\x7fELF"


@pytest.mark.parametrize("option", [ARCH_MAP_VDSO_32, ARCH_MAP_VDSO_X32])
def test_there_is_no_32_bit_vdso(t: Task, option: int) -> None:
    assert sys(t, "arch_prctl", option, 0) == -Errno.EINVAL
