"""quote: strings escaped and cut as strace's string_quote / printstr_ex / printpathn do
(the expected strings are those the host's strace 6.1 printed for the same bytes)."""

from __future__ import annotations

import pytest

from sysgate.trace.quote import (
    HEXSTR_ALL,
    HEXSTR_NON_ASCII,
    HEXSTR_NON_ASCII_CHARS,
    HEXSTR_NONE,
    printpath,
    printpathn,
    printstr,
    printstr_nul,
    quote_bytes,
    quote_fd_path,
    read_cstring,
    string_quote,
)

BASE = 0x1000
PAGE = 0x1000


def memory(data: bytes, base: int = BASE):
    """A reader over `data` at `base`; anything outside it is unreadable, as an unmapped
    page would be (callers place data to end on a page boundary for that)."""

    def read(addr: int, n: int) -> bytes | None:
        if addr < base or addr + n > base + len(data):
            return None
        return data[addr - base : addr - base + n]

    return read


ALL_BYTES = bytes(range(32))


@pytest.mark.parametrize(("data", "xflag", "want"), [
    (b'hello "world"\\ \t\n\r\v\f end\0', HEXSTR_NONE, '"hello \\"world\\"\\\\ \\t\\n\\r\\v\\f end\\0"'),
    (ALL_BYTES, HEXSTR_NONE,
     '"\\0\\1\\2\\3\\4\\5\\6\\7\\10\\t\\n\\v\\f\\r\\16\\17\\20\\21\\22\\23\\24\\25\\26\\27\\30\\31\\32\\33\\34\\35'
     '\\36\\37"'),
    # a digit 0-7 after an octal escape makes it three digits; 8 and 9 do not
    (b"\0011\0012\001x\377\0a", HEXSTR_NONE, '"\\0011\\0012\\1x\\377\\0a"'),
    (b"\x018\x019", HEXSTR_NONE, '"\\18\\19"'),
    (b"\x7f\x80", HEXSTR_NONE, '"\\177\\200"'),
    # -x: hex only if a byte is neither printable nor whitespace
    (b"tab\tnl\n", HEXSTR_NON_ASCII, '"tab\\tnl\\n"'),
    (b"ab\0", HEXSTR_NON_ASCII, '"\\x61\\x62\\x00"'),
    (b"abc", HEXSTR_ALL, '"\\x61\\x62\\x63"'),
    (b"", HEXSTR_ALL, '""'),
    # --strings-in-hex=non-ascii-chars: only the unprintable bytes, C escapes kept
    (b"\x011\x012\x01x\xff\0a", HEXSTR_NON_ASCII_CHARS, '"\\x011\\x012\\x01x\\xff\\x00a"'),
    (b'end\t"\\\0', HEXSTR_NON_ASCII_CHARS, '"end\\t\\"\\\\\\x00"'),
])
def test_quote_bytes(data, xflag, want):
    assert quote_bytes(data, xflag) == want


def test_string_quote_stops_at_nul_when_zero_terminated():
    assert string_quote(b"ab\0cd", HEXSTR_NONE, zero_terminated=True) == ('"ab"', False)
    assert string_quote(b"abcd", HEXSTR_NONE, zero_terminated=True) == ('"abcd"', True)
    assert string_quote(b"ab\0\xff", HEXSTR_NON_ASCII, zero_terminated=True) == ('"ab"', False)
    assert string_quote(b"ab\0cd", HEXSTR_NONE) == ('"ab\\0cd"', True)


def test_printstr_cuts_at_the_limit():
    read = memory(b"0123456789" * 4)
    assert printstr(read, BASE, 40, 32, HEXSTR_NONE) == '"01234567890123456789012345678901"...'
    assert printstr(read, BASE, 32, 32, HEXSTR_NONE) == '"01234567890123456789012345678901"'
    assert printstr(read, BASE, 33, 32, HEXSTR_NONE) == '"01234567890123456789012345678901"...'
    assert printstr(read, BASE, 5, 0, HEXSTR_NONE) == '""...'
    assert printstr(read, BASE, 0, 32, HEXSTR_NONE) == '""'


def test_printstr_reads_one_byte_past_the_limit_or_prints_the_address():
    """strace fetches min(len, -s + 1) bytes: if the byte after the shown ones cannot be read,
    the whole buffer prints as its address (write(3, 0x7f..., 33) = 32 natively)."""
    end = 2 * PAGE
    read = memory(b"a" * 33, base=end - 33)
    assert printstr(read, end - 32, 33, 32, HEXSTR_NONE) == "0x1fe0"
    assert printstr(read, end - 33, 40, 32, HEXSTR_NONE) == '"' + "a" * 32 + '"...'
    assert printstr(read, end - 10, 20, 32, HEXSTR_NONE) == "0x1ff6"
    assert printstr(memory(b"x"), BASE, 5, 0, HEXSTR_NONE) == '""...'
    assert printstr(memory(b""), 0x1, 5, 0, HEXSTR_NONE) == "0x1"


def test_printstr_null_and_empty():
    assert printstr(memory(b""), 0, 5, 32, HEXSTR_NONE) == "NULL"
    assert printstr(memory(b""), 0xDEAD, 0, 32, HEXSTR_NONE) == '""'  # nothing to fetch


def test_printstr_nul():
    read = memory(b"abc\0" + b"z" * 40 + b"\0")
    assert printstr_nul(read, BASE, 32, HEXSTR_NONE) == '"abc"'
    assert printstr_nul(read, BASE + 4, 32, HEXSTR_NONE) == '"' + "z" * 32 + '"...'
    assert printstr_nul(read, BASE + 4, 40, HEXSTR_NONE) == '"' + "z" * 40 + '"'  # the NUL right after
    assert printstr_nul(read, BASE + 4, 39, HEXSTR_NONE) == '"' + "z" * 39 + '"...'
    assert printstr_nul(read, BASE + 3, 0, HEXSTR_NONE) == '""'
    assert printstr_nul(read, BASE, 0, HEXSTR_NONE) == '""...'
    assert printstr_nul(read, 0, 32, HEXSTR_NONE) == "NULL"


def test_printstr_nul_running_into_unreadable_memory_is_the_address():
    read = memory(b"abcdef", base=2 * PAGE - 6)
    assert printstr_nul(read, 2 * PAGE - 6, 32, HEXSTR_NONE) == "0x1ffa"
    assert printstr_nul(read, 2 * PAGE - 6, 3, HEXSTR_NONE) == '"abc"...'


def page(data: bytes) -> bytes:
    """`data` padded with zeros to whole pages, as mapped memory is."""
    return data + bytes(-len(data) % PAGE)


def test_printpath_is_not_cut_at_s_but_at_path_max():
    read = memory(page(b"p" * 5000 + b"\0"))
    assert printpath(read, BASE, HEXSTR_NONE) == '"' + "p" * 4095 + '"...'
    exact = memory(page(b"q" * 4095 + b"\0"))
    assert printpath(exact, BASE, HEXSTR_NONE) == '"' + "q" * 4095 + '"'
    assert printpathn(memory(page(b"abcdef\0")), BASE, 3, HEXSTR_NONE) == '"abc"...'
    assert printpathn(memory(page(b"abc\0")), BASE, 3, HEXSTR_NONE) == '"abc"'
    assert printpath(memory(page(b"/etc/\xffx\0")), BASE, HEXSTR_NON_ASCII) == (
        '"\\x2f\\x65\\x74\\x63\\x2f\\xff\\x78"')
    assert printpath(read, 0, HEXSTR_NONE) == "NULL"
    assert printpath(memory(b"abc", base=2 * PAGE - 3), 2 * PAGE - 3, HEXSTR_NONE) == "0x1ffd"


def test_read_cstring_crosses_pages_until_the_nul():
    data = b"x" * 4090 + b"yyyyyyyy\0"
    read = memory(page(data), base=0x10000)
    assert read_cstring(read, 0x10000, 5000) == data
    assert read_cstring(read, 0x10000, 10) == b"x" * 10
    assert read_cstring(memory(b"x" * 10, base=0x10FF6), 0x10FF6, 100) is None
    assert read_cstring(memory(b"x\0", base=0x10FFE), 0x10FFE, 100) == b"x\0"


def test_quote_fd_path_escapes_angle_brackets():
    assert quote_fd_path("/tmp/a<b>c", HEXSTR_NONE) == "/tmp/a\\74b\\76c"
    assert quote_fd_path("/a<1", HEXSTR_NONE) == "/a\\0741"
    assert quote_fd_path("pipe:[123]", HEXSTR_NONE) == "pipe:[123]"
    assert quote_fd_path("/t\tab\n", HEXSTR_NONE) == "/t\\tab\\n"
    assert quote_fd_path("/x", HEXSTR_ALL) == "\\x2f\\x78"
    assert quote_fd_path(b"/\xff", HEXSTR_NON_ASCII) == "\\x2f\\xff"
    assert quote_fd_path("/a<b", HEXSTR_NON_ASCII) == "/a\\74b"
