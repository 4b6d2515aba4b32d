"""Printers of the signal calls: rt_sigaction, rt_sigprocmask, sigaltstack, kill, tkill,
tgkill.

Counterpart: strace's signal.c (printsignal, sprintsigmask_n, decode_new_sigaction,
rt_sigprocmask) and sigaltstack.c, with the tables xlat/sigact_flags.in,
sigprocmaskcmds.in, sa_handler_values.in and sigaltstack_flags.in. A signal set prints
as the names without "SIG" (`[INT TERM RT_2]`), or, when two thirds or more of the bits
are set, as the complement (`~[KILL STOP RTMIN RT_1]`); -X raw prints numbers, -X verbose
both.
"""

from __future__ import annotations

import struct

from sysgate.arch.x86_64.structs import SIGSET_SIZE, STACK_T
from sysgate.syscall import Param
from sysgate.trace.printers import WHOLE_CALL, Ctx, addr, printer, xval_printer
from sysgate.trace.siginfo import printsignal
from sysgate.trace.xlat import Xlat, comment, printflags, printxval
from sysgate.uapi import signal as ls

SIGACT_FLAGS = Xlat.names(
    ls,
    "SA_RESTORER SA_ONSTACK SA_RESTART SA_INTERRUPT SA_NODEFER SA_RESETHAND SA_SIGINFO SA_NOCLDSTOP "
    "SA_NOCLDWAIT",
)
"""strace's order; SA_INTERRUPT is there because glibc names it. SA_UNSUPPORTED and
SA_EXPOSE_TAGBITS are not in it and print as hex."""
SIGPROCMASK_CMDS = Xlat.names(ls, "SIG_BLOCK SIG_UNBLOCK SIG_SETMASK")
SA_HANDLER_VALUES = Xlat.of([((1 << 64) - 1, "SIG_ERR"), (ls.SIG_DFL, "SIG_DFL"), (ls.SIG_IGN, "SIG_IGN")])
SIGALTSTACK_FLAGS = Xlat.names(ls, "SS_ONSTACK SS_DISABLE SS_AUTODISARM")
NEW_SIGACTION = struct.Struct("<QQQ64x")
"""strace's struct new_sigaction: sa_handler, sa_flags, sa_restorer, then sa_mask as
NSIG / sizeof(long) longs (64 bytes) of which the kernel uses the first."""
_MASK64 = (1 << 64) - 1


def sigset_name(sig: int) -> str | None:
    """A signal's name in a set: INT, RTMIN, RT_1 (signalent without "SIG")."""
    if 0 < sig <= ls.SIGRTMAX:
        return ls.signame(sig).removeprefix("SIG")
    return None


def sprintsigmask(style: str, mask: int, nbytes: int = SIGSET_SIZE) -> str:
    """sprintsigmask_n: the set of the first `nbytes` bytes of a mask (64 bits at most)."""
    words = (min(nbytes, SIGSET_SIZE) + 3) // 4
    nbits = words * 32
    mask &= (1 << nbits) - 1
    out = ""
    if mask.bit_count() >= nbits * 2 // 3:
        mask ^= (1 << nbits) - 1
        out = "~"
    items = []
    for bit in range(nbits):
        if not mask >> bit & 1:
            continue
        sig = bit + 1
        name = sigset_name(sig)
        if style == "abbrev":
            items.append(name or "")
        elif style == "raw":
            items.append(str(sig))
        else:
            items.append(f"{sig}{comment(name)}")
    return out + "[" + " ".join(items) + "]"


def print_sigset_addr_len(ctx: Ctx, where: int, length: int) -> str:
    """print_sigset_addr_len: the set at `where`, `length` bytes long; the address when
    the length is not the kernel's sigset size or the memory cannot be read."""
    if length != SIGSET_SIZE or not where:
        return addr(where)
    data = ctx.read(where, length)
    if data is None:
        return addr(where)
    return sprintsigmask(ctx.opts.xlat_style, int.from_bytes(data, "little"), length)


@printer("signo")
def p_signo(ctx: Ctx, v: int, p: Param) -> str:
    """printsignal: SIGTERM, or the number for what is not a signal."""
    return printsignal(ctx.opts.xlat_style, v)


@printer("sigset")
def p_sigset(ctx: Ctx, v: int, p: Param) -> str:
    """A sigset_t whose size is the call's `sigsetsize` argument (rt_sigprocmask)."""
    return print_sigset_addr_len(ctx, v, ctx.arg("sigsetsize"))


xval_printer("sigprocmask_how", SIGPROCMASK_CMDS, "SIG_???")


def print_sa_handler(style: str, handler: int) -> str:
    """print_sa_handler: SIG_DFL, SIG_IGN, SIG_ERR by name, a function as its address."""
    handler &= _MASK64
    name = SA_HANDLER_VALUES.lookup(handler)
    if name is None:
        return addr(handler)
    return printxval(style, SA_HANDLER_VALUES, handler)


@printer("struct sigaction")
def p_sigaction(ctx: Ctx, v: int, p: Param) -> str:
    """decode_new_sigaction: {sa_handler=..., sa_mask=[...], sa_flags=..., sa_restorer=...};
    sa_restorer only with SA_RESTORER."""
    data = ctx.read(v, NEW_SIGACTION.size) if v else None
    if data is None:
        return addr(v)
    style = ctx.opts.xlat_style
    handler, flags, restorer = NEW_SIGACTION.unpack_from(data)
    mask = int.from_bytes(data[24:32], "little")
    text = (f"{{sa_handler={print_sa_handler(style, handler)}, sa_mask={sprintsigmask(style, mask)}, "
            f"sa_flags={printflags(style, SIGACT_FLAGS, flags, 'SA_???')}")
    if flags & ls.SA_RESTORER:
        text += f", sa_restorer={addr(restorer)}"
    return text + "}"


@printer("struct stack_t")
def p_stack_t(ctx: Ctx, v: int, p: Param) -> str:
    """print_stack_t: {ss_sp=..., ss_flags=..., ss_size=...}."""
    data = ctx.read(v, STACK_T.size) if v else None
    if data is None:
        return addr(v)
    sp, flags, size = STACK_T.unpack(data)
    style = ctx.opts.xlat_style
    return f"{{ss_sp={addr(sp)}, ss_flags={printflags(style, SIGALTSTACK_FLAGS, flags, 'SS_???')}, ss_size={size}}}"


RT_SIGFRAME_MASK = 8 + 296 - 8
"""Where rt_sigreturn finds the mask, from the stack pointer at the call: the frame starts
8 bytes below (its pretcode was popped by `ret`), then pretcode (8), and uc_sigmask after
uc_flags, uc_link, uc_stack and the 256-byte sigcontext (296) in the ucontext."""


def rt_sigreturn_args(ctx: Ctx) -> str:
    """SYS_FUNC(rt_sigreturn): `{mask=[...]}`, the mask the frame restores."""
    cpu = ctx.t.kernel.cpu
    if cpu is None:
        return ""
    sp = cpu.get_reg("rsp")
    where = sp + RT_SIGFRAME_MASK
    data = ctx.read(where, SIGSET_SIZE)
    mask = addr(where) if data is None else sprintsigmask(ctx.opts.xlat_style, int.from_bytes(data, "little"))
    return f"{{mask={mask}}}"


WHOLE_CALL["rt_sigreturn"] = rt_sigreturn_args
