"""The siginfo of a signal line, as strace 6.1 prints it: `--- SIGSEGV {si_signo=SIGSEGV,
si_code=SEGV_MAPERR, si_addr=NULL} ---`. The expected strings are the host strace's output
for the same siginfo_t, queued with rt_sigqueueinfo to an ignoring process or raised by
real faults."""

from __future__ import annotations

import io
import struct

import pytest

from sysgate.kernel.signal import SigInfo, force_sig_fault, get_signal
from sysgate.trace.options import parse
from sysgate.trace.siginfo import format_siginfo, print_clock_t, printsiginfo, printsignal
from sysgate.uapi import signal as ls
from tests.conftest import sys


def raw(**words: int) -> bytes:
    """A siginfo_t from 32-bit words by index (w0 = si_signo, w1 = si_errno, w2 = si_code, w4... the union)."""
    si = [0] * 32
    for key, value in words.items():
        si[int(key[1:])] = value & 0xFFFFFFFF
    return struct.pack("<32I", *si)


PATTERN = {"w4": 0x11, "w5": 0x22, "w6": 0x33, "w8": 0x44, "w10": 0x55}


@pytest.mark.parametrize(("signo", "code", "want"), [
    (ls.SIGILL, -60, "si_code=SI_ASYNCNL, si_pid=17, si_uid=34, si_int=51, si_ptr=0x33"),
    (ls.SIGILL, -8, "si_code=0xfffffff8, si_pid=17, si_uid=34, si_int=51, si_ptr=0x33"),
    (ls.SIGILL, -6, "si_code=SI_TKILL, si_pid=17, si_uid=34"),
    (ls.SIGILL, -5, "si_code=SI_SIGIO, si_band=146028888081, si_fd=51"),
    (ls.SIGILL, -2, "si_code=SI_TIMER, si_timerid=0x11, si_overrun=34, si_int=51, si_ptr=0x33"),
    (ls.SIGILL, -1, "si_code=SI_QUEUE, si_pid=17, si_uid=34, si_int=51, si_ptr=0x33"),
    (ls.SIGILL, 0, "si_code=SI_USER, si_pid=17, si_uid=34"),
    (ls.SIGILL, 2, "si_code=ILL_ILLOPN, si_addr=0x2200000011"),
    (ls.SIGILL, 9, "si_code=ILL_BADIADDR, si_addr=0x2200000011"),
    (ls.SIGILL, 10, "si_code=0xa, si_addr=0x2200000011"),
    (ls.SIGILL, 0x80, "si_code=SI_KERNEL, si_addr=0x2200000011"),
    (ls.SIGFPE, 1, "si_code=FPE_INTDIV, si_addr=0x2200000011"),
    (ls.SIGFPE, 9, "si_code=0x9, si_addr=0x2200000011"),
    (ls.SIGFPE, 15, "si_code=FPE_CONDTRAP, si_addr=0x2200000011"),
    (ls.SIGSEGV, 1, "si_code=SEGV_MAPERR, si_addr=0x2200000011"),
    (ls.SIGSEGV, 3, "si_code=SEGV_BNDERR, si_addr=0x2200000011, si_lower=0x44, si_upper=0x55"),
    (ls.SIGSEGV, 4, "si_code=SEGV_PKUERR, si_addr=0x2200000011, si_pkey=68"),
    (ls.SIGSEGV, 9, "si_code=SEGV_MTESERR, si_addr=0x2200000011"),
    (ls.SIGBUS, 2, "si_code=BUS_ADRERR, si_addr=0x2200000011"),
    (ls.SIGBUS, 4, "si_code=BUS_MCEERR_AR, si_addr=0x2200000011, si_addr_lsb=0x33"),
    (ls.SIGBUS, 6, "si_code=0x6, si_addr=0x2200000011"),
    (ls.SIGTRAP, 1, "si_code=TRAP_BRKPT, si_addr=0x2200000011"),
    (ls.SIGTRAP, 6, "si_code=TRAP_PERF, si_addr=0x2200000011"),
    (ls.SIGCHLD, 1, "si_code=CLD_EXITED, si_pid=17, si_uid=34, si_status=51, si_utime=68 /* 0.68 s */, "
                    "si_stime=85 /* 0.85 s */"),
    (ls.SIGCHLD, 2, "si_code=CLD_KILLED, si_pid=17, si_uid=34, si_status=SIGRT_19, si_utime=68 /* 0.68 s */, "
                    "si_stime=85 /* 0.85 s */"),
    (ls.SIGIO, 1, "si_code=POLL_IN, si_band=146028888081, si_fd=51"),
    (ls.SIGIO, 7, "si_code=0x7"),
    (ls.SIGIO, 0x80, "si_code=SI_KERNEL"),
    (ls.SIGSYS, 1, "si_code=SYS_SECCOMP, si_call_addr=0x2200000011, si_syscall=51, si_arch=0 /* AUDIT_ARCH_??? */"),
    (ls.SIGPROF, 1, "si_code=0x1, si_pid=17, si_uid=34, si_int=51, si_ptr=0x33"),
    (ls.SIGUSR1, 0x80, "si_code=SI_KERNEL, si_pid=17, si_uid=34, si_int=51, si_ptr=0x33"),
    (40, 0x81, "si_code=0x81, si_pid=17, si_uid=34, si_int=51, si_ptr=0x33"),
])
def test_fields_by_code_and_signal(signo, code, want):
    name = ls.signame(signo)
    assert printsiginfo(raw(w0=signo, w2=code, **PATTERN)) == f"{{si_signo={name}, {want}}}"


@pytest.mark.parametrize(("words", "want"), [
    ({"w0": ls.SIGSEGV, "w2": 0x80}, "{si_signo=SIGSEGV, si_code=SI_KERNEL, si_addr=NULL}"),
    ({"w0": ls.SIGUSR1, "w2": 0x80}, "{si_signo=SIGUSR1, si_code=SI_KERNEL}"),
    ({"w0": ls.SIGUSR1, "w2": 0x80, "w5": 7}, "{si_signo=SIGUSR1, si_code=SI_KERNEL, si_pid=0, si_uid=7}"),
    ({"w0": ls.SIGUSR1, "w1": 5}, "{si_signo=SIGUSR1, si_code=SI_USER, si_errno=EIO, si_pid=0, si_uid=0}"),
    ({"w0": ls.SIGUSR1, "w1": 5000, "w2": -1, "w5": -1},
     "{si_signo=SIGUSR1, si_code=SI_QUEUE, si_errno=5000, si_pid=0, si_uid=-1}"),
    ({"w0": ls.SIGCHLD, "w2": 2, "w6": 9, "w8": 100},
     "{si_signo=SIGCHLD, si_code=CLD_KILLED, si_pid=0, si_uid=0, si_status=SIGKILL, si_utime=100 /* 1.00 s */, "
     "si_stime=0}"),
    ({"w0": ls.SIGCHLD, "w2": 2, "w6": 99},
     "{si_signo=SIGCHLD, si_code=CLD_KILLED, si_pid=0, si_uid=0, si_status=99, si_utime=0, si_stime=0}"),
    ({"w0": ls.SIGSEGV, "w2": 1, "w4": 0x1000, "w5": 0x7FFF}, "{si_signo=SIGSEGV, si_code=SEGV_MAPERR, "
                                                              "si_addr=0x7fff00001000}"),
    ({"w0": ls.SIGSEGV, "w1": -3, "w2": 1}, "{si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_errno=4294967293, "
                                             "si_addr=NULL}"),
    ({}, "{}"),
])
def test_special_values(words, want):
    assert printsiginfo(raw(**words)) == want


@pytest.mark.parametrize(("words", "raw_text", "verbose_text"), [
    ({"w0": ls.SIGSEGV, "w2": 0x80}, "{si_signo=11, si_code=0x80, si_addr=NULL}",
     "{si_signo=11 /* SIGSEGV */, si_code=0x80 /* SI_KERNEL */, si_addr=NULL}"),
    ({"w0": ls.SIGUSR1, "w2": -6, "w4": 5, "w5": 0}, "{si_signo=10, si_code=0xfffffffa, si_pid=5, si_uid=0}",
     "{si_signo=10 /* SIGUSR1 */, si_code=0xfffffffa /* SI_TKILL */, si_pid=5, si_uid=0}"),
    ({"w0": ls.SIGUSR1, "w1": 5}, "{si_signo=10, si_code=0, si_errno=5, si_pid=0, si_uid=0}",
     "{si_signo=10 /* SIGUSR1 */, si_code=0 /* SI_USER */, si_errno=5 /* EIO */, si_pid=0, si_uid=0}"),
    ({"w0": ls.SIGCHLD, "w2": 2, "w4": 17, "w5": 34, "w6": 51, "w8": 68, "w10": 85},
     "{si_signo=17, si_code=0x2, si_pid=17, si_uid=34, si_status=51, si_utime=68, si_stime=85}",
     "{si_signo=17 /* SIGCHLD */, si_code=0x2 /* CLD_KILLED */, si_pid=17, si_uid=34, si_status=51 /* SIGRT_19 */, "
     "si_utime=68 /* 0.68 s */, si_stime=85 /* 0.85 s */}"),
    ({"w0": 40, "w2": 0xA, **PATTERN}, "{si_signo=40, si_code=0xa, si_pid=17, si_uid=34, si_int=51, si_ptr=0x33}",
     "{si_signo=40 /* SIGRT_8 */, si_code=0xa, si_pid=17, si_uid=34, si_int=51, si_ptr=0x33}"),
])
def test_xlat_styles(words, raw_text, verbose_text):
    data = raw(**words)
    assert printsiginfo(data, "raw") == raw_text
    assert printsiginfo(data, "verbose") == verbose_text


def test_sigsys_names_the_call_of_the_traced_abi():
    data = raw(w0=ls.SIGSYS, w2=1, w4=0x401000, w6=39, w7=0xC000003E)
    assert printsiginfo(data) == ("{si_signo=SIGSYS, si_code=SYS_SECCOMP, si_call_addr=0x401000, "
                                  "si_syscall=__NR_getpid, si_arch=AUDIT_ARCH_X86_64}")
    assert printsiginfo(data, "verbose") == (
        "{si_signo=31 /* SIGSYS */, si_code=0x1 /* SYS_SECCOMP */, si_call_addr=0x401000, "
        "si_syscall=39 /* __NR_getpid */, si_arch=0xc000003e /* AUDIT_ARCH_X86_64 */}")


@pytest.mark.parametrize(("info", "want"), [
    (SigInfo(ls.SIGSEGV, ls.SEGV_MAPERR, addr=0), "{si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=NULL}"),
    (SigInfo(ls.SIGSEGV, ls.SEGV_ACCERR, addr=0x7F21D236B005),
     "{si_signo=SIGSEGV, si_code=SEGV_ACCERR, si_addr=0x7f21d236b005}"),
    (SigInfo(ls.SIGBUS, ls.BUS_ADRERR, addr=0x7FF8C9D6400A), "{si_signo=SIGBUS, si_code=BUS_ADRERR, "
                                                             "si_addr=0x7ff8c9d6400a}"),
    (SigInfo(ls.SIGILL, ls.ILL_ILLOPN, addr=0x4016F4), "{si_signo=SIGILL, si_code=ILL_ILLOPN, si_addr=0x4016f4}"),
    (SigInfo(ls.SIGFPE, ls.FPE_INTDIV, addr=0x401711), "{si_signo=SIGFPE, si_code=FPE_INTDIV, si_addr=0x401711}"),
    (SigInfo(ls.SIGTRAP, ls.SI_KERNEL, addr=0), "{si_signo=SIGTRAP, si_code=SI_KERNEL, si_addr=NULL}"),
    (SigInfo(ls.SIGSEGV, ls.SI_KERNEL, addr=0), "{si_signo=SIGSEGV, si_code=SI_KERNEL, si_addr=NULL}"),
    (SigInfo(ls.SIGUSR1, ls.SI_TKILL, 11314, 0), "{si_signo=SIGUSR1, si_code=SI_TKILL, si_pid=11314, si_uid=0}"),
    (SigInfo(ls.SIGRTMIN + 5, ls.SI_TKILL, 11320, 1000),
     "{si_signo=SIGRT_5, si_code=SI_TKILL, si_pid=11320, si_uid=1000}"),
    (SigInfo(ls.SIGPIPE, ls.SI_USER, 11368, 0), "{si_signo=SIGPIPE, si_code=SI_USER, si_pid=11368, si_uid=0}"),
    # A signal the kernel sends for itself (SEND_SIG_PRIV, as strace's signal= injection) has no sender.
    (SigInfo(ls.SIGUSR1, ls.SI_KERNEL, 2, 1000), "{si_signo=SIGUSR1, si_code=SI_KERNEL}"),
])
def test_signals_sysgate_raises(info, want):
    assert format_siginfo(info) == want


def test_format_siginfo_in_xlat_styles():
    info = SigInfo(ls.SIGSEGV, ls.SEGV_MAPERR, addr=0)
    assert format_siginfo(info, "raw") == "{si_signo=11, si_code=0x1, si_addr=NULL}"
    assert format_siginfo(info, "verbose") == "{si_signo=11 /* SIGSEGV */, si_code=0x1 /* SEGV_MAPERR */, si_addr=NULL}"


@pytest.mark.parametrize(("style", "sig", "want"), [
    ("abbrev", 15, "SIGTERM"), ("raw", 15, "15"), ("verbose", 15, "15 /* SIGTERM */"),
    ("abbrev", 32, "SIGRTMIN"), ("abbrev", 64, "SIGRT_32"), ("verbose", 65, "65"), ("abbrev", 0, "0"),
    ("abbrev", -3, "-3"),
])
def test_printsignal(style, sig, want):
    assert printsignal(style, sig) == want


def test_clock_t_in_seconds():
    assert print_clock_t("abbrev", 12345) == "12345 /* 123.45 s */"
    assert print_clock_t("raw", 12345) == "12345"
    assert print_clock_t("abbrev", 0) == "0"


def test_signal_lines_of_a_kill_and_a_fault(task):
    out = io.StringIO()
    opts, _ = parse(["prog"], {nr: s.name for nr, s in task.kernel.table64.slots.items()}, task.kernel.table64.slots)
    task.kernel.trace(opts, out)
    try:
        assert sys(task, "kill", task.pid, ls.SIGTERM) == 0
        assert get_signal(task) == ls.SIGTERM
        force_sig_fault(task, ls.SIGSEGV, ls.SEGV_MAPERR, 0x1234)
        assert get_signal(task) == ls.SIGSEGV
    finally:
        task.kernel.tracer = None
    uid = task.cred.uid
    assert out.getvalue() == (
        f"--- SIGTERM {{si_signo=SIGTERM, si_code=SI_USER, si_pid={task.pid}, si_uid={uid}}} ---\n"
        "--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x1234} ---\n"
    )
