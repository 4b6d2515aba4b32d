"""Signal numbers and flags (arch/x86/include/uapi/asm/signal.h, asm-generic/signal-defs.h,
include/uapi/asm-generic/siginfo.h), with glibc's strsignal() texts for messages."""

from typing import Final

SIGHUP: Final = 1
SIGINT: Final = 2
SIGQUIT: Final = 3
SIGILL: Final = 4
SIGTRAP: Final = 5
SIGABRT: Final = 6
SIGIOT: Final = 6
SIGBUS: Final = 7
SIGFPE: Final = 8
SIGKILL: Final = 9
SIGUSR1: Final = 10
SIGSEGV: Final = 11
SIGUSR2: Final = 12
SIGPIPE: Final = 13
SIGALRM: Final = 14
SIGTERM: Final = 15
SIGSTKFLT: Final = 16
SIGCHLD: Final = 17
SIGCONT: Final = 18
SIGSTOP: Final = 19
SIGTSTP: Final = 20
SIGTTIN: Final = 21
SIGTTOU: Final = 22
SIGURG: Final = 23
SIGXCPU: Final = 24
SIGXFSZ: Final = 25
SIGVTALRM: Final = 26
SIGPROF: Final = 27
SIGWINCH: Final = 28
SIGIO: Final = 29
SIGPWR: Final = 30
SIGSYS: Final = 31
SIGRTMIN: Final = 32
SIGRTMAX: Final = 64
_NSIG: Final = 64

SIG_DFL: Final = 0
SIG_IGN: Final = 1
SIG_ERR: Final = -1

SA_NOCLDSTOP: Final = 0x00000001
SA_NOCLDWAIT: Final = 0x00000002
SA_SIGINFO: Final = 0x00000004
SA_UNSUPPORTED: Final = 0x00000400
SA_EXPOSE_TAGBITS: Final = 0x00000800
SA_RESTORER: Final = 0x04000000
SA_ONSTACK: Final = 0x08000000
SA_RESTART: Final = 0x10000000
SA_INTERRUPT: Final = 0x20000000
"""A historical no-op that glibc's bits/sigaction.h still names (not in the kernel's uapi)."""
SA_NODEFER: Final = 0x40000000
SA_RESETHAND: Final = 0x80000000

SIG_BLOCK: Final = 0
SIG_UNBLOCK: Final = 1
SIG_SETMASK: Final = 2

SS_ONSTACK: Final = 1
SS_DISABLE: Final = 2
SS_AUTODISARM: Final = 1 << 31
MINSIGSTKSZ: Final = 2048

# si_code values (include/uapi/asm-generic/siginfo.h). Zero and below: sent by a process
# (kill, sigqueue, tkill ...); above zero: by the kernel, with a meaning per signal.
SI_USER: Final = 0
SI_KERNEL: Final = 0x80
SI_QUEUE: Final = -1
SI_TIMER: Final = -2
SI_MESGQ: Final = -3
SI_ASYNCIO: Final = -4
SI_SIGIO: Final = -5
SI_TKILL: Final = -6
SI_DETHREAD: Final = -7
SI_ASYNCNL: Final = -60

ILL_ILLOPC: Final = 1
ILL_ILLOPN: Final = 2
ILL_ILLADR: Final = 3
ILL_ILLTRP: Final = 4
ILL_PRVOPC: Final = 5
ILL_PRVREG: Final = 6
ILL_COPROC: Final = 7
ILL_BADSTK: Final = 8
ILL_BADIADDR: Final = 9

FPE_INTDIV: Final = 1
FPE_INTOVF: Final = 2
FPE_FLTDIV: Final = 3
FPE_FLTOVF: Final = 4
FPE_FLTUND: Final = 5
FPE_FLTRES: Final = 6
FPE_FLTINV: Final = 7
FPE_FLTSUB: Final = 8
FPE_FLTUNK: Final = 14
FPE_CONDTRAP: Final = 15

SEGV_MAPERR: Final = 1
SEGV_ACCERR: Final = 2
SEGV_BNDERR: Final = 3
SEGV_PKUERR: Final = 4
SEGV_ACCADI: Final = 5
SEGV_ADIDERR: Final = 6
SEGV_ADIPERR: Final = 7
SEGV_MTEAERR: Final = 8
SEGV_MTESERR: Final = 9

BUS_ADRALN: Final = 1
BUS_ADRERR: Final = 2
BUS_OBJERR: Final = 3
BUS_MCEERR_AR: Final = 4
BUS_MCEERR_AO: Final = 5

TRAP_BRKPT: Final = 1
TRAP_TRACE: Final = 2
TRAP_BRANCH: Final = 3
TRAP_HWBKPT: Final = 4
TRAP_UNK: Final = 5
TRAP_PERF: Final = 6

CLD_EXITED: Final = 1
CLD_KILLED: Final = 2
CLD_DUMPED: Final = 3
CLD_TRAPPED: Final = 4
CLD_STOPPED: Final = 5
CLD_CONTINUED: Final = 6

POLL_IN: Final = 1
POLL_OUT: Final = 2
POLL_MSG: Final = 3
POLL_ERR: Final = 4
POLL_PRI: Final = 5
POLL_HUP: Final = 6

SYS_SECCOMP: Final = 1
SYS_USER_DISPATCH: Final = 2

NAMES: Final = {
    1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
    7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2",
    13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD",
    18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU",
    23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF",
    28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR", 31: "SIGSYS",
}

DESCRIPTIONS: Final = {
    1: "Hangup", 2: "Interrupt", 3: "Quit", 4: "Illegal instruction",
    5: "Trace/breakpoint trap", 6: "Aborted", 7: "Bus error", 8: "Floating point exception",
    9: "Killed", 10: "User defined signal 1", 11: "Segmentation fault",
    12: "User defined signal 2", 13: "Broken pipe", 14: "Alarm clock", 15: "Terminated",
    16: "Stack fault", 17: "Child exited", 18: "Continued", 19: "Stopped (signal)",
    20: "Stopped", 21: "Stopped (tty input)", 22: "Stopped (tty output)",
    23: "Urgent I/O condition", 24: "CPU time limit exceeded", 25: "File size limit exceeded",
    26: "Virtual timer expired", 27: "Profiling timer expired", 28: "Window changed",
    29: "I/O possible", 30: "Power failure", 31: "Bad system call",
}


def signame(sig: int) -> str:
    """SIGSEGV, SIGRTMIN, SIGRT_3, as strace names them."""
    if sig in NAMES:
        return NAMES[sig]
    if sig == SIGRTMIN:
        return "SIGRTMIN"
    if SIGRTMIN < sig <= _NSIG:
        return f"SIGRT_{sig - SIGRTMIN}"
    return str(sig)


def describe(sig: int) -> str:
    """strsignal(sig): what a shell prints when a job dies of `sig`."""
    if sig in DESCRIPTIONS:
        return DESCRIPTIONS[sig]
    if SIGRTMIN <= sig <= _NSIG:
        return f"Real-time signal {sig - SIGRTMIN}"
    return f"Unknown signal {sig}"


def sigmask(sig: int) -> int:
    return 1 << (sig - 1)


SIG_KERNEL_ONLY_MASK: Final = sigmask(SIGKILL) | sigmask(SIGSTOP)
SIG_KERNEL_COREDUMP_MASK: Final = (
    sigmask(SIGQUIT) | sigmask(SIGILL) | sigmask(SIGTRAP) | sigmask(SIGABRT) | sigmask(SIGFPE)
    | sigmask(SIGSEGV) | sigmask(SIGBUS) | sigmask(SIGSYS) | sigmask(SIGXCPU) | sigmask(SIGXFSZ)
)
SIG_KERNEL_IGNORE_MASK: Final = sigmask(SIGCONT) | sigmask(SIGCHLD) | sigmask(SIGWINCH) | sigmask(SIGURG)
SIG_KERNEL_STOP_MASK: Final = sigmask(SIGSTOP) | sigmask(SIGTSTP) | sigmask(SIGTTIN) | sigmask(SIGTTOU)
