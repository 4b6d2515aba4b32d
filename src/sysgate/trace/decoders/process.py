"""clone, clone3, wait4, waitid, execve and execveat: their arguments as strace 6.1 prints them.

Counterpart: strace's clone.c (SYS_FUNC(clone), SYS_FUNC(clone3)), wait.c (printstatus,
printwaitn, SYS_FUNC(waitid)), execve.c (printargv, printargc, decode_execve) and the
tables xlat/clone_flags.in, clone3_flags.in, wait4_options.in, waitid_types.in.

clone's arguments are not printed in their register order: `child_stack=` and `flags=`
come first (flags with the exit signal or'ed in), then, when the call returns and only
for the flags that use them, `parent_tid=[N]`, `tls=` and `child_tidptr=`. The first
parameter's printer writes the first part, the parent_tidptr printer the second; the
others print nothing. clone3 prints its struct clone_args, and on return what the kernel
wrote through it (` => {parent_tid=[N]}`).
"""

from __future__ import annotations

import struct

from sysgate.syscall import Param
from sysgate.trace.printers import Ctx, addr, at_entry, fetch, printer, umove, xval, xval_printer
from sysgate.trace.quote import printstr_nul
from sysgate.trace.siginfo import SIGINFO_SIZE, printsiginfo, printsignal
from sysgate.trace.xlat import Xlat, printflags, printxval
from sysgate.uapi import signal as ls

CSIGNAL = 0xFF
CLONE_FLAGS = Xlat.of([
    (0x100, "CLONE_VM"), (0x200, "CLONE_FS"), (0x400, "CLONE_FILES"), (0x800, "CLONE_SIGHAND"),
    (0x1000, "CLONE_PIDFD"), (0x2000, "CLONE_PTRACE"), (0x4000, "CLONE_VFORK"), (0x8000, "CLONE_PARENT"),
    (0x10000, "CLONE_THREAD"), (0x20000, "CLONE_NEWNS"), (0x40000, "CLONE_SYSVSEM"), (0x80000, "CLONE_SETTLS"),
    (0x100000, "CLONE_PARENT_SETTID"), (0x200000, "CLONE_CHILD_CLEARTID"), (0x800000, "CLONE_UNTRACED"),
    (0x1000000, "CLONE_CHILD_SETTID"), (0x2000000, "CLONE_NEWCGROUP"), (0x4000000, "CLONE_NEWUTS"),
    (0x8000000, "CLONE_NEWIPC"), (0x10000000, "CLONE_NEWUSER"), (0x20000000, "CLONE_NEWPID"),
    (0x40000000, "CLONE_NEWNET"), (0x80000000, "CLONE_IO"),
])
"""xlat/clone_flags.in (CLONE_DETACHED is left out: the kernel ignores it)."""
CLONE3_FLAGS = Xlat.of([(0x100000000, "CLONE_CLEAR_SIGHAND"), (0x200000000, "CLONE_INTO_CGROUP")])
CLONE_PIDFD, CLONE_SETTLS, CLONE_PARENT_SETTID = 0x1000, 0x80000, 0x100000
CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_INTO_CGROUP = 0x200000, 0x1000000, 0x200000000
_TAIL_FLAGS = CLONE_PARENT_SETTID | CLONE_PIDFD | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | CLONE_SETTLS
CLONE_ARGS = struct.Struct("<11Q")
CLONE_ARGS_MIN = 64  # offsetofend(struct clone_args, tls)
INT_MAX = 0x7FFFFFFF

WAIT4_OPTIONS = Xlat.of([  # strace names 2 WSTOPPED (its xlat lists WUNTRACED only without it)
    (0x1, "WNOHANG"), (0x2, "WSTOPPED"), (0x4, "WEXITED"), (0x8, "WCONTINUED"), (0x01000000, "WNOWAIT"),
    (0x80000000, "__WCLONE"), (0x40000000, "__WALL"), (0x20000000, "__WNOTHREAD"),
])
WAITID_TYPES = Xlat.of([(0, "P_ALL"), (1, "P_PID"), (2, "P_PGID"), (3, "P_PIDFD")])
PTRACE_EVENTS = Xlat.of([(1, "PTRACE_EVENT_FORK"), (2, "PTRACE_EVENT_VFORK"), (3, "PTRACE_EVENT_CLONE"),
                         (4, "PTRACE_EVENT_EXEC"), (5, "PTRACE_EVENT_VFORK_DONE"), (6, "PTRACE_EVENT_EXIT"),
                         (7, "PTRACE_EVENT_SECCOMP"), (0x80, "PTRACE_EVENT_STOP")])


# -- clone ------------------------------------------------------------------------------------


def clone_flags_text(style: str, flags: int) -> str:
    """`flags=`: the CLONE_ flags, then the exit signal (or the signal alone)."""
    sig = flags & CSIGNAL
    rest = flags & ~CSIGNAL & 0xFFFFFFFFFFFFFFFF
    if not rest:
        return printsignal(style, sig)
    text = printflags(style, CLONE_FLAGS, rest, "CLONE_???")
    return text + ("|" + printsignal(style, sig) if sig else "")


@printer("clone_flags")
def p_clone_flags(ctx: Ctx, v: int, p: Param) -> str:
    """SYS_FUNC(clone) at entry: `child_stack=0x..., flags=CLONE_VM|...|SIGCHLD`."""
    return f"child_stack={addr(ctx.arg('newsp'))}, flags={clone_flags_text(ctx.opts.xlat_style, v)}"


@printer("clone_stack", "clone_tls")
def p_clone_none(ctx: Ctx, v: int, p: Param) -> None:
    """Printed with the flags (the stack) or with the tail (tls): nothing in place."""
    return None


def printnum_int(ctx: Ctx, ptr: int) -> str:
    data = fetch(ctx, ptr, 4)
    return addr(ptr) if data is None else f"[{int.from_bytes(data, 'little', signed=True)}]"


@printer("clone_tids")
def p_clone_tids(ctx: Ctx, v: int, p: Param) -> str | None:
    """SYS_FUNC(clone) at exit: parent_tid, tls, child_tidptr as the flags use them
    (written by the parent_tidptr parameter; child_tidptr's own place prints nothing)."""
    if p.name != "parent_tidptr":
        return None
    flags = ctx.arg("clone_flags")
    out = []
    if flags & (CLONE_PARENT_SETTID | CLONE_PIDFD):
        out.append(f"parent_tid={printnum_int(ctx, v)}")
    if flags & CLONE_SETTLS:
        out.append(f"tls={addr(ctx.arg('tls'))}")
    if flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID):
        out.append(f"child_tidptr={addr(ctx.arg('child_tidptr'))}")
    return ", ".join(out) or None


@at_entry("clone_tids", exit_sep=True)
def clone_tids_at_entry(ctx: Ctx, v: int, p: Param) -> bool:
    """RVAL_DECODED at entry when none of the flags has a tail to print."""
    return p.name != "parent_tidptr" or not ctx.arg("clone_flags") & _TAIL_FLAGS


def _clone_args_text(ctx: Ctx, a: tuple[int, ...]) -> str:
    style = ctx.opts.xlat_style
    flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup = a
    out = [f"flags={printflags(style, [CLONE_FLAGS, CLONE3_FLAGS], flags, 'CLONE_???')}"]
    if flags & CLONE_PIDFD:
        out.append(f"pidfd={addr(pidfd)}")
    if flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID):
        out.append(f"child_tid={addr(child_tid)}")
    if flags & CLONE_PARENT_SETTID:
        out.append(f"parent_tid={addr(parent_tid)}")
    out.append(f"exit_signal={printsignal(style, exit_signal) if exit_signal < INT_MAX else exit_signal}")
    out.append(f"stack={addr(stack)}")
    out.append(f"stack_size={xval(stack_size)}")
    if flags & CLONE_SETTLS:
        out.append(f"tls={addr(tls)}")
    if set_tid or set_tid_size:
        out.append(f"set_tid={addr(set_tid)}")
        out.append(f"set_tid_size={set_tid_size}")
    if cgroup or flags & CLONE_INTO_CGROUP:
        out.append(f"cgroup={cgroup}")
    return "{" + ", ".join(out) + "}"


@printer("clone_args")
def p_clone_args(ctx: Ctx, v: int, p: Param) -> str:
    """SYS_FUNC(clone3): the struct clone_args, then (exiting) ` => {parent_tid=[N]}`."""
    size = ctx.arg("size")
    fetch_size = min(size, CLONE_ARGS.size)
    if fetch_size < CLONE_ARGS_MIN:
        return addr(v)
    key = "clone_args"
    text = ctx.extra.get(key)
    if not isinstance(text, str):
        data = fetch(ctx, v, fetch_size, ignore_syserror=True)
        if data is None:
            return addr(v)
        args = CLONE_ARGS.unpack(data.ljust(CLONE_ARGS.size, b"\0"))
        text = ctx.extra[key] = _clone_args_text(ctx, args)
        ctx.extra["clone_args_flags"] = args[0]
    if not ctx.exiting or ctx.failed:
        return text
    flags = ctx.extra.get("clone_args_flags", 0)
    assert isinstance(flags, int)
    changed = []
    if flags & CLONE_PIDFD:
        pidfd = ctx.read(v + 8, 8)
        changed.append(f"pidfd={printnum_int(ctx, int.from_bytes(pidfd, 'little')) if pidfd else addr(v)}")
    if flags & CLONE_PARENT_SETTID:
        ptid = ctx.read(v + 24, 8)
        changed.append(f"parent_tid={printnum_int(ctx, int.from_bytes(ptid, 'little')) if ptid else addr(v)}")
    return text + (" => {" + ", ".join(changed) + "}" if changed else "")


@at_entry("clone_args")
def clone_args_at_entry(ctx: Ctx, v: int, p: Param) -> bool:
    """The struct is printed at entry; at exit too when the kernel writes through it."""
    data = ctx.read(v, 8) if v else None
    return data is None or not int.from_bytes(data, "little") & (CLONE_PIDFD | CLONE_PARENT_SETTID)


# -- wait4, waitid ----------------------------------------------------------------------------


def printstatus(style: str, status: int) -> str:
    """printstatus: `[{WIFEXITED(s) && WEXITSTATUS(s) == 0}]` and what the macros leave."""
    status &= 0xFFFFFFFF
    if status & 0xFF == 0x7F:  # WIFSTOPPED
        sig = (status >> 8) & 0xFF
        text = f"{{WIFSTOPPED(s) && WSTOPSIG(s) == {ls.signame(sig & 0x7F)}{' | 0x80' if sig & 0x80 else ''}}}"
        status &= ~((sig << 8) | 0x7F)
    elif status & 0x7F not in (0, 0x7F):  # WIFSIGNALED
        sig = status & 0x7F
        text = f"{{WIFSIGNALED(s) && WTERMSIG(s) == {ls.signame(sig)}{' && WCOREDUMP(s)' if status & 0x80 else ''}}}"
        status &= ~(sig | 0x80)
    elif not status & 0x7F:  # WIFEXITED
        text = f"{{WIFEXITED(s) && WEXITSTATUS(s) == {(status >> 8) & 0xFF}}}"
        status &= ~0xFF00
    elif status == 0xFFFF:  # WIFCONTINUED
        text, status = "{WIFCONTINUED(s)}", 0
    else:
        return f"[{xval(status)}]"
    if status:
        event = status >> 16
        if event:
            text += "|" + printxval(style, PTRACE_EVENTS, event, "PTRACE_EVENT_???") + "<<16"
            status &= 0xFFFF
        if status:
            text += f"|{xval(status)}"
    return f"[{text}]"


@printer("wait_status")
def p_wait_status(ctx: Ctx, v: int, p: Param) -> str:
    """printwaitn: the status, or the address when no child was reported (result 0)."""
    if ctx.ret == 0:
        return addr(v)
    data = umove(ctx, v, 4)
    return data if isinstance(data, str) else printstatus(ctx.opts.xlat_style, int.from_bytes(data, "little"))


@printer("wait_options")
def p_wait_options(ctx: Ctx, v: int, p: Param) -> str:
    return printflags(ctx.opts.xlat_style, WAIT4_OPTIONS, v & 0xFFFFFFFF, "W???")


xval_printer("idtype", WAITID_TYPES, "P_???")


@printer("rusage")
def p_wait_rusage(ctx: Ctx, v: int, p: Param) -> str:
    """wait4's usage only when a child was reported; waitid's always (printrusage)."""
    from sysgate.trace.printers import PRINTERS

    if ctx.spec is not None and ctx.spec.name == "wait4" and not (ctx.ret or 0) > 0:
        return addr(v)
    return PRINTERS["struct rusage"](ctx, v, p) or addr(v)


@printer("siginfo")
def p_siginfo(ctx: Ctx, v: int, p: Param) -> str:
    """printsiginfo_at: the siginfo_t the kernel filled (`{}` when nothing was reported)."""
    data = umove(ctx, v, SIGINFO_SIZE)
    return data if isinstance(data, str) else printsiginfo(data, ctx.opts.xlat_style, ctx.printfd)


# -- execve, execveat -------------------------------------------------------------------------


@printer("argv")
def p_argv(ctx: Ctx, v: int, p: Param) -> str:
    """printargv: `["ls", "-l"]`, at most -s strings unless -v; the address when it cannot be read."""
    if not v or not ctx.opts.structs:
        return addr(v)
    abbrev = not ctx.opts.verbose
    limit = ctx.opts.string_limit
    items: list[str] = []
    cur = v
    n = 0
    while True:
        word = ctx.read(cur, 8) if cur < 1 << 64 else None
        if word is None:
            if n == 0:
                return addr(cur)
            items.append(f"... /* {cur:#x} */")
            break
        ptr = int.from_bytes(word, "little")
        if not ptr:
            break
        if abbrev and n >= limit:
            items.append("...")
            break
        items.append(printstr_nul(ctx.read, ptr, limit, ctx.opts.xflag))
        n += 1
        cur += 8
    return "[" + ", ".join(items) + "]"


@printer("envp")
def p_envp(ctx: Ctx, v: int, p: Param) -> str:
    """decode_execve's envp: printargc (`0x7ffd... /* 23 vars */`) unless -v, printargv with it."""
    if ctx.opts.verbose:
        return p_argv(ctx, v, p)
    if not v or not ctx.opts.structs:
        return addr(v)
    n = 0
    cur = v
    while True:
        word = ctx.read(cur, 8)
        if word is None:
            if n == 0:
                return addr(v)
            break
        if not int.from_bytes(word, "little"):
            break
        n += 1
        cur += 8
    return f"{addr(v)} /* {n} var{'' if n == 1 else 's'} */"
