"""chmod, chown, truncate, fallocate, utimensat, utimes, utime, umask, getcwd, chdir,
mkdir, mknod, rename, link, symlink, unlink and their *at forms traced as strace 6.1
prints them (strings from the host's strace on static C programs calling syscall(2))."""

from __future__ import annotations

import os
import struct

import pytest

from sysgate.syscall import REGISTRY
from sysgate.trace.options import TraceOptions
from sysgate.trace.printers import PRINTERS, Ctx
from sysgate.uapi import fcntl as o
from sysgate.uapi import stat as s
from tests.conftest import USER_BUF, put_str, sys
from tests.unit.trace.conftest import line, traced

NAME = USER_BUF
NAME2 = USER_BUF + 0x400
TIMES = USER_BUF + 0x800
BUF = USER_BUF + 0x1000
T = 1672628645  # 2023-01-02T03:04:05+0000




@pytest.fixture
def x1(task, tmp_path) -> int:
    """A file "x1" in the cwd, open as descriptor 3."""
    (tmp_path / "x1").write_text("")
    put_str(task, "x1")
    fd = sys(task, "open", NAME, o.O_RDWR, 0)
    assert fd == 3
    return fd


# -- modes and owners -----------------------------------------------------------------------------


def test_chmod_family(task, x1):
    assert traced(task, "chmod", NAME, 0o644) == line('chmod("x1", 0644)', "0")
    assert traced(task, "chmod", NAME, 0o4755) == line('chmod("x1", 04755)', "0")
    assert traced(task, "fchmod", x1, 0) == line("fchmod(3, 000)", "0")
    assert traced(task, "fchmodat", o.AT_FDCWD, NAME, 0o600) == line('fchmodat(AT_FDCWD, "x1", 0600)', "0")
    assert traced(task, "fchmodat", o.AT_FDCWD, NAME, 0o600, options=("-X", "verbose")) == line(
        'fchmodat(-100 /* AT_FDCWD */, "x1", 0600)', "0")


def test_chown_family_prints_minus_one_for_leave_it(task, x1):
    assert traced(task, "chown", NAME, -1, -1) == line('chown("x1", -1, -1)', "0")
    assert traced(task, "lchown", NAME, 1000, 0xFFFFFFFF).startswith('lchown("x1", 1000, -1) ')
    assert traced(task, "fchown", x1, -1, 0).startswith("fchown(3, -1, 0) ")
    assert traced(task, "fchownat", o.AT_FDCWD, NAME, -1, -1, o.AT_SYMLINK_NOFOLLOW) == line(
        'fchownat(AT_FDCWD, "x1", -1, -1, AT_SYMLINK_NOFOLLOW)', "0")
    put_str(task, "", NAME2)
    assert traced(task, "fchownat", x1, NAME2, -1, -1, o.AT_EMPTY_PATH) == line(
        'fchownat(3, "", -1, -1, AT_EMPTY_PATH)', "0")
    assert traced(task, "fchownat", x1, NAME2, -1, -1, o.AT_EMPTY_PATH, options=("-X", "verbose")) == line(
        'fchownat(3, "", -1, -1, 0x1000 /* AT_EMPTY_PATH */)', "0")


def test_umask_prints_modes_and_result_in_octal(task):
    assert traced(task, "umask", 0o777) == line("umask(0777)", "022")
    assert traced(task, "umask", 0o22) == line("umask(022)", "0777")
    assert traced(task, "umask", 0x10022) == line("umask(042)", "022")  # a umode_t: the low 16 bits
    assert traced(task, "umask", 0) == line("umask(000)", "042")
    assert traced(task, "umask", 0o22) == line("umask(022)", "000")  # %#03o, as the host strace prints it


# -- sizes and space ------------------------------------------------------------------------------


def test_truncate_and_ftruncate_print_lengths_unsigned(task, x1):
    assert traced(task, "truncate", NAME, 100) == line('truncate("x1", 100)', "0")
    assert traced(task, "truncate", NAME, -1) == line('truncate("x1", 18446744073709551615)',
                                                      "-1 EINVAL (Invalid argument)")
    assert traced(task, "ftruncate", x1, 10) == line("ftruncate(3, 10)", "0")
    assert traced(task, "ftruncate", x1, -1) == line("ftruncate(3, 18446744073709551615)",
                                                     "-1 EINVAL (Invalid argument)")


@pytest.mark.parametrize(("mode", "options", "shown"), [
    (0, (), "0"),
    (3, (), "FALLOC_FL_KEEP_SIZE|FALLOC_FL_PUNCH_HOLE"),
    (3, ("-X", "verbose"), "0x3 /* FALLOC_FL_KEEP_SIZE|FALLOC_FL_PUNCH_HOLE */"),
    (0x100, (), "0x100 /* FALLOC_FL_??? */"),
    (0x101, ("-X", "raw"), "0x101"),
])
def test_fallocate_mode(task, x1, mode, options, shown):
    out = traced(task, "fallocate", x1, mode, -1, 100, options=options)
    assert out == line(f"fallocate(3, {shown}, -1, 100)", "-1 EINVAL (Invalid argument)")


# -- times ----------------------------------------------------------------------------------------


def put_timespecs(task, a: tuple[int, int], m: tuple[int, int]) -> int:
    task.mm.write(TIMES, struct.pack("<qqqq", *a, *m))
    return TIMES


def test_utimensat_times_with_now_and_omit(task, x1, utc):
    put_timespecs(task, (T, 123456789), (0, s.UTIME_NOW))
    assert traced(task, "utimensat", o.AT_FDCWD, NAME, TIMES, 0) == line(
        'utimensat(AT_FDCWD, "x1", [{tv_sec=1672628645, tv_nsec=123456789} '
        "/* 2023-01-02T03:04:05.123456789+0000 */, UTIME_NOW], 0)", "0")
    put_timespecs(task, (T, s.UTIME_OMIT), (T, 0))
    assert traced(task, "utimensat", o.AT_FDCWD, NAME, TIMES, o.AT_SYMLINK_NOFOLLOW) == line(
        'utimensat(AT_FDCWD, "x1", [UTIME_OMIT, {tv_sec=1672628645, tv_nsec=0} /* 2023-01-02T03:04:05+0000 */], '
        "AT_SYMLINK_NOFOLLOW)", "0")
    assert traced(task, "utimensat", o.AT_FDCWD, NAME, TIMES, o.AT_SYMLINK_NOFOLLOW, options=("-X", "verbose")) == line(
        'utimensat(-100 /* AT_FDCWD */, "x1", [{tv_sec=1672628645, tv_nsec=1073741822} /* UTIME_OMIT */, '
        "{tv_sec=1672628645, tv_nsec=0} /* 2023-01-02T03:04:05+0000 */], 0x100 /* AT_SYMLINK_NOFOLLOW */)", "0")
    assert traced(task, "utimensat", o.AT_FDCWD, NAME, TIMES, 0, options=("-X", "raw")) == line(
        'utimensat(-100, "x1", [{tv_sec=1672628645, tv_nsec=1073741822}, '
        "{tv_sec=1672628645, tv_nsec=0} /* 2023-01-02T03:04:05+0000 */], 0)", "0")


def test_utimensat_null_zero_and_bad_times(task, x1, utc):
    assert traced(task, "utimensat", x1, 0, 0, 0) == line("utimensat(3, NULL, NULL, 0)", "0")
    put_timespecs(task, (0, 0), (T, 0))
    assert traced(task, "utimensat", x1, 0, TIMES, 0) == line(
        "utimensat(3, NULL, [{tv_sec=0, tv_nsec=0}, {tv_sec=1672628645, tv_nsec=0} /* 2023-01-02T03:04:05+0000 */], 0)",
        "0")
    put_timespecs(task, (0, 10**9), (T, 0))
    assert traced(task, "utimensat", x1, 0, TIMES, 0) == line(
        "utimensat(3, NULL, [{tv_sec=0, tv_nsec=1000000000}, {tv_sec=1672628645, tv_nsec=0} "
        "/* 2023-01-02T03:04:05+0000 */], 0)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "utimensat", x1, 0, 8, 0) == line("utimensat(3, NULL, 0x8, 0)", "-1 EFAULT (Bad address)")


def test_utimes_futimesat_utime(task, x1, utc):
    task.mm.write(TIMES, struct.pack("<qqqq", T, 123456, T + 1, 0))
    shown = ("[{tv_sec=1672628645, tv_usec=123456} /* 2023-01-02T03:04:05.123456+0000 */, "
             "{tv_sec=1672628646, tv_usec=0} /* 2023-01-02T03:04:06+0000 */]")
    assert traced(task, "utimes", NAME, TIMES) == line(f'utimes("x1", {shown})', "0")
    assert traced(task, "utimes", NAME, 0) == line('utimes("x1", NULL)', "0")
    assert traced(task, "futimesat", o.AT_FDCWD, NAME, TIMES) == line(f'futimesat(AT_FDCWD, "x1", {shown})', "0")
    task.mm.write(TIMES, struct.pack("<qq", T, 0))
    assert traced(task, "utime", NAME, TIMES) == line(
        'utime("x1", {actime=1672628645 /* 2023-01-02T03:04:05+0000 */, modtime=0})', "0")
    assert traced(task, "utime", NAME, 0) == line('utime("x1", NULL)', "0")
    assert traced(task, "utime", NAME, 8) == line('utime("x1", 0x8)', "-1 EFAULT (Bad address)")


# -- the working directory ------------------------------------------------------------------------


def test_getcwd_shows_the_path_not_cut_at_s(task, tmp_path):
    cwd = os.path.realpath(tmp_path)
    size = len(cwd) + 1
    assert traced(task, "getcwd", BUF, 256, options=("-s", "4")) == line(f'getcwd("{cwd}", 256)', str(size))
    assert traced(task, "getcwd", BUF, 2) == line(f"getcwd({BUF:#x}, 2)", "-1 ERANGE (Numerical result out of range)")


def test_chdir_and_fchdir(task, x1, tmp_path):
    put_str(task, "/nonexistent", NAME2)
    assert traced(task, "chdir", NAME2) == line('chdir("/nonexistent")', "-1 ENOENT (No such file or directory)")
    assert traced(task, "fchdir", x1, options=("-y",)) == line(
        f"fchdir(3<{os.path.realpath(tmp_path)}/x1>)", "-1 ENOTDIR (Not a directory)")
    put_str(task, str(tmp_path), NAME2)
    assert traced(task, "chdir", NAME2) == line(f'chdir("{tmp_path}")', "0")


# -- names ----------------------------------------------------------------------------------------


def test_mkdir_and_rmdir(task):
    put_str(task, "xd")
    assert traced(task, "mkdir", NAME, 0o755) == line('mkdir("xd", 0755)', "0")
    assert traced(task, "mkdirat", o.AT_FDCWD, NAME, 0o700) == line('mkdirat(AT_FDCWD, "xd", 0700)',
                                                                    "-1 EEXIST (File exists)")
    assert traced(task, "unlinkat", o.AT_FDCWD, NAME, o.AT_REMOVEDIR) == line(
        'unlinkat(AT_FDCWD, "xd", AT_REMOVEDIR)', "0")
    assert traced(task, "rmdir", NAME) == line('rmdir("xd")', "-1 ENOENT (No such file or directory)")


def test_mknod_device_of_character_and_block_files(task):
    put_str(task, "xr2")
    out = traced(task, "mknod", NAME, s.S_IFCHR | 0o644, 0x103)
    assert out.startswith('mknod("xr2", S_IFCHR|0644, makedev(0x1, 0x3)) ')
    out = traced(task, "mknodat", o.AT_FDCWD, NAME, s.S_IFBLK | s.S_ISUID | s.S_ISGID | 0o644, 0x12310345,
                 options=("-X", "verbose"))
    assert out.startswith('mknodat(-100 /* AT_FDCWD */, "xr2", 066644 /* S_IFBLK|S_ISUID|S_ISGID|0644 */, '
                          "0x12310345 /* makedev(0x103, 0x12345) */) ")
    assert traced(task, "mknodat", o.AT_FDCWD, NAME, s.S_IFBLK | 0o644, 0x103, options=("-X", "raw")).startswith(
        'mknodat(-100, "xr2", 060644, 0x103) ')


def test_mknod_dev_printer_leaves_the_device_out_for_other_files(task):
    spec = REGISTRY["sys_mknod"]
    ctx = Ctx(task, TraceOptions(), spec, [NAME, s.S_IFIFO | 0o644, 0x103])
    assert PRINTERS["mknod_dev"](ctx, 0x103, spec.params[2]) is None
    ctx.args[1] = s.S_IFBLK | 0o600
    assert PRINTERS["mknod_dev"](ctx, 0x103, spec.params[2]) == "makedev(0x1, 0x3)"


def test_mknod_without_a_device(task):
    put_str(task, "xf")
    assert traced(task, "mknod", NAME, s.S_IFIFO | 0o644, 0x103) == line('mknod("xf", S_IFIFO|0644)', "0")
    assert traced(task, "mknod", NAME, 0o170644, 0) == line('mknod("xf", 0170644)', "-1 EINVAL (Invalid argument)")
    put_str(task, "xr")
    assert traced(task, "mknodat", o.AT_FDCWD, NAME, 0o644, 0) == line('mknodat(AT_FDCWD, "xr", 0644)', "0")
    put_str(task, "xr2")
    assert traced(task, "mknodat", o.AT_FDCWD, NAME, s.S_IFREG, 0, options=("-X", "verbose")) == line(
        'mknodat(-100 /* AT_FDCWD */, "xr2", 0100000 /* S_IFREG|000 */)', "0")


@pytest.mark.parametrize(("flags", "options", "shown", "result"), [
    (o.RENAME_NOREPLACE, (), "RENAME_NOREPLACE", "-1 EEXIST (File exists)"),
    (o.RENAME_NOREPLACE, ("-X", "verbose"), "0x1 /* RENAME_NOREPLACE */", "-1 EEXIST (File exists)"),
    (o.RENAME_EXCHANGE | o.RENAME_WHITEOUT, (), "RENAME_EXCHANGE|RENAME_WHITEOUT", "-1 EINVAL (Invalid argument)"),
    (8, (), "0x8 /* RENAME_?? */", "-1 EINVAL (Invalid argument)"),
])
def test_renameat2_flags(task, tmp_path, flags, options, shown, result):
    (tmp_path / "xf").write_text("")
    (tmp_path / "x1").write_text("")
    put_str(task, "xf")
    put_str(task, "x1", NAME2)
    dirfd = "-100 /* AT_FDCWD */" if options else "AT_FDCWD"
    assert traced(task, "renameat2", o.AT_FDCWD, NAME, o.AT_FDCWD, NAME2, flags, options=options) == line(
        f'renameat2({dirfd}, "xf", {dirfd}, "x1", {shown})', result)


def test_rename_link_symlink_unlink(task, tmp_path):
    (tmp_path / "x1").write_text("")
    put_str(task, "x1")
    put_str(task, "xl", NAME2)
    assert traced(task, "rename", NAME, NAME2) == line('rename("x1", "xl")', "0")
    assert traced(task, "renameat", o.AT_FDCWD, NAME2, o.AT_FDCWD, NAME) == line(
        'renameat(AT_FDCWD, "xl", AT_FDCWD, "x1")', "0")
    assert traced(task, "link", NAME, NAME2) == line('link("x1", "xl")', "0")
    put_str(task, "xl2", NAME2)
    assert traced(task, "linkat", o.AT_FDCWD, NAME, o.AT_FDCWD, NAME2, o.AT_SYMLINK_FOLLOW) == line(
        'linkat(AT_FDCWD, "x1", AT_FDCWD, "xl2", AT_SYMLINK_FOLLOW)', "0")
    assert traced(task, "unlinkat", o.AT_FDCWD, NAME2, 0) == line('unlinkat(AT_FDCWD, "xl2", 0)', "0")
    put_str(task, "xs", NAME2)
    assert traced(task, "symlink", NAME, NAME2) == line('symlink("x1", "xs")', "0")
    assert traced(task, "symlinkat", NAME, o.AT_FDCWD, NAME2) == line('symlinkat("x1", AT_FDCWD, "xs")',
                                                                      "-1 EEXIST (File exists)")
    assert traced(task, "unlinkat", o.AT_FDCWD, NAME2, 1) == line('unlinkat(AT_FDCWD, "xs", 0x1 /* AT_??? */)',
                                                                  "-1 EINVAL (Invalid argument)")
    assert traced(task, "unlink", NAME2) == line('unlink("xs")', "0")
