"""The programs already on a Debian machine, natively and under sysgate (issue 5, point 1).

Each case runs one real, dynamically linked program twice, natively and under sysgate,
with the same argv, environment (tests.guest.conftest.GUEST_ENV: LC_ALL=C, TZ=UTC),
stdin and working directory, and compares stdout, stderr and the exit status whole.
Only what differs by nature is masked before the comparison: the time of day, the
kernel's release and version strings, and the free-space figures of a file system that
other processes write to. The error cases check errno paths: a missing file, a
directory read as a file, a pattern that matches nothing.

The files the programs look at have fixed contents, modes and times, so a listing or an
archive is the same byte for byte in both runs. Programs that write (tar cf, gzip -k,
sqlite3 on a file) run in two fresh copies of the tree and their results are compared
as well. gunzip is a shell script that execs gzip (execve of a running program).
A program that is not installed is skipped (the README's test set-up installs them).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import shutil
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.guest.conftest import GUEST_ENV, GuestRunner, Outcome, assert_same

pytestmark = pytest.mark.guest

MTIME = 1_700_000_000  # 2023-11-14 22:13:20 UTC
FILES = {
    "one.txt": b"one line\n",
    "words.txt": b"pear\napple\nfig\nbanana\napple\ncherry\n",
    "numbers.txt": b"".join(b"%d\n" % (i * 37 % 101) for i in range(60)),
    "table.csv": b"name,qty,price\nbolt,100,0.05\nnut,250,0.02\nwasher,75,0.01\n",
    "blob.bin": bytes(range(256)) * 20 + b"tail",
    "empty": b"",
    "sub/inner.txt": b"an apple inside\n",
    "sub/deeper/leaf.txt": b"leaf\n",
}

Mask = Callable[[bytes], bytes]


def sub(pattern: bytes, repl: bytes) -> Mask:
    """A mask replacing every match of `pattern`."""
    rx = re.compile(pattern)
    return lambda data: rx.sub(repl, data)


class Case:
    """One run of a program: its argv and stdin, the exit status the native run must end
    with (so an error case really takes its error path), what to hide before comparing,
    and the files it creates, compared after both runs (with `same_meta`, their modes and
    modification times too)."""

    def __init__(self, *argv: str, stdin: bytes = b"", status: int = 0, masks: Sequence[Mask] = (),
                 writes: Sequence[str] = (), same_meta: bool = False) -> None:
        self.argv = argv
        self.stdin = stdin
        self.status = status
        self.masks = tuple(masks)
        self.writes = tuple(writes)
        self.same_meta = same_meta


PY = "/usr/bin/python3"
DIGITS = sub(rb"[0-9]", b"0")
"""`date` without a fixed time: only the shape of its output can be compared."""
STATFS_FREE = sub(rb"(Free|Available): +[0-9]+", rb"\1: N")
"""Free blocks and inodes of the host's file system change while the tests run."""

CASES: dict[str, Case] = {
    # ls: directory listings need getdents64, statx, and the xattr calls for ACLs and labels.
    "ls-la-etc": Case("/bin/ls", "-la", "/etc"),
    "ls-la-tree": Case("/bin/ls", "-la", "--time-style=full-iso", ".", "sub"),
    "ls-lR": Case("/bin/ls", "-lRi", "sub"),
    "ls-missing": Case("/bin/ls", "-l", "missing", "one.txt", status=2),
    # python3: the interpreter, its modules (json, hashlib through OpenSSL), files, stdin.
    "python3-json-hashlib": Case(
        PY, "-c", "import json, hashlib; print(json.dumps({'sha256': hashlib.sha256(b'sysgate').hexdigest(), "
        "'md5': hashlib.md5(b'x').hexdigest(), 'list': sorted([3, 1, 2])}, sort_keys=True))"),
    "python3-files": Case(
        PY, "-c", "import os; print(sorted(os.listdir('.'))); print(open('words.txt').read().split()); "
        "st = os.stat('one.txt'); print(st.st_size, oct(st.st_mode), st.st_mtime)"),
    "python3-stdin": Case(PY, "-c", "import sys; print(sum(int(x) for x in sys.stdin))", stdin=FILES["numbers.txt"]),
    "python3-error": Case(PY, "-c", "open('missing')", status=1),
    # ... and the calls behind its os module: extended attributes, memfds, fadvise, membarrier.
    "python3-xattr": Case(
        PY, "-c", "import os\nos.setxattr('one.txt', 'user.k', b'v1')\nos.setxattr('sub', 'user.d', b'')\n"
        "print(os.getxattr('one.txt', 'user.k'), sorted(os.listxattr('one.txt')), os.listxattr('sub'))\n"
        "for call in [lambda: os.getxattr('one.txt', 'user.none'), lambda: os.getxattr('missing', 'user.k'),\n"
        "             lambda: os.setxattr('one.txt', 'user.k', b'x', os.XATTR_CREATE),\n"
        "             lambda: os.getxattr('one.txt', 'bad.k'), lambda: os.removexattr('one.txt', 'user.none')]:\n"
        "    try:\n        call()\n    except OSError as e:\n        print(e)\n"
        "os.removexattr('one.txt', 'user.k')\nprint(os.listxattr('one.txt'))", writes=("one.txt",)),
    "python3-memfd": Case(
        PY, "-c", "import os\nfd = os.memfd_create('py', os.MFD_CLOEXEC)\nos.write(fd, b'abc')\n"
        "print(os.readlink(f'/proc/self/fd/{fd}'), os.fstat(fd).st_size, os.lseek(fd, 0, 0), os.read(fd, 9))\n"
        "try:\n    os.memfd_create('x' * 250)\nexcept OSError as e:\n    print(e)"),
    "python3-fadvise": Case(
        PY, "-c", "import os\nfd = os.open('words.txt', os.O_RDONLY)\n"
        "print(os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL), os.read(fd, 5))\nr, w = os.pipe()\n"
        "for f, advice in [(r, 0), (fd, 99), (99, 0)]:\n    try:\n        os.posix_fadvise(f, 0, 0, advice)\n"
        "    except OSError as e:\n        print(e)"),
    "python3-membarrier": Case(
        PY, "-c", "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print(hex(libc.syscall(324, 0, 0, 0) & ~1))\n"
        "print([(libc.syscall(324, cmd, 0, 0), ctypes.get_errno()) for cmd in (8, 16, 8, 512, 3)])"),
    # sqlite3: in memory, on a file (locks, journal, fsync), and an SQL error.
    "sqlite3-memory": Case("/usr/bin/sqlite3", ":memory:", "select 1+1"),
    "sqlite3-sql": Case("/usr/bin/sqlite3", ":memory:",
                        "create table t(name, qty); insert into t values ('bolt', 100), ('nut', 250), ('bolt', 5); "
                        "select name, sum(qty), printf('%.2f', avg(qty)) from t group by name order by name;"),
    "sqlite3-file": Case("/usr/bin/sqlite3", "new.db",
                         "create table t(x); insert into t values (1), (2); select count(*), sum(x) from t;",
                         writes=("new.db",)),
    "sqlite3-error": Case("/usr/bin/sqlite3", ":memory:", "select * from nosuch", status=1),
    # coreutils.
    "cat": Case("/bin/cat", "one.txt", "words.txt", "blob.bin"),
    "cat-stdin": Case("/bin/cat", "-", stdin=b"from stdin\n" * 5000),
    "cat-directory": Case("/bin/cat", "one.txt", "sub", "words.txt", status=1),
    "cat-missing": Case("/bin/cat", "missing", status=1),
    "sort": Case("sort", "words.txt"),
    "sort-numeric": Case("sort", "-n", "-r", "-u", "numbers.txt"),
    "sort-stdin": Case("sort", "-t", ",", "-k", "2", "-n", stdin=FILES["table.csv"]),
    "sha256sum": Case("sha256sum", "words.txt", "blob.bin", "empty"),
    "sha256sum-check": Case("sha256sum", "-c", "sums.txt"),
    "date-fixed": Case("date", "-d", "@1700000000"),
    "date-format": Case("date", "-u", "-d", "2024-02-29 12:34:56", "+%A %j %s %Z"),
    "date-now": Case("date", masks=[DIGITS]),
    "id": Case("id"),
    "id-names": Case("id", "-un"),
    "id-missing-user": Case("id", "no-such-user-here", status=1),
    "env": Case("env"),
    "env-changed": Case("env", "-u", "SYSGATE_TEST", "A=1", "B=two words"),
    "uname-fields": Case("uname", "-s", "-n", "-m", "-o"),
    "stat": Case("stat", "stat.txt", "sub"),
    "stat-format": Case("stat", "-c", "%n %s %a %A %F %h %u %g %Y %X", "stat.txt", "sub", "one.txt"),
    "stat-missing": Case("stat", "missing", status=1),
    "stat-f": Case("stat", "-f", ".", masks=[STATFS_FREE]),
    "stat-f-format": Case("stat", "-f", "-c", "%n %T %s %S %l %b %c %i", ".", "/", "/proc", "/proc/self/fd",
                          "/dev", "/dev/shm", "/sys"),
    "find": Case("find", "."),
    "find-tests": Case("find", ".", "-type", "f", "-name", "*.txt", "-size", "-1k", "-printf", "%p %s %m %TY\\n"),
    "find-missing": Case("find", "missing", "sub", status=1),
    "grep-r": Case("grep", "-r", "apple", "."),
    "grep-rn": Case("grep", "-rnic", "E", "."),
    "grep-no-match": Case("grep", "-r", "no such text", ".", status=1),
    "grep-missing": Case("grep", "apple", "missing", "words.txt", status=2),
    # tar without compression (-z would fork gzip), gzip.
    "tar-cf": Case("tar", "cf", "out.tar", "one.txt", "words.txt", "sub", writes=("out.tar",)),
    "tar-tvf": Case("tar", "tvf", "fixed.tar"),
    "tar-xf": Case("tar", "xvf", "fixed.tar", writes=("x/a.txt", "x/b/c.txt"), same_meta=True),
    "tar-missing": Case("tar", "tf", "missing.tar", status=2),
    "gzip-c": Case("gzip", "-c", "words.txt"),
    "gzip-k": Case("gzip", "-k", "-9", "blob.bin", writes=("blob.bin.gz",), same_meta=True),
    "gzip-d": Case("gzip", "-d", "-c", "fixed.gz"),
    "gzip-bad": Case("gzip", "-d", "-c", "one.txt", status=1),
    # Interpreters.
    "perl": Case("perl", "-e", 'print join(",", map { $_ * 2 } 1..5), "\\n"; printf("%.6f\\n", atan2(1, 1) * 4); '
                 'open(my $f, "<", "words.txt") or die "open: $!"; print sort <$f>; print scalar(localtime(0)), "\\n"'),
    "perl-flock": Case("perl", "-e", 'use Fcntl qw(:flock); open(my $a, "<", "one.txt") or die; '
                       'open(my $b, "<", "one.txt") or die; flock($a, LOCK_EX) or die "flock: $!"; '
                       'print flock($b, LOCK_EX | LOCK_NB) ? "locked\\n" : "busy: $!\\n"; flock($a, LOCK_UN); '
                       'print flock($b, LOCK_SH | LOCK_NB) ? "shared\\n" : "no: $!\\n"'),
    "perl-die": Case("perl", "-e", 'open(my $f, "<", "missing") or die "cannot open: $!\\n"', status=2),
    "lua": Case("lua5.4", "-e", 'print(string.format("%d %s %.3f", 6 * 7, ("x"):rep(3), math.pi)) '
                'for l in io.lines("words.txt") do io.write(l:upper(), "\\n") end print(os.date("!%Y-%m-%d", 0))'),
    "lua-error": Case("lua5.4", "-e", 'local f, err = io.open("missing") print(f, err) error("boom")', status=1),
}


def make_tree(root: Path) -> Path:
    """The files above in `root`, with fixed modes and times (`root` itself too)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, data in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o644)
    (root / "blob.bin").chmod(0o600)
    stat_txt = root / "stat.txt"  # read by no case: its atime stays the one set here
    stat_txt.write_bytes(b"x" * 1234)
    stat_txt.chmod(0o640)
    sums = "".join(f"{hashlib.sha256(FILES[n]).hexdigest()}  {n}\n" for n in ("one.txt", "words.txt", "empty"))
    (root / "sums.txt").write_text(sums)
    (root / "fixed.tar").write_bytes(fixed_tar())
    (root / "fixed.gz").write_bytes(gzip.compress(FILES["words.txt"], mtime=MTIME))
    paths = sorted(root.rglob("*"), key=lambda p: -len(p.parts))  # files before their directories
    for path in [*paths, root]:
        os.utime(path, (MTIME, MTIME), follow_symlinks=False)
    os.utime(stat_txt, (MTIME - 3600, MTIME))
    return root


def fixed_tar() -> bytes:
    """An archive with fixed names, owners, modes and times: x/a.txt, x/b/c.txt, a link."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, kind, data in [("x", tarfile.DIRTYPE, b""), ("x/a.txt", tarfile.REGTYPE, b"alpha\n"),
                                 ("x/b", tarfile.DIRTYPE, b""), ("x/b/c.txt", tarfile.REGTYPE, b"gamma\n" * 100),
                                 ("x/link", tarfile.SYMTYPE, b"")]:
            info = tarfile.TarInfo(name)
            info.type, info.size, info.mtime = kind, len(data), MTIME
            info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if kind == tarfile.SYMTYPE:
                info.linkname = "a.txt"
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def installed(program: str) -> str:
    """The path of `program` (a path, or a name on GUEST_ENV's PATH); skip if it is missing.

    Both runs get the path: sysgate.run, like execve, does not search PATH."""
    path = shutil.which(program, path=GUEST_ENV["PATH"])
    if path is None:
        pytest.skip(f"{program} is not installed (the README's test set-up installs it)")
    return path


def masked(r: Outcome, masks: Sequence[Mask]) -> Outcome:
    out, err = r.stdout, r.stderr
    for mask in masks:
        out, err = mask(out), mask(err)
    return Outcome(r.returncode, out, err)


def run_both(guest: GuestRunner, tmp_path: Path, case: Case) -> tuple[Outcome, Outcome]:
    """Native then sysgate; a case that writes gets two fresh trees, others share one."""
    argv = [installed(case.argv[0]), *case.argv[1:]]
    native_dir = make_tree(tmp_path / "native")
    ours_dir = make_tree(tmp_path / "sysgate") if case.writes else native_dir
    native = guest.native(argv, stdin=case.stdin, cwd=native_dir)
    assert native.returncode == case.status, f"the native run did not end as this case expects:\n{native}"
    ours = guest.sysgate(argv, stdin=case.stdin, cwd=ours_dir)
    for name in case.writes:
        assert (ours_dir / name).read_bytes() == (native_dir / name).read_bytes(), f"{name} differs"
        if case.same_meta:
            st_native, st_ours = (native_dir / name).stat(), (ours_dir / name).stat()
            assert (st_ours.st_mode, st_ours.st_mtime_ns) == (st_native.st_mode, st_native.st_mtime_ns), name
    return masked(native, case.masks), masked(ours, case.masks)


@pytest.mark.parametrize("name", list(CASES))
def test_program(name: str, guest: GuestRunner, tmp_path: Path) -> None:
    native, ours = run_both(guest, tmp_path, CASES[name])
    assert_same(ours, native)


def test_uname_a(guest: GuestRunner, tmp_path: Path) -> None:
    """Everything but the release and the version, which are the kernel's own (sysgate's
    are Linux 6.12's): each run's `uname -r` and `uname -v` are masked in its `uname -a`."""
    uname = installed("uname")
    runs = []
    for run in (guest.native, guest.sysgate):
        release = run([uname, "-r"]).stdout.rstrip(b"\n")
        version = run([uname, "-v"]).stdout.rstrip(b"\n")
        assert release and version
        full = run([uname, "-a"])
        runs.append(Outcome(full.returncode, full.stdout.replace(release, b"RELEASE").replace(version, b"VERSION"),
                            full.stderr))
    native, ours = runs
    assert b"RELEASE VERSION" in native.stdout
    assert_same(ours, native)


def test_gunzip(guest: GuestRunner, tmp_path: Path) -> None:
    """gunzip is a #! shell script that execs gzip: execve from a running program."""
    native, ours = run_both(guest, tmp_path, Case("gunzip", "-c", "fixed.gz"))
    assert_same(ours, native)
