"""The xattr family traced as strace 6.1 prints it (every line below was printed by the
host's strace for the same calls): values with their one trailing NUL left out, cut at -s,
in hex under -x; lists as buffers; setxattr's flags; addresses for failed gets and sizes
past XATTR_SIZE_MAX."""

from __future__ import annotations

from pathlib import Path

import pytest

from sysgate.kernel.task import Task
from sysgate.uapi import xattr as x
from tests.conftest import USER_BUF, put_str
from tests.unit.trace.conftest import line, traced

PATH = USER_BUF
NAME = USER_BUF + 0x100
VALUE = USER_BUF + 0x200
OUT = USER_BUF + 0x1000


@pytest.fixture
def f(task: Task, tmp_path: Path) -> int:
    (tmp_path / "f").write_bytes(b"")
    return put_str(task, "f", PATH)


def setx(task: Task, name: str, value: bytes, *options: str, flags: int = 0) -> str:
    task.mm.write(VALUE, value)
    return traced(task, "setxattr", PATH, put_str(task, name, NAME), VALUE, len(value), flags, options=options)


def getx(task: Task, name: str, *options: str, size: int = 300, out: int = OUT) -> str:
    return traced(task, "getxattr", PATH, put_str(task, name, NAME), out, size, options=options)


VALUES = [("user.k", b"hello\0"), ("user.t", b"0123456789\0"), ("user.u", b"\xff\0ab\0"), ("user.z", b"mid\0dle")]
EXPECTED = {
    (): ['"hello"', '"0123456789"', '"\\377\\0ab"', '"mid\\0dle"'],
    ("-x",): ['"\\x68\\x65\\x6c\\x6c\\x6f\\x00"', '"\\x30\\x31\\x32\\x33\\x34\\x35\\x36\\x37\\x38\\x39\\x00"',
              '"\\xff\\x00\\x61\\x62\\x00"', '"\\x6d\\x69\\x64\\x00\\x64\\x6c\\x65"'],
    ("-s", "4"): ['"hell"...', '"0123"...', '"\\377\\0ab"...', '"mid"'],
    ("-s", "10"): ['"hello"', '"0123456789"...', '"\\377\\0ab"', '"mid\\0dle"'],
}


@pytest.mark.parametrize("options", list(EXPECTED), ids=lambda o: " ".join(o) or "default")
def test_values_on_set_and_get(task: Task, f: int, options: tuple[str, ...]) -> None:
    name = '"user"...' if options == ("-s", "4") else None
    for (attr, value), shown in zip(VALUES, EXPECTED[options], strict=True):
        quoted = name or f'"{attr}"'
        assert setx(task, attr, value, *options) == line(f'setxattr("f", {quoted}, {shown}, {len(value)}, 0)', "0")
        assert getx(task, attr, *options) == line(f'getxattr("f", {quoted}, {shown}, 300)', str(len(value)))


def test_lists(task: Task, f: int) -> None:
    for attr, value in VALUES:
        setx(task, attr, value)
    assert traced(task, "listxattr", PATH, OUT, 300) == line(
        'listxattr("f", "user.k\\0user.t\\0user.u\\0user.z\\0", 300)', "28")
    assert traced(task, "listxattr", PATH, OUT, 300, options=("-s", "10")) == line(
        'listxattr("f", "user.k\\0use"..., 300)', "28")
    assert traced(task, "listxattr", PATH, 0, 0) == line('listxattr("f", NULL, 0)', "28")
    assert traced(task, "llistxattr", PATH, OUT, 3) == line(
        f'llistxattr("f", {OUT:#x}, 3)', "-1 ERANGE (Numerical result out of range)")


def test_failures_and_sizes(task: Task, f: int) -> None:
    setx(task, "user.k", b"hello\0")
    assert getx(task, "user.k", out=0) == line('getxattr("f", "user.k", NULL, 300)', "-1 EFAULT (Bad address)")
    assert getx(task, "user.none") == line(f'getxattr("f", "user.none", {OUT:#x}, 300)',
                                          "-1 ENODATA (No data available)")
    assert getx(task, "user.k", out=0, size=0) == line('getxattr("f", "user.k", NULL, 0)', "6")
    assert traced(task, "setxattr", PATH, put_str(task, "user.big", NAME), VALUE, 70000, 0) == line(
        f'setxattr("f", "user.big", {VALUE:#x}, 70000, 0)', "-1 E2BIG (Argument list too long)")
    assert setx(task, "user.k", b"x", flags=x.XATTR_CREATE) == line(
        'setxattr("f", "user.k", "x", 1, XATTR_CREATE)', "-1 EEXIST (File exists)")
    assert setx(task, "user.k", b"x", flags=7) == line(
        'setxattr("f", "user.k", "x", 1, XATTR_CREATE|XATTR_REPLACE|0x4)', "-1 EINVAL (Invalid argument)")


def test_descriptor_forms(task: Task, f: int) -> None:
    from tests.conftest import sys

    fd = sys(task, "open", PATH, 2, 0)
    task.mm.write(VALUE, b"x" * 100)
    assert traced(task, "fsetxattr", fd, put_str(task, "user.m", NAME), VALUE, 100, x.XATTR_REPLACE) == line(
        f'fsetxattr({fd}, "user.m", "{"x" * 32}"..., 100, XATTR_REPLACE)', "-1 ENODATA (No data available)")
    setx(task, "user.j", b"bin\1\2")
    assert traced(task, "fgetxattr", fd, put_str(task, "user.j", NAME), OUT, 300) == line(
        f'fgetxattr({fd}, "user.j", "bin\\1\\2", 300)', "5")
    assert traced(task, "flistxattr", fd, OUT, 300) == line(f'flistxattr({fd}, "user.j\\0", 300)', "7")
    assert traced(task, "fremovexattr", fd, NAME) == line(f'fremovexattr({fd}, "user.j")', "0")
    assert traced(task, "removexattr", PATH, NAME) == line('removexattr("f", "user.j")',
                                                           "-1 ENODATA (No data available)")
    assert traced(task, "lremovexattr", PATH, put_str(task, "", NAME)) == line(
        'lremovexattr("f", "")', "-1 ERANGE (Numerical result out of range)")
