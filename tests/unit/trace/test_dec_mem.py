"""brk, mmap, munmap, mprotect, mremap, msync, madvise and mincore traced as strace 6.1 prints
them (strings checked against the host's strace on static C programs)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sysgate.kernel.task import Task
from sysgate.syscall import REGISTRY
from sysgate.trace.decoders.mem import mmap_flags_text, p_mincore_vec
from sysgate.trace.options import parse
from sysgate.trace.printers import Ctx, xval
from sysgate.uapi import mman as m
from tests.conftest import EDGE, USER_BUF, put_str, sys
from tests.unit.trace.conftest import line, traced

FIXED = 0x20000000
RW = m.PROT_READ | m.PROT_WRITE
ANON = m.MAP_PRIVATE | m.MAP_ANONYMOUS



def mapped(t: Task, addr: int = FIXED, size: int = 8192) -> int:
    assert sys(t, "mmap", addr, size, RW, ANON | m.MAP_FIXED, -1, 0) == addr
    return addr


def test_brk_prints_addresses_and_returns_hex(task):
    task.mm.start_brk = task.mm.brk = 0x4CE000
    assert traced(task, "brk", 0) == line("brk(NULL)", "0x4ce000")
    assert traced(task, "brk", 0x4EF000) == line("brk(0x4ef000)", "0x4ef000")


def test_brk_result_zero_prints_as_zero(task):
    task.mm.start_brk = task.mm.brk = 0
    assert traced(task, "brk", 0) == line("brk(NULL)", "0")


def test_mmap_anonymous(task):
    out = traced(task, "mmap", 0, 8192, RW, ANON, -1, 0)
    head = "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x"
    assert out.startswith(head)
    assert task.mm.vma_at(int(out[len(head) - 2 :], 16)) is not None


def test_mmap_fixed_and_fd_minus_one_as_glibc_passes_it(task):
    # glibc passes the int -1 zero-extended; a raw syscall() passes it sign-extended: both are -1.
    out = traced(task, "mmap", FIXED, 4096, m.PROT_READ, m.MAP_SHARED | m.MAP_FIXED | m.MAP_ANONYMOUS
                 | m.MAP_POPULATE, 0xFFFFFFFF, 0)
    assert out == ("mmap(0x20000000, 4096, PROT_READ, MAP_SHARED|MAP_FIXED|MAP_ANONYMOUS|MAP_POPULATE, -1, 0)"
                   " = 0x20000000\n")


@pytest.mark.parametrize(("options", "want"), [
    ((), "mmap(0x20000000, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS, -1, 0)"),
    (("-X", "raw"), "mmap(0x20000000, 8192, 0x3, 0x32, -1, 0)"),
    (("-X", "verbose"), "mmap(0x20000000, 8192, 0x3 /* PROT_READ|PROT_WRITE */, "
                        "0x32 /* MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS */, -1, 0)"),
])
def test_mmap_xlat_styles(task, options, want):
    assert traced(task, "mmap", FIXED, 8192, RW, ANON | m.MAP_FIXED, -1, 0, options=options) == want + \
        " = 0x20000000\n"


def test_mmap_failures_print_fd_and_offset_in_hex(task):
    assert traced(task, "mmap", 0, 4096, m.PROT_READ, m.MAP_PRIVATE, 99, 0x1000) == line(
        "mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 99, 0x1000)", "-1 EBADF (Bad file descriptor)")
    assert traced(task, "mmap", 0, 4096, m.PROT_READ | 0x80, 0x4 | m.MAP_ANONYMOUS, -1, 0) == line(
        "mmap(NULL, 4096, PROT_READ|0x80, 0x4 /* MAP_??? */|MAP_ANONYMOUS, -1, 0)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "mmap", 0, 4096, m.PROT_READ, m.MAP_ANONYMOUS, -1, 0) == line(
        "mmap(NULL, 4096, PROT_READ, MAP_FILE|MAP_ANONYMOUS, -1, 0)", "-1 EINVAL (Invalid argument)")


def test_mmap_of_a_file_with_y_shows_its_path(task, tmp_path: Path):
    (tmp_path / "data").write_bytes(b"x" * 4096)
    fd = sys(task, "openat", -100, put_str(task, str(tmp_path / "data")), os.O_RDONLY, 0)
    assert fd >= 0
    out = traced(task, "mmap", 0, 4096, m.PROT_READ, m.MAP_PRIVATE, fd, 0, options=("-y",))
    assert out.startswith(f"mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, {fd}<{tmp_path}/data>, 0) = 0x")


@pytest.mark.parametrize(("flags", "abbrev", "verbose"), [
    (0x22, "MAP_PRIVATE|MAP_ANONYMOUS", "0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */"),
    (0x24, "0x4 /* MAP_??? */|MAP_ANONYMOUS", "0x24 /* 0x4 /* MAP_??? */|MAP_ANONYMOUS */"),
    (0x20, "MAP_FILE|MAP_ANONYMOUS", "0x20 /* MAP_FILE|MAP_ANONYMOUS */"),
    (0, "MAP_FILE", "0 /* MAP_FILE */"),
    (0x80003, "MAP_SHARED_VALIDATE|MAP_SYNC", "0x80003 /* MAP_SHARED_VALIDATE|MAP_SYNC */"),
    (0xA2, "MAP_PRIVATE|MAP_ANONYMOUS|0x80", "0xa2 /* MAP_PRIVATE|MAP_ANONYMOUS|0x80 */"),
    (0x54864022, "MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE|MAP_STACK|MAP_HUGETLB|0x800000|21<<MAP_HUGE_SHIFT",
     "0x54864022 /* MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE|MAP_STACK|MAP_HUGETLB|0x800000|21<<MAP_HUGE_SHIFT */"),
    (0x4113962, "MAP_PRIVATE|MAP_ANONYMOUS|MAP_32BIT|MAP_NONBLOCK|MAP_GROWSDOWN|MAP_DENYWRITE|MAP_EXECUTABLE|"
     "MAP_LOCKED|MAP_FIXED_NOREPLACE|1<<MAP_HUGE_SHIFT", None),
])
def test_mmap_flags_type_first_then_flags_then_huge_size(flags, abbrev, verbose):
    assert mmap_flags_text("abbrev", flags) == abbrev
    assert mmap_flags_text("raw", flags) == xval(flags)
    if verbose is not None:
        assert mmap_flags_text("verbose", flags) == verbose


def test_munmap_and_mprotect(task):
    addr = mapped(task)
    assert traced(task, "mprotect", addr, 4096, m.PROT_READ) == line("mprotect(0x20000000, 4096, PROT_READ)", "0")
    assert traced(task, "mprotect", addr, 4096, 0) == line("mprotect(0x20000000, 4096, PROT_NONE)", "0")
    assert traced(task, "mprotect", addr, 4096, 0, options=("-X", "verbose")) == line(
        "mprotect(0x20000000, 4096, 0 /* PROT_NONE */)", "0")
    assert traced(task, "mprotect", addr, 4096, 0x105) == line(
        "mprotect(0x20000000, 4096, PROT_READ|PROT_EXEC|0x100)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "mprotect", addr, 4096, 0x105, options=("-X", "raw")) == line(
        "mprotect(0x20000000, 4096, 0x105)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "mprotect", addr, 4096, 0x3000009) == line(
        "mprotect(0x20000000, 4096, PROT_READ|PROT_SEM|PROT_GROWSDOWN|PROT_GROWSUP)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "munmap", addr, 8192) == line("munmap(0x20000000, 8192)", "0")
    assert traced(task, "munmap", (1 << 64) - 1, 16384) == line(
        "munmap(0xffffffffffffffff, 16384)", "-1 EINVAL (Invalid argument)")


def test_mremap_with_a_new_address(task):
    addr = mapped(task)
    assert traced(task, "mremap", addr, 8192, 8192, m.MREMAP_MAYMOVE | m.MREMAP_FIXED, 0x30000000) == line(
        "mremap(0x20000000, 8192, 8192, MREMAP_MAYMOVE|MREMAP_FIXED, 0x30000000)", "0x30000000")
    assert traced(task, "mremap", 0x30000000, 8192, 4096, 7, 0, options=("-X", "verbose")) == line(
        "mremap(0x30000000, 8192, 4096, 0x7 /* MREMAP_MAYMOVE|MREMAP_FIXED|MREMAP_DONTUNMAP */, NULL)",
        "-1 EINVAL (Invalid argument)")


@pytest.mark.parametrize(("flags", "shown", "result"), [
    (m.MREMAP_MAYMOVE, "MREMAP_MAYMOVE", "0x20000000"),
    (0, "0", "0x20000000"),
    (0x80, "0x80 /* MREMAP_??? */", "-1 EINVAL (Invalid argument)"),
])
def test_mremap_without_a_new_address(task, flags, shown, result):
    addr = mapped(task)
    assert traced(task, "mremap", addr, 8192, 4096, flags, 0x1234) == line(
        f"mremap(0x20000000, 8192, 4096, {shown})", result)


def test_msync_flags(task):
    addr = mapped(task)
    assert traced(task, "msync", addr, 8192, m.MS_SYNC | m.MS_INVALIDATE) == line(
        "msync(0x20000000, 8192, MS_SYNC|MS_INVALIDATE)", "0")
    assert traced(task, "msync", addr, 8192, m.MS_ASYNC | 0x80) == line(
        "msync(0x20000000, 8192, MS_ASYNC|0x80)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "msync", addr, 8192, 0) == line("msync(0x20000000, 8192, 0)", "0")
    assert traced(task, "msync", addr, 8192, 6, options=("-X", "verbose")) == line(
        "msync(0x20000000, 8192, 0x6 /* MS_SYNC|MS_INVALIDATE */)", "0")


def test_madvise_advice(task):
    addr = mapped(task)
    assert traced(task, "madvise", addr, 8192, m.MADV_DONTNEED) == line(
        "madvise(0x20000000, 8192, MADV_DONTNEED)", "0")
    assert traced(task, "madvise", addr, 8192, 1000) == line(
        "madvise(0x20000000, 8192, 0x3e8 /* MADV_??? */)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "madvise", addr, 8192, -1) == line(
        "madvise(0x20000000, 8192, 0xffffffff /* MADV_??? */)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "madvise", addr, 8192, m.MADV_DONTNEED, options=("-X", "verbose")) == line(
        "madvise(0x20000000, 8192, 0x4 /* MADV_DONTNEED */)", "0")
    assert traced(task, "madvise", addr, 8192, m.MADV_NORMAL, options=("-X", "raw")) == line(
        "madvise(0x20000000, 8192, 0)", "0")


def test_mincore_vector_on_return(task):
    addr = mapped(task, size=5 * 4096)
    task.mm.write(addr + 4096, b"\1")
    vec = USER_BUF + 0x100
    assert traced(task, "mincore", addr, 5 * 4096, vec) == line("mincore(0x20000000, 20480, [0, 1, 0, 0, 0])", "0")
    assert traced(task, "mincore", addr, 5 * 4096, vec, options=("-s", "3")) == line(
        "mincore(0x20000000, 20480, [0, 1, 0, ...])", "0")
    assert traced(task, "mincore", addr, 5 * 4096, vec, options=("-s", "3", "-v")) == line(
        "mincore(0x20000000, 20480, [0, 1, 0, 0, 0])", "0")
    assert traced(task, "mincore", addr, 4097, vec) == line("mincore(0x20000000, 4097, [0, 1])", "0")
    assert traced(task, "mincore", addr, 0, vec) == line("mincore(0x20000000, 0, [])", "0")
    assert traced(task, "mincore", addr, 8192, 0) == line("mincore(0x20000000, 8192, NULL)", "-1 EFAULT (Bad address)")
    assert traced(task, "mincore", addr + 1, 8192, vec) == line(
        f"mincore(0x20000001, 8192, {vec:#x})", "-1 EINVAL (Invalid argument)")


def test_mincore_vector_cut_where_memory_ends(task):
    spec = REGISTRY["sys_mincore"]
    opts, _ = parse(["prog"], {}, {})
    ctx = Ctx(task, opts, spec, [FIXED, 5 * 4096, EDGE + 4094], exiting=True, ret=0)
    task.mm.write(EDGE + 4094, b"\1\0")
    assert p_mincore_vec(ctx, EDGE + 4094, spec.params[2]) == f"[1, 0, ... /* {EDGE + 4096:#x} */]"
    assert p_mincore_vec(ctx, EDGE + 4096, spec.params[2]) == f"{EDGE + 4096:#x}"


def test_mincore_vector_as_an_address_when_the_call_is_not_verbose(task):
    addr = mapped(task)
    vec = USER_BUF + 0x100
    assert traced(task, "mincore", addr, 8192, vec, options=("-e", "verbose=none")) == line(
        f"mincore(0x20000000, 8192, {vec:#x})", "0")
