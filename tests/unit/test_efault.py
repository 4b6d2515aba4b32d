"""EFAULT for every user pointer of every declared system call.

For each spec with a UserPtr parameter, VALID_ARGS holds a function that prepares a
fresh task (files in its cwd, structs in its memory) and returns arguments with which
the call succeeds, plus the index of each pointer to poison. Each pointer is replaced
in turn by an address in the kernel half and by an unmapped one, on a fresh task, and
the call must fail with EFAULT, as on Linux.

A pointer that Linux never dereferences (or only on a path sysgate cannot take, such as
a signal interrupting a sleep) is listed in NOT_DEREFERENCED with the reason, instead of
being poisoned. A new handler with pointer parameters makes
test_every_pointer_spec_has_valid_args fail until it has an entry here.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

import sysgate.handlers  # noqa: F401 - registers every built-in handler
from sysgate.kernel.task import Task
from sysgate.syscall import REGISTRY, SyscallSpec
from sysgate.tables.tbl import x86_64_table
from sysgate.uapi import fcntl as o
from sysgate.uapi import signal as ls
from sysgate.uapi import stat as st
from sysgate.uapi.errno import Errno
from sysgate.uapi.resource import RLIMIT_NOFILE, RUSAGE_SELF
from sysgate.uapi.time import CLOCK_MONOTONIC
from tests.conftest import KERNEL_ADDR, UNMAPPED, USER_BUF, make_task, sys

Prepared = tuple[list[int], list[int]]
Prepare = Callable[[Task, Path], Prepared]

S0 = USER_BUF  # first name
S1 = USER_BUF + 0x100  # second name
IN = USER_BUF + 0x200  # structs the kernel reads
IN2 = USER_BUF + 0x300
OUT = USER_BUF + 0x1000  # 8 KiB the kernel may fill
RSEQ = USER_BUF + 0x4000  # 32-byte aligned
AT = o.AT_FDCWD
BAD_ADDRESSES = {"kernel": KERNEL_ADDR, "unmapped": UNMAPPED}

VALID_ARGS: dict[str, Prepare] = {}
"""Syscall name (as in the .tbl) -> prepare(task, cwd) -> (valid arguments, pointer indexes to poison)."""

NOT_DEREFERENCED: dict[str, dict[str, str]] = {
    "set_tid_address": {"tidptr": "only recorded; written when the thread exits (kernel/fork.c)"},
    "set_robust_list": {"head": "only recorded; walked when the thread exits (kernel/futex/syscalls.c)"},
    "getcpu": {"unused": "never read or written by Linux (kernel/sys.c)"},
    "nanosleep": {"rmtp": "written only when a signal interrupts the sleep (hrtimer_nanosleep)"},
    "clock_nanosleep": {"rmtp": "written only when a signal interrupts the sleep (hrtimer_nanosleep)"},
    "futex": {"uaddr2": "read only by the requeue and wake-op commands, which sysgate answers with ENOSYS"},
}

BASELINE: dict[str, Errno] = {
    "futex": Errno.ETIMEDOUT,  # FUTEX_WAIT on a matching value with a zero timeout
}
"""Entries whose valid call fails with an errno (other than EFAULT) instead of succeeding."""


def valid_args(*names: str) -> Callable[[Prepare], Prepare]:
    def register(fn: Prepare) -> Prepare:
        for name in names:
            assert name not in VALID_ARGS, name
            VALID_ARGS[name] = fn
        return fn
    return register


def put(t: Task, addr: int, data: bytes | str) -> int:
    raw = os.fsencode(data) if isinstance(data, str) else data
    t.mm.write(addr, raw + (b"\0" if isinstance(data, str) else b""))
    return addr


def files(d: Path) -> None:
    """The cwd every case starts from: a file, a directory, a symbolic link."""
    (d / "f").write_bytes(b"0123456789abcdef" * 4)
    (d / "d").mkdir(exist_ok=True)
    if not (d / "link").is_symlink():
        (d / "link").symlink_to("f")


def fd_of(t: Task, name: str, flags: int = o.O_RDONLY) -> int:
    fd = sys(t, "openat", AT, put(t, USER_BUF + 0x7000, name), flags, 0o644)
    assert fd >= 0, (name, fd)
    return fd


# -- reading and writing --------------------------------------------------------------------


@valid_args("read")
def _read(t: Task, d: Path) -> Prepared:
    return [fd_of(t, "f"), OUT, 16], [1]


@valid_args("write")
def _write(t: Task, d: Path) -> Prepared:
    return [fd_of(t, "f", o.O_WRONLY), put(t, IN, b"data"), 4], [1]


@valid_args("pread64")
def _pread64(t: Task, d: Path) -> Prepared:
    return [fd_of(t, "f"), OUT, 16, 4], [1]


@valid_args("pwrite64")
def _pwrite64(t: Task, d: Path) -> Prepared:
    return [fd_of(t, "f", o.O_WRONLY), put(t, IN, b"data"), 4, 4], [1]


@valid_args("readv", "preadv", "preadv2")
def _readv(t: Task, d: Path) -> Prepared:
    put(t, IN, struct.pack("<QQ", OUT, 16))
    return [fd_of(t, "f"), IN, 1, 0, 0, 0], [1]


@valid_args("writev", "pwritev", "pwritev2")
def _writev(t: Task, d: Path) -> Prepared:
    put(t, IN, struct.pack("<QQ", put(t, IN2, b"data"), 4))
    return [fd_of(t, "f", o.O_WRONLY), IN, 1, 0, 0, 0], [1]


@valid_args("sendfile")
def _sendfile(t: Task, d: Path) -> Prepared:
    out = fd_of(t, "g", o.O_WRONLY | o.O_CREAT)
    return [out, fd_of(t, "f"), put(t, IN, struct.pack("<q", 2)), 4], [2]


@valid_args("copy_file_range")
def _copy_file_range(t: Task, d: Path) -> Prepared:
    out = fd_of(t, "g", o.O_WRONLY | o.O_CREAT)
    put(t, IN, struct.pack("<qq", 2, 0))
    return [fd_of(t, "f"), IN, out, IN + 8, 4, 0], [1, 3]


@valid_args("pipe")
def _pipe(t: Task, d: Path) -> Prepared:
    return [OUT], [0]


@valid_args("pipe2")
def _pipe2(t: Task, d: Path) -> Prepared:
    return [OUT, o.O_CLOEXEC], [0]


@valid_args("getdents", "getdents64")
def _getdents(t: Task, d: Path) -> Prepared:
    return [fd_of(t, ".", o.O_RDONLY | o.O_DIRECTORY), OUT, 4096], [1]


# -- names ----------------------------------------------------------------------------------


@valid_args("open")
def _open(t: Task, d: Path) -> Prepared:
    return [put(t, S0, "f"), o.O_RDONLY, 0], [0]


@valid_args("openat")
def _openat(t: Task, d: Path) -> Prepared:
    return [AT, put(t, S0, "f"), o.O_RDONLY, 0], [1]


@valid_args("openat2")
def _openat2(t: Task, d: Path) -> Prepared:
    return [AT, put(t, S0, "f"), put(t, IN, struct.pack("<QQQ", o.O_RDONLY, 0, 0)), 24], [1, 2]


@valid_args("creat")
def _creat(t: Task, d: Path) -> Prepared:
    return [put(t, S0, "new"), 0o644], [0]


@valid_args("stat", "lstat", "statfs")
def _stat(t: Task, d: Path) -> Prepared:
    return [put(t, S0, "f"), OUT], [0, 1]


@valid_args("fstat", "fstatfs")
def _fstat(t: Task, d: Path) -> Prepared:
    return [fd_of(t, "f"), OUT], [1]


@valid_args("newfstatat")
def _newfstatat(t: Task, d: Path) -> Prepared:
    return [AT, put(t, S0, "f"), OUT, 0], [1, 2]


@valid_args("statx")
def _statx(t: Task, d: Path) -> Prepared:
    return [AT, put(t, S0, "f"), 0, st.STATX_BASIC_STATS, OUT], [1, 4]


@valid_args("readlink")
def _readlink(t: Task, d: Path) -> Prepared:
    return [put(t, S0, "link"), OUT, 64], [0, 1]


@valid_args("readlinkat")
def _readlinkat(t: Task, d: Path) -> Prepared:
    return [AT, put(t, S0, "link"), OUT, 64], [1, 2]


@valid_args("access")
def _access(t: Task, d: Path) -> Prepared:
    return [put(t, S0, "f"), o.R_OK], [0]


@valid_args("faccessat", "faccessat2")
def _faccessat(t: Task, d: Path) -> Prepared:
    return [AT, put(t, S0, "f"), o.R_OK, 0], [1]


@valid_args("chdir", "rmdir")
def _chdir(t: Task, d: Path) -> Prepared:
    return [put(t, S0, "d")], [0]


@valid_args("getcwd")
def _getcwd(t: Task, d: Path) -> Prepared:
    return [OUT, 4096], [0]


@valid_args("mkdir")
def _mkdir(t: Task, d: Path) -> Prepared:
    return [put(t, S0, "newdir"), 0o755], [0]


@valid_args("mkdirat")
def _mkdirat(t: Task, d: Path) -> Prepared:
    return [AT, put(t, S0, "newdir"), 0o755], [1]


@valid_args("mknod")
def _mknod(t: Task, d: Path) -> Prepared:
    return [put(t, S0, "fifo"), st.S_IFIFO | 0o644, 0], [0]


@valid_args("mknodat")
def _mknodat(t: Task, d: Path) -> Prepared:
    return [AT, put(t, S0, "fifo"), st.S_IFIFO | 0o644, 0], [1]


@valid_args("unlink", "truncate")
def _unlink(t: Task, d: Path) -> Prepared:
    return [put(t, S0, "f"), 0], [0]


@valid_args("unlinkat")
def _unlinkat(t: Task, d: Path) -> Prepared:
    return [AT, put(t, S0, "f"), 0], [1]


@valid_args("rename", "link")
def _rename(t: Task, d: Path) -> Prepared:
    return [put(t, S0, "f"), put(t, S1, "g")], [0, 1]


@valid_args("renameat", "renameat2", "linkat")
def _renameat(t: Task, d: Path) -> Prepared:
    return [AT, put(t, S0, "f"), AT, put(t, S1, "g"), 0], [1, 3]


@valid_args("symlink")
def _symlink(t: Task, d: Path) -> Prepared:
    return [put(t, S0, "target"), put(t, S1, "newlink")], [0, 1]


@valid_args("symlinkat")
def _symlinkat(t: Task, d: Path) -> Prepared:
    return [put(t, S0, "target"), AT, put(t, S1, "newlink")], [0, 2]


@valid_args("chmod")
def _chmod(t: Task, d: Path) -> Prepared:
    return [put(t, S0, "f"), 0o600], [0]


@valid_args("fchmodat", "fchmodat2")
def _fchmodat(t: Task, d: Path) -> Prepared:
    return [AT, put(t, S0, "f"), 0o600, 0], [1]


@valid_args("chown", "lchown")
def _chown(t: Task, d: Path) -> Prepared:
    return [put(t, S0, "f"), 0xFFFFFFFF, 0xFFFFFFFF], [0]


@valid_args("fchownat")
def _fchownat(t: Task, d: Path) -> Prepared:
    return [AT, put(t, S0, "f"), 0xFFFFFFFF, 0xFFFFFFFF, 0], [1]


@valid_args("utime")
def _utime(t: Task, d: Path) -> Prepared:
    return [put(t, S0, "f"), put(t, IN, struct.pack("<qq", 1000, 2000))], [0, 1]


@valid_args("utimes")
def _utimes(t: Task, d: Path) -> Prepared:
    return [put(t, S0, "f"), put(t, IN, struct.pack("<qqqq", 1000, 1, 2000, 2))], [0, 1]


@valid_args("futimesat")
def _futimesat(t: Task, d: Path) -> Prepared:
    return [AT, put(t, S0, "f"), put(t, IN, struct.pack("<qqqq", 1000, 1, 2000, 2))], [1, 2]


@valid_args("utimensat")
def _utimensat(t: Task, d: Path) -> Prepared:
    return [AT, put(t, S0, "f"), put(t, IN, struct.pack("<qqqq", 1000, 1, 2000, 2)), 0], [1, 2]


# -- processes, time, signals -------------------------------------------------------------


@valid_args("uname", "sysinfo", "time", "times")
def _one_out(t: Task, d: Path) -> Prepared:
    return [OUT], [0]


@valid_args("getresuid", "getresgid")
def _getres(t: Task, d: Path) -> Prepared:
    return [OUT, OUT + 4, OUT + 8], [0, 1, 2]


@valid_args("getgroups")
def _getgroups(t: Task, d: Path) -> Prepared:
    t.cred.groups = [1, 2]  # with no groups nothing is written, so nothing could fault
    return [2, OUT], [1]


@valid_args("getrandom")
def _getrandom(t: Task, d: Path) -> Prepared:
    return [OUT, 16, 0], [0]


@valid_args("getrlimit")
def _getrlimit(t: Task, d: Path) -> Prepared:
    return [RLIMIT_NOFILE, OUT], [1]


@valid_args("setrlimit")
def _setrlimit(t: Task, d: Path) -> Prepared:
    return [RLIMIT_NOFILE, put(t, IN, struct.pack("<QQ", *t.group.rlimits[RLIMIT_NOFILE]))], [1]


@valid_args("prlimit64")
def _prlimit64(t: Task, d: Path) -> Prepared:
    return [0, RLIMIT_NOFILE, put(t, IN, struct.pack("<QQ", *t.group.rlimits[RLIMIT_NOFILE])), OUT], [2, 3]


@valid_args("getrusage")
def _getrusage(t: Task, d: Path) -> Prepared:
    return [RUSAGE_SELF, OUT], [1]


@valid_args("clock_gettime", "clock_getres")
def _clock(t: Task, d: Path) -> Prepared:
    return [CLOCK_MONOTONIC, OUT], [1]


@valid_args("clock_nanosleep")
def _clock_nanosleep(t: Task, d: Path) -> Prepared:
    return [CLOCK_MONOTONIC, 0, put(t, IN, struct.pack("<qq", 0, 0)), OUT], [2]


@valid_args("nanosleep")
def _nanosleep(t: Task, d: Path) -> Prepared:
    return [put(t, IN, struct.pack("<qq", 0, 0)), OUT], [0]


@valid_args("gettimeofday")
def _gettimeofday(t: Task, d: Path) -> Prepared:
    return [OUT, OUT + 16], [0, 1]


@valid_args("rt_sigaction")
def _rt_sigaction(t: Task, d: Path) -> Prepared:
    return [ls.SIGUSR1, put(t, IN, struct.pack("<QQQQ", ls.SIG_IGN, 0, 0, 0)), OUT, 8], [1, 2]


@valid_args("rt_sigprocmask")
def _rt_sigprocmask(t: Task, d: Path) -> Prepared:
    return [ls.SIG_BLOCK, put(t, IN, struct.pack("<Q", ls.sigmask(ls.SIGUSR1))), OUT, 8], [1, 2]


@valid_args("sigaltstack")
def _sigaltstack(t: Task, d: Path) -> Prepared:
    return [put(t, IN, struct.pack("<QI4xQ", USER_BUF + 0x8000, 0, 0x4000)), OUT], [0, 1]


@valid_args("set_tid_address")
def _set_tid_address(t: Task, d: Path) -> Prepared:
    return [OUT], []


@valid_args("set_robust_list")
def _set_robust_list(t: Task, d: Path) -> Prepared:
    return [IN, 24], []


@valid_args("get_robust_list")
def _get_robust_list(t: Task, d: Path) -> Prepared:
    return [0, OUT, OUT + 8], [1, 2]


@valid_args("rseq")
def _rseq(t: Task, d: Path) -> Prepared:
    return [RSEQ, 32, 0, 0x53053053], [0]


@valid_args("futex")
def _futex(t: Task, d: Path) -> Prepared:
    uaddr = put(t, IN, struct.pack("<I", 5))
    return [uaddr, 0, 5, put(t, IN2, struct.pack("<qq", 0, 0)), OUT, 0], [0, 3]


@valid_args("sched_getaffinity")
def _sched_getaffinity(t: Task, d: Path) -> Prepared:
    return [0, 8, OUT], [2]


@valid_args("sched_setaffinity")
def _sched_setaffinity(t: Task, d: Path) -> Prepared:
    return [0, 8, put(t, IN, struct.pack("<Q", 1))], [2]


@valid_args("getcpu")
def _getcpu(t: Task, d: Path) -> Prepared:
    return [OUT, OUT + 4, OUT + 8], [0, 1]


# -- extended attributes, memfds -------------------------------------------------------------


def _with_xattr(d: Path) -> None:
    os.setxattr(d / "f", "user.a", b"value")


@valid_args("getxattr", "lgetxattr")
def _getxattr(t: Task, d: Path) -> Prepared:
    _with_xattr(d)
    return [put(t, S0, "f"), put(t, S1, "user.a"), OUT, 64], [0, 1, 2]


@valid_args("fgetxattr")
def _fgetxattr(t: Task, d: Path) -> Prepared:
    _with_xattr(d)
    return [fd_of(t, "f"), put(t, S1, "user.a"), OUT, 64], [1, 2]


@valid_args("listxattr", "llistxattr")
def _listxattr(t: Task, d: Path) -> Prepared:
    _with_xattr(d)
    return [put(t, S0, "f"), OUT, 256], [0, 1]


@valid_args("flistxattr")
def _flistxattr(t: Task, d: Path) -> Prepared:
    _with_xattr(d)
    return [fd_of(t, "f"), OUT, 256], [1]


@valid_args("setxattr", "lsetxattr")
def _setxattr(t: Task, d: Path) -> Prepared:
    return [put(t, S0, "f"), put(t, S1, "user.a"), put(t, IN, b"value"), 5, 0], [0, 1, 2]


@valid_args("fsetxattr")
def _fsetxattr(t: Task, d: Path) -> Prepared:
    return [fd_of(t, "f"), put(t, S1, "user.a"), put(t, IN, b"value"), 5, 0], [1, 2]


@valid_args("removexattr", "lremovexattr")
def _removexattr(t: Task, d: Path) -> Prepared:
    _with_xattr(d)
    return [put(t, S0, "f"), put(t, S1, "user.a")], [0, 1]


@valid_args("fremovexattr")
def _fremovexattr(t: Task, d: Path) -> Prepared:
    _with_xattr(d)
    return [fd_of(t, "f"), put(t, S1, "user.a")], [1]


@valid_args("memfd_create")
def _memfd_create(t: Task, d: Path) -> Prepared:
    return [put(t, S0, "name"), 0], [0]


# -- memory ---------------------------------------------------------------------------------


@valid_args("mincore")
def _mincore(t: Task, d: Path) -> Prepared:
    return [USER_BUF, 0x2000, OUT], [2]


# -- the tests ------------------------------------------------------------------------------


def _pointer_specs() -> dict[str, SyscallSpec]:
    """The x86-64 table's names of every registered spec with a user pointer parameter."""
    table = x86_64_table()
    out = {}
    for slot in table.slots.values():
        if slot.spec is not None and any(p.arg.is_pointer for p in slot.spec.params):
            out[slot.name] = slot.spec
    return out


POINTER_SPECS = _pointer_specs()


def test_every_pointer_spec_has_valid_args() -> None:
    missing = sorted(set(POINTER_SPECS) - set(VALID_ARGS))
    assert not missing, (
        "system calls with user pointers but no entry in VALID_ARGS (tests/unit/test_efault.py): "
        + ", ".join(missing)
    )


def test_no_stale_entries() -> None:
    stale = sorted((set(VALID_ARGS) | set(NOT_DEREFERENCED) | set(BASELINE)) - set(POINTER_SPECS))
    assert not stale, "entries for system calls that are not registered (or have no pointers): " + ", ".join(stale)


def _run(tmp: Path, name: str, poison: tuple[int, int] | None = None) -> tuple[int, list[int], list[int]]:
    """Prepare a fresh task in a fresh directory and make the call (with one pointer replaced)."""
    d = Path(tempfile.mkdtemp(dir=tmp))
    files(d)
    t = make_task(d)
    old_umask = os.umask(0)
    try:
        args, indexes = VALID_ARGS[name](t, d)
        call = list(args)
        if poison is not None:
            call[poison[0]] = poison[1]
        return sys(t, name, *call), args, indexes
    finally:
        os.umask(old_umask)
        t.kernel.shutdown()


@pytest.mark.parametrize("name", sorted(set(VALID_ARGS) & set(POINTER_SPECS)))
def test_bad_pointer_is_efault(tmp_path: Path, name: str) -> None:
    spec = POINTER_SPECS[name]
    result, args, indexes = _run(tmp_path, name)
    want = -BASELINE[name] if name in BASELINE else None
    assert result == want if want is not None else result >= 0, f"{name}{tuple(args)} = {result}: not valid"

    pointers = {i for i, p in enumerate(spec.params) if p.arg.is_pointer}
    exempt = NOT_DEREFERENCED.get(name, {})
    assert set(indexes) <= pointers, f"{name}: poisons a parameter that is not a pointer"
    uncovered = [spec.params[i].name for i in sorted(pointers - set(indexes)) if spec.params[i].name not in exempt]
    assert not uncovered, f"{name}: pointer parameters neither poisoned nor in NOT_DEREFERENCED: {uncovered}"
    assert all(spec.params[i].name not in exempt for i in indexes), f"{name}: poisoned and exempt at once"

    failures = []
    for i in indexes:
        for label, bad in BAD_ADDRESSES.items():
            got, _, _ = _run(tmp_path, name, (i, bad))
            if got != -Errno.EFAULT:
                failures.append(f"{spec.params[i].name}={label}: {got}")
    assert not failures, f"{name}: " + "; ".join(failures)


@pytest.mark.parametrize("name, param", sorted((n, p) for n, ps in NOT_DEREFERENCED.items() for p in ps))
def test_not_dereferenced_pointers_really_are_ignored(tmp_path: Path, name: str, param: str) -> None:
    """The exempt pointers can be bad without changing the result of the valid call."""
    index = [p.name for p in POINTER_SPECS[name].params].index(param)
    valid, _, _ = _run(tmp_path, name)
    for bad in BAD_ADDRESSES.values():
        got, _, _ = _run(tmp_path, name, (index, bad))
        assert got == valid, (param, hex(bad), got)


def test_registry_is_the_source() -> None:
    """Every spec in POINTER_SPECS is a registered one (names come from the table)."""
    assert set(POINTER_SPECS.values()) <= set(REGISTRY.values())
