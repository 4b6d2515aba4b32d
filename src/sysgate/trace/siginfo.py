"""siginfo as strace prints it in a signal line: {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=NULL}.

Counterpart: strace's printsiginfo.c. Which fields follow si_code depends on the code and
the signal: the sender for signals sent by kill and friends, the address for faults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sysgate.uapi import signal as ls

if TYPE_CHECKING:
    from sysgate.kernel.signal import SigInfo

SI_CODES = {0: "SI_USER", 0x80: "SI_KERNEL", -1: "SI_QUEUE", -2: "SI_TIMER", -3: "SI_MESGQ",
            -4: "SI_ASYNCIO", -5: "SI_SIGIO", -6: "SI_TKILL", -7: "SI_DETHREAD", -60: "SI_ASYNCNL"}
FAULT_CODES = {
    ls.SIGSEGV: {1: "SEGV_MAPERR", 2: "SEGV_ACCERR", 3: "SEGV_BNDERR", 4: "SEGV_PKUERR"},
    ls.SIGBUS: {1: "BUS_ADRALN", 2: "BUS_ADRERR", 3: "BUS_OBJERR", 4: "BUS_MCEERR_AR", 5: "BUS_MCEERR_AO"},
    ls.SIGILL: {1: "ILL_ILLOPC", 2: "ILL_ILLOPN", 3: "ILL_ILLADR", 4: "ILL_ILLTRP", 5: "ILL_PRVOPC",
                6: "ILL_PRVREG", 7: "ILL_COPROC", 8: "ILL_BADSTK"},
    ls.SIGFPE: {1: "FPE_INTDIV", 2: "FPE_INTOVF", 3: "FPE_FLTDIV", 4: "FPE_FLTOVF", 5: "FPE_FLTUND",
                6: "FPE_FLTRES", 7: "FPE_FLTINV", 8: "FPE_FLTSUB"},
    ls.SIGTRAP: {1: "TRAP_BRKPT", 2: "TRAP_TRACE", 3: "TRAP_BRANCH", 4: "TRAP_HWBKPT"},
}


def format_siginfo(info: SigInfo) -> str:
    sig = info.signo
    fields = [f"si_signo={ls.signame(sig)}"]
    fault_names = FAULT_CODES.get(sig, {})
    if info.code > 0 and info.code != 0x80 and info.code in fault_names:
        fields.append(f"si_code={fault_names[info.code]}")
        if info.addr is not None:
            fields.append("si_addr=NULL" if info.addr == 0 else f"si_addr={info.addr:#x}")
        return "{" + ", ".join(fields) + "}"
    fields.append(f"si_code={SI_CODES.get(info.code, str(info.code))}")
    if info.code in (0, -6, -1):  # kill, tkill/tgkill, sigqueue: the sender
        fields += [f"si_pid={info.pid}", f"si_uid={info.uid}"]
    elif info.code == 0x80 and info.addr is not None and sig in FAULT_CODES:
        fields.append("si_addr=NULL" if info.addr == 0 else f"si_addr={info.addr:#x}")
    return "{" + ", ".join(fields) + "}"
