"""siginfo as strace prints it: {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=NULL}.

Counterpart: strace's printsiginfo.c (printsiginfo, print_si_code, print_si_info). The
text is made from the 128 bytes of a siginfo_t as the kernel copies it out (x86-64
layout), because which fields strace shows depends on the code and the signal, and the
fields share a union: a fault's si_addr is the same eight bytes a kill's si_pid and
si_uid are. A signal line builds those bytes from the SigInfo sysgate keeps
(`format_siginfo`); a decoder that reads a siginfo_t from guest memory (waitid,
rt_sigqueueinfo, rt_sigtimedwait) prints it with `printsiginfo`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from sysgate.trace.sysent import SYSENT
from sysgate.trace.xlat import Xlat, comment, printxval
from sysgate.uapi import signal as ls
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.signal import SigInfo

SIGINFO_SIZE = 128
_HEAD = struct.Struct("<iii4x")  # si_signo, si_errno, si_code
_UNION = 16  # where the union of the per-code fields starts

SIGINFO_CODES = Xlat.names(ls, "SI_USER SI_KERNEL SI_QUEUE SI_TIMER SI_MESGQ SI_ASYNCIO SI_SIGIO SI_TKILL "
                               "SI_DETHREAD SI_ASYNCNL")
"""The codes of signals sent by a process or by the kernel for no particular reason;
strace looks them up first, whatever the signal."""

SI_CODES_OF_SIGNAL = {
    ls.SIGTRAP: Xlat.names(ls, "TRAP_BRKPT TRAP_TRACE TRAP_BRANCH TRAP_HWBKPT TRAP_UNK TRAP_PERF"),
    ls.SIGCHLD: Xlat.names(ls, "CLD_EXITED CLD_KILLED CLD_DUMPED CLD_TRAPPED CLD_STOPPED CLD_CONTINUED"),
    ls.SIGIO: Xlat.names(ls, "POLL_IN POLL_OUT POLL_MSG POLL_ERR POLL_PRI POLL_HUP"),
    ls.SIGILL: Xlat.names(ls, "ILL_ILLOPC ILL_ILLOPN ILL_ILLADR ILL_ILLTRP ILL_PRVOPC ILL_PRVREG ILL_COPROC "
                              "ILL_BADSTK ILL_BADIADDR"),
    ls.SIGFPE: Xlat.names(ls, "FPE_INTDIV FPE_INTOVF FPE_FLTDIV FPE_FLTOVF FPE_FLTUND FPE_FLTRES FPE_FLTINV "
                              "FPE_FLTSUB FPE_FLTUNK FPE_CONDTRAP"),
    ls.SIGSEGV: Xlat.names(ls, "SEGV_MAPERR SEGV_ACCERR SEGV_BNDERR SEGV_PKUERR SEGV_ACCADI SEGV_ADIDERR "
                               "SEGV_ADIPERR SEGV_MTEAERR SEGV_MTESERR"),
    ls.SIGBUS: Xlat.names(ls, "BUS_ADRALN BUS_ADRERR BUS_OBJERR BUS_MCEERR_AR BUS_MCEERR_AO"),
    ls.SIGSYS: Xlat.names(ls, "SYS_SECCOMP SYS_USER_DISPATCH"),
}
"""The kernel's codes, which mean something per signal (SIGPROF's table is empty on Linux)."""

AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH = Xlat.of([(0x40000003, "AUDIT_ARCH_I386"), (AUDIT_ARCH_X86_64, "AUDIT_ARCH_X86_64")])
"""The architectures of a SIGSYS (strace's table has every Linux one; sysgate runs these)."""
CLK_TCK = 100
"""sysconf(_SC_CLK_TCK) on Linux (USER_HZ): the unit of si_utime and si_stime."""


def _u32(data: bytes, off: int) -> int:
    return int.from_bytes(data[off : off + 4], "little")


def _s32(data: bytes, off: int) -> int:
    return int.from_bytes(data[off : off + 4], "little", signed=True)


def _u64(data: bytes, off: int) -> int:
    return int.from_bytes(data[off : off + 8], "little")


def _addr(value: int) -> str:
    return "NULL" if value == 0 else f"{value:#x}"


def _hex(value: int) -> str:
    return f"{value:#x}" if value else "0"


def printsignal(style: str, sig: int) -> str:
    """strace's printsignal: SIGTERM, `15 /* SIGTERM */` (-X verbose), 15 (-X raw); a number
    no signal has is printed as a number in every style."""
    name = ls.signame(sig) if 0 < sig <= ls.SIGRTMAX else None
    if name is None or style == "raw":
        return str(sig)
    return name if style == "abbrev" else f"{sig}{comment(name)}"


def print_si_code(style: str, code: int, signo: int) -> str:
    """print_si_code: the generic names first, then the signal's own; the value as the
    unsigned int strace holds (`0xfffffffa /* SI_TKILL */`)."""
    name = SIGINFO_CODES.lookup(code)
    table = SI_CODES_OF_SIGNAL.get(signo)
    if name is None and table is not None:
        name = table.lookup(code)
    value = _hex(code & 0xFFFFFFFF)
    if style == "abbrev" and name is not None:
        return name
    if style == "verbose":
        return value + comment(name)
    return value


def print_errno(style: str, err: int) -> str:
    """print_err for an unsigned errno: EIO, `5 /* EIO */`, or the number if unknown."""
    name = Errno(err).name if err in Errno._value2member_map_ else None
    if name is None or style == "raw":
        return str(err)
    return name if style == "abbrev" else f"{err}{comment(name)}"


def print_uid(uid: int) -> str:
    """PRINT_VAL_ID: -1 for (uid_t) -1, else unsigned."""
    return "-1" if uid == 0xFFFFFFFF else str(uid)


def print_clock_t(style: str, ticks: int) -> str:
    """print_clock_t: the ticks, and in a comment the seconds they make (`68 /* 0.68 s */`)."""
    if style == "raw" or ticks == 0 or CLK_TCK <= 0:
        return str(ticks)
    width = min(len(str(CLK_TCK)) - 1, 9)
    frac = f"{(ticks % CLK_TCK) / CLK_TCK:.{width}f}"[1:] if width else ""
    return f"{ticks}{comment(f'{ticks // CLK_TCK}{frac} s')}"


def printsiginfo(data: bytes, style: str = "abbrev", printfd: Callable[[int], str] = str) -> str:
    """printsiginfo: the braces and fields of one siginfo_t (at least 48 bytes of it)."""
    signo, errno, code = _HEAD.unpack_from(data)
    if not signo:
        return "{}"
    fields = [f"si_signo={printsignal(style, signo)}", f"si_code={print_si_code(style, code, signo)}"]
    if errno:
        fields.append(f"si_errno={print_errno(style, errno & 0xFFFFFFFF)}")
    fields += _si_info(data, style, signo, code, printfd)
    return "{" + ", ".join(fields) + "}"


def _source(data: bytes) -> list[str]:
    return [f"si_pid={_s32(data, _UNION)}", f"si_uid={print_uid(_u32(data, _UNION + 4))}"]


def _sigval(data: bytes) -> list[str]:
    return [f"si_int={_s32(data, _UNION + 8)}", f"si_ptr={_addr(_u64(data, _UNION + 8))}"]


def _band_fd(data: bytes, printfd: Callable[[int], str]) -> list[str]:
    band = int.from_bytes(data[_UNION : _UNION + 8], "little", signed=True)
    return [f"si_band={band}", f"si_fd={printfd(_s32(data, _UNION + 8))}"]


def _si_info(data: bytes, style: str, signo: int, code: int, printfd: Callable[[int], str]) -> list[str]:
    """print_si_info: the fields after si_code, chosen by who sent the signal and why."""
    u = _UNION
    if code <= 0:  # SI_FROMUSER: sent by a process
        if code in (ls.SI_USER, ls.SI_TKILL):
            return _source(data)
        if code == ls.SI_TIMER:
            return [f"si_timerid={_hex(_u32(data, u))}", f"si_overrun={_s32(data, u + 4)}", *_sigval(data)]
        if code == ls.SI_SIGIO:
            return _band_fd(data, printfd)
        return _source(data) + (_sigval(data) if _u64(data, u + 8) else [])
    addr = f"si_addr={_addr(_u64(data, u))}"
    if signo == ls.SIGCHLD:
        status = _s32(data, u + 8)
        shown = str(status) if code == ls.CLD_EXITED else printsignal(style, status)
        return [*_source(data), f"si_status={shown}", f"si_utime={print_clock_t(style, _u64(data, u + 16))}",
                f"si_stime={print_clock_t(style, _u64(data, u + 24))}"]
    if signo in (ls.SIGILL, ls.SIGFPE):
        return [addr]
    if signo == ls.SIGBUS:
        extra = [f"si_addr_lsb={_hex(_u32(data, u + 8) & 0xFFFF)}"] if code in (ls.BUS_MCEERR_AR,
                                                                               ls.BUS_MCEERR_AO) else []
        return [addr, *extra]
    if signo == ls.SIGSEGV:
        if code == ls.SEGV_BNDERR:
            return [addr, f"si_lower={_addr(_u64(data, u + 16))}", f"si_upper={_addr(_u64(data, u + 24))}"]
        if code == ls.SEGV_PKUERR:
            return [addr, f"si_pkey={_u32(data, u + 16)}"]
        return [addr]
    if signo == ls.SIGTRAP:
        return [addr]  # strace 6.1 as built for Debian 12 has no si_perf_* fields
    if signo == ls.SIGIO:
        return _band_fd(data, printfd) if ls.POLL_IN <= code <= ls.POLL_HUP else []
    if signo == ls.SIGSYS:
        arch = _u32(data, u + 12)
        return [f"si_call_addr={_addr(_u64(data, u))}", f"si_syscall={_syscall_name(style, _u32(data, u + 8), arch)}",
                f"si_arch={printxval(style, AUDIT_ARCH, arch, 'AUDIT_ARCH_???')}"]
    out = _source(data) if _u64(data, u) else []
    return out + (_sigval(data) if _u64(data, u + 8) else [])


def _syscall_name(style: str, nr: int, arch: int) -> str:
    """PRINT_FIELD_SYSCALL_NAME: `__NR_getpid` for a call of the traced ABI (x86-64)."""
    entry = SYSENT.get(nr) if arch == AUDIT_ARCH_X86_64 else None
    if entry is None or style == "raw":
        return str(nr)
    return f"__NR_{entry[1]}" if style == "abbrev" else f"{nr}{comment('__NR_' + entry[1])}"


def siginfo_bytes(info: SigInfo) -> bytes:
    """The siginfo_t the kernel would copy out for a signal sysgate queued.

    A fault carries its address in si_addr; a signal a process sent carries its pid and
    uid. A signal the kernel sends on its own behalf (SEND_SIG_PRIV: SI_KERNEL without
    an address) carries neither, whoever made the kernel send it.
    """
    if info.raw is not None:
        return info.raw.ljust(SIGINFO_SIZE, b"\0")[:SIGINFO_SIZE]  # the sender made it whole (SIGCHLD, timers)
    if info.raw is not None:  # the sender's whole siginfo_t (sigqueue, timers, SIGCHLD)
        return info.raw
    data = bytearray(SIGINFO_SIZE)
    _HEAD.pack_into(data, 0, info.signo, 0, info.code)
    if info.addr is not None:
        data[_UNION : _UNION + 8] = (info.addr & ((1 << 64) - 1)).to_bytes(8, "little")
    elif info.code != ls.SI_KERNEL:
        struct.pack_into("<iI", data, _UNION, info.pid, info.uid & 0xFFFFFFFF)
    return bytes(data)


def format_siginfo(info: SigInfo, style: str = "abbrev") -> str:
    """The braces of a signal line: `--- SIGSEGV {this} ---` (style: the -X style)."""
    return printsiginfo(siginfo_bytes(info), style)

