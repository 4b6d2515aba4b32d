"""getdents, getdents64, statfs, fstatfs traced as strace 6.1 prints them (strings from
the host's strace on static C programs calling syscall(2); records built byte by byte)."""

from __future__ import annotations

import os
import struct

import pytest

from sysgate.syscall import REGISTRY
from sysgate.trace.decoders.statfs import STATFS, print_statfs
from sysgate.trace.options import TraceOptions
from sysgate.trace.printers import PRINTERS, Ctx
from sysgate.uapi import fcntl as o
from sysgate.uapi import magic
from sysgate.uapi import statfs as st
from tests.conftest import EDGE, USER_BUF, put_str, sys
from tests.unit.trace.conftest import line, traced

NAME = USER_BUF
BUF = USER_BUF + 0x1000



def dirent64(ino: int, off: int, dtype: int, name: bytes, reclen: int | None = None) -> bytes:
    size = (19 + len(name) + 1 + 7) & ~7
    return struct.pack("<QqHB", ino, off, reclen or size, dtype) + name.ljust(size - 19, b"\0")


def dirent(ino: int, off: int, dtype: int, name: bytes) -> bytes:
    size = (18 + len(name) + 2 + 7) & ~7
    return struct.pack("<QQH", ino, off, size) + name.ljust(size - 19, b"\0") + bytes([dtype])


def print_dents(task, name: str, data: bytes, ret: int | None = None, count: int = 4096, verbose: bool = True,
                where: int = BUF, **opts: object) -> str:
    """The buffer argument of getdents/getdents64 as printed when the call returned `ret`."""
    task.mm.write(where, data)
    spec = REGISTRY[f"sys_{name}"]
    options = TraceOptions()
    options.verbose = verbose
    for k, v in opts.items():
        setattr(options, k, v)
    ctx = Ctx(task, options, spec, [3, where, count], exiting=True, ret=len(data) if ret is None else ret)
    out = PRINTERS[f"struct {spec.params[1].arg.struct}"](ctx, where, spec.params[1])
    assert out is not None
    return out


# -- getdents64 and getdents ----------------------------------------------------------------------


ENTRIES = (
    dirent64(2229153, 2232908316014189079, 8, b"bb") + dirent64(2229105, 6357504699377170974, 4, b".")
    + dirent64(2228429, 7709387121495409031, 4, b"..") + dirent64(2229137, 2**63 - 1, 8, b"a")
)


def test_getdents64_abbreviated_counts_the_entries(task):
    assert print_dents(task, "getdents64", ENTRIES, verbose=False) == f"{BUF:#x} /* 4 entries */"
    assert print_dents(task, "getdents64", b"", verbose=False) == f"{BUF:#x} /* 0 entries */"


def test_getdents64_verbose(task):
    assert print_dents(task, "getdents64", ENTRIES) == (
        '[{d_ino=2229153, d_off=2232908316014189079, d_reclen=24, d_type=DT_REG, d_name="bb"}, '
        '{d_ino=2229105, d_off=6357504699377170974, d_reclen=24, d_type=DT_DIR, d_name="."}, '
        '{d_ino=2228429, d_off=7709387121495409031, d_reclen=24, d_type=DT_DIR, d_name=".."}, '
        '{d_ino=2229137, d_off=9223372036854775807, d_reclen=24, d_type=DT_REG, d_name="a"}]')
    assert print_dents(task, "getdents64", b"") == "[]"
    assert print_dents(task, "getdents64", dirent64(1, 2, 4, b"."), xlat_style="verbose") == (
        '[{d_ino=1, d_off=2, d_reclen=24, d_type=0x4 /* DT_DIR */, d_name="."}]')
    assert print_dents(task, "getdents64", dirent64(1, 2, 99, b"."), xlat_style="raw") == (
        '[{d_ino=1, d_off=2, d_reclen=24, d_type=0x63, d_name="."}]')
    assert print_dents(task, "getdents64", dirent64(1, 2, 99, b".")) == (
        '[{d_ino=1, d_off=2, d_reclen=24, d_type=0x63 /* DT_??? */, d_name="."}]')


def test_getdents64_names_are_paths_not_cut_at_s(task):
    long = b"n" * 40
    assert print_dents(task, "getdents64", dirent64(1, 2, 8, long), string_limit=4) == (
        f'[{{d_ino=1, d_off=2, d_reclen=64, d_type=DT_REG, d_name="{"n" * 40}"}}]')
    assert print_dents(task, "getdents64", dirent64(1, 2, 8, b"\xff"), xflag=1) == (
        '[{d_ino=1, d_off=2, d_reclen=24, d_type=DT_REG, d_name="\\xff"}]')


def test_getdents64_broken_records(task):
    short = dirent64(1, 2, 8, b"a")[:10]
    assert print_dents(task, "getdents64", short) == '"' + "".join(f"\\x{c:02x}" for c in short) + '"'
    over = dirent64(1, 2, 8, b"a", reclen=40)
    assert print_dents(task, "getdents64", over, verbose=False) == (
        f"{BUF:#x} /* d_reclen 16 bytes overflow */ /* 1 entries */")
    assert print_dents(task, "getdents64", over) == (
        '[{d_ino=1, d_off=2, d_reclen=40 /* 16 bytes overflow */, d_type=DT_REG, d_name="a"}]')
    under = dirent64(1, 2, 8, b"a", reclen=8) + bytes(8)
    assert print_dents(task, "getdents64", under, verbose=False) == (
        f"{BUF:#x} /* d_reclen 11 bytes underflow */ /* 1+ entries */")


def test_getdents64_records_running_into_unmapped_memory(task):
    rec = dirent64(1, 2, 8, b"a")
    where = EDGE + 0x1000 - len(rec)
    assert print_dents(task, "getdents64", rec, ret=len(rec) * 2, count=8192, where=where) == (
        f'[{{d_ino=1, d_off=2, d_reclen=24, d_type=DT_REG, d_name="a"}}, ... /* {EDGE + 0x1000:#x} */]')


def test_getdents_puts_d_type_after_d_name(task):
    data = dirent(2229153, 1, 8, b"bb") + dirent(2229105, 2, 4, b".")
    assert print_dents(task, "getdents", data) == (
        '[{d_ino=2229153, d_off=1, d_reclen=24, d_name="bb", d_type=DT_REG}, '
        '{d_ino=2229105, d_off=2, d_reclen=24, d_name=".", d_type=DT_DIR}]')
    assert print_dents(task, "getdents", data, verbose=False) == f"{BUF:#x} /* 2 entries */"


def test_getdents64_traced(task, tmp_path):
    (tmp_path / "a").write_text("")
    inos = [os.stat(tmp_path / n).st_ino for n in (".", "..", "a")]
    put_str(task, ".")
    dfd = sys(task, "open", NAME, o.O_RDONLY | o.O_DIRECTORY, 0)
    assert traced(task, "getdents64", dfd, BUF, 4096) == line(f"getdents64(3, {BUF:#x} /* 3 entries */, 4096)", "72")
    sys(task, "lseek", dfd, 0, 0)
    out = traced(task, "getdents64", dfd, BUF, 4096, options=("-v",))
    assert out.startswith(f'getdents64(3, [{{d_ino={inos[0]}, d_off=')
    assert 'd_reclen=24, d_type=DT_DIR, d_name="."}, ' in out
    assert f'{{d_ino={inos[1]}, d_off=' in out
    assert out.endswith('d_type=DT_REG, d_name="a"}], 4096) = 72\n')
    assert f'{{d_ino={inos[2]}, d_off=' in out
    assert traced(task, "getdents64", dfd, BUF, 4096, options=("-v",)) == line("getdents64(3, [], 4096)", "0")
    assert traced(task, "getdents64", dfd, BUF, 10) == line(f"getdents64(3, {BUF:#x} /* 0 entries */, 10)", "0")
    assert traced(task, "getdents64", 99, BUF, 10) == line(f"getdents64(99, {BUF:#x}, 10)",
                                                           "-1 EBADF (Bad file descriptor)")
    sys(task, "lseek", dfd, 0, 0)
    assert traced(task, "getdents64", dfd, BUF, 10) == line(f"getdents64(3, {BUF:#x}, 10)",
                                                            "-1 EINVAL (Invalid argument)")
    assert traced(task, "getdents", dfd, BUF, 4096, options=("-y",)) == line(
        f"getdents(3<{os.path.realpath(tmp_path)}>, {BUF:#x} /* 3 entries */, 4096)", "72")


# -- statfs ---------------------------------------------------------------------------------------


def statfs_bytes(f_type: int, flags: int) -> bytes:
    return STATFS.pack(f_type, 4096, 66053021, 59843851, 20388558, 16777216, 16259037, 0x4C5ACE82, 0xE60719E3,
                       255, 4096, flags)


@pytest.mark.parametrize(("style", "f_type", "flags"), [
    ("abbrev", "EXT2_SUPER_MAGIC", "ST_VALID|ST_RELATIME"),
    ("verbose", "0xef53 /* EXT2_SUPER_MAGIC */", "0x1020 /* ST_VALID|ST_RELATIME */"),
    ("raw", "0xef53", "0x1020"),
])
def test_struct_statfs(task, style, f_type, flags):
    options = TraceOptions()
    options.xlat_style = style
    ctx = Ctx(task, options, None, [])
    assert print_statfs(ctx, statfs_bytes(magic.EXT2_SUPER_MAGIC, st.ST_VALID | st.ST_RELATIME)) == (
        f"{{f_type={f_type}, f_bsize=4096, f_blocks=66053021, f_bfree=59843851, f_bavail=20388558, "
        f"f_files=16777216, f_ffree=16259037, f_fsid={{val=[0x4c5ace82, 0xe60719e3]}}, f_namelen=255, "
        f"f_frsize=4096, f_flags={flags}}}")


def test_struct_statfs_unknown_type_and_flags_without_st_valid(task):
    ctx = Ctx(task, TraceOptions(), None, [])
    out = print_statfs(ctx, statfs_bytes(0x12345, st.ST_RDONLY))
    assert out.startswith("{f_type=0x12345, f_bsize=4096, ")
    assert out.endswith(", f_namelen=255, f_frsize=4096}")
    out = print_statfs(ctx, statfs_bytes(magic.PROC_SUPER_MAGIC, st.ST_VALID | 0x100000))
    assert out.startswith("{f_type=PROC_SUPER_MAGIC, ")
    assert out.endswith(", f_flags=ST_VALID|0x100000}")


def test_statfs_traced(task, tmp_path):
    put_str(task, str(tmp_path))
    out = traced(task, "statfs", NAME, BUF)
    assert out.startswith(f'statfs("{tmp_path}", {{f_type=')
    assert ", f_flags=ST_VALID" in out and out.endswith("}) = 0\n")
    put_str(task, "/proc")
    assert traced(task, "statfs", NAME, BUF).startswith('statfs("/proc", {f_type=PROC_SUPER_MAGIC, f_bsize=')
    put_str(task, "/nonexistent")
    assert traced(task, "statfs", NAME, BUF) == line(f'statfs("/nonexistent", {BUF:#x})',
                                                     "-1 ENOENT (No such file or directory)")
    assert traced(task, "fstatfs", 0, 8) == line("fstatfs(0, 0x8)", "-1 EFAULT (Bad address)")
