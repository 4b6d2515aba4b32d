"""fcntl and the dup family: commands, their argument by command, and their results.

Counterpart: strace's fcntl.c (print_fcntl, print_struct_flock64, print_f_owner_ex),
dup.c and the tables xlat/fcntlcmds.in, fdflags.in, lockfcmds.in, f_owner_types.in,
notifyflags.in, f_seals.in. What fcntl's third argument is depends on the command: a
number, flags, a signal, a struct flock or f_owner_ex (those the kernel fills are
printed when the call returns), or nothing at all. Some results are decorated:
`= 0x8002 (flags O_RDWR|O_LARGEFILE)` for F_GETFL, `= 0x1 (flags FD_CLOEXEC)` for
F_GETFD, the new descriptor (with its path under -y) for F_DUPFD.
"""

from __future__ import annotations

from sysgate.arch.x86_64.structs import FLOCK
from sysgate.syscall import Param
from sysgate.trace.decoders.open import OPEN_MODE_FLAGS, open_modes, sprint_open_modes
from sysgate.trace.printers import (
    Ctx,
    addr,
    at_entry,
    fetch,
    flags_printer,
    printer,
    r_fd,
    ret_printer,
    s32,
    s64,
    xval_printer,
)
from sysgate.trace.xlat import Xlat, comment, printflags, printxval
from sysgate.uapi import fcntl as o
from sysgate.uapi.signal import signame

F_GETLK64, F_SETLK64, F_SETLKW64 = 12, 13, 14
"""The 32-bit ABIs' flock64 commands; strace's table names them on x86-64 too."""
F_OWNER_TID, F_OWNER_PID, F_OWNER_PGRP = 0, 1, 2
F_EXLCK, F_SHLCK = 4, 8
DN_ACCESS, DN_MODIFY, DN_CREATE, DN_DELETE, DN_RENAME, DN_ATTRIB = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
DN_MULTISHOT = 0x80000000
F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE, F_SEAL_FUTURE_WRITE = 0x1, 0x2, 0x4, 0x8, 0x10

FCNTL_CMDS = Xlat.of([
    (o.F_DUPFD, "F_DUPFD"), (o.F_GETFD, "F_GETFD"), (o.F_SETFD, "F_SETFD"), (o.F_GETFL, "F_GETFL"),
    (o.F_SETFL, "F_SETFL"), (o.F_GETLK, "F_GETLK"), (o.F_SETLK, "F_SETLK"), (o.F_SETLKW, "F_SETLKW"),
    (o.F_SETOWN, "F_SETOWN"), (o.F_GETOWN, "F_GETOWN"), (o.F_SETSIG, "F_SETSIG"), (o.F_GETSIG, "F_GETSIG"),
    (F_GETLK64, "F_GETLK64"), (F_SETLK64, "F_SETLK64"), (F_SETLKW64, "F_SETLKW64"),
    (o.F_SETOWN_EX, "F_SETOWN_EX"), (o.F_GETOWN_EX, "F_GETOWN_EX"), (o.F_GETOWNER_UIDS, "F_GETOWNER_UIDS"),
    (o.F_OFD_GETLK, "F_OFD_GETLK"), (o.F_OFD_SETLK, "F_OFD_SETLK"), (o.F_OFD_SETLKW, "F_OFD_SETLKW"),
    (o.F_SETLEASE, "F_SETLEASE"), (o.F_GETLEASE, "F_GETLEASE"), (o.F_NOTIFY, "F_NOTIFY"),
    (o.F_CANCELLK, "F_CANCELLK"), (o.F_DUPFD_CLOEXEC, "F_DUPFD_CLOEXEC"), (o.F_SETPIPE_SZ, "F_SETPIPE_SZ"),
    (o.F_GETPIPE_SZ, "F_GETPIPE_SZ"), (o.F_ADD_SEALS, "F_ADD_SEALS"), (o.F_GET_SEALS, "F_GET_SEALS"),
])
"""xlat/fcntlcmds.in: strace 6.1 knows neither F_DUPFD_QUERY nor F_CREATED_QUERY nor the
read/write hint commands, which print as `0x403 /* F_??? */`."""
FD_FLAGS = Xlat.of([(o.FD_CLOEXEC, "FD_CLOEXEC")])
LOCK_TYPES = Xlat.of([(o.F_RDLCK, "F_RDLCK"), (o.F_WRLCK, "F_WRLCK"), (o.F_UNLCK, "F_UNLCK"),
                      (F_EXLCK, "F_EXLCK"), (F_SHLCK, "F_SHLCK")])
OWNER_TYPES = Xlat.of([(F_OWNER_TID, "F_OWNER_TID"), (F_OWNER_PID, "F_OWNER_PID"), (F_OWNER_PGRP, "F_OWNER_PGRP")])
NOTIFY_FLAGS = Xlat.of([(DN_ACCESS, "DN_ACCESS"), (DN_MODIFY, "DN_MODIFY"), (DN_CREATE, "DN_CREATE"),
                        (DN_DELETE, "DN_DELETE"), (DN_RENAME, "DN_RENAME"), (DN_ATTRIB, "DN_ATTRIB"),
                        (DN_MULTISHOT, "DN_MULTISHOT")])
SEALS = Xlat.of([(F_SEAL_SEAL, "F_SEAL_SEAL"), (F_SEAL_SHRINK, "F_SEAL_SHRINK"), (F_SEAL_GROW, "F_SEAL_GROW"),
                 (F_SEAL_WRITE, "F_SEAL_WRITE"), (F_SEAL_FUTURE_WRITE, "F_SEAL_FUTURE_WRITE")])
WHENCE = Xlat.names(o, "SEEK_SET SEEK_CUR SEEK_END SEEK_DATA SEEK_HOLE")

_NO_ARG = {o.F_GETFD, o.F_GETFL, o.F_GETOWN, o.F_GETSIG, o.F_GETLEASE, o.F_GET_SEALS, o.F_GETPIPE_SZ}
_GETLK = {o.F_GETLK, o.F_OFD_GETLK}
_SETLK = {o.F_SETLK, o.F_SETLKW, o.F_OFD_SETLK, o.F_OFD_SETLKW}


def printsignal(style: str, sig: int) -> str:
    """printsignal: the name (-X abbrev), the number (raw), or both (verbose); a number
    with no name prints as itself."""
    name = signame(sig)
    if not name.startswith("SIG") or style == "raw":
        return str(sig)
    return f"{sig}{comment(name)}" if style == "verbose" else name


def print_flock(ctx: Ctx, ptr: int, getlk: bool) -> str:
    """print_struct_flock64: `{l_type=F_WRLCK, l_whence=SEEK_SET, l_start=0, l_len=0}`, and
    l_pid for the commands that ask who holds a lock. A set command's structure is shown
    as the call made it, even if the call failed."""
    data = fetch(ctx, ptr, FLOCK.size, ignore_syserror=not getlk)
    if data is None:
        return addr(ptr)
    l_type, whence, start, length, pid = FLOCK.unpack(data)
    style = ctx.opts.xlat_style
    text = (f"{{l_type={printxval(style, LOCK_TYPES, l_type, 'F_???')}, "
            f"l_whence={printxval(style, WHENCE, whence, 'SEEK_???')}, l_start={start}, l_len={length}")
    return text + (f", l_pid={pid}}}" if getlk else "}")


def print_f_owner_ex(ctx: Ctx, ptr: int, ignore_syserror: bool) -> str:
    """`{type=F_OWNER_PID, pid=1234}`."""
    data = fetch(ctx, ptr, 8, ignore_syserror)
    if data is None:
        return addr(ptr)
    kind = int.from_bytes(data[:4], "little", signed=True)
    pid = int.from_bytes(data[4:], "little", signed=True)
    return f"{{type={printxval(ctx.opts.xlat_style, OWNER_TYPES, kind, 'F_OWNER_???')}, pid={pid}}}"


xval_printer("fcntl_cmd", FCNTL_CMDS, "F_???")


@printer("fcntl_arg")
def p_fcntl_arg(ctx: Ctx, v: int, p: Param) -> str | None:
    """print_fcntl: the third argument as the command reads it, or nothing.

    Declared "exit:" because F_GETLK and F_GETOWN_EX show what the kernel wrote; the
    arguments of the other commands do not change, so printing them then is the same.
    """
    cmd = ctx.arg("cmd") & 0xFFFFFFFF
    style = ctx.opts.xlat_style
    if cmd in _NO_ARG:
        return None
    if cmd in _GETLK:
        return print_flock(ctx, v, getlk=True)
    if cmd in _SETLK:
        return print_flock(ctx, v, getlk=False)
    if cmd == o.F_SETFD:
        return printflags(style, FD_FLAGS, v & 0xFFFFFFFF, "FD_???")
    if cmd == o.F_SETFL:
        return open_modes(style, v & 0xFFFFFFFF)
    if cmd in (o.F_DUPFD, o.F_DUPFD_CLOEXEC, o.F_SETPIPE_SZ):
        return str(s64(v))
    if cmd == o.F_SETOWN:
        return str(s32(v))
    if cmd == o.F_SETOWN_EX:
        return print_f_owner_ex(ctx, v, ignore_syserror=True)
    if cmd == o.F_GETOWN_EX:
        return print_f_owner_ex(ctx, v, ignore_syserror=False)
    if cmd == o.F_NOTIFY:
        return printflags(style, NOTIFY_FLAGS, v, "DN_???")
    if cmd == o.F_SETLEASE:
        return printxval(style, LOCK_TYPES, v, "F_???")
    if cmd == o.F_ADD_SEALS:
        return printflags(style, SEALS, v, "F_SEAL_???")
    if cmd == o.F_SETSIG:
        return printsignal(style, s32(v))
    return f"{v:#x}" if v else "0"


def _aux_flags(style: str, prefix: str, table: Xlat, v: int) -> str:
    """sprintflags(prefix, table, v) as an auxiliary string: the -X style applies."""
    return prefix + printflags(style, table, v)


@ret_printer("fcntl")
def r_fcntl(ctx: Ctx, v: int) -> str:
    """The result as print_fcntl returns it: a descriptor for F_DUPFD, hex and the flags
    for F_GETFL and F_GETFD, the lease type, the seals, the signal's name."""
    cmd = ctx.arg("cmd") & 0xFFFFFFFF
    style = ctx.opts.xlat_style
    if cmd in (o.F_DUPFD, o.F_DUPFD_CLOEXEC):
        return r_fd(ctx, v)
    if cmd == o.F_GETFL:
        return f"{v:#x} (flags {sprint_open_modes(v & 0xFFFFFFFF)})" if v else f"0 (flags {sprint_open_modes(0)})"
    if cmd == o.F_GETFD and v:
        return f"{v:#x} ({_aux_flags(style, 'flags ', FD_FLAGS, v)})"
    if cmd == o.F_GET_SEALS and v:
        return f"{v:#x} ({_aux_flags(style, 'seals ', SEALS, v)})"
    if cmd == o.F_GETLEASE:
        name = LOCK_TYPES.lookup(v)
        return (f"{v:#x}" if v else "0") + (f" ({name})" if name else "")
    if cmd == o.F_GETSIG and v:
        name = signame(v)
        return f"{v} ({name})" if name.startswith("SIG") else str(v)
    return str(v)


# dup3's and pipe2's flags: printflags(open_mode_flags), with no access mode.
flags_printer("open_mode_flags", OPEN_MODE_FLAGS, "O_???")


@at_entry("fcntl_arg", exit_sep=True)
def fcntl_at_entry(ctx: Ctx, v: int, p: Param) -> bool:
    """print_fcntl prints the argument at entry except for the commands that fill it."""
    return ctx.arg("cmd") & 0xFFFFFFFF not in (*_GETLK, o.F_GETOWN_EX)
