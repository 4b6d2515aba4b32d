"""read, write, pread64, pwrite64, readv, writev, preadv, pwritev, preadv2, pwritev2 and
lseek traced as strace 6.1 prints them (the strings are those the host's strace printed
for static C programs making the same calls)."""

from __future__ import annotations

import os
import struct

import pytest

from sysgate.uapi import fcntl as o
from tests.conftest import EDGE, RO_PAGE, UNMAPPED, USER_BUF, sys
from tests.unit.trace.conftest import line, traced

BUF = USER_BUF
VEC = USER_BUF + 0x800
DATA = USER_BUF + 0x1000
PIPE = USER_BUF + 0x3000
RWF_HIPRI, RWF_DSYNC, RWF_SYNC, RWF_NOWAIT, RWF_APPEND = 0x1, 0x2, 0x4, 0x8, 0x10




def put(task, data: bytes, addr: int = DATA) -> int:
    task.mm.write(addr, data)
    return addr


def iovec(task, segs: list[tuple[int, int]], addr: int = VEC) -> int:
    task.mm.write(addr, b"".join(struct.pack("<QQ", base, n) for base, n in segs))
    return addr


# -- write: the data as the call was given it -------------------------------------------------------


def test_write_escapes_the_data(task, f3):
    assert traced(task, "write", f3, put(task, b'hello "world"\\ \t\n\r\v\f end\0'), 25) == line(
        'write(3, "hello \\"world\\"\\\\ \\t\\n\\r\\v\\f end\\0", 25)', "25")
    assert traced(task, "write", f3, put(task, b"\0011\0012\001x\377\0a"), 9) == line(
        'write(3, "\\0011\\0012\\1x\\377\\0a", 9)', "9")
    assert traced(task, "write", f3, put(task, bytes(range(32))), 32) == line(
        'write(3, "\\0\\1\\2\\3\\4\\5\\6\\7\\10\\t\\n\\v\\f\\r\\16\\17\\20\\21\\22\\23\\24\\25\\26\\27\\30\\31\\32\\33'
        '\\34\\35\\36\\37", 32)', "32")


def test_write_is_cut_at_s(task, f3):
    digits = put(task, b"0123456789" * 4)
    assert traced(task, "write", f3, digits, 40) == line(
        'write(3, "01234567890123456789012345678901"..., 40)', "40")
    assert traced(task, "write", f3, digits, 32) == line('write(3, "01234567890123456789012345678901", 32)', "32")
    assert traced(task, "write", f3, digits, 33) == line(
        'write(3, "01234567890123456789012345678901"..., 33)', "33")
    assert traced(task, "write", f3, digits, 40, options=("-s", "5")) == line('write(3, "01234"..., 40)', "40")
    assert traced(task, "write", f3, digits, 3, options=("-s", "0")) == line('write(3, ""..., 3)', "3")
    assert traced(task, "write", f3, digits, 0) == line('write(3, "", 0)', "0")


def test_write_in_hex(task, f3):
    assert traced(task, "write", f3, put(task, b"abc"), 3, options=("-x",)) == line('write(3, "abc", 3)', "3")
    assert traced(task, "write", f3, put(task, b"a\tb\n"), 4, options=("-x",)) == line(
        'write(3, "a\\tb\\n", 4)', "4")
    assert traced(task, "write", f3, put(task, b"ab\0"), 3, options=("-x",)) == line(
        'write(3, "\\x61\\x62\\x00", 3)', "3")
    assert traced(task, "write", f3, put(task, b"abc"), 3, options=("-xx",)) == line(
        'write(3, "\\x61\\x62\\x63", 3)', "3")


def test_write_of_unreadable_data_is_its_address(task, f3):
    assert traced(task, "write", f3, 0, 5) == line("write(3, NULL, 5)", "-1 EFAULT (Bad address)")
    assert traced(task, "write", f3, UNMAPPED, 5) == line("write(3, 0x10200000, 5)", "-1 EFAULT (Bad address)")
    assert traced(task, "write", f3, UNMAPPED, 5, options=("-s", "0")) == line(
        "write(3, 0x10200000, 5)", "-1 EFAULT (Bad address)")
    assert traced(task, "write", 99, put(task, b"abc"), 3) == line(
        'write(99, "abc", 3)', "-1 EBADF (Bad file descriptor)")


def test_write_running_into_an_unmapped_page(task, f3):
    """strace fetches -s + 1 bytes: the 33rd being unmapped makes the whole buffer an address."""
    end = EDGE + 0x1000
    put(task, b"abcdefghij", end - 10)
    assert traced(task, "write", f3, end - 10, 20) == line("write(3, 0x10300ff6, 20)", "10")
    assert traced(task, "write", f3, end - 32, 33) == line("write(3, 0x10300fe0, 33)", "32")
    assert traced(task, "write", f3, end - 33, 33) == line(
        'write(3, "\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0abcdefghi"..., 33)', "33")
    assert traced(task, "write", f3, end - 10, 10) == line('write(3, "abcdefghij", 10)', "10")


# -- read: the data the call read, on the way out ----------------------------------------------------


def test_read_shows_what_was_read(task, f3):
    sys(task, "write", f3, put(task, b"hello, world\n"), 13)
    sys(task, "lseek", f3, 0, o.SEEK_SET)
    assert traced(task, "read", f3, BUF, 5) == line('read(3, "hello", 5)', "5")
    assert traced(task, "read", f3, BUF, 100) == line('read(3, ", world\\n", 100)', "8")
    assert traced(task, "read", f3, BUF, 100) == line('read(3, "", 100)', "0")
    assert traced(task, "read", f3, BUF, 0) == line('read(3, "", 0)', "0")


def test_failed_read_shows_the_address(task, f3):
    sys(task, "write", f3, put(task, b"x"), 1)
    assert traced(task, "read", 99, BUF, 10) == line("read(99, 0x10000000, 10)", "-1 EBADF (Bad file descriptor)")
    sys(task, "lseek", f3, 0, o.SEEK_SET)
    assert traced(task, "read", f3, 0, 10) == line("read(3, NULL, 10)", "-1 EFAULT (Bad address)")
    assert traced(task, "read", f3, RO_PAGE, 10) == line("read(3, 0x10100000, 10)", "-1 EFAULT (Bad address)")


def test_read_is_cut_at_s_and_in_hex(task, f3):
    sys(task, "write", f3, put(task, bytes(range(40))), 40)
    sys(task, "lseek", f3, 0, o.SEEK_SET)
    assert traced(task, "read", f3, BUF, 10, options=("-xx",)) == line(
        'read(3, "\\x00\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\x09", 10)', "10")
    assert traced(task, "read", f3, BUF, 100, options=("-s", "4")) == line('read(3, "\\n\\v\\f\\r"..., 100)', "30")


def test_pread64_and_pwrite64_offsets_are_signed_decimal(task, f3):
    assert traced(task, "pwrite64", f3, put(task, b"xyz"), 3, 1000) == line('pwrite64(3, "xyz", 3, 1000)', "3")
    assert traced(task, "pread64", f3, BUF, 5, 998) == line('pread64(3, "\\0\\0xyz", 5, 998)', "5")
    assert traced(task, "pread64", f3, BUF, 5, 4096) == line('pread64(3, "", 5, 4096)', "0")
    assert traced(task, "pread64", f3, BUF, 5, -1) == line(
        "pread64(3, 0x10000000, 5, -1)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "pwrite64", f3, put(task, b"xyz"), 3, -5) == line(
        'pwrite64(3, "xyz", 3, -5)', "-1 EINVAL (Invalid argument)")


def test_pread64_on_a_pipe(task):
    assert sys(task, "pipe", PIPE) == 0
    assert traced(task, "pread64", 3, BUF, 5, 0) == line("pread64(3, 0x10000000, 5, 0)", "-1 ESPIPE (Illegal seek)")


# -- iovec arrays ------------------------------------------------------------------------------------


def test_writev_shows_each_element_cut_at_s(task, f3):
    hello, digits, raw = put(task, b"hello", DATA), put(task, b"0123456789" * 4, DATA + 8), put(task, b"\0\1\2",
                                                                                               DATA + 64)
    vec = iovec(task, [(hello, 5), (digits, 40), (raw, 3)])
    assert traced(task, "writev", f3, vec, 3) == line(
        'writev(3, [{iov_base="hello", iov_len=5}, {iov_base="01234567890123456789012345678901"..., iov_len=40}, '
        '{iov_base="\\0\\1\\2", iov_len=3}], 3)', "48")
    assert traced(task, "writev", f3, vec, 2, options=("-s", "4")) == line(
        'writev(3, [{iov_base="hell"..., iov_len=5}, {iov_base="0123"..., iov_len=40}], 2)', "45")
    assert traced(task, "writev", f3, vec, 0) == line("writev(3, [], 0)", "0")


def test_writev_bad_arrays(task, f3):
    assert traced(task, "writev", f3, 0, 2) == line("writev(3, NULL, 2)", "-1 EFAULT (Bad address)")
    assert traced(task, "writev", f3, 8, 2) == line("writev(3, 0x8, 2)", "-1 EFAULT (Bad address)")
    vec = iovec(task, [(put(task, b"hello"), 5)])
    assert traced(task, "writev", 99, vec, 1) == line(
        'writev(99, [{iov_base="hello", iov_len=5}], 1)', "-1 EBADF (Bad file descriptor)")
    # an array whose third element is on an unmapped page
    edge = iovec(task, [(put(task, b"ab"), 2), (put(task, b"cd", DATA + 16), 2)], EDGE + 0x1000 - 32)
    assert traced(task, "writev", f3, edge, 3) == line(
        'writev(3, [{iov_base="ab", iov_len=2}, {iov_base="cd", iov_len=2}, ... /* 0x10301000 */], 3)',
        "-1 EFAULT (Bad address)")
    assert traced(task, "writev", f3, edge, 2) == line(
        'writev(3, [{iov_base="ab", iov_len=2}, {iov_base="cd", iov_len=2}], 2)', "4")


def test_long_iovec_arrays_are_cut_at_s_elements_unless_v(task, f3):
    x = put(task, b"x")
    vec = iovec(task, [(x, 1)] * 40)
    elem = '{iov_base="x", iov_len=1}'
    assert traced(task, "writev", f3, vec, 40) == line(f"writev(3, [{', '.join([elem] * 32)}, ...], 40)", "40")
    assert traced(task, "writev", f3, vec, 32) == line(f"writev(3, [{', '.join([elem] * 32)}], 32)", "32")
    assert traced(task, "writev", f3, vec, 40, options=("-v",)) == line(
        f"writev(3, [{', '.join([elem] * 40)}], 40)", "40")
    assert traced(task, "writev", f3, vec, 3, options=("-s", "2")) == line(
        f"writev(3, [{elem}, {elem}, ...], 3)", "3")
    assert traced(task, "writev", f3, vec, 1, options=("-s", "0")) == line("writev(3, [...], 1)", "1")


def test_readv_shows_up_to_the_bytes_read(task, f3):
    sys(task, "write", f3, put(task, b"hello0123456789012345"), 21)
    sys(task, "lseek", f3, 0, o.SEEK_SET)
    a, b, c = DATA, DATA + 64, DATA + 128
    vec = iovec(task, [(a, 3), (b, 10), (c, 8)])
    assert traced(task, "readv", f3, vec, 3) == line(
        'readv(3, [{iov_base="hel", iov_len=3}, {iov_base="lo01234567", iov_len=10}, '
        '{iov_base="89012345", iov_len=8}], 3)', "21")
    sys(task, "lseek", f3, 17, o.SEEK_SET)
    assert traced(task, "readv", f3, vec, 3) == line(
        'readv(3, [{iov_base="234", iov_len=3}, {iov_base="5", iov_len=10}, {iov_base="", iov_len=8}], 3)', "4")


def test_failed_readv_shows_the_buffers_addresses(task, f3):
    vec = iovec(task, [(DATA, 3), (0, 10)])
    assert traced(task, "readv", 99, vec, 2) == line(
        "readv(99, [{iov_base=0x10001000, iov_len=3}, {iov_base=NULL, iov_len=10}], 2)",
        "-1 EBADF (Bad file descriptor)")
    assert traced(task, "readv", f3, 0, 3) == line("readv(3, NULL, 3)", "-1 EFAULT (Bad address)")


def test_readv_on_a_pipe(task):
    assert sys(task, "pipe", PIPE) == 0
    sys(task, "write", 4, put(task, b"pipedata"), 8)
    vec = iovec(task, [(DATA, 3), (DATA + 64, 10), (DATA + 128, 8)])
    pipe = task.files.get(3).path
    assert pipe.startswith("pipe:[")
    assert traced(task, "readv", 3, vec, 3, options=("-y",)) == line(
        f'readv(3<{pipe}>, [{{iov_base="pip", iov_len=3}}, {{iov_base="edata", iov_len=10}}, '
        '{iov_base="", iov_len=8}], 3)', "8")


def test_preadv_pwritev_and_the_v2_flags(task, f3):
    hello = put(task, b"hello")
    wvec = iovec(task, [(hello, 5)], VEC + 0x100)
    assert traced(task, "pwritev", f3, wvec, 1, 4, 0) == line(
        'pwritev(3, [{iov_base="hello", iov_len=5}], 1, 4)', "5")
    assert traced(task, "pwritev", f3, wvec, 1, -4, 0) == line(
        'pwritev(3, [{iov_base="hello", iov_len=5}], 1, -4)', "-1 EINVAL (Invalid argument)")
    rvec = iovec(task, [(DATA + 64, 3), (DATA + 128, 10)])
    assert traced(task, "preadv", f3, rvec, 2, 0, 0) == line(
        'preadv(3, [{iov_base="\\0\\0\\0", iov_len=3}, {iov_base="\\0hello", iov_len=10}], 2, 0)', "9")
    assert traced(task, "preadv", f3, rvec, 2, 1000000, 0) == line(
        'preadv(3, [{iov_base="", iov_len=3}, {iov_base="", iov_len=10}], 2, 1000000)', "0")
    assert traced(task, "preadv2", f3, rvec, 2, 4, 0, RWF_HIPRI | RWF_NOWAIT) == line(
        'preadv2(3, [{iov_base="hel", iov_len=3}, {iov_base="lo", iov_len=10}], 2, 4, RWF_HIPRI|RWF_NOWAIT)', "5")
    assert traced(task, "preadv2", f3, rvec, 2, 0, 0, 0x40) == line(
        "preadv2(3, [{iov_base=0x10001040, iov_len=3}, {iov_base=0x10001080, iov_len=10}], 2, 0, "
        "0x40 /* RWF_??? */)", "-1 EOPNOTSUPP (Operation not supported)")
    assert traced(task, "pwritev2", f3, wvec, 1, 0, 0, RWF_DSYNC | RWF_SYNC | RWF_APPEND) == line(
        'pwritev2(3, [{iov_base="hello", iov_len=5}], 1, 0, RWF_DSYNC|RWF_SYNC|RWF_APPEND)', "5")
    assert traced(task, "pwritev2", f3, wvec, 1, 0, 0, RWF_APPEND | 0x20) == line(
        'pwritev2(3, [{iov_base="hello", iov_len=5}], 1, 0, RWF_APPEND|0x20)', "-1 EINVAL (Invalid argument)")
    assert traced(task, "pwritev2", f3, wvec, 1, -1, 0, 0) == line(
        'pwritev2(3, [{iov_base="hello", iov_len=5}], 1, -1, 0)', "5")
    assert traced(task, "pwritev2", f3, wvec, 1, 0, 0, RWF_SYNC, options=("-X", "raw")) == line(
        'pwritev2(3, [{iov_base="hello", iov_len=5}], 1, 0, 0x4)', "5")
    assert traced(task, "pwritev2", f3, wvec, 1, 0, 0, RWF_SYNC, options=("-X", "verbose")) == line(
        'pwritev2(3, [{iov_base="hello", iov_len=5}], 1, 0, 0x4 /* RWF_SYNC */)', "5")


# -- lseek -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("whence", "abbrev", "raw", "verbose"), [
    (o.SEEK_SET, "SEEK_SET", "0", "0 /* SEEK_SET */"),
    (o.SEEK_CUR, "SEEK_CUR", "0x1", "0x1 /* SEEK_CUR */"),
    (o.SEEK_END, "SEEK_END", "0x2", "0x2 /* SEEK_END */"),
    (o.SEEK_DATA, "SEEK_DATA", "0x3", "0x3 /* SEEK_DATA */"),
    (o.SEEK_HOLE, "SEEK_HOLE", "0x4", "0x4 /* SEEK_HOLE */"),
])
def test_lseek_whence(task, f3, whence, abbrev, raw, verbose):
    sys(task, "write", f3, put(task, b"0123456789"), 10)
    result = {o.SEEK_SET: "0", o.SEEK_CUR: "10", o.SEEK_END: "10", o.SEEK_DATA: "0", o.SEEK_HOLE: "10"}[whence]
    sys(task, "lseek", f3, 10, o.SEEK_SET)
    assert traced(task, "lseek", f3, 0, whence) == line(f"lseek(3, 0, {abbrev})", result)
    sys(task, "lseek", f3, 10, o.SEEK_SET)
    assert traced(task, "lseek", f3, 0, whence, options=("-X", "raw")) == line(f"lseek(3, 0, {raw})", result)
    sys(task, "lseek", f3, 10, o.SEEK_SET)
    assert traced(task, "lseek", f3, 0, whence, options=("-X", "verbose")) == line(f"lseek(3, 0, {verbose})", result)


def test_lseek_bad_whence_and_offsets(task, f3):
    assert traced(task, "lseek", f3, 0, 5) == line("lseek(3, 0, 0x5 /* SEEK_??? */)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "lseek", f3, 0, 100) == line(
        "lseek(3, 0, 0x64 /* SEEK_??? */)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "lseek", f3, -100000, o.SEEK_SET) == line(
        "lseek(3, -100000, SEEK_SET)", "-1 EINVAL (Invalid argument)")


def test_y_shows_the_paths(task, f3, tmp_path):
    path = os.path.realpath(tmp_path / "data")
    assert traced(task, "write", f3, put(task, b"ab"), 2, options=("-y",)) == line(f'write(3<{path}>, "ab", 2)', "2")
    assert traced(task, "lseek", f3, -5, o.SEEK_END, options=("-y",)) == line(
        f"lseek(3<{path}>, -5, SEEK_END)", "-1 EINVAL (Invalid argument)")
