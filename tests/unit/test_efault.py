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
    "futex": {"uaddr2": "read only by the requeue, wake-op and PI commands, not by FUTEX_WAIT"},
    "clone": {"parent_tidptr": "written after the child exists; a fault is ignored (kernel_clone)",
              "child_tidptr": "written in the child's memory, a fault ignored (schedule_tail)"},
}

BASELINE: dict[str, Errno] = {
    "futex": Errno.ETIMEDOUT,  # FUTEX_WAIT on a matching value with a zero timeout
    "futex_wait": Errno.ETIMEDOUT,  # the same with an absolute timeout long past
    "futex_waitv": Errno.ETIMEDOUT,
    "rt_sigsuspend": Errno.ERESTARTNOHAND,  # a signal is pending: the wait ends at once
    "execve": Errno.ENOENT,  # a script whose interpreter is missing: the strings were copied
    "execveat": Errno.ENOENT,
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


def _pending_usr1(t: Task) -> None:
    from sysgate.kernel.signal import send_signal

    send_signal(t, ls.SIGUSR1, ls.SI_USER)


@valid_args("rt_sigpending")
def _rt_sigpending(t: Task, d: Path) -> Prepared:
    return [OUT, 8], [0]


@valid_args("rt_sigsuspend")
def _rt_sigsuspend(t: Task, d: Path) -> Prepared:
    _pending_usr1(t)
    return [put(t, IN, struct.pack("<Q", 0)), 8], [0]


@valid_args("rt_sigtimedwait")
def _rt_sigtimedwait(t: Task, d: Path) -> Prepared:
    sys(t, "rt_sigprocmask", ls.SIG_BLOCK, put(t, IN2, struct.pack("<Q", ls.sigmask(ls.SIGUSR1))), 0, 8)
    _pending_usr1(t)
    return [put(t, IN, struct.pack("<Q", ls.sigmask(ls.SIGUSR1))), OUT, put(t, IN + 8, struct.pack("<qq", 0, 0)),
            8], [0, 1, 2]


def _siginfo_queue(t: Task) -> int:
    return put(t, IN + 0x40, struct.pack("<iii4xiI", ls.SIGUSR1, 0, ls.SI_QUEUE, t.pid, 0).ljust(128, b"\0"))


@valid_args("rt_sigqueueinfo")
def _rt_sigqueueinfo(t: Task, d: Path) -> Prepared:
    sys(t, "rt_sigprocmask", ls.SIG_BLOCK, put(t, IN2, struct.pack("<Q", ls.sigmask(ls.SIGUSR1))), 0, 8)
    return [t.pid, ls.SIGUSR1, _siginfo_queue(t)], [2]


@valid_args("rt_tgsigqueueinfo")
def _rt_tgsigqueueinfo(t: Task, d: Path) -> Prepared:
    sys(t, "rt_sigprocmask", ls.SIG_BLOCK, put(t, IN2, struct.pack("<Q", ls.sigmask(ls.SIGUSR1))), 0, 8)
    return [t.pid, t.tid, ls.SIGUSR1, _siginfo_queue(t)], [3]


@valid_args("getitimer")
def _getitimer(t: Task, d: Path) -> Prepared:
    return [0, OUT], [1]


@valid_args("setitimer")
def _setitimer(t: Task, d: Path) -> Prepared:
    return [0, put(t, IN, bytes(32)), OUT], [1, 2]


@valid_args("timer_create")
def _timer_create(t: Task, d: Path) -> Prepared:
    return [CLOCK_MONOTONIC, put(t, IN, struct.pack("<QiiI44x", 0, 0, 1, 0)), OUT], [1, 2]


def _a_timer(t: Task) -> None:
    assert sys(t, "timer_create", CLOCK_MONOTONIC, 0, OUT + 0x100) == 0


@valid_args("timer_settime")
def _timer_settime(t: Task, d: Path) -> Prepared:
    _a_timer(t)
    return [0, 0, put(t, IN, bytes(32)), OUT], [2, 3]


@valid_args("timer_gettime")
def _timer_gettime(t: Task, d: Path) -> Prepared:
    _a_timer(t)
    return [0, OUT], [1]


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


@valid_args("futex_wait")
def _futex_wait(t: Task, d: Path) -> Prepared:
    uaddr = put(t, IN, struct.pack("<I", 5))
    return [uaddr, 5, 1, 2, put(t, IN2, struct.pack("<qq", 0, 0)), 1], [0, 4]


@valid_args("futex_wake")
def _futex_wake(t: Task, d: Path) -> Prepared:
    return [put(t, IN, struct.pack("<I", 5)), 1, 1, 2], [0]  # FUTEX2_SIZE_U32, shared: the page is needed


@valid_args("futex_waitv")
def _futex_waitv(t: Task, d: Path) -> Prepared:
    put(t, IN2, struct.pack("<I", 5))
    vec = put(t, IN, struct.pack("<QQII", 5, IN2, 2, 0))
    return [vec, 1, 0, put(t, OUT, struct.pack("<qq", 0, 0)), 1], [0, 3]


@valid_args("futex_requeue")
def _futex_requeue(t: Task, d: Path) -> Prepared:
    put(t, IN2, struct.pack("<II", 5, 6))
    vec = put(t, IN, struct.pack("<QQIIQQII", 5, IN2, 2, 0, 6, IN2 + 4, 2, 0))
    return [vec, 0, 1, 1], [0]


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


# -- sockets (sysgate.net) ---------------------------------------------------------------------


def _sun(t: Task, addr: int, name: str) -> int:
    """A sockaddr_un for `name` at `addr`; its length."""
    raw = struct.pack("<H", 1) + name.encode() + b"\0"
    t.mm.write(addr, raw)
    return len(raw)


def _dgram_pair(t: Task) -> tuple[int, int]:
    """Two AF_UNIX datagram sockets, "a" and "b" in the cwd, with one datagram queued on b."""
    a, b = sys(t, "socket", 1, 2, 0), sys(t, "socket", 1, 2, 0)
    assert sys(t, "bind", a, IN2, _sun(t, IN2, "a")) == 0
    assert sys(t, "bind", b, IN2, _sun(t, IN2, "b")) == 0
    assert sys(t, "sendto", a, put(t, IN2 + 0x80, b"x"), 1, 0, IN2, _sun(t, IN2, "b")) == 1
    return a, b


@valid_args("socketpair")
def _socketpair(t: Task, d: Path) -> Prepared:
    return [1, 1, 0, OUT], [3]


@valid_args("bind")
def _bind(t: Task, d: Path) -> Prepared:
    fd = sys(t, "socket", 1, 2, 0)
    return [fd, IN, _sun(t, IN, "s")], [1]


@valid_args("connect")
def _connect(t: Task, d: Path) -> Prepared:
    _dgram_pair(t)
    return [sys(t, "socket", 1, 2, 0), IN, _sun(t, IN, "a")], [1]


@valid_args("getsockname", "getpeername")
def _getsockname(t: Task, d: Path) -> Prepared:
    assert sys(t, "socketpair", 1, 1, 0, OUT + 0x800) == 0
    put(t, IN, struct.pack("<i", 128))
    return [struct.unpack("<i", t.mm.read(OUT + 0x800, 4))[0], OUT, IN], [1, 2]


def _pending_connection(t: Task) -> int:
    srv = sys(t, "socket", 1, 1, 0)
    assert sys(t, "bind", srv, IN2, _sun(t, IN2, "l")) == 0 and sys(t, "listen", srv, 4) == 0
    assert sys(t, "connect", sys(t, "socket", 1, 1, 0), IN2, _sun(t, IN2, "l")) == 0
    return srv


@valid_args("accept")
def _accept(t: Task, d: Path) -> Prepared:
    srv = _pending_connection(t)
    put(t, IN, struct.pack("<i", 128))
    return [srv, OUT, IN], [1, 2]


@valid_args("accept4")
def _accept4(t: Task, d: Path) -> Prepared:
    srv = _pending_connection(t)
    put(t, IN, struct.pack("<i", 128))
    return [srv, OUT, IN, 0], [1, 2]


@valid_args("sendto")
def _sendto(t: Task, d: Path) -> Prepared:
    a, _ = _dgram_pair(t)
    return [a, put(t, IN, b"y"), 1, 0, IN + 0x80, _sun(t, IN + 0x80, "b")], [1, 4]


@valid_args("recvfrom")
def _recvfrom(t: Task, d: Path) -> Prepared:
    _, b = _dgram_pair(t)
    put(t, IN, struct.pack("<i", 128))
    return [b, OUT, 16, 0x40, OUT + 0x100, IN], [1, 4, 5]


def _msghdr(t: Task, at: int, buf: int) -> int:
    put(t, at + 0x80, struct.pack("<QQ", buf, 1))
    put(t, at, struct.pack("<Qi4xQQQQi4x", 0, 0, at + 0x80, 1, 0, 0, 0))
    return at


@valid_args("sendmsg")
def _sendmsg(t: Task, d: Path) -> Prepared:
    a, _ = _dgram_pair(t)
    assert sys(t, "connect", a, IN2, _sun(t, IN2, "b")) == 0
    return [a, _msghdr(t, IN, put(t, IN + 0x100, b"z")), 0], [1]


@valid_args("recvmsg")
def _recvmsg(t: Task, d: Path) -> Prepared:
    _, b = _dgram_pair(t)
    return [b, _msghdr(t, IN, OUT), 0x40], [1]


@valid_args("sendmmsg")
def _sendmmsg(t: Task, d: Path) -> Prepared:
    a, _ = _dgram_pair(t)
    assert sys(t, "connect", a, IN2, _sun(t, IN2, "b")) == 0
    return [a, _msghdr(t, OUT, put(t, IN + 0x100, b"z")), 1, 0], [1]


@valid_args("recvmmsg")
def _recvmmsg(t: Task, d: Path) -> Prepared:
    _, b = _dgram_pair(t)
    put(t, IN, struct.pack("<qq", 1, 0))
    return [b, _msghdr(t, OUT, OUT + 0x400), 1, 0x40, IN], [1, 4]


@valid_args("setsockopt")
def _setsockopt(t: Task, d: Path) -> Prepared:
    return [sys(t, "socket", 1, 2, 0), 1, 2, put(t, IN, struct.pack("<i", 1)), 4], [3]


@valid_args("getsockopt")
def _getsockopt(t: Task, d: Path) -> Prepared:
    put(t, IN, struct.pack("<i", 4))
    return [sys(t, "socket", 1, 2, 0), 1, 3, OUT, IN], [3, 4]


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


# -- processes (sysgate.kernel.fork, exit, sys_exec) -------------------------------------------


@valid_args("clone")
def _clone(t: Task, d: Path) -> Prepared:
    return [ls.SIGCHLD, 0, OUT, OUT + 8, 0], []


@valid_args("clone3")
def _clone3(t: Task, d: Path) -> Prepared:
    put(t, IN, struct.pack("<11Q", 0, 0, 0, 0, ls.SIGCHLD, 0, 0, 0, 0, 0, 0))
    return [IN, 88], [0]


def _script(t: Task, d: Path) -> tuple[int, int, int]:
    """An executable #! script whose interpreter is missing, argv and envp arrays."""
    (d / "s").write_bytes(b"#!/nonexistent/interpreter\n")
    (d / "s").chmod(0o755)
    name = put(t, S0, "./s")
    put(t, S1, "arg")
    put(t, IN, struct.pack("<QQ", S1, 0))
    put(t, IN2, struct.pack("<QQ", S1, 0))
    return name, IN, IN2


@valid_args("execve")
def _execve(t: Task, d: Path) -> Prepared:
    return [*_script(t, d)], [0, 1, 2]


@valid_args("execveat")
def _execveat(t: Task, d: Path) -> Prepared:
    name, argv, envp = _script(t, d)
    return [AT, name, argv, envp, 0], [1, 2, 3]


def _zombie(t: Task) -> int:
    """A child that has exited and is not yet reaped."""
    from sysgate.kernel.exit import do_exit

    pid = sys(t, "fork")
    assert pid > 0, pid
    do_exit(t.kernel.tasks[pid], 3 << 8)
    return pid


@valid_args("wait4")
def _wait4(t: Task, d: Path) -> Prepared:
    return [_zombie(t), OUT, 0, OUT + 0x100], [1, 3]


@valid_args("waitid")
def _waitid(t: Task, d: Path) -> Prepared:
    _zombie(t)
    return [0, 0, OUT, 4, OUT + 0x100], [2, 4]  # P_ALL, WEXITED


# -- waiting for files (sysgate.fs.select, eventpoll, signalfd, timerfd) ------------------------


def _ready_pipe(t: Task) -> int:
    """The read end of a pipe with a byte in it."""
    assert sys(t, "pipe2", OUT + 0x800, 0) == 0
    rfd, wfd = struct.unpack("<ii", t.mm.read(OUT + 0x800, 8))
    assert sys(t, "write", wfd, put(t, IN2 + 0x80, b"x"), 1) == 1
    return rfd


@valid_args("poll")
def _poll(t: Task, d: Path) -> Prepared:
    put(t, IN, struct.pack("<ihh", _ready_pipe(t), 1, 0))
    return [IN, 1, 0], [0]


@valid_args("ppoll")
def _ppoll(t: Task, d: Path) -> Prepared:
    put(t, IN, struct.pack("<ihh", _ready_pipe(t), 1, 0))
    put(t, IN2, struct.pack("<qqQ", 0, 0, 0))
    return [IN, 1, IN2, IN2 + 16, 8], [0, 2, 3]


def _fd_sets(t: Task) -> int:
    fd = _ready_pipe(t)
    put(t, IN, (1 << fd).to_bytes(128, "little"))
    put(t, IN + 0x80, bytes(128))
    put(t, IN + 0x100, bytes(128))
    put(t, IN2, struct.pack("<qq", 0, 0))
    return fd + 1


@valid_args("select")
def _select(t: Task, d: Path) -> Prepared:
    return [_fd_sets(t), IN, IN + 0x80, IN + 0x100, IN2], [1, 2, 3, 4]


@valid_args("pselect6")
def _pselect6(t: Task, d: Path) -> Prepared:
    n = _fd_sets(t)
    put(t, IN2 + 0x20, struct.pack("<QQ", IN2 + 0x40, 8))
    put(t, IN2 + 0x40, struct.pack("<Q", 0))
    return [n, IN, IN + 0x80, IN + 0x100, IN2, IN2 + 0x20], [1, 2, 3, 4, 5]


def _epoll(t: Task) -> int:
    epfd = sys(t, "epoll_create1", 0)
    put(t, IN, struct.pack("<IQ", 1, 7))  # EPOLLIN, data (packed: struct epoll_event on x86-64)
    assert sys(t, "epoll_ctl", epfd, 1, _ready_pipe(t), IN) == 0
    return epfd


@valid_args("epoll_ctl")
def _epoll_ctl(t: Task, d: Path) -> Prepared:
    epfd = sys(t, "epoll_create1", 0)
    put(t, IN, struct.pack("<IQ", 1, 7))
    return [epfd, 1, _ready_pipe(t), IN], [3]


@valid_args("epoll_wait")
def _epoll_wait(t: Task, d: Path) -> Prepared:
    return [_epoll(t), OUT, 4, 0], [1]


@valid_args("epoll_pwait")
def _epoll_pwait(t: Task, d: Path) -> Prepared:
    put(t, IN2, struct.pack("<Q", 0))
    return [_epoll(t), OUT, 4, 0, IN2, 8], [1, 4]


@valid_args("epoll_pwait2")
def _epoll_pwait2(t: Task, d: Path) -> Prepared:
    put(t, IN2, struct.pack("<qqQ", 0, 0, 0))
    return [_epoll(t), OUT, 4, IN2, IN2 + 16, 8], [1, 3, 4]


@valid_args("signalfd")
def _signalfd(t: Task, d: Path) -> Prepared:
    put(t, IN, struct.pack("<Q", 1 << (ls.SIGUSR1 - 1)))
    return [-1, IN, 8], [1]


@valid_args("signalfd4")
def _signalfd4(t: Task, d: Path) -> Prepared:
    put(t, IN, struct.pack("<Q", 1 << (ls.SIGUSR1 - 1)))
    return [-1, IN, 8, 0], [1]


@valid_args("timerfd_settime")
def _timerfd_settime(t: Task, d: Path) -> Prepared:
    put(t, IN, struct.pack("<qqqq", 0, 0, 100, 0))
    return [sys(t, "timerfd_create", CLOCK_MONOTONIC, 0), 0, IN, OUT], [2, 3]


@valid_args("timerfd_gettime")
def _timerfd_gettime(t: Task, d: Path) -> Prepared:
    return [sys(t, "timerfd_create", CLOCK_MONOTONIC, 0), OUT], [1]
