"""Printers of prctl and arch_prctl.

Counterpart: strace's prctl.c (SYS_FUNC(prctl), SYS_FUNC(arch_prctl)) with the tables
xlat/prctl_options.in, pr_*.in, cap.in, secbits.in, seccomp_mode.in, archvals.in and
x86_xfeature*.in. What follows the option depends on it: PR_SET_NAME the string,
PR_GET_NAME the string on return, PR_SET_DUMPABLE a SUID_DUMP_* name, options strace
has no decoder for their four other arguments in hex. Some options also add a note to
the result (`= 1 (SUID_DUMP_USER)`): the return printers "prctl" and "arch_prctl".

Each of prctl's arguments 2 to 5 uses the printer "prctl_arg", which renders the whole
list for the option and picks its own; an argument the option does not take is left out.
"""

from __future__ import annotations

from collections.abc import Callable

from sysgate.syscall import Param
from sysgate.trace.printers import Ctx, addr, at_entry, printer, ret_printer, xval, xval_printer
from sysgate.trace.quote import read_cstring, string_quote
from sysgate.trace.siginfo import printsignal
from sysgate.trace.xlat import Xlat, comment, printflags, printxval
from sysgate.uapi import prctl as pr

PRCTL_OPTIONS = Xlat.names(
    pr,
    "PR_SET_PDEATHSIG PR_GET_PDEATHSIG PR_GET_DUMPABLE PR_SET_DUMPABLE PR_GET_UNALIGN PR_SET_UNALIGN "
    "PR_GET_KEEPCAPS PR_SET_KEEPCAPS PR_GET_FPEMU PR_SET_FPEMU PR_GET_FPEXC PR_SET_FPEXC PR_GET_TIMING "
    "PR_SET_TIMING PR_SET_NAME PR_GET_NAME PR_GET_ENDIAN PR_SET_ENDIAN PR_GET_SECCOMP PR_SET_SECCOMP "
    "PR_CAPBSET_READ PR_CAPBSET_DROP PR_GET_TSC PR_SET_TSC PR_GET_SECUREBITS PR_SET_SECUREBITS "
    "PR_SET_TIMERSLACK PR_GET_TIMERSLACK PR_TASK_PERF_EVENTS_DISABLE PR_TASK_PERF_EVENTS_ENABLE "
    "PR_MCE_KILL PR_MCE_KILL_GET PR_SET_MM PR_SET_CHILD_SUBREAPER PR_GET_CHILD_SUBREAPER "
    "PR_SET_NO_NEW_PRIVS PR_GET_NO_NEW_PRIVS PR_GET_TID_ADDRESS PR_SET_THP_DISABLE PR_GET_THP_DISABLE "
    "PR_MPX_ENABLE_MANAGEMENT PR_MPX_DISABLE_MANAGEMENT PR_SET_FP_MODE PR_GET_FP_MODE PR_CAP_AMBIENT "
    "PR_SVE_SET_VL PR_SVE_GET_VL PR_GET_SPECULATION_CTRL PR_SET_SPECULATION_CTRL PR_PAC_RESET_KEYS "
    "PR_SET_TAGGED_ADDR_CTRL PR_GET_TAGGED_ADDR_CTRL PR_SET_IO_FLUSHER PR_GET_IO_FLUSHER "
    "PR_SET_SYSCALL_USER_DISPATCH PR_PAC_SET_ENABLED_KEYS PR_PAC_GET_ENABLED_KEYS PR_SCHED_CORE "
    "PR_SME_SET_VL PR_SME_GET_VL PR_SET_VMA PR_SET_PTRACER",
)
"""strace 6.1 knows no option after PR_SME_GET_VL but PR_SET_VMA: PR_SET_MDWE (65) and later
print as `0x41 /* PR_??? */`."""
PR_DUMPABLE = Xlat.names(pr, "SUID_DUMP_DISABLE SUID_DUMP_USER SUID_DUMP_ROOT")
CAP = Xlat.of(enumerate(pr.CAP_NAMES))
PR_TSC = Xlat.names(pr, "PR_TSC_ENABLE PR_TSC_SIGSEGV")
PR_UNALIGN_FLAGS = Xlat.names(pr, "PR_UNALIGN_NOPRINT PR_UNALIGN_SIGBUS")
PR_SET_MM = Xlat.names(
    pr,
    "PR_SET_MM_START_CODE PR_SET_MM_END_CODE PR_SET_MM_START_DATA PR_SET_MM_END_DATA PR_SET_MM_START_STACK "
    "PR_SET_MM_START_BRK PR_SET_MM_BRK PR_SET_MM_ARG_START PR_SET_MM_ARG_END PR_SET_MM_ENV_START "
    "PR_SET_MM_ENV_END PR_SET_MM_AUXV PR_SET_MM_EXE_FILE PR_SET_MM_MAP PR_SET_MM_MAP_SIZE",
)
PR_MCE_KILL = Xlat.names(pr, "PR_MCE_KILL_CLEAR PR_MCE_KILL_SET")
PR_MCE_KILL_POLICY = Xlat.names(pr, "PR_MCE_KILL_LATE PR_MCE_KILL_EARLY PR_MCE_KILL_DEFAULT")
PR_SET_VMA = Xlat.names(pr, "PR_SET_VMA_ANON_NAME")
PR_FP_MODE = Xlat.names(pr, "PR_FP_MODE_FR PR_FP_MODE_FRE")
PR_CAP_AMBIENT = Xlat.names(pr, "PR_CAP_AMBIENT_IS_SET PR_CAP_AMBIENT_RAISE PR_CAP_AMBIENT_LOWER "
                                "PR_CAP_AMBIENT_CLEAR_ALL")
PR_SPEC_CMDS = Xlat.names(pr, "PR_SPEC_STORE_BYPASS PR_SPEC_INDIRECT_BRANCH PR_SPEC_L1D_FLUSH")
PR_SPEC_GET_FLAGS = Xlat.names(pr, "PR_SPEC_NOT_AFFECTED PR_SPEC_PRCTL PR_SPEC_ENABLE PR_SPEC_DISABLE "
                                   "PR_SPEC_FORCE_DISABLE PR_SPEC_DISABLE_NOEXEC")
PR_SPEC_SET_FLAGS = Xlat.names(pr, "PR_SPEC_ENABLE PR_SPEC_DISABLE PR_SPEC_FORCE_DISABLE PR_SPEC_DISABLE_NOEXEC")
PR_PAC_ENABLED_KEYS = Xlat.names(pr, "PR_PAC_APIAKEY PR_PAC_APIBKEY PR_PAC_APDAKEY PR_PAC_APDBKEY")
PR_PAC_KEYS = Xlat.names(pr, "PR_PAC_APGAKEY")
PR_SUD_CMDS = Xlat.names(pr, "PR_SYS_DISPATCH_OFF PR_SYS_DISPATCH_ON")
PR_SCHED_CORE_CMDS = Xlat.names(pr, "PR_SCHED_CORE_GET PR_SCHED_CORE_CREATE PR_SCHED_CORE_SHARE_TO "
                                    "PR_SCHED_CORE_SHARE_FROM")
PR_SCHED_CORE_PIDTYPES = Xlat.names(pr, "PIDTYPE_PID PIDTYPE_TGID PIDTYPE_PGID PIDTYPE_SID")
PR_SVE_VL_FLAGS = Xlat.names(pr, "PR_SVE_SET_VL_ONEXEC PR_SVE_VL_INHERIT")
PR_SME_VL_FLAGS = Xlat.names(pr, "PR_SME_SET_VL_ONEXEC PR_SME_VL_INHERIT")
PR_TAGGED_ADDR_ENABLE = Xlat.of([(0, "!PR_TAGGED_ADDR_ENABLE"), (pr.PR_TAGGED_ADDR_ENABLE, "PR_TAGGED_ADDR_ENABLE")])
PR_MTE_TCF = Xlat.names(pr, "PR_MTE_TCF_NONE PR_MTE_TCF_SYNC PR_MTE_TCF_ASYNC PR_MTE_TCF_MASK")
SECCOMP_MODE = Xlat.names(pr, "SECCOMP_MODE_DISABLED SECCOMP_MODE_STRICT SECCOMP_MODE_FILTER")
SECBITS = Xlat.names(pr, "SECBIT_NOROOT SECBIT_NOROOT_LOCKED SECBIT_NO_SETUID_FIXUP SECBIT_NO_SETUID_FIXUP_LOCKED "
                         "SECBIT_KEEP_CAPS SECBIT_KEEP_CAPS_LOCKED SECBIT_NO_CAP_AMBIENT_RAISE "
                         "SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED")
TASK_COMM_LEN = 16
_ULONG = (1 << 64) - 1


def sprintflags_aux(style: str, xlat: Xlat, flags: int) -> str | None:
    """sprintflags_ex in SPFF_AUXSTR_MODE: the note after a result (`0x10 (SECBIT_KEEP_CAPS)`),
    None when nothing would be said (-X raw, or no name matches)."""
    if style == "raw":
        return None
    if not flags and xlat.entries and xlat.entries[0][0] == 0:
        return xlat.entries[0][1]
    names = []
    for v, name in xlat.entries:
        if v and flags & v == v:
            names.append(name)
            flags &= ~v
    if not names:
        return None
    return "|".join(names + ([xval(flags)] if flags else []))


def printstr_ex(ctx: Ctx, where: int, length: int | None) -> str:
    """printstr_ex(..., QUOTE_0_TERMINATED): a NUL-terminated string of at most `length`
    bytes (None: no bound but -s), with "..." when it goes on past what is shown."""
    if not where:
        return "NULL"
    limit = ctx.opts.string_limit
    size = limit + 1 if length is None else min(limit + 1, length)
    data = read_cstring(ctx.read, where, size)
    if data is None:
        return addr(where)
    shown = min(size, limit)
    nul = data.find(0)
    if 0 <= nul <= shown:
        text, _ = string_quote(data[:nul], ctx.opts.xflag)
        return text
    text, _ = string_quote(data[:shown], ctx.opts.xflag)
    return text + "..."


def _read_word(ctx: Ctx, where: int, size: int) -> int | None:
    """umove_or_printaddr for a number: None when strace would print the address instead
    (NULL, a failed call, memory it cannot read, a call -e verbose= leaves out)."""
    if not where or ctx.failed or not ctx.opts.structs:
        return None
    data = ctx.read(where, size)
    return None if data is None else int.from_bytes(data, "little")


def _indirect(ctx: Ctx, where: int, size: int, fmt: Callable[[int], str]) -> str:
    """`[value]` read from `where`, or the address (NULL, failed call, unreadable)."""
    value = _read_word(ctx, where, size)
    return addr(where) if value is None else f"[{fmt(value)}]"


def _sve_val(style: str, flags_table: Xlat, arg: int, aux: bool) -> str | None:
    """sprint_sve_val / sprint_sme_val: the flags, then the vector length in hex."""
    if style == "raw":
        return None if aux else xval(arg)
    vl, flags = arg & 0xFFFF, arg & ~0xFFFF
    if not flags and aux:
        return None
    flags_str = printflags("abbrev", flags_table, flags) or None
    body = (flags_str + "|" if flags_str else "") + xval(vl)
    if not aux and flags and style == "verbose":
        return f"{xval(arg)} /* {body} */"
    return body


def _tagged_addr_val(style: str, arg: int, rval: bool) -> str | None:
    """sprint_tagged_addr_val: PR_TAGGED_ADDR_ENABLE|PR_MTE_TCF_*|tag<<PR_MTE_TAG_SHIFT."""
    enabled = arg & pr.PR_TAGGED_ADDR_ENABLE
    tcf = arg & pr.PR_MTE_TCF_MASK
    tag = arg & pr.PR_MTE_TAG_MASK
    rest = arg & ~(pr.PR_TAGGED_ADDR_ENABLE | pr.PR_MTE_TCF_MASK | pr.PR_MTE_TAG_MASK)
    out = xval(arg) if not rval and style != "abbrev" else ""
    if style == "raw":
        return None if rval else out
    if not rval and style == "verbose":
        out += " /* "
    out += (PR_TAGGED_ADDR_ENABLE.lookup(enabled) or "") + "|" + printxval("abbrev", PR_MTE_TCF, tcf)
    if tag:
        out += f"|{xval(tag >> pr.PR_MTE_TAG_SHIFT)}<<PR_MTE_TAG_SHIFT"
    if rest:
        out += f"|{xval(rest)}"
    if not rval and style == "verbose":
        out += " */"
    return out


def prctl_args(ctx: Ctx) -> list[str]:
    """The arguments after the option, as strace prints them for that option (SYS_FUNC(prctl)).

    Called once at entry and once at return: what is read back from the guest (PR_GET_NAME's
    name) only makes sense at return, where the declarations print those arguments.
    """
    style = ctx.opts.xlat_style
    option = ctx.arg("option") & 0xFFFFFFFF
    a2, a3, a4, a5 = (ctx.arg(n) & _ULONG for n in ("arg2", "arg3", "arg4", "arg5"))

    def xv(table: Xlat, value: int, dflt: str) -> str:
        return printxval(style, table, value, dflt)

    def rest(first: int) -> list[str]:  # print_prctl_args: u_arg[first:] in hex (u_arg[0] is the option)
        return [xval(v) for v in (a2, a3, a4, a5)[first - 1 :]]

    if option in (pr.PR_GET_KEEPCAPS, pr.PR_GET_SECCOMP, pr.PR_GET_TIMERSLACK, pr.PR_GET_TIMING,
                  pr.PR_GET_DUMPABLE, pr.PR_GET_SECUREBITS, pr.PR_GET_FP_MODE, pr.PR_SVE_GET_VL,
                  pr.PR_SME_GET_VL, pr.PR_TASK_PERF_EVENTS_DISABLE, pr.PR_TASK_PERF_EVENTS_ENABLE):
        return []
    if option in (pr.PR_GET_CHILD_SUBREAPER, pr.PR_GET_ENDIAN, pr.PR_GET_FPEMU, pr.PR_GET_FPEXC):
        return [_indirect(ctx, a2, 4, str)]
    if option == pr.PR_GET_NAME:
        return [addr(a2) if ctx.failed else printstr_ex(ctx, a2, TASK_COMM_LEN)]
    if option == pr.PR_GET_PDEATHSIG:
        return [_indirect(ctx, a2, 4, lambda v: printsignal(style, v - (1 << 32) if v >> 31 else v))]
    if option == pr.PR_GET_TID_ADDRESS:
        return [_indirect(ctx, a2, 8, addr)]
    if option == pr.PR_GET_TSC:
        return [_indirect(ctx, a2, 4, lambda v: xv(PR_TSC, v, "PR_TSC_???"))]
    if option == pr.PR_GET_UNALIGN:
        return [_indirect(ctx, a2, 4, lambda v: printflags(style, PR_UNALIGN_FLAGS, v, "PR_UNALIGN_???"))]
    if option in (pr.PR_SVE_SET_VL, pr.PR_SME_SET_VL):
        table = PR_SVE_VL_FLAGS if option == pr.PR_SVE_SET_VL else PR_SME_VL_FLAGS
        return [_sve_val(style, table, a2, False) or ""]
    if option == pr.PR_GET_SPECULATION_CTRL:
        return [xv(PR_SPEC_CMDS, a2, "PR_SPEC_???")]
    if option == pr.PR_SET_TAGGED_ADDR_CTRL:
        return [_tagged_addr_val(style, a2, False) or "", *rest(2)]
    if option in (pr.PR_SET_CHILD_SUBREAPER, pr.PR_SET_ENDIAN, pr.PR_SET_FPEMU, pr.PR_SET_FPEXC,
                  pr.PR_SET_KEEPCAPS, pr.PR_SET_TIMING):
        return [str(a2)]
    if option == pr.PR_SET_DUMPABLE:
        return [xv(PR_DUMPABLE, a2, "SUID_DUMP_???")]
    if option in (pr.PR_CAPBSET_DROP, pr.PR_CAPBSET_READ):
        return [xv(CAP, a2, "CAP_???")]
    if option == pr.PR_CAP_AMBIENT:
        head = xv(PR_CAP_AMBIENT, a2, "PR_CAP_AMBIENT_???")
        if a2 in (pr.PR_CAP_AMBIENT_RAISE, pr.PR_CAP_AMBIENT_LOWER, pr.PR_CAP_AMBIENT_IS_SET):
            return [head, xv(CAP, a3, "CAP_???"), *rest(3)]
        return [head, *rest(2)]
    if option == pr.PR_MCE_KILL:
        policy = xv(PR_MCE_KILL_POLICY, a3, "PR_MCE_KILL_???") if a2 == pr.PR_MCE_KILL_SET else xval(a3)
        return [xv(PR_MCE_KILL, a2, "PR_MCE_KILL_???"), policy, *rest(3)]
    if option == pr.PR_SET_NAME:
        return [printstr_ex(ctx, a2, TASK_COMM_LEN - 1)]
    if option == pr.PR_SET_VMA:
        head = xv(PR_SET_VMA, a2, "PR_SET_VMA_???")
        if a2 == pr.PR_SET_VMA_ANON_NAME:
            return [head, addr(a3), str(a4), printstr_ex(ctx, a5, None)]
        return [head, *rest(2)]
    if option == pr.PR_SET_MM:
        return [xv(PR_SET_MM, a2 & 0xFFFFFFFF, "PR_SET_MM_???"), *rest(2)]
    if option == pr.PR_SET_PDEATHSIG:
        return [str(a2) if a2 > 128 else printsignal(style, a2)]
    if option == pr.PR_SET_PTRACER:
        pid = a2 & 0xFFFFFFFF
        pid -= (1 << 32) if pid >> 31 else 0
        if pid != pr.PR_SET_PTRACER_ANY:
            return [str(pid)]
        if style == "abbrev":
            return ["PR_SET_PTRACER_ANY"]
        return ["-1" + (comment("PR_SET_PTRACER_ANY") if style == "verbose" else "")]
    if option == pr.PR_SET_SECCOMP:
        head = xv(SECCOMP_MODE, a2, "SECCOMP_MODE_???")
        if a2 == pr.SECCOMP_MODE_STRICT:
            return [head]
        if a2 == pr.SECCOMP_MODE_FILTER:
            return [head, addr(a3)]  # strace decodes the BPF program; sysgate has no seccomp
        return [head, *rest(2)]
    if option == pr.PR_SET_SECUREBITS:
        return [printflags(style, SECBITS, a2, "SECBIT_???")]
    if option == pr.PR_SET_TIMERSLACK:
        return [str(a2 - (1 << 64) if a2 >> 63 else a2)]
    if option == pr.PR_SET_TSC:
        return [xv(PR_TSC, a2 & 0xFFFFFFFF, "PR_TSC_???")]
    if option == pr.PR_SET_UNALIGN:
        return [printflags(style, PR_UNALIGN_FLAGS, a2 & 0xFFFFFFFF, "PR_UNALIGN_???")]
    if option in (pr.PR_SET_NO_NEW_PRIVS, pr.PR_SET_THP_DISABLE, pr.PR_SET_IO_FLUSHER):
        return [str(a2), *rest(2)]
    if option == pr.PR_SET_FP_MODE:
        return [printflags(style, PR_FP_MODE, a2 & 0xFFFFFFFF, "PR_FP_MODE_???")]
    if option == pr.PR_SET_SPECULATION_CTRL:
        spec = a2 in (pr.PR_SPEC_STORE_BYPASS, pr.PR_SPEC_INDIRECT_BRANCH, pr.PR_SPEC_L1D_FLUSH)
        return [xv(PR_SPEC_CMDS, a2, "PR_SPEC_???"), xv(PR_SPEC_SET_FLAGS, a3, "PR_SPEC_???") if spec else xval(a3)]
    if option == pr.PR_PAC_RESET_KEYS:
        return [printflags(style, [PR_PAC_ENABLED_KEYS, PR_PAC_KEYS], a2, "PR_PAC_???"), *rest(2)]
    if option == pr.PR_PAC_SET_ENABLED_KEYS:
        return [printflags(style, PR_PAC_ENABLED_KEYS, a2, "PR_PAC_???"),
                printflags(style, PR_PAC_ENABLED_KEYS, a3, "PR_PAC_???"), *rest(3)]
    if option == pr.PR_SET_SYSCALL_USER_DISPATCH:
        return [xv(PR_SUD_CMDS, a2, "PR_SYS_DISPATCH_???"), xval(a3), xval(a4), addr(a5)]
    if option == pr.PR_SCHED_CORE:
        return _sched_core(ctx, style, a2, a3, a4, a5)
    return rest(1)  # PR_GET_NO_NEW_PRIVS and every option strace has no decoder for


def _sched_core(ctx: Ctx, style: str, a2: int, a3: int, a4: int, a5: int) -> list[str]:
    """PR_SCHED_CORE: command, pid, pid type (always with its name), then the cookie:
    where it goes for PR_SCHED_CORE_GET (printed at return), an address otherwise."""
    pid = a3 & 0xFFFFFFFF
    pid -= (1 << 32) if pid >> 31 else 0
    pidtype = printxval("raw" if style == "raw" else "verbose", PR_SCHED_CORE_PIDTYPES, a4 & 0xFFFFFFFF,
                        "PIDTYPE_???")
    if a2 & 0xFFFFFFFF == pr.PR_SCHED_CORE_GET:
        cookie = addr(a5) if ctx.failed or not ctx.exiting else _indirect(ctx, a5, 8, xval)
    else:
        cookie = addr(a5)
    return [printxval(style, PR_SCHED_CORE_CMDS, a2 & 0xFFFFFFFF, "PR_SCHED_CORE_???"), str(pid), pidtype, cookie]


xval_printer("prctl_option", PRCTL_OPTIONS, "PR_???")


@printer("prctl_arg")
def p_prctl_arg(ctx: Ctx, v: int, p: Param) -> str | None:
    """Argument `argN` of prctl as its option has it printed, or None if the option has no
    argument N (rendered once per phase, kept in ctx.extra)."""
    key = f"prctl_args:{ctx.exiting}"
    args = ctx.extra.get(key)
    if not isinstance(args, list):
        args = ctx.extra[key] = prctl_args(ctx)
    index = int(p.name.removeprefix("arg")) - 2
    return args[index] if index < len(args) else None


@ret_printer("prctl")
def r_prctl(ctx: Ctx, v: int) -> str:
    """A successful prctl's result, with the note some options add (RVAL_STR, RVAL_HEX)."""
    style = ctx.opts.xlat_style
    option = ctx.arg("option") & 0xFFFFFFFF
    note: str | None = None
    if option == pr.PR_GET_DUMPABLE:
        return _with_note(str(v), PR_DUMPABLE.lookup(v & _ULONG))
    if option == pr.PR_MCE_KILL_GET:
        return _with_note(str(v), PR_MCE_KILL_POLICY.lookup(v & _ULONG))
    if option == pr.PR_GET_SECUREBITS and v:
        note = sprintflags_aux(style, SECBITS, v & _ULONG)
    elif option == pr.PR_GET_FP_MODE and v:
        note = sprintflags_aux(style, PR_FP_MODE, v & _ULONG)
    elif option in (pr.PR_SVE_SET_VL, pr.PR_SVE_GET_VL) and v:
        note = _sve_val(style, PR_SVE_VL_FLAGS, v & _ULONG, True)
    elif option in (pr.PR_SME_SET_VL, pr.PR_SME_GET_VL) and v:
        note = _sve_val(style, PR_SME_VL_FLAGS, v & _ULONG, True)
    elif option == pr.PR_GET_SPECULATION_CTRL and ctx.arg("arg2") in (0, 1, 2):
        note = sprintflags_aux(style, PR_SPEC_GET_FLAGS, v & _ULONG)
    elif option == pr.PR_GET_TAGGED_ADDR_CTRL:
        note = _tagged_addr_val(style, v & _ULONG, True)
    elif option == pr.PR_PAC_GET_ENABLED_KEYS:
        note = sprintflags_aux(style, PR_PAC_ENABLED_KEYS, v & _ULONG)
    else:
        return str(v)
    return _with_note(xval(v), note)


def _with_note(value: str, note: str | None) -> str:
    return f"{value} ({note})" if note else value


ARCHVALS = Xlat.names(
    pr,
    "ARCH_SET_GS ARCH_SET_FS ARCH_GET_FS ARCH_GET_GS ARCH_GET_CPUID ARCH_SET_CPUID ARCH_GET_XCOMP_SUPP "
    "ARCH_GET_XCOMP_PERM ARCH_REQ_XCOMP_PERM ARCH_GET_XCOMP_GUEST_PERM ARCH_REQ_XCOMP_GUEST_PERM "
    "ARCH_MAP_VDSO_X32 ARCH_MAP_VDSO_32 ARCH_MAP_VDSO_64",
)
"""strace 6.1 has no names for LAM (0x4001...) or shadow stack (0x5001...) codes, nor for
the never merged ARCH_CET_* (0x3001...): they print as `0x4001 /* ARCH_??? */`."""
X86_XFEATURE_BITS = Xlat.names(
    pr,
    "XFEATURE_FP XFEATURE_SSE XFEATURE_YMM XFEATURE_BNDREGS XFEATURE_BNDCSR XFEATURE_OPMASK "
    "XFEATURE_ZMM_Hi256 XFEATURE_Hi16_ZMM XFEATURE_PT_UNIMPLEMENTED_SO_FAR XFEATURE_PKRU XFEATURE_PASID "
    "XFEATURE_LBR XFEATURE_XTILE_CFG XFEATURE_XTILE_DATA",
)
_M = {name: 1 << value for value, name in X86_XFEATURE_BITS.entries}
X86_XFEATURES = Xlat.of([
    (_M["XFEATURE_FP"] | _M["XFEATURE_SSE"], "XFEATURE_MASK_FPSSE"),
    *((_M[f"XFEATURE_{n}"], f"XFEATURE_MASK_{n}") for n in ("FP", "SSE", "YMM", "BNDREGS", "BNDCSR")),
    (_M["XFEATURE_OPMASK"] | _M["XFEATURE_ZMM_Hi256"] | _M["XFEATURE_Hi16_ZMM"], "XFEATURE_MASK_AVX512"),
    *((_M[f"XFEATURE_{n}"], f"XFEATURE_MASK_{n}") for n in ("OPMASK", "ZMM_Hi256", "Hi16_ZMM")),
    (_M["XFEATURE_PT_UNIMPLEMENTED_SO_FAR"], "XFEATURE_MASK_PT"),
    *((_M[f"XFEATURE_{n}"], f"XFEATURE_MASK_{n}") for n in ("PKRU", "PASID", "LBR")),
    (_M["XFEATURE_XTILE_CFG"] | _M["XFEATURE_XTILE_DATA"], "XFEATURE_MASK_XTILE"),
    *((_M[f"XFEATURE_{n}"], f"XFEATURE_MASK_{n}") for n in ("XTILE_CFG", "XTILE_DATA")),
])
"""The masks in strace's order, the combined ones (FPSSE, AVX512, XTILE) before their parts."""


xval_printer("arch_prctl_option", ARCHVALS, "ARCH_???")


@printer("arch_prctl_arg")
def p_arch_prctl_arg(ctx: Ctx, v: int, p: Param) -> str | None:
    """The address or value after the code (printed at return: the GET codes write through it)."""
    style = ctx.opts.xlat_style
    option = ctx.arg("option") & 0xFFFFFFFF
    if option in (pr.ARCH_GET_FS, pr.ARCH_GET_GS):
        return _indirect(ctx, v, 8, addr)
    if option == pr.ARCH_GET_CPUID:
        return None
    if option in (pr.ARCH_GET_XCOMP_SUPP, pr.ARCH_GET_XCOMP_PERM, pr.ARCH_GET_XCOMP_GUEST_PERM):
        mask_style = "raw" if style == "raw" else "verbose"
        return _indirect(ctx, v, 8, lambda m: printflags(mask_style, X86_XFEATURES, m, "XFEATURE_MASK_???"))
    if option in (pr.ARCH_REQ_XCOMP_PERM, pr.ARCH_REQ_XCOMP_GUEST_PERM):
        return printxval("raw" if style == "raw" else "verbose", X86_XFEATURE_BITS, v & _ULONG, "XFEATURE_???")
    return xval(v)


@ret_printer("arch_prctl")
def r_arch_prctl(ctx: Ctx, v: int) -> str:
    """ARCH_REQ_XCOMP_PERM returning the features granted: hex with their names."""
    option = ctx.arg("option") & 0xFFFFFFFF
    if option in (pr.ARCH_REQ_XCOMP_PERM, pr.ARCH_REQ_XCOMP_GUEST_PERM) and v > 0:
        return _with_note(xval(v), sprintflags_aux(ctx.opts.xlat_style, X86_XFEATURES, v))
    return str(v)


_PRCTL_AT_EXIT = {pr.PR_GET_CHILD_SUBREAPER, pr.PR_GET_ENDIAN, pr.PR_GET_FPEMU, pr.PR_GET_FPEXC, pr.PR_GET_NAME,
                  pr.PR_GET_PDEATHSIG, pr.PR_GET_TID_ADDRESS, pr.PR_GET_TSC, pr.PR_GET_UNALIGN, pr.PR_SCHED_CORE}
"""The options whose argument strace prints when the call returns (it reads what the kernel wrote)."""


@at_entry("prctl_arg")
def prctl_at_entry(ctx: Ctx, v: int, p: Param) -> bool:
    return ctx.arg("option") & 0xFFFFFFFF not in _PRCTL_AT_EXIT


@at_entry("arch_prctl_arg")
def arch_prctl_at_entry(ctx: Ctx, v: int, p: Param) -> bool:
    return ctx.arg("option") & 0xFFFFFFFF not in (pr.ARCH_GET_FS, pr.ARCH_GET_GS, pr.ARCH_GET_XCOMP_SUPP,
                                                  pr.ARCH_GET_XCOMP_PERM, pr.ARCH_GET_XCOMP_GUEST_PERM)
