"""rt_sigaction, rt_sigprocmask, sigaltstack, kill, tkill and tgkill traced as strace 6.1
prints them (strings checked against the host's strace on static C programs)."""

from __future__ import annotations

import struct

import pytest

from sysgate.kernel.task import Task
from sysgate.trace.decoders.signal import sprintsigmask
from sysgate.uapi import signal as ls
from tests.conftest import EDGE, USER_BUF
from tests.unit.trace.conftest import line, traced

ACT = USER_BUF + 0x100
OLD = USER_BUF + 0x200
SET = USER_BUF + 0x300
OSET = USER_BUF + 0x400
STACK = USER_BUF + 0x500
OSTACK = USER_BUF + 0x600
HANDLER, RESTORER = 0x401615, 0x408BD0
FULL = (1 << 64) - 1



def bits(*sigs: int) -> int:
    return sum(1 << (s - 1) for s in sigs)


def put_sigaction(t: Task, handler: int, flags: int, restorer: int, mask: int, where: int = ACT) -> int:
    t.mm.write(where, struct.pack("<QQQQ", handler, flags, restorer, mask) + bytes(56))
    return where


def put_set(t: Task, mask: int, where: int = SET) -> int:
    t.mm.write(where, mask.to_bytes(8, "little"))
    return where


def test_rt_sigaction_new_and_old_action(task):
    put_sigaction(task, HANDLER, ls.SA_RESTORER | ls.SA_RESTART, RESTORER, bits(ls.SIGINT, ls.SIGTERM))
    assert traced(task, "rt_sigaction", ls.SIGUSR1, ACT, OLD, 8) == line(
        "rt_sigaction(SIGUSR1, {sa_handler=0x401615, sa_mask=[INT TERM], sa_flags=SA_RESTORER|SA_RESTART, "
        "sa_restorer=0x408bd0}, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, 8)", "0")


def test_rt_sigaction_siginfo_handler_complemented_mask_and_unknown_flags(task):
    # glibc's int sa_flags with SA_RESETHAND (bit 31) arrives sign-extended in the kernel's long.
    flags = (ls.SA_SIGINFO | ls.SA_ONSTACK | ls.SA_NODEFER | ls.SA_RESETHAND | ls.SA_NOCLDSTOP | ls.SA_NOCLDWAIT
             | ls.SA_UNSUPPORTED | ls.SA_RESTORER | 0xFFFFFFFF00000000)
    put_sigaction(task, HANDLER + 1, flags, RESTORER, FULL & ~bits(32, 33))
    assert traced(task, "rt_sigaction", ls.SIGUSR2, ACT, 0, 8) == line(
        "rt_sigaction(SIGUSR2, {sa_handler=0x401616, sa_mask=~[RTMIN RT_1], sa_flags=SA_RESTORER|SA_ONSTACK|"
        "SA_NODEFER|SA_RESETHAND|SA_SIGINFO|SA_NOCLDSTOP|SA_NOCLDWAIT|0xffffffff00000400, sa_restorer=0x408bd0}, "
        "NULL, 8)", "0")
    # The kernel keeps the known flags and drops SIGKILL and SIGSTOP from the mask.
    assert traced(task, "rt_sigaction", ls.SIGUSR2, 0, OLD, 8) == line(
        "rt_sigaction(SIGUSR2, NULL, {sa_handler=0x401616, sa_mask=~[KILL STOP RTMIN RT_1], sa_flags=SA_RESTORER|"
        "SA_ONSTACK|SA_NODEFER|SA_RESETHAND|SA_SIGINFO|SA_NOCLDSTOP|SA_NOCLDWAIT, sa_restorer=0x408bd0}, 8)", "0")


@pytest.mark.parametrize(("options", "want"), [
    (("-X", "raw"), "rt_sigaction(12, NULL, {sa_handler=0x1, sa_mask=[2 15], sa_flags=0x4000000, "
                    "sa_restorer=0x408bd0}, 8)"),
    (("-X", "verbose"), "rt_sigaction(12 /* SIGUSR2 */, NULL, {sa_handler=0x1 /* SIG_IGN */, "
                        "sa_mask=[2 /* INT */ 15 /* TERM */], sa_flags=0x4000000 /* SA_RESTORER */, "
                        "sa_restorer=0x408bd0}, 8)"),
])
def test_rt_sigaction_xlat_styles(task, options, want):
    put_sigaction(task, ls.SIG_IGN, ls.SA_RESTORER, RESTORER, bits(ls.SIGINT, ls.SIGTERM))
    assert traced(task, "rt_sigaction", ls.SIGUSR2, ACT, 0, 8) == line("rt_sigaction(SIGUSR2, {sa_handler=SIG_IGN, "
                                                                      "sa_mask=[INT TERM], sa_flags=SA_RESTORER, "
                                                                      "sa_restorer=0x408bd0}, NULL, 8)", "0")
    assert traced(task, "rt_sigaction", ls.SIGUSR2, 0, OLD, 8, options=options) == line(want, "0")


def test_rt_sigaction_handler_names(task):
    put_sigaction(task, FULL, 0, 0, 0)
    assert traced(task, "rt_sigaction", ls.SIGRTMIN + 7, ACT, 0, 8) == line(
        "rt_sigaction(SIGRT_7, {sa_handler=SIG_ERR, sa_mask=[], sa_flags=0}, NULL, 8)", "0")
    assert traced(task, "rt_sigaction", ls.SIGRTMIN + 7, ACT, 0, 8, options=("-X", "verbose")) == line(
        "rt_sigaction(39 /* SIGRT_7 */, {sa_handler=0xffffffffffffffff /* SIG_ERR */, sa_mask=[], sa_flags=0}, "
        "NULL, 8)", "0")


def test_rt_sigaction_failures(task):
    put_sigaction(task, ls.SIG_IGN, ls.SA_RESTORER, RESTORER, 0)
    assert traced(task, "rt_sigaction", ls.SIGKILL, ACT, 0, 8) == line(
        "rt_sigaction(SIGKILL, {sa_handler=SIG_IGN, sa_mask=[], sa_flags=SA_RESTORER, sa_restorer=0x408bd0}, "
        "NULL, 8)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "rt_sigaction", 70, 0, 0, 8) == line("rt_sigaction(70, NULL, NULL, 8)",
                                                              "-1 EINVAL (Invalid argument)")
    assert traced(task, "rt_sigaction", ls.SIGINT, 0, 0, 7) == line("rt_sigaction(SIGINT, NULL, NULL, 7)",
                                                                     "-1 EINVAL (Invalid argument)")
    assert traced(task, "rt_sigaction", ls.SIGINT, 1, OLD, 8) == line(
        f"rt_sigaction(SIGINT, 0x1, {OLD:#x}, 8)", "-1 EFAULT (Bad address)")
    assert traced(task, "rt_sigaction", ls.SIGINT, 0, 1, 8) == line("rt_sigaction(SIGINT, NULL, 0x1, 8)",
                                                                     "-1 EFAULT (Bad address)")


def test_rt_sigaction_struct_is_read_whole_as_strace_reads_it(task):
    # strace fetches its 88-byte struct new_sigaction: 32 readable bytes are not enough.
    where = EDGE + 4096 - 32
    task.mm.write(where, struct.pack("<QQQQ", 0, ls.SA_RESTORER, 0x1234, bits(ls.SIGINT)))
    assert traced(task, "rt_sigaction", ls.SIGUSR1, where, 0, 8) == line(
        f"rt_sigaction(SIGUSR1, {where:#x}, NULL, 8)", "0")


def test_rt_sigprocmask_sets(task):
    put_set(task, bits(ls.SIGINT, ls.SIGTERM, 34, 64))
    assert traced(task, "rt_sigprocmask", ls.SIG_BLOCK, SET, OSET, 8) == line(
        "rt_sigprocmask(SIG_BLOCK, [INT TERM RT_2 RT_32], [], 8)", "0")
    assert traced(task, "rt_sigprocmask", ls.SIG_UNBLOCK, SET, 0, 8) == line(
        "rt_sigprocmask(SIG_UNBLOCK, [INT TERM RT_2 RT_32], NULL, 8)", "0")
    put_set(task, FULL & ~bits(32, 33))
    assert traced(task, "rt_sigprocmask", ls.SIG_SETMASK, SET, OSET, 8) == line(
        "rt_sigprocmask(SIG_SETMASK, ~[RTMIN RT_1], [], 8)", "0")
    assert traced(task, "rt_sigprocmask", ls.SIG_SETMASK, 0, OSET, 8) == line(
        "rt_sigprocmask(SIG_SETMASK, NULL, ~[KILL STOP RTMIN RT_1], 8)", "0")
    put_set(task, FULL & ~bits(2, 33, 34))
    assert traced(task, "rt_sigprocmask", ls.SIG_SETMASK, SET, 0, 8, options=("-X", "raw")) == line(
        "rt_sigprocmask(0x2, ~[2 33 34], NULL, 8)", "0")
    assert traced(task, "rt_sigprocmask", ls.SIG_BLOCK, 0, OSET, 8, options=("-X", "verbose")) == line(
        "rt_sigprocmask(0 /* SIG_BLOCK */, NULL, ~[2 /* INT */ 9 /* KILL */ 19 /* STOP */ 33 /* RT_1 */ "
        "34 /* RT_2 */], 8)", "0")


def test_rt_sigprocmask_failures_print_addresses(task):
    put_set(task, FULL)
    assert traced(task, "rt_sigprocmask", 5, SET, OSET, 8) == line(
        f"rt_sigprocmask(0x5 /* SIG_??? */, ~[], {OSET:#x}, 8)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "rt_sigprocmask", ls.SIG_BLOCK, SET, OSET, 4) == line(
        f"rt_sigprocmask(SIG_BLOCK, {SET:#x}, {OSET:#x}, 4)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "rt_sigprocmask", ls.SIG_BLOCK, 1, OSET, 8) == line(
        f"rt_sigprocmask(SIG_BLOCK, 0x1, {OSET:#x}, 8)", "-1 EFAULT (Bad address)")
    assert traced(task, "rt_sigprocmask", ls.SIG_BLOCK, 0, 1, 8) == line(
        "rt_sigprocmask(SIG_BLOCK, NULL, 0x1, 8)", "-1 EFAULT (Bad address)")


@pytest.mark.parametrize(("count", "complemented"), [(41, False), (42, True), (64, True)])
def test_sigset_complemented_from_two_thirds(count, complemented):
    mask = (1 << count) - 1
    text = sprintsigmask("abbrev", mask)
    assert text.startswith("~") is complemented
    if count == 64:
        assert text == "~[]"


def test_sigaltstack(task):
    task.mm.write(STACK, struct.pack("<QI4xQ", 0x2BBEC6D0, 0, 65536))
    assert traced(task, "sigaltstack", STACK, OSTACK) == line(
        "sigaltstack({ss_sp=0x2bbec6d0, ss_flags=0, ss_size=65536}, {ss_sp=NULL, ss_flags=SS_DISABLE, ss_size=0})",
        "0")
    assert traced(task, "sigaltstack", 0, OSTACK) == line(
        "sigaltstack(NULL, {ss_sp=0x2bbec6d0, ss_flags=0, ss_size=65536})", "0")
    task.mm.write(STACK, struct.pack("<QI4xQ", 0x2BBEC6D0, 5, 65536))
    assert traced(task, "sigaltstack", STACK, 0) == line(
        "sigaltstack({ss_sp=0x2bbec6d0, ss_flags=SS_ONSTACK|0x4, ss_size=65536}, NULL)",
        "-1 EINVAL (Invalid argument)")
    task.mm.write(STACK, struct.pack("<QI4xQ", 0x2BBEC6D0, ls.SS_AUTODISARM, 100))
    assert traced(task, "sigaltstack", STACK, OSTACK) == line(
        f"sigaltstack({{ss_sp=0x2bbec6d0, ss_flags=SS_AUTODISARM, ss_size=100}}, {OSTACK:#x})",
        "-1 ENOMEM (Cannot allocate memory)")
    assert traced(task, "sigaltstack", STACK, 0, options=("-X", "verbose")) == line(
        "sigaltstack({ss_sp=0x2bbec6d0, ss_flags=0x80000000 /* SS_AUTODISARM */, ss_size=100}, NULL)",
        "-1 ENOMEM (Cannot allocate memory)")
    assert traced(task, "sigaltstack", 1, 0) == line("sigaltstack(0x1, NULL)", "-1 EFAULT (Bad address)")


def test_kill_tkill_tgkill_signals(task):
    pid = task.pid
    assert traced(task, "kill", pid, 0) == line(f"kill({pid}, 0)", "0")
    assert traced(task, "kill", 99999, ls.SIGTERM) == line("kill(99999, SIGTERM)", "-1 ESRCH (No such process)")
    assert traced(task, "kill", 99999, ls.SIGTERM, options=("-X", "verbose")) == line(
        "kill(99999, 15 /* SIGTERM */)", "-1 ESRCH (No such process)")
    assert traced(task, "kill", pid, 100) == line(f"kill({pid}, 100)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "kill", -99999, ls.SIGUSR1, options=("-X", "raw")) == line(
        "kill(-99999, 10)", "-1 ESRCH (No such process)")
    assert traced(task, "tkill", task.tid, 0) == line(f"tkill({task.tid}, 0)", "0")
    assert traced(task, "tkill", 0, ls.SIGKILL) == line("tkill(0, SIGKILL)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "tgkill", pid, 99999, ls.SIGRTMIN + 2) == line(
        f"tgkill({pid}, 99999, SIGRT_2)", "-1 ESRCH (No such process)")
    assert traced(task, "tgkill", pid, 99999, 64) == line(f"tgkill({pid}, 99999, SIGRT_32)",
                                                          "-1 ESRCH (No such process)")
    assert traced(task, "tgkill", pid, 99999, 65) == line(f"tgkill({pid}, 99999, 65)", "-1 ESRCH (No such process)")
    assert traced(task, "tgkill", pid, 99999, ls.SIGRTMIN) == line(f"tgkill({pid}, 99999, SIGRTMIN)",
                                                                   "-1 ESRCH (No such process)")


def test_sets_and_structures_print_as_addresses_when_the_call_is_not_verbose(task):
    quiet = ("-e", "verbose=none")
    put_set(task, bits(ls.SIGINT))
    assert traced(task, "rt_sigprocmask", ls.SIG_BLOCK, SET, OSET, 8, options=quiet) == line(
        f"rt_sigprocmask(SIG_BLOCK, {SET:#x}, {OSET:#x}, 8)", "0")
    put_sigaction(task, ls.SIG_IGN, 0, 0, 0)
    assert traced(task, "rt_sigaction", ls.SIGUSR1, ACT, OLD, 8, options=quiet) == line(
        f"rt_sigaction(SIGUSR1, {ACT:#x}, {OLD:#x}, 8)", "0")
    assert traced(task, "sigaltstack", 0, OSTACK, options=quiet) == line(f"sigaltstack(NULL, {OSTACK:#x})", "0")
