"""fcntl, dup, dup2, dup3, pipe and pipe2 traced as strace 6.1 prints them (the strings are
those the host's strace printed for static C programs making the same calls)."""

from __future__ import annotations

import os
import struct

from sysgate.uapi import fcntl as o
from tests.conftest import USER_BUF, sys
from tests.unit.trace.conftest import line, traced

BUF = USER_BUF
LOCK = USER_BUF + 0x100
OWNER = USER_BUF + 0x200
PAIR = USER_BUF + 0x300
F_OWNER_TID, F_OWNER_PID = 0, 1
SIGUSR1 = 10




def flock(task, l_type: int, whence: int, start: int, length: int, pid: int = 0) -> int:
    task.mm.write(LOCK, struct.pack("<hh4xqqi4x", l_type, whence, start, length, pid))
    return LOCK


# -- fcntl ---------------------------------------------------------------------------------------


def test_fcntl_getfd_setfd(task, f3):
    assert traced(task, "fcntl", f3, o.F_GETFD) == line("fcntl(3, F_GETFD)", "0")
    assert traced(task, "fcntl", f3, o.F_SETFD, o.FD_CLOEXEC) == line("fcntl(3, F_SETFD, FD_CLOEXEC)", "0")
    assert traced(task, "fcntl", f3, o.F_GETFD) == line("fcntl(3, F_GETFD)", "0x1 (flags FD_CLOEXEC)")
    assert traced(task, "fcntl", f3, o.F_SETFD, 0) == line("fcntl(3, F_SETFD, 0)", "0")
    assert traced(task, "fcntl", f3, o.F_SETFD, 3) == line("fcntl(3, F_SETFD, FD_CLOEXEC|0x2)", "0")
    assert traced(task, "fcntl", f3, o.F_SETFD, 0xFFFFFFFF00000001) == line("fcntl(3, F_SETFD, FD_CLOEXEC)", "0")


def test_fcntl_getfd_setfd_raw_and_verbose(task, f3):
    assert traced(task, "fcntl", f3, o.F_SETFD, 3, options=("-X", "raw")) == line("fcntl(3, 0x2, 0x3)", "0")
    assert traced(task, "fcntl", f3, o.F_GETFD, options=("-X", "raw")) == line("fcntl(3, 0x1)", "0x1 (flags 0x1)")
    assert traced(task, "fcntl", f3, o.F_SETFD, 3, options=("-X", "verbose")) == line(
        "fcntl(3, 0x2 /* F_SETFD */, 0x3 /* FD_CLOEXEC|0x2 */)", "0")
    assert traced(task, "fcntl", f3, o.F_GETFD, options=("-X", "verbose")) == line(
        "fcntl(3, 0x1 /* F_GETFD */)", "0x1 (flags 0x1 /* FD_CLOEXEC */)")
    assert traced(task, "fcntl", f3, o.F_DUPFD, 10, options=("-X", "verbose")) == line(
        "fcntl(3, 0 /* F_DUPFD */, 10)", "10")


def test_fcntl_getfl_setfl(task, f3):
    assert traced(task, "fcntl", f3, o.F_GETFL) == line("fcntl(3, F_GETFL)", "0x8002 (flags O_RDWR|O_LARGEFILE)")
    assert traced(task, "fcntl", f3, o.F_SETFL, o.O_NONBLOCK | o.O_APPEND) == line(
        "fcntl(3, F_SETFL, O_RDONLY|O_APPEND|O_NONBLOCK)", "0")
    assert traced(task, "fcntl", f3, o.F_GETFL) == line(
        "fcntl(3, F_GETFL)", "0x8c02 (flags O_RDWR|O_APPEND|O_NONBLOCK|O_LARGEFILE)")
    assert traced(task, "fcntl", f3, o.F_SETFL, 0) == line("fcntl(3, F_SETFL, O_RDONLY)", "0")
    assert traced(task, "fcntl", f3, o.F_SETFL, o.O_RDWR | 0x40000000) == line(
        "fcntl(3, F_SETFL, O_RDWR|0x40000000)", "0")
    assert traced(task, "fcntl", f3, o.F_SETFL, 0o20000000) == line("fcntl(3, F_SETFL, O_RDONLY|__O_TMPFILE)", "0")
    assert traced(task, "fcntl", f3, o.F_SETFL, 3) == line("fcntl(3, F_SETFL, O_ACCMODE)", "0")
    assert traced(task, "fcntl", f3, o.F_SETFL, 0xFFFFFFFF00000800) == line(
        "fcntl(3, F_SETFL, O_RDONLY|O_NONBLOCK)", "0")


def test_fcntl_getfl_flags_do_not_follow_x(task, f3):
    assert traced(task, "fcntl", f3, o.F_GETFL, options=("-X", "raw")) == line(
        "fcntl(3, 0x3)", "0x8002 (flags O_RDWR|O_LARGEFILE)")
    assert traced(task, "fcntl", f3, o.F_SETFL, o.O_NONBLOCK | o.O_APPEND, options=("-X", "raw")) == line(
        "fcntl(3, 0x4, 0xc00)", "0")
    assert traced(task, "fcntl", f3, o.F_SETFL, o.O_NONBLOCK | o.O_APPEND, options=("-X", "verbose")) == line(
        "fcntl(3, 0x4 /* F_SETFL */, 0xc00 /* O_RDONLY|O_APPEND|O_NONBLOCK */)", "0")


def test_fcntl_getfl_of_pipe_ends(task):
    assert sys(task, "pipe", PAIR) == 0
    assert traced(task, "fcntl", 3, o.F_GETFL) == line("fcntl(3, F_GETFL)", "0 (flags O_RDONLY)")
    assert traced(task, "fcntl", 4, o.F_GETFL) == line("fcntl(4, F_GETFL)", "0x1 (flags O_WRONLY)")


def test_fcntl_dupfd_result_is_a_descriptor(task, f3, tmp_path):
    path = os.path.realpath(tmp_path / "data")
    assert traced(task, "fcntl", f3, o.F_DUPFD, 10) == line("fcntl(3, F_DUPFD, 10)", "10")
    assert traced(task, "fcntl", f3, o.F_DUPFD_CLOEXEC, 20, options=("-y",)) == line(
        f"fcntl(3<{path}>, F_DUPFD_CLOEXEC, 20)", f"20<{path}>")
    assert traced(task, "fcntl", f3, o.F_DUPFD, 0xFFFFFFFF) == line(
        "fcntl(3, F_DUPFD, 4294967295)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "fcntl", 99, o.F_DUPFD, 0) == line("fcntl(99, F_DUPFD, 0)", "-1 EBADF (Bad file descriptor)")


def test_fcntl_record_locks(task, f3):
    assert traced(task, "fcntl", f3, o.F_SETLK, flock(task, o.F_WRLCK, o.SEEK_SET, 0, 100)) == line(
        "fcntl(3, F_SETLK, {l_type=F_WRLCK, l_whence=SEEK_SET, l_start=0, l_len=100})", "0")
    assert traced(task, "fcntl", f3, o.F_SETLKW, flock(task, o.F_RDLCK, o.SEEK_CUR, -5, 100)) == line(
        "fcntl(3, F_SETLKW, {l_type=F_RDLCK, l_whence=SEEK_CUR, l_start=-5, l_len=100})",
        "-1 EINVAL (Invalid argument)")
    assert traced(task, "fcntl", f3, o.F_GETLK, flock(task, o.F_WRLCK, o.SEEK_SET, 0, 100)) == line(
        "fcntl(3, F_GETLK, {l_type=F_UNLCK, l_whence=SEEK_SET, l_start=0, l_len=100, l_pid=0})", "0")
    assert traced(task, "fcntl", f3, o.F_SETLK, flock(task, 7, 9, 0, 100)) == line(
        "fcntl(3, F_SETLK, {l_type=0x7 /* F_??? */, l_whence=0x9 /* SEEK_??? */, l_start=0, l_len=100})",
        "-1 EINVAL (Invalid argument)")
    assert traced(task, "fcntl", f3, o.F_GETLK, LOCK) == line("fcntl(3, F_GETLK, 0x10000100)",
                                                             "-1 EINVAL (Invalid argument)")
    assert traced(task, "fcntl", f3, o.F_SETLK, 0) == line("fcntl(3, F_SETLK, NULL)", "-1 EFAULT (Bad address)")
    assert traced(task, "fcntl", f3, o.F_GETLK, 0) == line("fcntl(3, F_GETLK, NULL)", "-1 EFAULT (Bad address)")
    assert traced(task, "fcntl", f3, o.F_OFD_GETLK, flock(task, o.F_UNLCK, o.SEEK_SET, 0, 100)) == line(
        "fcntl(3, F_OFD_GETLK, {l_type=F_UNLCK, l_whence=SEEK_SET, l_start=0, l_len=100, l_pid=0})", "0")
    assert traced(task, "fcntl", 99, o.F_SETLK, flock(task, o.F_UNLCK, o.SEEK_SET, 0, 100)) == line(
        "fcntl(99, F_SETLK, {l_type=F_UNLCK, l_whence=SEEK_SET, l_start=0, l_len=100})",
        "-1 EBADF (Bad file descriptor)")
    assert traced(task, "fcntl", f3, o.F_SETLK, flock(task, o.F_WRLCK, o.SEEK_SET, 0, 0), options=("-X", "raw")) == (
        line("fcntl(3, 0x6, {l_type=0x1, l_whence=0, l_start=0, l_len=0})", "0"))


def test_fcntl_owner(task, f3):
    pid = task.pid
    assert traced(task, "fcntl", f3, o.F_SETOWN, pid) == line(f"fcntl(3, F_SETOWN, {pid})", "0")
    assert traced(task, "fcntl", f3, o.F_GETOWN) == line("fcntl(3, F_GETOWN)", f"{pid}")
    task.mm.write(OWNER, struct.pack("<ii", F_OWNER_PID, pid))
    assert traced(task, "fcntl", f3, o.F_SETOWN_EX, OWNER) == line(
        f"fcntl(3, F_SETOWN_EX, {{type=F_OWNER_PID, pid={pid}}})", "0")
    assert traced(task, "fcntl", f3, o.F_GETOWN_EX, OWNER) == line(
        f"fcntl(3, F_GETOWN_EX, {{type=F_OWNER_PID, pid={pid}}})", "0")
    task.mm.write(OWNER, struct.pack("<ii", 5, pid))
    assert traced(task, "fcntl", f3, o.F_SETOWN_EX, OWNER) == line(
        f"fcntl(3, F_SETOWN_EX, {{type=0x5 /* F_OWNER_??? */, pid={pid}}})", "-1 EINVAL (Invalid argument)")
    assert traced(task, "fcntl", f3, o.F_GETOWN_EX, 0) == line("fcntl(3, F_GETOWN_EX, NULL)",
                                                               "-1 EFAULT (Bad address)")


def test_fcntl_signals(task, f3):
    assert traced(task, "fcntl", f3, o.F_GETSIG) == line("fcntl(3, F_GETSIG)", "0")
    assert traced(task, "fcntl", f3, o.F_SETSIG, SIGUSR1) == line("fcntl(3, F_SETSIG, SIGUSR1)", "0")
    assert traced(task, "fcntl", f3, o.F_GETSIG) == line("fcntl(3, F_GETSIG)", "10 (SIGUSR1)")
    assert traced(task, "fcntl", f3, o.F_SETSIG, 40) == line("fcntl(3, F_SETSIG, SIGRT_8)", "0")
    assert traced(task, "fcntl", f3, o.F_GETSIG) == line("fcntl(3, F_GETSIG)", "40 (SIGRT_8)")
    assert traced(task, "fcntl", f3, o.F_SETSIG, 32, options=("-X", "verbose")) == line(
        "fcntl(3, 0xa /* F_SETSIG */, 32 /* SIGRTMIN */)", "0")
    assert traced(task, "fcntl", f3, o.F_GETSIG, options=("-X", "raw")) == line("fcntl(3, 0xb)", "32 (SIGRTMIN)")
    assert traced(task, "fcntl", f3, o.F_SETSIG, 100) == line("fcntl(3, F_SETSIG, 100)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "fcntl", f3, o.F_SETSIG, 0) == line("fcntl(3, F_SETSIG, 0)", "0")


def test_fcntl_leases_notify_seals_print_their_arguments(task, f3):
    assert traced(task, "fcntl", f3, o.F_SETLEASE, 9).startswith("fcntl(3, F_SETLEASE, 0x9 /* F_??? */)")
    assert traced(task, "fcntl", f3, o.F_SETLEASE, o.F_RDLCK).startswith("fcntl(3, F_SETLEASE, F_RDLCK)")
    assert traced(task, "fcntl", f3, o.F_NOTIFY, 0x80000001).startswith("fcntl(3, F_NOTIFY, DN_ACCESS|DN_MULTISHOT)")
    assert traced(task, "fcntl", f3, o.F_NOTIFY, 0x40).startswith("fcntl(3, F_NOTIFY, 0x40 /* DN_??? */)")
    assert traced(task, "fcntl", f3, o.F_GET_SEALS) == line("fcntl(3, F_GET_SEALS)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "fcntl", f3, o.F_ADD_SEALS, 0x109).startswith(
        "fcntl(3, F_ADD_SEALS, F_SEAL_SEAL|F_SEAL_WRITE|0x100)")


def test_fcntl_pipe_size_and_unknown_commands(task, f3):
    assert sys(task, "pipe", PAIR) == 0
    assert traced(task, "fcntl", 4, o.F_GETPIPE_SZ) == line("fcntl(4, F_GETPIPE_SZ)", "65536")
    assert traced(task, "fcntl", 4, o.F_SETPIPE_SZ, 8192) == line("fcntl(4, F_SETPIPE_SZ, 8192)", "8192")
    assert traced(task, "fcntl", 4, o.F_SETPIPE_SZ, 0xFFFFFFFF) == line(
        "fcntl(4, F_SETPIPE_SZ, 4294967295)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "fcntl", f3, o.F_GETPIPE_SZ) == line("fcntl(3, F_GETPIPE_SZ)", "-1 EBADF (Bad file descriptor)")
    assert traced(task, "fcntl", f3, o.F_GETOWNER_UIDS, OWNER) == line("fcntl(3, F_GETOWNER_UIDS, 0x10000200)", "0")
    assert traced(task, "fcntl", f3, 12, 0) == line("fcntl(3, F_GETLK64, 0)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "fcntl", f3, o.F_DUPFD_QUERY, 3) == line("fcntl(3, 0x403 /* F_??? */, 0x3)", "1")
    assert traced(task, "fcntl", f3, 9999, 0x1234) == line(
        "fcntl(3, 0x270f /* F_??? */, 0x1234)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "fcntl", f3, 0x100000001, 0) == line("fcntl(3, F_GETFD)", "0")
    assert traced(task, "fcntl", 99, o.F_GETFL) == line("fcntl(99, F_GETFL)", "-1 EBADF (Bad file descriptor)")


# -- dup, dup2, dup3 --------------------------------------------------------------------------------


def test_dup_family_results_are_descriptors(task, f3, tmp_path):
    path = os.path.realpath(tmp_path / "data")
    assert traced(task, "dup", f3) == line("dup(3)", "4")
    assert traced(task, "dup", f3, options=("-y",)) == line(f"dup(3<{path}>)", f"5<{path}>")
    assert traced(task, "dup", 99) == line("dup(99)", "-1 EBADF (Bad file descriptor)")
    assert traced(task, "dup2", f3, 30, options=("-y",)) == line(f"dup2(3<{path}>, 30)", f"30<{path}>")
    assert traced(task, "dup2", f3, 30, options=("-y",)) == line(f"dup2(3<{path}>, 30<{path}>)", f"30<{path}>")
    assert traced(task, "dup2", f3, f3) == line("dup2(3, 3)", "3")
    assert traced(task, "dup2", 99, 31) == line("dup2(99, 31)", "-1 EBADF (Bad file descriptor)")


def test_dup3_flags(task, f3):
    assert traced(task, "dup3", f3, 32, o.O_CLOEXEC) == line("dup3(3, 32, O_CLOEXEC)", "32")
    assert traced(task, "dup3", f3, 33, 0) == line("dup3(3, 33, 0)", "33")
    assert traced(task, "dup3", f3, f3, 0) == line("dup3(3, 3, 0)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "dup3", f3, 34, o.O_NONBLOCK) == line("dup3(3, 34, O_NONBLOCK)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "dup3", f3, 35, o.O_CLOEXEC, options=("-X", "verbose")) == line(
        "dup3(3, 35, 0x80000 /* O_CLOEXEC */)", "35")
    assert traced(task, "dup3", f3, 36, o.O_CLOEXEC, options=("-X", "raw")) == line("dup3(3, 36, 0x80000)", "36")


# -- pipe, pipe2 ------------------------------------------------------------------------------------


def test_pipe_shows_the_pair_on_the_way_out(task):
    assert traced(task, "pipe", PAIR) == line("pipe([3, 4])", "0")
    assert traced(task, "pipe2", PAIR, o.O_CLOEXEC | o.O_NONBLOCK) == line("pipe2([5, 6], O_NONBLOCK|O_CLOEXEC)", "0")
    assert traced(task, "pipe2", PAIR, 0) == line("pipe2([7, 8], 0)", "0")
    assert traced(task, "pipe2", PAIR, o.O_DIRECT, options=("-X", "verbose")) == line(
        "pipe2([9, 10], 0x4000 /* O_DIRECT */)", "0")


def test_pipe_with_y_shows_the_pipe_inode(task):
    out = traced(task, "pipe2", PAIR, 0, options=("-y",))
    pipe = task.files.get(3).path
    assert pipe.startswith("pipe:[")
    assert out == line(f"pipe2([3<{pipe}>, 4<{pipe}>], 0)", "0")


def test_failed_pipe_shows_the_address(task):
    assert traced(task, "pipe2", PAIR, 0x40000000) == line(
        "pipe2(0x10000300, 0x40000000 /* O_??? */)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "pipe2", PAIR, o.O_EXCL) == line(
        "pipe2(0x10000300, O_EXCL)", "-1 ENOPKG (Package not installed)")
    assert traced(task, "pipe2", 0, 0) == line("pipe2(NULL, 0)", "-1 EFAULT (Bad address)")
    assert traced(task, "pipe", 8) == line("pipe(0x8)", "-1 EFAULT (Bad address)")


def test_structures_are_addresses_without_verbose(task, f3):
    """-e verbose=none: strace fetches no structure (tfetch_mem checks verbose(tcp))."""
    lock = flock(task, o.F_WRLCK, o.SEEK_SET, 0, 100)
    assert traced(task, "fcntl", f3, o.F_SETLK, lock, options=("-e", "verbose=none")) == line(
        "fcntl(3, F_SETLK, 0x10000100)", "0")
    assert traced(task, "fcntl", f3, o.F_GETLK, lock, options=("-e", "verbose=none")) == line(
        "fcntl(3, F_GETLK, 0x10000100)", "0")
    assert traced(task, "fcntl", f3, o.F_SETFD, 1, options=("-e", "verbose=none")) == line(
        "fcntl(3, F_SETFD, FD_CLOEXEC)", "0")
    assert traced(task, "pipe2", PAIR, o.O_CLOEXEC, options=("-e", "verbose=none")) == line(
        "pipe2(0x10000300, O_CLOEXEC)", "0")
