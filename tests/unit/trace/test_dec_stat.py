"""stat, lstat, fstat, newfstatat, statx, readlink, readlinkat, access, faccessat,
faccessat2 traced as strace 6.1 prints them (strings from the host's strace on static C
programs calling syscall(2); the structures' values from struct stat/statx bytes)."""

from __future__ import annotations

import os
import struct

import pytest

from sysgate.trace.decoders.stat import STAT, print_dev, print_struct_stat, symbolic_mode
from sysgate.trace.decoders.statx import print_statx
from sysgate.trace.decoders.time import sprinttime
from sysgate.trace.options import TraceOptions
from sysgate.trace.printers import Ctx
from sysgate.uapi import fcntl as o
from sysgate.uapi import stat as s
from tests.conftest import USER_BUF, put_str
from tests.unit.trace.conftest import line, traced

NAME = USER_BUF
BUF = USER_BUF + 0x1000
T = 1672628645  # 2023-01-02T03:04:05+0000




def ctx_of(task, verbose: bool = False, style: str = "abbrev") -> Ctx:
    opts = TraceOptions()
    opts.verbose, opts.xlat_style = verbose, style
    return Ctx(task, opts, None, [])


def stat_bytes(mode: int, size: int = 12, rdev: int = 0, dev: int = 0xFE00, times: tuple[int, int] = (T, 123456789),
               uid: int = 0) -> bytes:
    sec, nsec = times
    return STAT.pack(dev, 2229389, 1, mode, uid, 0, rdev, size, 4096, 8, sec, nsec, sec, nsec, 0, 0)


# -- modes, devices, times ------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "abbrev", "verbose", "raw"), [
    (0o100644, "S_IFREG|0644", "0100644 /* S_IFREG|0644 */", "0100644"),
    (0o21777, "S_IFCHR|S_ISVTX|0777", "021777 /* S_IFCHR|S_ISVTX|0777 */", "021777"),
    (0o66644, "S_IFBLK|S_ISUID|S_ISGID|0644", "066644 /* S_IFBLK|S_ISUID|S_ISGID|0644 */", "066644"),
    (0o644, "0644", "0644 /* 0644 */", "0644"),
    (0o100000, "S_IFREG|000", "0100000 /* S_IFREG|000 */", "0100000"),
    (0o170644, "0170644", "0170644", "0170644"),  # no such file type: the number only
])
def test_symbolic_mode(mode, abbrev, verbose, raw):
    assert symbolic_mode("abbrev", mode) == abbrev
    assert symbolic_mode("verbose", mode) == verbose
    assert symbolic_mode("raw", mode) == raw


@pytest.mark.parametrize(("dev", "abbrev", "verbose"), [
    (0x103, "makedev(0x1, 0x3)", "0x103 /* makedev(0x1, 0x3) */"),
    (0xFE00, "makedev(0xfe, 0)", "0xfe00 /* makedev(0xfe, 0) */"),
    (0x6, "makedev(0, 0x6)", "0x6 /* makedev(0, 0x6) */"),
    (0x12310345, "makedev(0x103, 0x12345)", "0x12310345 /* makedev(0x103, 0x12345) */"),
])
def test_print_dev(dev, abbrev, verbose):
    assert print_dev("abbrev", dev) == abbrev
    assert print_dev("verbose", dev) == verbose
    assert print_dev("raw", dev) == f"{dev:#x}"


def test_sprinttime(utc):
    assert sprinttime(T, 123456789, 10**9 - 1, 9) == "2023-01-02T03:04:05.123456789+0000"
    assert sprinttime(T, 0, 10**9 - 1, 9) == "2023-01-02T03:04:05+0000"
    assert sprinttime(T, 123456, 10**6 - 1, 6) == "2023-01-02T03:04:05.123456+0000"
    assert sprinttime(0, 0, 10**9 - 1, 9) is None
    assert sprinttime(T, 1000000000, 10**9 - 1, 9) is None  # not a nanosecond count
    assert sprinttime(1 << 62) is None  # beyond what localtime holds


# -- struct stat ----------------------------------------------------------------------------------


def test_struct_stat_abbreviated(task):
    ctx = ctx_of(task)
    assert print_struct_stat(ctx, stat_bytes(0o100644)) == "{st_mode=S_IFREG|0644, st_size=12, ...}"
    assert print_struct_stat(ctx, stat_bytes(0o21777, rdev=0x103)) == (
        "{st_mode=S_IFCHR|S_ISVTX|0777, st_rdev=makedev(0x1, 0x3), ...}")
    assert print_struct_stat(ctx, stat_bytes(0o100644, size=2**64 - 1)) == (
        "{st_mode=S_IFREG|0644, st_size=18446744073709551615, ...}")  # strace reads it unsigned


def test_struct_stat_verbose(task, utc):
    want = ("{st_dev=makedev(0xfe, 0), st_ino=2229389, st_mode=S_IFREG|0644, st_nlink=1, st_uid=0, st_gid=0, "
            "st_blksize=4096, st_blocks=8, st_size=12, "
            "st_atime=1672628645 /* 2023-01-02T03:04:05.123456789+0000 */, st_atime_nsec=123456789, "
            "st_mtime=1672628645 /* 2023-01-02T03:04:05.123456789+0000 */, st_mtime_nsec=123456789, "
            "st_ctime=0, st_ctime_nsec=0}")
    assert print_struct_stat(ctx_of(task, verbose=True), stat_bytes(0o100644)) == want
    raw = print_struct_stat(ctx_of(task, verbose=True, style="raw"), stat_bytes(0o20644, rdev=0x103, dev=6))
    assert raw.startswith("{st_dev=0x6, st_ino=2229389, st_mode=020644, ")
    assert ", st_blocks=8, st_rdev=0x103, st_atime=1672628645 /* 2023-01-02T03:04:05.123456789+0000 */, " in raw
    verbose = print_struct_stat(ctx_of(task, verbose=True, style="verbose"), stat_bytes(0o120777, dev=0xFE00))
    assert verbose.startswith("{st_dev=0xfe00 /* makedev(0xfe, 0) */, st_ino=2229389, "
                              "st_mode=0120777 /* S_IFLNK|0777 */, ")


def test_stat_of_a_file_and_a_link(task, tmp_path):
    (tmp_path / "sf").write_text("hello world\n")
    os.chmod(tmp_path / "sf", 0o644)
    os.symlink("sf", tmp_path / "sl")
    put_str(task, "sf")
    assert traced(task, "stat", NAME, BUF) == line('stat("sf", {st_mode=S_IFREG|0644, st_size=12, ...})', "0")
    put_str(task, "sl")
    assert traced(task, "lstat", NAME, BUF) == line('lstat("sl", {st_mode=S_IFLNK|0777, st_size=2, ...})', "0")
    assert traced(task, "newfstatat", o.AT_FDCWD, NAME, BUF, o.AT_SYMLINK_NOFOLLOW | o.AT_NO_AUTOMOUNT) == line(
        'newfstatat(AT_FDCWD, "sl", {st_mode=S_IFLNK|0777, st_size=2, ...}, AT_SYMLINK_NOFOLLOW|AT_NO_AUTOMOUNT)',
        "0")


def test_fstat_with_y_and_verbose(task, tmp_path, utc):
    (tmp_path / "sf").write_text("hello world\n")
    os.chmod(tmp_path / "sf", 0o644)
    put_str(task, "sf")
    assert traced(task, "open", NAME, o.O_RDONLY | o.O_CREAT, 0) == line('open("sf", O_RDONLY|O_CREAT, 000)', "3")
    st = os.stat(tmp_path / "sf")
    want = print_struct_stat(ctx_of(task, verbose=True), _host_stat(st))  # the host's answer, as printed
    assert traced(task, "fstat", 3, BUF, options=("-v", "-y")) == line(
        f"fstat(3<{os.path.realpath(tmp_path)}/sf>, {want})", "0")


def _host_stat(st: os.stat_result) -> bytes:
    return STAT.pack(st.st_dev, st.st_ino, st.st_nlink, st.st_mode, st.st_uid, st.st_gid, st.st_rdev, st.st_size,
                     st.st_blksize, st.st_blocks, int(st.st_atime), st.st_atime_ns % 10**9, int(st.st_mtime),
                     st.st_mtime_ns % 10**9, int(st.st_ctime), st.st_ctime_ns % 10**9)


def test_stat_failures_print_the_address(task):
    put_str(task, "/nonexistent")
    assert traced(task, "lstat", NAME, BUF) == line(f'lstat("/nonexistent", {BUF:#x})',
                                                    "-1 ENOENT (No such file or directory)")
    assert traced(task, "fstat", 99, BUF) == line(f"fstat(99, {BUF:#x})", "-1 EBADF (Bad file descriptor)")
    put_str(task, ".")
    assert traced(task, "stat", NAME, 8) == line('stat(".", 0x8)', "-1 EFAULT (Bad address)")


@pytest.mark.parametrize(("flags", "options", "shown"), [
    (0x200, (), "AT_REMOVEDIR"),  # at_flags names 0x200 so, whatever the call
    (0x10000, (), "0x10000 /* AT_??? */"),
    (0x10000, ("-X", "raw"), "0x10000"),
    (o.AT_SYMLINK_NOFOLLOW | 0x10000, ("-X", "verbose"), "0x10100 /* AT_SYMLINK_NOFOLLOW|0x10000 */"),
])
def test_newfstatat_flags(task, flags, options, shown):
    put_str(task, ".")
    dirfd = "-100" if options else "AT_FDCWD"
    if options == ("-X", "verbose"):
        dirfd = "-100 /* AT_FDCWD */"
    assert traced(task, "newfstatat", o.AT_FDCWD, NAME, BUF, flags, options=options) == line(
        f'newfstatat({dirfd}, ".", {BUF:#x}, {shown})', "-1 EINVAL (Invalid argument)")


# -- statx ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("flags", "style", "shown"), [
    (0, "abbrev", "AT_STATX_SYNC_AS_STAT"),
    (0, "verbose", "0 /* AT_STATX_SYNC_AS_STAT */"),
    (0, "raw", ""),
    (o.AT_STATX_FORCE_SYNC | o.AT_SYMLINK_NOFOLLOW, "abbrev", "AT_STATX_FORCE_SYNC|AT_SYMLINK_NOFOLLOW"),
    (o.AT_EMPTY_PATH | o.AT_STATX_DONT_SYNC, "abbrev", "AT_STATX_DONT_SYNC|AT_EMPTY_PATH"),
    (o.AT_STATX_SYNC_TYPE, "abbrev", "AT_STATX_FORCE_SYNC|AT_STATX_DONT_SYNC"),
    (o.AT_EMPTY_PATH, "raw", "|0x1000"),
    (o.AT_EMPTY_PATH | o.AT_STATX_DONT_SYNC, "raw", "0x4000|0x1000"),
    (o.AT_EMPTY_PATH, "verbose", "0 /* AT_STATX_SYNC_AS_STAT */|0x1000 /* AT_EMPTY_PATH */"),
])
def test_statx_flags(task, flags, style, shown):
    put_str(task, "/nonexistent")
    dirfd = {"abbrev": "AT_FDCWD", "verbose": "-100 /* AT_FDCWD */", "raw": "-100"}[style]
    mask = {"abbrev": "STATX_ALL|0x4000", "verbose": "0x4fff /* STATX_ALL|0x4000 */", "raw": "0x4fff"}[style]
    out = traced(task, "statx", o.AT_FDCWD, NAME, flags, s.STATX_ALL | 0x4000, BUF, options=("-X", style))
    assert out.startswith(f'statx({dirfd}, "/nonexistent", {shown}, {mask}, {BUF:#x}) ')


def test_statx_mask_names(task):
    put_str(task, ".")
    assert traced(task, "statx", o.AT_FDCWD, NAME, 0, s.STATX__RESERVED, BUF) == line(
        f'statx(AT_FDCWD, ".", AT_STATX_SYNC_AS_STAT, 0x80000000 /* STATX_??? */, {BUF:#x})',
        "-1 EINVAL (Invalid argument)")
    out = traced(task, "statx", o.AT_FDCWD, NAME, 0, s.STATX_TYPE | s.STATX_SIZE, BUF)
    assert out.startswith('statx(AT_FDCWD, ".", AT_STATX_SYNC_AS_STAT, STATX_TYPE|STATX_SIZE, {stx_mask=')


STATX_HEAD = struct.Struct("<IIQIIIH2xQQQQ")


def statx_bytes(mask: int, mode: int = 0o100644, uid: int = 0) -> bytes:
    head = STATX_HEAD.pack(mask, 4096, 0, 1, uid, 0, mode, 2229389, 12, 8, 0x203070)
    stamps = struct.pack("<qI4x", T, 123456789) + struct.pack("<qI4x", T + 1, 0) + bytes(32)
    tail = struct.pack("<IIIIQII", 1, 3, 254, 0, 0x1B, 0, 0)
    return (head + stamps + tail).ljust(256, b"\0")


def test_struct_statx_abbreviated(task):
    ctx = ctx_of(task)
    assert print_statx(ctx, statx_bytes(s.STATX_ALL | s.STATX_MNT_ID)) == (
        "{stx_mask=STATX_ALL|STATX_MNT_ID, stx_attributes=0, stx_mode=S_IFREG|0644, stx_size=12, ...}")
    assert print_statx(ctx, statx_bytes(s.STATX_NLINK)) == "{stx_mask=STATX_NLINK, stx_attributes=0, ...}"


def test_struct_statx_verbose(task, utc):
    want = ("{stx_mask=STATX_ALL|STATX_MNT_ID, stx_blksize=4096, stx_attributes=0, stx_nlink=1, "
            "stx_uid=-1, stx_gid=0, stx_mode=S_IFREG|0644, stx_ino=2229389, stx_size=12, stx_blocks=8, "
            "stx_attributes_mask=STATX_ATTR_IMMUTABLE|STATX_ATTR_APPEND|STATX_ATTR_NODUMP|STATX_ATTR_AUTOMOUNT"
            "|STATX_ATTR_MOUNT_ROOT|STATX_ATTR_DAX, "
            "stx_atime={tv_sec=1672628645, tv_nsec=123456789} /* 2023-01-02T03:04:05.123456789+0000 */, "
            "stx_btime={tv_sec=1672628646, tv_nsec=0} /* 2023-01-02T03:04:06+0000 */, "
            "stx_ctime={tv_sec=0, tv_nsec=0}, stx_mtime={tv_sec=0, tv_nsec=0}, "
            "stx_rdev_major=1, stx_rdev_minor=3, stx_dev_major=254, stx_dev_minor=0, stx_mnt_id=0x1b}")
    raw = statx_bytes(s.STATX_BASIC_STATS | s.STATX_BTIME | s.STATX_MNT_ID, uid=0xFFFFFFFF)
    assert print_statx(ctx_of(task, verbose=True), raw) == want
    raw = statx_bytes(s.STATX_TYPE | s.STATX_DIOALIGN)
    assert print_statx(ctx_of(task, verbose=True), raw).endswith(
        "stx_dev_minor=0, stx_dio_mem_align=0, stx_dio_offset_align=0}")


def test_statx_of_a_file(task, tmp_path):
    (tmp_path / "sf").write_text("hello world\n")
    os.chmod(tmp_path / "sf", 0o644)
    put_str(task, "sf")
    out = traced(task, "statx", o.AT_FDCWD, NAME, 0, s.STATX_BASIC_STATS, BUF)
    assert out.startswith('statx(AT_FDCWD, "sf", AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS, {stx_mask=STATX_BASIC_STATS')
    assert out.endswith(", stx_attributes=0, stx_mode=S_IFREG|0644, stx_size=12, ...}) = 0\n")


# -- readlink -------------------------------------------------------------------------------------


def test_readlink_shows_the_bytes_returned(task, tmp_path):
    os.symlink("sf", tmp_path / "sl")
    put_str(task, "sl")
    assert traced(task, "readlink", NAME, BUF, 64) == line('readlink("sl", "sf", 64)', "2")
    assert traced(task, "readlink", NAME, BUF, 1) == line('readlink("sl", "s", 1)', "1")
    assert traced(task, "readlink", NAME, BUF, 64, options=("-s", "1")) == line('readlink("sl", "s"..., 64)', "2")
    assert traced(task, "readlinkat", o.AT_FDCWD, NAME, BUF, 64) == line('readlinkat(AT_FDCWD, "sl", "sf", 64)', "2")


def test_readlink_failures(task, tmp_path):
    (tmp_path / "sf").write_text("")
    put_str(task, "sf")
    assert traced(task, "readlink", NAME, BUF, 64) == line(f'readlink("sf", {BUF:#x}, 64)',
                                                          "-1 EINVAL (Invalid argument)")
    assert traced(task, "readlinkat", o.AT_FDCWD, NAME, BUF, -1) == line(
        f'readlinkat(AT_FDCWD, "sf", {BUF:#x}, 18446744073709551615)', "-1 EINVAL (Invalid argument)")


# -- access ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "shown", "result"), [
    (o.R_OK | o.W_OK, "R_OK|W_OK", "0"),
    (o.F_OK, "F_OK", "0"),
    (o.R_OK | o.W_OK | o.X_OK, "R_OK|W_OK|X_OK", None),
    (8, "0x8 /* ?_OK */", "-1 EINVAL (Invalid argument)"),
    (o.X_OK | 8, "X_OK|0x8", "-1 EINVAL (Invalid argument)"),
])
def test_access_modes(task, tmp_path, mode, shown, result):
    (tmp_path / "f").write_text("")
    os.chmod(tmp_path / "f", 0o644)
    put_str(task, "f")
    out = traced(task, "access", NAME, mode)
    assert out.startswith(f'access("f", {shown})')
    if result is not None:
        assert out == line(f'access("f", {shown})', result)


def test_faccessat_and_faccessat2(task, tmp_path):
    (tmp_path / "f").write_text("")
    put_str(task, "f")
    assert traced(task, "faccessat", o.AT_FDCWD, NAME, o.W_OK) == line('faccessat(AT_FDCWD, "f", W_OK)', "0")
    assert traced(task, "faccessat2", o.AT_FDCWD, NAME, o.W_OK, o.AT_EACCESS | o.AT_SYMLINK_NOFOLLOW) == line(
        'faccessat2(AT_FDCWD, "f", W_OK, AT_SYMLINK_NOFOLLOW|AT_EACCESS)', "0")
    assert traced(task, "faccessat2", o.AT_FDCWD, NAME, o.R_OK, 0x400) == line(
        'faccessat2(AT_FDCWD, "f", R_OK, 0x400 /* AT_??? */)', "-1 EINVAL (Invalid argument)")
    assert traced(task, "faccessat2", o.AT_FDCWD, NAME, o.R_OK, o.AT_EACCESS, options=("-X", "verbose")) == line(
        'faccessat2(-100 /* AT_FDCWD */, "f", 0x4 /* R_OK */, 0x200 /* AT_EACCESS */)', "0")
