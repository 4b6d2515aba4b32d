"""open, openat, creat, openat2, close, close_range traced as strace 6.1 prints them (the
strings were taken from the host's strace on static C programs calling syscall(2))."""

from __future__ import annotations

import os
import struct

import pytest

from sysgate.syscall import REGISTRY
from sysgate.trace.decoders.open import open_modes
from sysgate.trace.options import TraceOptions
from sysgate.trace.printers import PRINTERS, Ctx, umode
from sysgate.uapi import fcntl as o
from tests.conftest import UNMAPPED, USER_BUF, put_str
from tests.unit.trace.conftest import line, traced

NAME = USER_BUF
HOW = USER_BUF + 0x800



def put_how(task, flags: int, mode: int = 0, resolve: int = 0, tail: bytes = b"") -> int:
    task.mm.write(HOW, struct.pack("<QQQ", flags, mode, resolve) + tail)
    return HOW


# -- the flags and the mode ---------------------------------------------------------------------


@pytest.mark.parametrize(("flags", "abbrev", "verbose"), [
    (o.O_WRONLY | o.O_CREAT | o.O_TRUNC, "O_WRONLY|O_CREAT|O_TRUNC", "0x241 /* O_WRONLY|O_CREAT|O_TRUNC */"),
    (o.O_RDWR | o.O_APPEND | o.O_NONBLOCK | o.O_SYNC | o.O_NOFOLLOW, "O_RDWR|O_APPEND|O_NONBLOCK|O_SYNC|O_NOFOLLOW",
     "0x121c02 /* O_RDWR|O_APPEND|O_NONBLOCK|O_SYNC|O_NOFOLLOW */"),
    (o.O_TMPFILE | o.O_RDWR, "O_RDWR|O_TMPFILE", "0x410002 /* O_RDWR|O_TMPFILE */"),
    (o.O_PATH | o.O_DIRECTORY | o.O_CLOEXEC, "O_RDONLY|O_CLOEXEC|O_PATH|O_DIRECTORY",
     "0x290000 /* O_RDONLY|O_CLOEXEC|O_PATH|O_DIRECTORY */"),
    (0x40000000, "O_RDONLY|0x40000000", "0x40000000 /* O_RDONLY|0x40000000 */"),
    (o.O_ACCMODE | o.O_DSYNC | o.O_NOATIME | o.O_DIRECT | o.FASYNC | o.O_NOCTTY | o.O_EXCL,
     "O_ACCMODE|O_EXCL|O_NOCTTY|O_DSYNC|O_DIRECT|O_NOATIME|FASYNC",
     "0x47183 /* O_ACCMODE|O_EXCL|O_NOCTTY|O_DSYNC|O_DIRECT|O_NOATIME|FASYNC */"),
    (0, "O_RDONLY", "0 /* O_RDONLY */"),
])
def test_open_modes(flags, abbrev, verbose):
    assert open_modes("abbrev", flags) == abbrev
    assert open_modes("verbose", flags) == verbose
    assert open_modes("raw", flags) == (f"{flags:#x}" if flags else "0")


def test_umode_is_octal_with_at_least_three_digits():
    assert [umode(m) for m in (0o644, 0o7, 0, 0o4755)] == ["0644", "007", "000", "04755"]


def test_openat_with_o_creat_shows_the_mode(task):
    put_str(task, "f")
    flags = o.O_WRONLY | o.O_CREAT | o.O_TRUNC | o.O_CLOEXEC
    assert traced(task, "openat", o.AT_FDCWD, NAME, flags, 0o644) == line(
        'openat(AT_FDCWD, "f", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0644)', "3")
    assert traced(task, "openat", o.AT_FDCWD, NAME, o.O_CREAT | o.O_EXCL | o.O_WRONLY, 0) == line(
        'openat(AT_FDCWD, "f", O_WRONLY|O_CREAT|O_EXCL, 000)', "-1 EEXIST (File exists)")


def test_open_mode_printer_leaves_the_mode_out_without_o_creat(task):
    spec = REGISTRY["sys_open"]
    param = spec.params[2]
    ctx = Ctx(task, TraceOptions(), spec, [NAME, o.O_RDONLY | o.O_DIRECTORY, 0o177670])
    assert PRINTERS["open_mode"](ctx, 0o177670, param) is None
    ctx.args[1] = o.O_TMPFILE | o.O_RDWR
    assert PRINTERS["open_mode"](ctx, 0o600, param) == "0600"


def test_open_without_o_creat_has_no_mode(task):
    put_str(task, "/nonexistent/x")
    assert traced(task, "open", NAME, o.O_RDONLY, 0o177670) == line(
        'open("/nonexistent/x", O_RDONLY)', "-1 ENOENT (No such file or directory)")


def test_open_flags_with_x_raw_and_verbose(task):
    put_str(task, "g")
    assert traced(task, "openat", o.AT_FDCWD, NAME, o.O_WRONLY | o.O_CREAT | o.O_EXCL, 0o600,
                  options=("-X", "verbose")) == line(
        'openat(-100 /* AT_FDCWD */, "g", 0xc1 /* O_WRONLY|O_CREAT|O_EXCL */, 0600)', "3")
    assert traced(task, "openat", o.AT_FDCWD, NAME, o.O_WRONLY | o.O_CREAT | o.O_EXCL, 0o600,
                  options=("-X", "raw")) == line('openat(-100, "g", 0xc1, 0600)', "-1 EEXIST (File exists)")


def test_creat(task):
    put_str(task, "c")
    assert traced(task, "creat", NAME, 0o755) == line('creat("c", 0755)', "3")
    assert traced(task, "creat", NAME, 0o7) == line('creat("c", 007)', "4")


def test_openat_with_a_descriptor_and_a_bad_one(task, tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("x")
    put_str(task, "d")
    assert traced(task, "open", NAME, o.O_RDONLY | o.O_DIRECTORY | o.O_CREAT, 0) == line(
        'open("d", O_RDONLY|O_CREAT|O_DIRECTORY, 000)', "-1 EINVAL (Invalid argument)")
    put_str(task, "f")
    assert traced(task, "openat", 99, NAME, o.O_CREAT, 0o644) == line(
        'openat(99, "f", O_RDONLY|O_CREAT, 0644)', "-1 EBADF (Bad file descriptor)")


# -- -y: AT_FDCWD and the descriptors with their paths --------------------------------------------


def test_y_shows_the_working_directory_after_at_fdcwd_and_the_new_file(task, tmp_path):
    put_str(task, "f")
    cwd = os.path.realpath(tmp_path)
    assert traced(task, "openat", o.AT_FDCWD, NAME, o.O_RDWR | o.O_CREAT, 0o600, options=("-y",)) == line(
        f'openat(AT_FDCWD<{cwd}>, "f", O_RDWR|O_CREAT, 0600)', f"3<{cwd}/f>")
    assert traced(task, "openat", o.AT_FDCWD, NAME, o.O_RDWR | o.O_CREAT, 0o600,
                  options=("-y", "-X", "verbose")).startswith(f"openat(-100 /* AT_FDCWD */<{cwd}>, ")
    assert traced(task, "openat", o.AT_FDCWD, NAME, o.O_RDWR | o.O_CREAT, 0o600,
                  options=("-yy", "-X", "raw")).startswith(f"openat(-100<{cwd}>, ")
    assert traced(task, "close", 3, options=("-y",)) == line(f"close(3<{cwd}/f>)", "0")


def test_y_escapes_angle_brackets_in_the_working_directory(task, tmp_path):
    odd = tmp_path / "g<o>n\te"
    odd.mkdir()
    put_str(task, str(odd))
    traced(task, "chdir", NAME)
    put_str(task, "zz")
    shown = os.path.realpath(tmp_path) + "/g\\74o\\76n\\te"
    assert traced(task, "openat", o.AT_FDCWD, NAME, o.O_RDONLY | o.O_CREAT, 0o644, options=("-y",)).startswith(
        f'openat(AT_FDCWD<{shown}>, "zz", ')
    odd_hex = "".join(f"\\x{c:02x}" for c in os.fsencode(os.path.realpath(odd)))
    assert traced(task, "mkdirat", o.AT_FDCWD, NAME, 0o755, options=("-y", "-xx")).startswith(
        f'mkdirat(AT_FDCWD<{odd_hex}>, "\\x7a\\x7a", 0755)')


def test_y_shows_a_removed_working_directory_as_deleted(task, tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    put_str(task, str(gone))
    traced(task, "chdir", NAME)
    gone.rmdir()
    put_str(task, "zz")
    shown = os.path.realpath(tmp_path) + "/gone (deleted)"
    assert traced(task, "mkdirat", o.AT_FDCWD, NAME, 0o755, options=("-y",)) == line(
        f'mkdirat(AT_FDCWD<{shown}>, "zz", 0755)', "-1 ENOENT (No such file or directory)")


# -- openat2 --------------------------------------------------------------------------------------


def test_openat2_prints_open_how(task, tmp_path):
    (tmp_path / "f").write_text("x")
    put_str(task, "f")
    how = put_how(task, o.O_RDONLY, 0, o.RESOLVE_BENEATH | o.RESOLVE_NO_SYMLINKS)
    assert traced(task, "openat2", o.AT_FDCWD, NAME, how, 24) == line(
        'openat2(AT_FDCWD, "f", {flags=O_RDONLY, resolve=RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH}, 24)', "3")
    how = put_how(task, o.O_WRONLY | o.O_CREAT, 0o640)
    assert traced(task, "openat2", o.AT_FDCWD, NAME, how, 24) == line(
        'openat2(AT_FDCWD, "f", {flags=O_WRONLY|O_CREAT, mode=0640, resolve=0}, 24)', "4")


def test_openat2_shows_a_mode_that_is_not_0_and_unknown_resolve_bits(task):
    put_str(task, "f")
    how = put_how(task, o.O_RDONLY, 0o644, 0x80)
    assert traced(task, "openat2", o.AT_FDCWD, NAME, how, 24) == line(
        'openat2(AT_FDCWD, "f", {flags=O_RDONLY, mode=0644, resolve=0x80 /* RESOLVE_??? */}, 24)',
        "-1 EINVAL (Invalid argument)")
    assert traced(task, "openat2", o.AT_FDCWD, NAME, how, 24, options=("-X", "verbose")) == line(
        'openat2(-100 /* AT_FDCWD */, "f", {flags=0 /* O_RDONLY */, mode=0644, resolve=0x80 /* RESOLVE_??? */}, 24)',
        "-1 EINVAL (Invalid argument)")
    assert traced(task, "openat2", o.AT_FDCWD, NAME, how, 24, options=("-X", "raw")) == line(
        'openat2(-100, "f", {flags=0, mode=0644, resolve=0x80}, 24)', "-1 EINVAL (Invalid argument)")


def test_openat2_bytes_past_the_known_structure(task):
    put_str(task, "f")
    tail = bytes(6) + b"\x01" + bytes(9)
    how = put_how(task, o.O_RDONLY, 0, 0x80, tail)
    hexed = "".join(f"\\x{c:02x}" for c in tail)
    assert traced(task, "openat2", o.AT_FDCWD, NAME, how, 40) == line(
        f'openat2(AT_FDCWD, "f", {{flags=O_RDONLY, resolve=0x80 /* RESOLVE_??? */, /* bytes 24..39 */ "{hexed}"}}, 40)',
        "-1 E2BIG (Argument list too long)")
    assert traced(task, "openat2", o.AT_FDCWD, NAME, how, 40, options=("-s", "4")) == line(
        'openat2(AT_FDCWD, "f", {flags=O_RDONLY, resolve=0x80 /* RESOLVE_??? */, /* bytes 24..39 */'
        ' "\\x00\\x00\\x00\\x00"...}, 40)', "-1 E2BIG (Argument list too long)")
    put_how(task, o.O_RDONLY, 0, 0x80, bytes(16))
    assert traced(task, "openat2", o.AT_FDCWD, NAME, how, 40) == line(
        'openat2(AT_FDCWD, "f", {flags=O_RDONLY, resolve=0x80 /* RESOLVE_??? */}, 40)',
        "-1 EINVAL (Invalid argument)")


def test_openat2_small_or_unreadable_how_is_an_address(task):
    put_str(task, "f")
    how = put_how(task, o.O_RDONLY)
    assert traced(task, "openat2", o.AT_FDCWD, NAME, how, 16) == line(
        f'openat2(AT_FDCWD, "f", {how:#x}, 16)', "-1 EINVAL (Invalid argument)")
    assert traced(task, "openat2", o.AT_FDCWD, NAME, 8, 24) == line(
        'openat2(AT_FDCWD, "f", 0x8, 24)', "-1 EFAULT (Bad address)")
    assert traced(task, "openat2", o.AT_FDCWD, NAME, UNMAPPED, 24) == line(
        f'openat2(AT_FDCWD, "f", {UNMAPPED:#x}, 24)', "-1 EFAULT (Bad address)")


# -- close, close_range ---------------------------------------------------------------------------


def test_close(task):
    assert traced(task, "close", 77) == line("close(77)", "-1 EBADF (Bad file descriptor)")


@pytest.mark.parametrize(("flags", "options", "shown", "result"), [
    (o.CLOSE_RANGE_CLOEXEC, (), "CLOSE_RANGE_CLOEXEC", "0"),
    (o.CLOSE_RANGE_UNSHARE | 8, (), "CLOSE_RANGE_UNSHARE|0x8", "-1 EINVAL (Invalid argument)"),
    (8, (), "0x8 /* CLOSE_RANGE_??? */", "-1 EINVAL (Invalid argument)"),
    (0, (), "0", "0"),
    (o.CLOSE_RANGE_CLOEXEC, ("-X", "verbose"), "0x4 /* CLOSE_RANGE_CLOEXEC */", "0"),
    (o.CLOSE_RANGE_UNSHARE | 8, ("-X", "raw"), "0xa", "-1 EINVAL (Invalid argument)"),
])
def test_close_range(task, flags, options, shown, result):
    assert traced(task, "close_range", 50, 0xFFFFFFFF, flags, options=options) == line(
        f"close_range(50, 4294967295, {shown})", result)
