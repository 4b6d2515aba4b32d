"""prctl and arch_prctl traced as strace 6.1 prints them (strings checked against the host's
strace on static C programs; options sysgate refuses are checked for their arguments, and
for what strace prints on success through the printers directly)."""

from __future__ import annotations

import pytest

from sysgate.kernel.task import Task
from sysgate.syscall import REGISTRY
from sysgate.trace.decoders.prctl import prctl_args, r_arch_prctl, r_prctl
from sysgate.trace.options import parse
from sysgate.trace.printers import Ctx
from sysgate.uapi import prctl as pr
from sysgate.uapi import signal as ls
from tests.conftest import USER_BUF, put_str
from tests.unit.trace.conftest import line, traced

NAME = USER_BUF + 0x100
WORD = USER_BUF + 0x200


def ctx_of(t: Task, name: str, *args: int, ret: int = 0, exiting: bool = True, options: tuple[str, ...] = ()) -> Ctx:
    spec = REGISTRY[f"sys_{name}"]
    opts, _ = parse([*options, "prog"], {}, {})
    full = [*args, *([0] * (len(spec.params) - len(args)))]
    return Ctx(t, opts, spec, full, exiting=exiting, ret=ret)


def test_set_and_get_name(task):
    put_str(task, "hello-world-this-is-long", NAME)
    assert traced(task, "prctl", pr.PR_SET_NAME, NAME) == line('prctl(PR_SET_NAME, "hello-world-thi"...)', "0")
    assert traced(task, "prctl", pr.PR_GET_NAME, WORD) == line('prctl(PR_GET_NAME, "hello-world-thi")', "0")
    assert traced(task, "prctl", pr.PR_GET_NAME, 1) == line("prctl(PR_GET_NAME, 0x1)", "-1 EFAULT (Bad address)")
    assert traced(task, "prctl", pr.PR_SET_NAME, 1) == line("prctl(PR_SET_NAME, 0x1)", "-1 EFAULT (Bad address)")
    assert traced(task, "prctl", pr.PR_SET_NAME, 0, options=("-X", "raw")) == line(
        "prctl(0xf, NULL)", "-1 EFAULT (Bad address)")


@pytest.mark.parametrize(("limit", "name", "want"), [
    ("32", "hello", '"hello"'), ("5", "hello", '"hello"'), ("4", "hello", '"hell"...'),
    ("32", "abcdefghijklmno", '"abcdefghijklmno"...'), ("32", "abcdefghijklmn", '"abcdefghijklmn"'),
    ("5", "abcdefghijklmno", '"abcde"...'), ("32", "a\nb\xff", '"a\\nb\\377"'),
])
def test_set_name_cut_at_15_bytes_and_at_s(task, limit, name, want):
    put_str(task, name.encode("latin-1"), NAME)
    assert traced(task, "prctl", pr.PR_SET_NAME, NAME, options=("-s", limit)) == line(
        f"prctl(PR_SET_NAME, {want})", "0")


def test_get_name_with_x(task):
    put_str(task, b"a\nb\xff", NAME)
    traced(task, "prctl", pr.PR_SET_NAME, NAME)
    assert traced(task, "prctl", pr.PR_GET_NAME, WORD, options=("-x",)) == line(
        'prctl(PR_GET_NAME, "\\x61\\x0a\\x62\\xff")', "0")


def test_pdeathsig(task):
    assert traced(task, "prctl", pr.PR_SET_PDEATHSIG, ls.SIGTERM) == line("prctl(PR_SET_PDEATHSIG, SIGTERM)", "0")
    assert traced(task, "prctl", pr.PR_GET_PDEATHSIG, WORD) == line("prctl(PR_GET_PDEATHSIG, [SIGTERM])", "0")
    assert traced(task, "prctl", pr.PR_SET_PDEATHSIG, 0) == line("prctl(PR_SET_PDEATHSIG, 0)", "0")
    assert traced(task, "prctl", pr.PR_GET_PDEATHSIG, WORD) == line("prctl(PR_GET_PDEATHSIG, [0])", "0")
    assert traced(task, "prctl", pr.PR_SET_PDEATHSIG, 200) == line("prctl(PR_SET_PDEATHSIG, 200)",
                                                                   "-1 EINVAL (Invalid argument)")
    assert traced(task, "prctl", pr.PR_SET_PDEATHSIG, 100) == line("prctl(PR_SET_PDEATHSIG, 100)",
                                                                   "-1 EINVAL (Invalid argument)")
    assert traced(task, "prctl", pr.PR_GET_PDEATHSIG, 1) == line("prctl(PR_GET_PDEATHSIG, 0x1)",
                                                                 "-1 EFAULT (Bad address)")
    assert traced(task, "prctl", pr.PR_SET_PDEATHSIG, ls.SIGTERM, options=("-X", "verbose")) == line(
        "prctl(0x1 /* PR_SET_PDEATHSIG */, 15 /* SIGTERM */)", "0")


def test_dumpable_capbset_and_no_new_privs(task):
    assert traced(task, "prctl", pr.PR_SET_DUMPABLE, 0) == line("prctl(PR_SET_DUMPABLE, SUID_DUMP_DISABLE)", "0")
    assert traced(task, "prctl", pr.PR_SET_DUMPABLE, 5) == line(
        "prctl(PR_SET_DUMPABLE, 0x5 /* SUID_DUMP_??? */)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "prctl", pr.PR_SET_DUMPABLE, 0, options=("-X", "verbose")) == line(
        "prctl(0x4 /* PR_SET_DUMPABLE */, 0 /* SUID_DUMP_DISABLE */)", "0")
    assert traced(task, "prctl", pr.PR_CAPBSET_READ, 0) == line("prctl(PR_CAPBSET_READ, CAP_CHOWN)", "1")
    assert traced(task, "prctl", pr.PR_CAPBSET_READ, 40) == line("prctl(PR_CAPBSET_READ, CAP_CHECKPOINT_RESTORE)",
                                                                 "1")
    assert traced(task, "prctl", pr.PR_CAPBSET_READ, 99) == line(
        "prctl(PR_CAPBSET_READ, 0x63 /* CAP_??? */)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "prctl", pr.PR_CAPBSET_READ, 40, options=("-X", "verbose")) == line(
        "prctl(0x17 /* PR_CAPBSET_READ */, 0x28 /* CAP_CHECKPOINT_RESTORE */)", "1")
    assert traced(task, "prctl", pr.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == line(
        "prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)", "0")
    assert traced(task, "prctl", pr.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == line(
        "prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)", "0")
    assert traced(task, "prctl", pr.PR_SET_NO_NEW_PRIVS, 2, 3, 4, 5) == line(
        "prctl(PR_SET_NO_NEW_PRIVS, 2, 0x3, 0x4, 0x5)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "prctl", pr.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0, options=("-X", "raw")) == line(
        "prctl(0x27, 0, 0, 0, 0)", "1")


def test_options_without_arguments(task):
    assert traced(task, "prctl", pr.PR_GET_DUMPABLE) == line("prctl(PR_GET_DUMPABLE)", "1 (SUID_DUMP_USER)")


def test_options_sysgate_refuses_keep_their_arguments(task):
    put_str(task, "myname", NAME)
    einval = "-1 EINVAL (Invalid argument)"
    assert traced(task, "prctl", pr.PR_SET_VMA, 0, 0x10000, 4096, NAME) == line(
        'prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, 0x10000, 4096, "myname")', einval)
    assert traced(task, "prctl", pr.PR_SET_VMA, 7, 0x10000, 4096, NAME) == line(
        f"prctl(PR_SET_VMA, 0x7 /* PR_SET_VMA_??? */, 0x10000, 0x1000, {NAME:#x})", einval)
    assert traced(task, "prctl", 0x12345678, 1, 2, 3, 4) == line("prctl(0x12345678 /* PR_??? */, 0x1, 0x2, 0x3, 0x4)",
                                                                 einval)
    assert traced(task, "prctl", pr.PR_SET_KEEPCAPS, 1) == line("prctl(PR_SET_KEEPCAPS, 1)", einval)
    assert traced(task, "prctl", pr.PR_SET_TIMERSLACK, 50000) == line("prctl(PR_SET_TIMERSLACK, 50000)", einval)
    assert traced(task, "prctl", pr.PR_SET_MM, pr.PR_SET_MM_START_CODE, 0, 0, 0) == line(
        "prctl(PR_SET_MM, PR_SET_MM_START_CODE, 0, 0, 0)", einval)
    assert traced(task, "prctl", pr.PR_MCE_KILL_GET, 0, 0, 0, 0) == line("prctl(PR_MCE_KILL_GET, 0, 0, 0, 0)", einval)
    assert traced(task, "prctl", pr.PR_GET_SPECULATION_CTRL, 0, 0, 0, 0) == line(
        "prctl(PR_GET_SPECULATION_CTRL, PR_SPEC_STORE_BYPASS)", einval)
    assert traced(task, "prctl", pr.PR_CAP_AMBIENT, pr.PR_CAP_AMBIENT_IS_SET, 3, 0, 0) == line(
        "prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_FOWNER, 0, 0)", einval)
    assert traced(task, "prctl", pr.PR_SET_SECCOMP, 7, 0, 0x432B8D, 0) == line(
        "prctl(PR_SET_SECCOMP, 0x7 /* SECCOMP_MODE_??? */, 0, 0x432b8d, 0)", einval)
    assert traced(task, "prctl", pr.PR_SET_SECCOMP, pr.SECCOMP_MODE_STRICT) == line(
        "prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT)", einval)
    assert traced(task, "prctl", pr.PR_SET_PTRACER, -1) == line("prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY)", einval)
    assert traced(task, "prctl", pr.PR_SET_PTRACER, -1, options=("-X", "verbose")) == line(
        "prctl(0x59616d61 /* PR_SET_PTRACER */, -1 /* PR_SET_PTRACER_ANY */)", einval)
    assert traced(task, "prctl", pr.PR_SET_PTRACER, -1, options=("-X", "raw")) == line("prctl(0x59616d61, -1)", einval)
    assert traced(task, "prctl", pr.PR_GET_TSC, WORD) == line(f"prctl(PR_GET_TSC, {WORD:#x})", einval)


@pytest.mark.parametrize(("option", "args", "want"), [
    (pr.PR_GET_CHILD_SUBREAPER, (), ["[0]"]),
    (pr.PR_GET_TID_ADDRESS, (), ["[0x15a0650]"]),
    (pr.PR_GET_TSC, (), ["[PR_TSC_ENABLE]"]),
    (pr.PR_GET_UNALIGN, (), ["[PR_UNALIGN_NOPRINT|PR_UNALIGN_SIGBUS]"]),
    (pr.PR_SET_TSC, (2,), ["PR_TSC_SIGSEGV"]),
    (pr.PR_SET_UNALIGN, (4,), ["0x4 /* PR_UNALIGN_??? */"]),
    (pr.PR_SET_SECUREBITS, (0x11,), ["SECBIT_NOROOT|SECBIT_KEEP_CAPS"]),
    (pr.PR_SET_SPECULATION_CTRL, (0, 4), ["PR_SPEC_STORE_BYPASS", "PR_SPEC_DISABLE"]),
    (pr.PR_SET_SPECULATION_CTRL, (9, 4), ["0x9 /* PR_SPEC_??? */", "0x4"]),
    (pr.PR_MCE_KILL, (1, 2, 0, 0), ["PR_MCE_KILL_SET", "PR_MCE_KILL_DEFAULT", "0", "0"]),
    (pr.PR_MCE_KILL, (0, 2, 0, 0), ["PR_MCE_KILL_CLEAR", "0x2", "0", "0"]),
    (pr.PR_PAC_RESET_KEYS, (0x11, 0, 0, 0), ["PR_PAC_APIAKEY|PR_PAC_APGAKEY", "0", "0", "0"]),
    (pr.PR_SET_SYSCALL_USER_DISPATCH, (1, 2, 3, 0), ["PR_SYS_DISPATCH_ON", "0x2", "0x3", "NULL"]),
    (pr.PR_SET_FP_MODE, (3,), ["PR_FP_MODE_FR|PR_FP_MODE_FRE"]),
    (pr.PR_SVE_SET_VL, (0x40000 | 32,), ["PR_SVE_SET_VL_ONEXEC|0x20"]),
    (pr.PR_SET_TAGGED_ADDR_CTRL, (1 | 2 | (5 << 3), 0, 0, 0),
     ["PR_TAGGED_ADDR_ENABLE|PR_MTE_TCF_SYNC|0x5<<PR_MTE_TAG_SHIFT", "0", "0", "0"]),
    (pr.PR_SET_TAGGED_ADDR_CTRL, (0, 0, 0, 0), ["!PR_TAGGED_ADDR_ENABLE|PR_MTE_TCF_NONE", "0", "0", "0"]),
    (pr.PR_SCHED_CORE, (0, 77, 1, WORD), ["PR_SCHED_CORE_GET", "77", "0x1 /* PIDTYPE_TGID */", "[0x1234]"]),
    (pr.PR_SCHED_CORE, (1, 77, 9, 0), ["PR_SCHED_CORE_CREATE", "77", "0x9 /* PIDTYPE_??? */", "NULL"]),
    (pr.PR_GET_SECCOMP, (), []),
])
def test_arguments_on_success(task, option, args, want):
    task.mm.write(WORD, (0x15A0650 if option == pr.PR_GET_TID_ADDRESS else
                         0x1234 if option == pr.PR_SCHED_CORE else
                         3 if option == pr.PR_GET_UNALIGN else
                         1 if option == pr.PR_GET_TSC else 0).to_bytes(8, "little"))
    full = args if args or option == pr.PR_GET_SECCOMP else (WORD,)
    assert prctl_args(ctx_of(task, "prctl", option, *full)) == want


def test_arguments_in_xlat_styles(task):
    task.mm.write(WORD, (1).to_bytes(4, "little"))
    assert prctl_args(ctx_of(task, "prctl", pr.PR_GET_TSC, WORD, options=("-X", "verbose"))) == [
        "[0x1 /* PR_TSC_ENABLE */]"]
    assert prctl_args(ctx_of(task, "prctl", pr.PR_SET_TAGGED_ADDR_CTRL, 1, options=("-X", "verbose")))[0] == \
        "0x1 /* PR_TAGGED_ADDR_ENABLE|PR_MTE_TCF_NONE */"
    assert prctl_args(ctx_of(task, "prctl", pr.PR_SET_TAGGED_ADDR_CTRL, 1, options=("-X", "raw")))[0] == "0x1"
    assert prctl_args(ctx_of(task, "prctl", pr.PR_SVE_SET_VL, 0x40020, options=("-X", "verbose"))) == [
        "0x40020 /* PR_SVE_SET_VL_ONEXEC|0x20 */"]
    assert prctl_args(ctx_of(task, "prctl", pr.PR_SCHED_CORE, 0, 5, 0, 0, options=("-X", "raw")))[2] == "0"


@pytest.mark.parametrize(("option", "arg2", "value", "style", "want"), [
    (pr.PR_GET_DUMPABLE, 0, 1, "abbrev", "1 (SUID_DUMP_USER)"),
    (pr.PR_GET_DUMPABLE, 0, 0, "raw", "0 (SUID_DUMP_DISABLE)"),
    (pr.PR_GET_DUMPABLE, 0, 7, "abbrev", "7"),
    (pr.PR_MCE_KILL_GET, 0, 2, "abbrev", "2 (PR_MCE_KILL_DEFAULT)"),
    (pr.PR_GET_SECUREBITS, 0, 0x10, "abbrev", "0x10 (SECBIT_KEEP_CAPS)"),
    (pr.PR_GET_SECUREBITS, 0, 0x10, "verbose", "0x10 (SECBIT_KEEP_CAPS)"),
    (pr.PR_GET_SECUREBITS, 0, 0x10, "raw", "0x10"),
    (pr.PR_GET_SECUREBITS, 0, 0x300, "abbrev", "0x300"),
    (pr.PR_GET_SECUREBITS, 0, 0, "abbrev", "0"),
    (pr.PR_GET_SPECULATION_CTRL, 0, 2, "abbrev", "0x2 (PR_SPEC_ENABLE)"),
    (pr.PR_GET_SPECULATION_CTRL, 0, 0, "abbrev", "0 (PR_SPEC_NOT_AFFECTED)"),
    (pr.PR_GET_SPECULATION_CTRL, 0, 0x23, "abbrev", "0x23 (PR_SPEC_PRCTL|PR_SPEC_ENABLE|0x20)"),
    (pr.PR_GET_SPECULATION_CTRL, 7, 2, "abbrev", "2"),
    (pr.PR_GET_FP_MODE, 0, 1, "abbrev", "0x1 (PR_FP_MODE_FR)"),
    (pr.PR_SVE_GET_VL, 0, 0x20020, "abbrev", "0x20020 (PR_SVE_VL_INHERIT|0x20)"),
    (pr.PR_SVE_GET_VL, 0, 0x20, "abbrev", "0x20"),
    (pr.PR_GET_TAGGED_ADDR_CTRL, 0, 0, "abbrev", "0 (!PR_TAGGED_ADDR_ENABLE|PR_MTE_TCF_NONE)"),
    (pr.PR_PAC_GET_ENABLED_KEYS, 0, 3, "abbrev", "0x3 (PR_PAC_APIAKEY|PR_PAC_APIBKEY)"),
    (pr.PR_GET_TIMERSLACK, 0, 50000, "abbrev", "50000"),
])
def test_results_with_notes(task, option, arg2, value, style, want):
    assert r_prctl(ctx_of(task, "prctl", option, arg2, ret=value, options=("-X", style)), value) == want


def test_arch_prctl_fs_and_gs(task):
    assert traced(task, "arch_prctl", pr.ARCH_SET_FS, 0x4ACD00) == line("arch_prctl(ARCH_SET_FS, 0x4acd00)", "0")
    assert traced(task, "arch_prctl", pr.ARCH_GET_FS, WORD) == line("arch_prctl(ARCH_GET_FS, [0x4acd00])", "0")
    assert traced(task, "arch_prctl", pr.ARCH_SET_GS, 0) == line("arch_prctl(ARCH_SET_GS, 0)", "0")
    assert traced(task, "arch_prctl", pr.ARCH_GET_GS, WORD) == line("arch_prctl(ARCH_GET_GS, [NULL])", "0")
    assert traced(task, "arch_prctl", pr.ARCH_GET_FS, 1) == line("arch_prctl(ARCH_GET_FS, 0x1)",
                                                                 "-1 EFAULT (Bad address)")
    assert traced(task, "arch_prctl", pr.ARCH_GET_FS, WORD, options=("-X", "raw")) == line(
        "arch_prctl(0x1003, [0x4acd00])", "0")
    assert traced(task, "arch_prctl", pr.ARCH_GET_FS, WORD, options=("-X", "verbose")) == line(
        "arch_prctl(0x1003 /* ARCH_GET_FS */, [0x4acd00])", "0")


def test_arch_prctl_other_codes(task):
    assert traced(task, "arch_prctl", pr.ARCH_SET_CPUID, 1) == line("arch_prctl(ARCH_SET_CPUID, 0x1)",
                                                                    "-1 ENODEV (No such device)")
    assert traced(task, "arch_prctl", pr.ARCH_GET_XCOMP_SUPP, WORD) == line(
        "arch_prctl(ARCH_GET_XCOMP_SUPP, [0x3 /* XFEATURE_MASK_FPSSE */])", "0")
    assert traced(task, "arch_prctl", pr.ARCH_GET_XCOMP_PERM, WORD, options=("-X", "raw")) == line(
        "arch_prctl(0x1022, [0x3])", "0")
    assert traced(task, "arch_prctl", pr.ARCH_REQ_XCOMP_PERM, 18) == line(
        "arch_prctl(ARCH_REQ_XCOMP_PERM, 0x12 /* XFEATURE_XTILE_DATA */)", "-1 EOPNOTSUPP (Operation not supported)")
    assert traced(task, "arch_prctl", pr.ARCH_REQ_XCOMP_PERM, 30) == line(
        "arch_prctl(ARCH_REQ_XCOMP_PERM, 0x1e /* XFEATURE_??? */)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "arch_prctl", pr.ARCH_REQ_XCOMP_GUEST_PERM, 1) == line(
        "arch_prctl(ARCH_REQ_XCOMP_GUEST_PERM, 0x1 /* XFEATURE_SSE */)", "-1 EOPNOTSUPP (Operation not supported)")
    assert traced(task, "arch_prctl", 0x1234, 5) == line("arch_prctl(0x1234 /* ARCH_??? */, 0x5)",
                                                         "-1 EINVAL (Invalid argument)")
    assert traced(task, "arch_prctl", 0x3001, 5) == line("arch_prctl(0x3001 /* ARCH_??? */, 0x5)",
                                                         "-1 EINVAL (Invalid argument)")
    assert traced(task, "arch_prctl", pr.ARCH_SHSTK_ENABLE, 1) == line(
        "arch_prctl(0x5001 /* ARCH_??? */, 0x1)", "-1 EOPNOTSUPP (Operation not supported)")
    assert traced(task, "arch_prctl", pr.ARCH_MAP_VDSO_32, 0x1000) == line(
        "arch_prctl(ARCH_MAP_VDSO_32, 0x1000)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "arch_prctl", pr.ARCH_MAP_VDSO_64, 0x1000) == line(
        "arch_prctl(ARCH_MAP_VDSO_64, 0x1000)", "8192")
    assert traced(task, "arch_prctl", pr.ARCH_MAP_VDSO_64, 0x1000) == line(
        "arch_prctl(ARCH_MAP_VDSO_64, 0x1000)", "-1 EEXIST (File exists)")


def test_arch_prctl_get_cpuid_has_no_argument(task):
    assert traced(task, "arch_prctl", pr.ARCH_GET_CPUID, 0) == line("arch_prctl(ARCH_GET_CPUID)", "1")


def test_arch_prctl_results(task):
    ctx = ctx_of(task, "arch_prctl", pr.ARCH_REQ_XCOMP_PERM, 18, ret=0x60000)
    assert r_arch_prctl(ctx, 0x60000) == "0x60000 (XFEATURE_MASK_XTILE)"
    assert r_arch_prctl(ctx, 0) == "0"
    assert r_arch_prctl(ctx_of(task, "arch_prctl", pr.ARCH_GET_CPUID, 0, ret=1), 1) == "1"


def test_values_read_back_print_as_addresses_when_the_call_is_not_verbose(task):
    quiet = ("-e", "verbose=none")
    put_str(task, "abc", NAME)
    traced(task, "prctl", pr.PR_SET_NAME, NAME)
    assert traced(task, "prctl", pr.PR_GET_PDEATHSIG, WORD, options=quiet) == line(
        f"prctl(PR_GET_PDEATHSIG, {WORD:#x})", "0")
    assert traced(task, "prctl", pr.PR_GET_NAME, WORD, options=quiet) == line('prctl(PR_GET_NAME, "abc")', "0")
    assert traced(task, "arch_prctl", pr.ARCH_GET_FS, WORD, options=quiet) == line(
        f"arch_prctl(ARCH_GET_FS, {WORD:#x})", "0")
    assert traced(task, "arch_prctl", pr.ARCH_GET_XCOMP_SUPP, WORD, options=quiet) == line(
        f"arch_prctl(ARCH_GET_XCOMP_SUPP, {WORD:#x})", "0")
