"""xlat: values and flag sets printed as strace's printxval / printflags print them."""

import pytest

from sysgate.trace.xlat import Xlat, printflags, printxval

OPEN = Xlat.of([(0, "O_RDONLY"), (1, "O_WRONLY"), (2, "O_RDWR"), (0o100, "O_CREAT"), (0o1000, "O_TRUNC")])
PROT = Xlat.of([(0, "PROT_NONE"), (1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC")])
WHENCE = Xlat.of([(0, "SEEK_SET"), (1, "SEEK_CUR"), (2, "SEEK_END")], fmt="u")
NOZERO = Xlat.of([(1, "A"), (2, "B")])


@pytest.mark.parametrize(("style", "flags", "dflt", "want"), [
    ("abbrev", 0, None, "PROT_NONE"),
    ("abbrev", 3, None, "PROT_READ|PROT_WRITE"),
    ("abbrev", 0x13, None, "PROT_READ|PROT_WRITE|0x10"),
    ("abbrev", 0x10, "PROT_???", "0x10 /* PROT_??? */"),
    ("raw", 3, None, "0x3"),
    ("raw", 0, None, ""),
    ("raw", 0, "X_???", "0"),
    ("verbose", 3, None, "0x3 /* PROT_READ|PROT_WRITE */"),
    ("verbose", 0, None, "0 /* PROT_NONE */"),
    ("verbose", 0x13, None, "0x13 /* PROT_READ|PROT_WRITE|0x10 */"),
    ("verbose", 0x10, "PROT_???", "0x10 /* PROT_??? */"),
])
def test_printflags(style, flags, dflt, want):
    assert printflags(style, PROT, flags, dflt) == want


def test_printflags_names_in_table_order_and_zero_entry_only_for_empty_set():
    assert printflags("abbrev", OPEN, 0o1101) == "O_WRONLY|O_CREAT|O_TRUNC"
    assert printflags("abbrev", NOZERO, 0) == ""
    assert printflags("abbrev", NOZERO, 0, "X_???") == "0"
    assert printflags("abbrev", [OPEN, NOZERO], 0o1101) == "O_WRONLY|O_CREAT|O_TRUNC"


@pytest.mark.parametrize(("style", "value", "want"), [
    ("abbrev", 1, "SEEK_CUR"),
    ("abbrev", 7, "7 /* SEEK_??? */"),
    ("raw", 1, "1"),
    ("verbose", 2, "2 /* SEEK_END */"),
])
def test_printxval(style, value, want):
    assert printxval(style, WHENCE, value, "SEEK_???") == want


def test_printxval_hex_and_tables_in_turn():
    assert printxval("abbrev", PROT, 0x40, "PROT_???") == "0x40 /* PROT_??? */"
    assert printxval("abbrev", [NOZERO, PROT], 4) == "PROT_EXEC"
    assert printxval("abbrev", PROT, 0x40) == "0x40"
