"""Debian's busybox-static: a real program, each applet's output equal to native.

Every applet runs twice, natively and under sysgate, in the same working directory
holding the same files (fixed contents and sizes, fixed mtimes, TZ=UTC), so the outputs
must be byte-for-byte equal. Runs that would change what a second run sees (reads of
a file update its atime) happen on files only the applet under test looks at.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.guest.conftest import GUEST_ENV, GuestRunner, assert_same

BUSYBOX = "/bin/busybox"
MTIME = 1_700_000_000  # 2023-11-14 22:13:20 UTC
FILES = {
    "empty": b"",
    "one.txt": b"one line\n",
    "words.txt": b"pear\napple\nfig\nbanana\napple\ncherry\n",
    "table.csv": b"name,qty,price\nbolt,100,0.05\nnut,250,0.02\nwasher,75,0.01\n",
    "numbers.txt": b"".join(b"%d\n" % (i * 37 % 101) for i in range(60)),
    "blob.bin": bytes(range(256)) * 20 + b"tail",
}

pytestmark = [
    pytest.mark.guest,
    pytest.mark.skipif(not os.path.exists(BUSYBOX), reason=f"{BUSYBOX} is missing (apt install busybox-static)"),
]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """tmp_path/root/dir: the files above, with fixed modes and mtimes (and on dir, root too)."""
    root = tmp_path / "root"
    d = root / "dir"
    d.mkdir(parents=True)
    for name, data in FILES.items():
        (d / name).write_bytes(data)
        os.chmod(d / name, 0o644)
    os.chmod(d / "blob.bin", 0o600)
    (d / "sub").mkdir()
    for path in [*d.iterdir(), d, root]:
        os.utime(path, (MTIME, MTIME))
    return d


def check(guest: GuestRunner, cwd: Path, *args: str, stdin: bytes = b"", env: dict[str, str] | None = None) -> None:
    """Run `busybox ARGS` natively and under sysgate in `cwd`; they must agree exactly."""
    argv = [BUSYBOX, *args]
    native = guest.native(argv, stdin=stdin, cwd=cwd, env=env or GUEST_ENV)
    assert native.returncode == 0, f"native busybox failed:\n{native}"
    ours = guest.sysgate(argv, stdin=stdin, cwd=cwd, env=env or GUEST_ENV)
    assert_same(ours, native)


APPLETS = {
    "echo": (["echo", "hello", "two  spaces", "-", "\u00fcnic\u00f8de"], b""),
    "echo-n": (["echo", "-n", "no newline"], b""),
    "cat": (["cat", "one.txt", "words.txt", "blob.bin"], b""),
    "cat-stdin": (["cat", "-"], b"from stdin\n" * 5000),
    "wc": (["wc", "words.txt", "table.csv", "blob.bin", "empty"], b""),
    "wc-stdin": (["wc", "-l"], b"a\nb\nc\n"),
    "sort": (["sort", "words.txt"], b""),
    "sort-numeric": (["sort", "-n", "-r", "-u", "numbers.txt"], b""),
    "md5sum": (["md5sum", "words.txt", "blob.bin", "empty"], b""),
    "sha256sum": (["sha256sum", "words.txt", "blob.bin", "empty"], b""),
    "head": (["head", "-n", "3", "numbers.txt"], b""),
    "head-bytes": (["head", "-c", "100", "blob.bin"], b""),
    "tail": (["tail", "-n", "4", "numbers.txt"], b""),
    "tail-stdin": (["tail", "-n", "2"], b"x\n" * 1000 + b"last\n"),
    "cut": (["cut", "-d", ",", "-f", "1,3", "table.csv"], b""),
    "tr": (["tr", "a-z", "A-Z"], b"hello, world\n"),
    "tr-delete": (["tr", "-d", "aeiou"], FILES["words.txt"]),
    "seq": (["seq", "1", "3", "100"], b""),
    "seq-float": (["seq", "-s", ",", "0.5", "0.25", "2"], b""),
    "basename": (["basename", "/usr/lib/libfoo.so.1", ".1"], b""),
    "uniq": (["uniq", "-c"], b"a\na\nb\na\n"),
}


@pytest.mark.parametrize("name", list(APPLETS))
def test_applet(name: str, workdir: Path, guest: GuestRunner) -> None:
    args, stdin = APPLETS[name]
    check(guest, workdir, *args, stdin=stdin)


def test_ls_la(workdir: Path, guest: GuestRunner) -> None:
    """Needs getdents64 and lstat; `..` is tmp_path/root, whose mtime is fixed as well."""
    check(guest, workdir.parent, "ls", "-la", "dir")
    check(guest, workdir, "ls", "-la", "--full-time", ".")


def test_stat(workdir: Path, guest: GuestRunner) -> None:
    """Nothing reads stat.txt, so its atime stays the one set here for both runs."""
    target = workdir / "stat.txt"
    target.write_bytes(b"x" * 1234)
    os.chmod(target, 0o640)
    os.utime(target, (MTIME - 3600, MTIME))
    check(guest, workdir, "stat", "stat.txt")
    check(guest, workdir, "stat", "-c", "%n %s %a %F %Y %X", "stat.txt", "sub")


def test_env(workdir: Path, guest: GuestRunner) -> None:
    env = {"A": "1", "B": "two words", "EMPTY": "", "PATH": "/usr/bin:/bin"}
    check(guest, workdir, "env", env=env)
    # No command after the assignments: env prints the result itself (running one needs execve).
    check(guest, workdir, "env", "-u", "A", "C=3", env=env)
    check(guest, workdir, "env", "-i", "X=y", env=env)
