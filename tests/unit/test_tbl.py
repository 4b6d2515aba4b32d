"""The .tbl parser and the dispatch tables built from it.

Counterpart: scripts/syscalltbl.sh and arch/x86/entry/syscall_64.c. Where the kernel
source is at hand, its own generator is the oracle: sysgate's table must dispatch each
number to the entry point that syscalls_64.h names (holes and x32 rows included).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

import sysgate.handlers  # noqa: F401 - registers the built-in handlers
from sysgate.syscall import REGISTRY, Support, make_spec
from sysgate.tables.tbl import (
    LINUX_RELEASE,
    NI_SYSCALL,
    Slot,
    SyscallTable,
    TblRow,
    parse_tbl,
    read_tbl,
    sys_ni_syscall,
    x86_64_table,
)
from sysgate.uapi.errno import Errno

KERNEL_SRC = Path(os.environ.get("SYSGATE_LINUX_SRC", "/work/ref/linux-source-6.12"))
"""A Linux 6.12 source tree (Debian's linux-source-6.12 unpacked), if there is one."""
SYSCALLTBL_SH = KERNEL_SRC / "scripts/syscalltbl.sh"
needs_kernel_source = pytest.mark.skipif(not SYSCALLTBL_SH.exists(), reason="no Linux source tree")


@pytest.fixture(scope="module")
def table() -> SyscallTable:
    return x86_64_table()


def kernel_header(tbl_text: str, tmp_path: Path, abis: str = "common,64") -> dict[int, str]:
    """What syscalltbl.sh makes of a table: number -> entry point."""
    src, out = tmp_path / "in.tbl", tmp_path / "out.h"
    src.write_text(tbl_text)
    subprocess.run(["sh", str(SYSCALLTBL_SH), "--abis", abis, str(src), str(out)], check=True)
    entries = {}
    for line in out.read_text().splitlines():
        match = re.fullmatch(r"__SYSCALL\w*\((\d+), (\w+)(?:, \w+)?\)", line)
        assert match, line
        entries[int(match[1])] = match[2]
    return entries


# -- parse_tbl ---------------------------------------------------------------------------------


def test_parse_rows_comments_and_columns() -> None:
    rows = parse_tbl(
        "# a comment\n"
        "\n"
        "0\tcommon\tread\t\t\tsys_read\n"
        "   # an indented comment\n"
        "1 64 short\n"  # no entry point
        "2 common exit sys_exit - noreturn # trailing comment\n"
        "3 x32 ioctl compat_sys_ioctl\n"
        "4 i386 x sys_x compat_sys_x\n"
        "5 i386 y sys_y compat_sys_y noreturn\n"
    )
    assert rows == [
        TblRow(0, "common", "read", "sys_read", None, False),
        TblRow(1, "64", "short", None, None, False),
        TblRow(2, "common", "exit", "sys_exit", None, True),
        TblRow(3, "x32", "ioctl", "compat_sys_ioctl", None, False),
        TblRow(4, "i386", "x", "sys_x", "compat_sys_x", False),
        TblRow(5, "i386", "y", "sys_y", "compat_sys_y", True),
    ]


@pytest.mark.parametrize(
    "line, words",
    [
        ("7 common", "line 2: not a syscall table row"),  # too short
        ("x common read sys_read", "not a syscall table row"),  # not a number
        ("-1 common read sys_read", "not a syscall table row"),
        ("7 common a b c noreturn extra", "not a syscall table row"),  # too long
        ("7 common exit sys_exit - noret", "invalid string 'noret' in 'noreturn' column"),
    ],
)
def test_parse_bad_rows(line: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_tbl("# header\n" + line + "\n")


def test_read_shipped_tables() -> None:
    rows64 = read_tbl("syscall_64.tbl")
    assert rows64[0] == TblRow(0, "common", "read", "sys_read", None, False)
    assert {r.abi for r in rows64} == {"common", "64", "x32"}
    assert [r.name for r in rows64 if r.noreturn] == ["exit", "exit_group"]
    rows32 = read_tbl("syscall_32.tbl")
    assert rows32[0].abi == "i386"
    assert LINUX_RELEASE == "6.12.117"


@needs_kernel_source
@pytest.mark.parametrize("name", ["syscall_64.tbl", "syscall_32.tbl"])
def test_shipped_tables_are_the_kernels_verbatim(name: str) -> None:
    from importlib import resources

    shipped = resources.files("sysgate.tables").joinpath(name).read_text("utf-8")
    assert shipped == (KERNEL_SRC / "arch/x86/entry/syscalls" / name).read_text()


# -- building a table ---------------------------------------------------------------------------

SMALL_TBL = """\
0 common getpid sys_getpid
2 64 noentry
3 x32 xonly compat_sys_x
4 common nohandler sys_not_in_sysgate
6 64 uname sys_newuname
"""


def test_small_table_fills_holes_like_the_kernel(tmp_path: Path) -> None:
    t = SyscallTable("test", 64, parse_tbl(SMALL_TBL), ("common", "64"))
    assert t.nr_syscalls == 7
    assert len(t.stubs) == 7
    assert set(t.slots) == {0, 2, 4, 6}  # the x32 row is not part of a 64-bit table
    assert t.slots[2].entry == NI_SYSCALL
    assert t.slots[4].spec is None and t.slots[4].support is Support.MISSING
    assert t.slots[6].spec is REGISTRY["sys_newuname"]
    assert t.slots[0].spec is REGISTRY["sys_getpid"]
    for nr in (1, 2, 3, 4, 5):
        assert t.stubs[nr] is sys_ni_syscall
    assert t.stubs[0] is REGISTRY["sys_getpid"].stub(64)
    if SYSCALLTBL_SH.exists():
        assert kernel_header(SMALL_TBL, tmp_path) == {
            0: "sys_getpid", 1: NI_SYSCALL, 2: NI_SYSCALL, 3: NI_SYSCALL,
            4: "sys_not_in_sysgate", 5: NI_SYSCALL, 6: "sys_newuname",
        }


@pytest.mark.parametrize("text", ["1 common a sys_a\n0 common b sys_b\n", "1 common a sys_a\n1 64 b sys_b\n"])
def test_unsorted_or_duplicate_rows_are_refused(text: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not sorted"):
        SyscallTable("test", 64, parse_tbl(text), ("common", "64"))
    if SYSCALLTBL_SH.exists():
        with pytest.raises(subprocess.CalledProcessError):
            kernel_header(text, tmp_path)


def test_rows_of_other_abis_may_be_out_of_order() -> None:
    t = SyscallTable("test", 64, parse_tbl("5 common a sys_a\n1 x32 b sys_b\n"), ("common", "64"))
    assert t.nr_syscalls == 6


def test_empty_table() -> None:
    t = SyscallTable("test", 64, [], ("common",))
    assert t.nr_syscalls == 0 and t.stubs == []


# -- the x86-64 table ----------------------------------------------------------------------------


def test_nr_syscalls(table: SyscallTable) -> None:
    assert table.nr_syscalls == 463  # one past mseal; the x32 rows do not count
    assert len(table.stubs) == 463
    assert table.abi_name == "x86_64" and table.word_bits == 64


@needs_kernel_source
def test_every_number_dispatches_where_syscalls_64_h_says(table: SyscallTable, tmp_path: Path) -> None:
    header = kernel_header((KERNEL_SRC / "arch/x86/entry/syscalls/syscall_64.tbl").read_text(), tmp_path)
    assert max(header) + 1 == table.nr_syscalls
    for nr, entry in header.items():
        slot = table.slots.get(nr)
        assert (slot.entry if slot else NI_SYSCALL) == entry, nr
        if entry in REGISTRY:
            assert table.stubs[nr] is REGISTRY[entry].stub(64), nr
        else:
            assert table.stubs[nr] is sys_ni_syscall, nr


@pytest.mark.parametrize("nr", [336, 400, 423])
def test_holes_give_enosys(table: SyscallTable, nr: int) -> None:
    assert nr not in table.slots
    assert table.stubs[nr](None, [nr] + [0] * 8) == -Errno.ENOSYS  # type: ignore[arg-type]


def test_x32_rows_are_not_in_the_64_bit_table(table: SyscallTable) -> None:
    assert all(nr not in table.slots for nr in range(512, 548))
    assert len(table.stubs) < 512  # the entry gives ENOSYS for them: out of range
    assert all(slot.nr < 463 for slot in table.slots.values())


def test_every_registered_entry_point_is_linked(table: SyscallTable) -> None:
    linked = 0
    for nr, slot in table.slots.items():
        spec = REGISTRY.get(slot.entry)
        assert slot.spec is spec
        if spec is not None:
            assert table.stubs[nr] is spec.stub(64)
            assert slot.support is spec.support and slot.note == spec.note
            linked += 1
        else:
            assert table.stubs[nr] is sys_ni_syscall
            assert slot.support is Support.MISSING
    assert linked > 100


def test_by_name(table: SyscallTable) -> None:
    read = table.by_name("read")
    assert read is not None and (read.nr, read.entry) == (0, "sys_read")
    uname = table.by_name("uname")
    assert uname is not None and (uname.nr, uname.entry) == (63, "sys_newuname")
    assert table.by_name("mmap") is not None and table.by_name("mmap").nr == 9  # type: ignore[union-attr]
    assert table.by_name("newuname") is None  # the .tbl name, not the entry point's
    assert table.by_name("no_such_call") is None
    rt = table.by_name("rt_sigaction")
    assert rt is not None and rt.nr == 13  # the 64-bit row, not x32's 512


def test_slot_notes() -> None:
    assert "sys_ni_syscall" in Slot(1, "x", NI_SYSCALL, None).note
    assert Slot(1, "x", "sys_x", None).note == ""


def test_sys_ni_syscall() -> None:
    assert sys_ni_syscall(None, []) == -Errno.ENOSYS


# -- install ---------------------------------------------------------------------------------------


def sys_add10(t: object) -> int:
    """a user system call"""
    return 10


def test_install_updates_the_same_list_in_place() -> None:
    t = x86_64_table()
    stubs = t.stubs  # what the entry holds
    spec = make_spec(sys_add10)
    t.install(Slot(600, "add10", "sys_add10", spec, user=True))
    assert t.stubs is stubs
    assert len(stubs) == 601
    assert stubs[600](None, [600] + [0] * 8) == 10  # type: ignore[arg-type]
    assert all(stubs[nr] is sys_ni_syscall for nr in range(463, 600))
    assert t.nr_syscalls == 463  # NR_syscalls is the .tbl's
    assert t.by_name("add10") is t.slots[600] and t.slots[600].user


def test_install_replaces_a_built_in_number() -> None:
    t = x86_64_table()
    stubs = t.stubs
    getpid = t.by_name("getpid")
    assert getpid is not None
    t.install(Slot(getpid.nr, "getpid", "sys_add10", make_spec(sys_add10), user=True))
    assert stubs[getpid.nr](None, [getpid.nr] + [0] * 8) == 10  # type: ignore[arg-type]
    assert len(stubs) == 463
    assert x86_64_table().stubs[getpid.nr] is REGISTRY["sys_getpid"].stub(64)  # other tables unchanged
