"""Signal actions, masks and sending: rt_sigaction, rt_sigprocmask, sigaltstack, kill, tkill,
tgkill (kernel/signal.c), and what happens to a self-sent signal on the way out."""

from __future__ import annotations

import signal as host_signal
import struct

import pytest

from sysgate.kernel.kernel import ExitStatus
from sysgate.kernel.signal import get_signal
from sysgate.kernel.task import Task
from sysgate.uapi import signal as ls
from sysgate.uapi.errno import Errno
from tests.conftest import EDGE, KERNEL_ADDR, RO_PAGE, UNMAPPED, USER_BUF, sys
from tests.unit.guestmem import peek, peek1, poke
from tests.unit.hostsys import addr, cbuf, host_sys, linux_only

ACT = USER_BUF + 0x100
OACT = USER_BUF + 0x200
SET = USER_BUF + 0x300
OSET = USER_BUF + 0x400
SS = USER_BUF + 0x500
OSS = USER_BUF + 0x600
ALT = USER_BUF + 0x2000
BAD = (KERNEL_ADDR, UNMAPPED, RO_PAGE)
NO_SUCH_PID = 0x7FFFFFF0
HANDLER = 0x401000
RESTORER = 0x401100
UAPI_SA_FLAGS = (ls.SA_NOCLDSTOP | ls.SA_NOCLDWAIT | ls.SA_SIGINFO | ls.SA_ONSTACK | ls.SA_RESTART
                 | ls.SA_NODEFER | ls.SA_RESETHAND | ls.SA_EXPOSE_TAGBITS | ls.SA_RESTORER)
ALL = (1 << 64) - 1
KILL_STOP = ls.sigmask(ls.SIGKILL) | ls.sigmask(ls.SIGSTOP)


def m(*sigs: int) -> int:
    out = 0
    for s in sigs:
        out |= ls.sigmask(s)
    return out


def set_action(t: Task, sig: int, handler: int, flags: int = 0, mask: int = 0) -> int:
    poke(t, ACT, "QQQQ", handler, flags, RESTORER, mask)
    return sys(t, "rt_sigaction", sig, ACT, 0, 8)


def get_action(t: Task, sig: int) -> tuple[int, ...]:
    assert sys(t, "rt_sigaction", sig, 0, OACT, 8) == 0
    return peek(t, OACT, "QQQQ")


def pending(t: Task) -> int:
    """The thread's and the process's pending signals."""
    return t.pending | t.group.shared_pending


def leave_kernel(t: Task) -> ExitStatus | None:
    """What the entry does on the way back to user mode with signals pending."""
    if t.sigpending:
        signo = get_signal(t)  # default actions (do_signal also needs a CPU for handlers)
        if signo is not None:
            t.kernel.do_group_exit(t, signo)
    return t.kernel.exit_status


# -- rt_sigaction ---------------------------------------------------------------------------


def test_default_actions(task: Task) -> None:
    for sig in range(1, 65):
        assert get_action(task, sig) == (ls.SIG_DFL, 0, 0, 0)


def test_sigaction_round_trip(task: Task) -> None:
    assert set_action(task, ls.SIGUSR1, HANDLER, ls.SA_SIGINFO | ls.SA_RESTORER, m(ls.SIGUSR2)) == 0
    assert get_action(task, ls.SIGUSR1) == (HANDLER, ls.SA_SIGINFO | ls.SA_RESTORER, RESTORER, m(ls.SIGUSR2))
    poke(task, ACT, "QQQQ", ls.SIG_IGN, 0, 0, 0)
    assert sys(task, "rt_sigaction", ls.SIGUSR1, ACT, OACT, 8) == 0  # oact gets the previous action
    assert peek(task, OACT, "QQQQ") == (HANDLER, ls.SA_SIGINFO | ls.SA_RESTORER, RESTORER, m(ls.SIGUSR2))
    assert get_action(task, ls.SIGUSR1)[0] == ls.SIG_IGN


def test_sigaction_clears_unknown_flags_and_unblockable_mask_bits(task: Task) -> None:
    assert set_action(task, ls.SIGUSR1, HANDLER, ALL, ALL) == 0
    _, flags, _, mask = get_action(task, ls.SIGUSR1)
    assert flags == UAPI_SA_FLAGS
    assert mask == ALL & ~KILL_STOP


@linux_only
def test_sigaction_flag_clearing_matches_host() -> None:
    """Set SIGUSR2 on the host with every flag bit, read it back, restore it."""
    sig = host_signal.SIGUSR2
    old = cbuf(32)
    assert host_sys("rt_sigaction", sig, 0, addr(old), 8) == 0
    act = cbuf(struct.pack("<QQQQ", ls.SIG_IGN, ALL, 0, ALL))
    got = cbuf(32)
    try:
        assert host_sys("rt_sigaction", sig, addr(act), 0, 8) == 0
        assert host_sys("rt_sigaction", sig, 0, addr(got), 8) == 0
    finally:
        host_sys("rt_sigaction", sig, addr(old), 0, 8)
    flags = int.from_bytes(got.raw[8:16], "little")
    mask = int.from_bytes(got.raw[24:32], "little")
    assert flags == UAPI_SA_FLAGS
    assert mask == ALL & ~KILL_STOP


@pytest.mark.parametrize("sig", [ls.SIGKILL, ls.SIGSTOP])
def test_sigkill_and_sigstop_cannot_be_set(task: Task, sig: int) -> None:
    assert set_action(task, sig, ls.SIG_IGN) == -Errno.EINVAL
    assert set_action(task, sig, HANDLER) == -Errno.EINVAL
    assert get_action(task, sig) == (ls.SIG_DFL, 0, 0, 0)  # but can be read


@pytest.mark.parametrize("sig", [0, 65, -1, 1 << 31])
def test_sigaction_invalid_signal(task: Task, sig: int) -> None:
    assert set_action(task, sig, ls.SIG_IGN) == -Errno.EINVAL
    assert sys(task, "rt_sigaction", sig, 0, OACT, 8) == -Errno.EINVAL
    assert sys(task, "rt_sigaction", sig, 0, 0, 8) == -Errno.EINVAL


@pytest.mark.parametrize("size", [0, 4, 7, 9, 16, 128])
def test_sigaction_sigsetsize(task: Task, size: int) -> None:
    assert sys(task, "rt_sigaction", ls.SIGUSR1, ACT, OACT, size) == -Errno.EINVAL
    assert sys(task, "rt_sigaction", ls.SIGUSR1, KERNEL_ADDR, KERNEL_ADDR, size) == -Errno.EINVAL  # first


@pytest.mark.parametrize("bad", BAD[:2])
def test_sigaction_act_efault(task: Task, bad: int) -> None:
    assert sys(task, "rt_sigaction", ls.SIGUSR1, bad, OACT, 8) == -Errno.EFAULT
    assert sys(task, "rt_sigaction", 0, bad, OACT, 8) == -Errno.EFAULT  # the copy comes before the signal check
    assert sys(task, "rt_sigaction", ls.SIGUSR1, EDGE + 0x1000 - 16, 0, 8) == -Errno.EFAULT


@pytest.mark.parametrize("bad", BAD)
def test_sigaction_oact_efault_still_sets_the_action(task: Task, bad: int) -> None:
    poke(task, ACT, "QQQQ", ls.SIG_IGN, 0, 0, 0)
    assert sys(task, "rt_sigaction", ls.SIGUSR1, ACT, bad, 8) == -Errno.EFAULT
    assert get_action(task, ls.SIGUSR1)[0] == ls.SIG_IGN


def test_setting_sig_ign_discards_a_pending_signal_even_if_blocked(task: Task) -> None:
    """do_sigaction: POSIX says pending signals set to SIG_IGN are discarded, blocked or not."""
    poke(task, SET, "Q", m(ls.SIGUSR1))
    assert sys(task, "rt_sigprocmask", ls.SIG_BLOCK, SET, 0, 8) == 0
    assert sys(task, "kill", task.pid, ls.SIGUSR1) == 0
    assert pending(task) & m(ls.SIGUSR1)
    assert set_action(task, ls.SIGUSR1, ls.SIG_IGN) == 0
    assert not pending(task) & m(ls.SIGUSR1)
    assert set_action(task, ls.SIGUSR1, ls.SIG_DFL) == 0
    assert sys(task, "rt_sigprocmask", ls.SIG_UNBLOCK, SET, 0, 8) == 0
    assert leave_kernel(task) is None  # nothing left to kill the process


def test_setting_sig_dfl_discards_a_pending_default_ignored_signal(task: Task) -> None:
    poke(task, SET, "Q", m(ls.SIGCHLD))
    assert sys(task, "rt_sigprocmask", ls.SIG_BLOCK, SET, 0, 8) == 0
    assert set_action(task, ls.SIGCHLD, HANDLER) == 0
    assert sys(task, "kill", task.pid, ls.SIGCHLD) == 0
    assert pending(task) & m(ls.SIGCHLD)
    assert set_action(task, ls.SIGCHLD, ls.SIG_DFL) == 0
    assert not pending(task) & m(ls.SIGCHLD)


# -- rt_sigprocmask ---------------------------------------------------------------------------


def test_sigprocmask_block_unblock_setmask(task: Task) -> None:
    poke(task, SET, "Q", m(ls.SIGUSR1, ls.SIGTERM))
    assert sys(task, "rt_sigprocmask", ls.SIG_BLOCK, SET, OSET, 8) == 0
    assert peek1(task, OSET, "Q") == 0
    poke(task, SET, "Q", m(ls.SIGTERM, ls.SIGINT))
    assert sys(task, "rt_sigprocmask", ls.SIG_UNBLOCK, SET, OSET, 8) == 0
    assert peek1(task, OSET, "Q") == m(ls.SIGUSR1, ls.SIGTERM)
    poke(task, SET, "Q", m(ls.SIGHUP, 64))
    assert sys(task, "rt_sigprocmask", ls.SIG_SETMASK, SET, OSET, 8) == 0
    assert peek1(task, OSET, "Q") == m(ls.SIGUSR1)
    assert sys(task, "rt_sigprocmask", ls.SIG_BLOCK, 0, OSET, 8) == 0
    assert peek1(task, OSET, "Q") == m(ls.SIGHUP, 64) == task.blocked


@pytest.mark.parametrize("how", [ls.SIG_BLOCK, ls.SIG_SETMASK])
def test_sigkill_and_sigstop_cannot_be_blocked(task: Task, how: int) -> None:
    poke(task, SET, "Q", ALL)
    assert sys(task, "rt_sigprocmask", how, SET, 0, 8) == 0
    assert task.blocked == ALL & ~KILL_STOP


def test_sigprocmask_errors(task: Task) -> None:
    poke(task, SET, "Q", m(ls.SIGUSR1))
    assert sys(task, "rt_sigprocmask", 3, SET, OSET, 8) == -Errno.EINVAL
    assert sys(task, "rt_sigprocmask", -1, SET, OSET, 8) == -Errno.EINVAL
    assert task.blocked == 0
    assert sys(task, "rt_sigprocmask", 3, 0, OSET, 8) == 0  # `how` only matters with a new set
    for size in (0, 4, 16):
        assert sys(task, "rt_sigprocmask", ls.SIG_BLOCK, KERNEL_ADDR, KERNEL_ADDR, size) == -Errno.EINVAL
    for bad in BAD[:2]:
        assert sys(task, "rt_sigprocmask", ls.SIG_BLOCK, bad, OSET, 8) == -Errno.EFAULT
        assert sys(task, "rt_sigprocmask", 3, bad, OSET, 8) == -Errno.EFAULT  # the copy before `how`


@linux_only
def test_sigprocmask_how_without_a_set_matches_host() -> None:
    old = cbuf(8)
    assert host_sys("rt_sigprocmask", 3, 0, addr(old), 8) == 0
    assert host_sys("rt_sigprocmask", ls.SIG_BLOCK, 0, addr(old), 4) == -Errno.EINVAL


@pytest.mark.parametrize("bad", BAD)
def test_sigprocmask_oset_efault_still_changes_the_mask(task: Task, bad: int) -> None:
    poke(task, SET, "Q", m(ls.SIGUSR2))
    assert sys(task, "rt_sigprocmask", ls.SIG_BLOCK, SET, bad, 8) == -Errno.EFAULT
    assert task.blocked == m(ls.SIGUSR2)


# -- sigaltstack ------------------------------------------------------------------------------


class FakeCpu:
    """Just enough of a CPU for handlers that read the stack pointer."""

    def __init__(self, rsp: int) -> None:
        self.regs = {"rsp": rsp}

    def get_reg(self, name: str) -> int:
        return self.regs.get(name, 0)

    def set_regs(self, regs: dict[str, int]) -> None:
        self.regs.update(regs)

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_sigaltstack_initially_disabled(task: Task) -> None:
    assert sys(task, "sigaltstack", 0, OSS) == 0
    assert peek(task, OSS, "QiiQ") == (0, ls.SS_DISABLE, 0, 0)
    assert sys(task, "sigaltstack", 0, 0) == 0


def test_sigaltstack_set_and_read_back(task: Task) -> None:
    poke(task, SS, "QiiQ", ALT, 0, 0, 8192)
    assert sys(task, "sigaltstack", SS, OSS) == 0
    assert peek(task, OSS, "QiiQ") == (0, ls.SS_DISABLE, 0, 0)  # the old one
    assert sys(task, "sigaltstack", 0, OSS) == 0
    assert peek(task, OSS, "Qi4xQ") == (ALT, 0, 8192)


def test_sigaltstack_flags(task: Task) -> None:
    poke(task, SS, "QiiQ", ALT, ls.SS_ONSTACK, 0, 8192)  # accepted as a mode, like 0
    assert sys(task, "sigaltstack", SS, 0) == 0
    assert sys(task, "sigaltstack", 0, OSS) == 0
    assert peek(task, OSS, "Qi4xQ") == (ALT, 0, 8192)  # not on it: we are not running there
    poke(task, SS, "QIIQ", ALT, ls.SS_AUTODISARM, 0, 8192)
    assert sys(task, "sigaltstack", SS, 0) == 0
    assert sys(task, "sigaltstack", 0, OSS) == 0
    assert peek(task, OSS, "QI4xQ") == (ALT, ls.SS_AUTODISARM & 0xFFFFFFFF, 8192)
    poke(task, SS, "QiiQ", 0x1234, ls.SS_DISABLE, 0, 5)  # sp and size are dropped
    assert sys(task, "sigaltstack", SS, 0) == 0
    assert sys(task, "sigaltstack", 0, OSS) == 0
    assert peek(task, OSS, "Qi4xQ") == (0, ls.SS_DISABLE, 0)


def test_sigaltstack_errors(task: Task) -> None:
    for flags in (3, 4, 0x10):
        poke(task, SS, "QiiQ", ALT, flags, 0, 8192)
        assert sys(task, "sigaltstack", SS, OSS) == -Errno.EINVAL
    poke(task, SS, "QiiQ", ALT, 0, 0, ls.MINSIGSTKSZ - 1)
    assert sys(task, "sigaltstack", SS, OSS) == -Errno.ENOMEM
    poke(task, SS, "QiiQ", ALT, 0, 0, ls.MINSIGSTKSZ)
    assert sys(task, "sigaltstack", SS, OSS) == 0
    for bad in BAD[:2]:
        assert sys(task, "sigaltstack", bad, 0) == -Errno.EFAULT
    for bad in BAD:
        assert sys(task, "sigaltstack", 0, bad) == -Errno.EFAULT


def test_sigaltstack_cannot_change_while_running_on_it(task: Task) -> None:
    poke(task, SS, "QiiQ", ALT, 0, 0, 8192)
    assert sys(task, "sigaltstack", SS, 0) == 0
    task.kernel.cpu = FakeCpu(ALT + 100)  # type: ignore[assignment]
    assert sys(task, "sigaltstack", 0, OSS) == 0
    assert peek(task, OSS, "Qi4xQ") == (ALT, ls.SS_ONSTACK, 8192)
    poke(task, SS, "QiiQ", 0, ls.SS_DISABLE, 0, 0)
    assert sys(task, "sigaltstack", SS, OSS) == -Errno.EPERM
    task.kernel.cpu.regs["rsp"] = ALT  # type: ignore[union-attr]  # the lowest address is not on it
    assert sys(task, "sigaltstack", SS, 0) == 0


def test_sigaltstack_autodisarm_is_never_on_stack(task: Task) -> None:
    """on_sig_stack() is false with SS_AUTODISARM: the stack may be changed from on it."""
    poke(task, SS, "QIIQ", ALT, ls.SS_AUTODISARM, 0, 8192)
    assert sys(task, "sigaltstack", SS, 0) == 0
    task.kernel.cpu = FakeCpu(ALT + 100)  # type: ignore[assignment]
    assert sys(task, "sigaltstack", 0, OSS) == 0
    assert peek(task, OSS, "QI4xQ") == (ALT, ls.SS_AUTODISARM & 0xFFFFFFFF, 8192)
    poke(task, SS, "QiiQ", 0, ls.SS_DISABLE, 0, 0)
    assert sys(task, "sigaltstack", SS, 0) == 0


# -- kill, tkill, tgkill ---------------------------------------------------------------------


def test_kill_probe(task: Task) -> None:
    assert sys(task, "kill", task.pid, 0) == 0
    assert sys(task, "kill", 0, 0) == 0
    assert sys(task, "kill", -task.group.pgid, 0) == 0
    assert pending(task) == 0


@pytest.mark.parametrize("pid", [NO_SUCH_PID, -NO_SUCH_PID, -1, -(1 << 31)])
@pytest.mark.parametrize("sig", [0, ls.SIGUSR1, 65, -1])
def test_kill_no_such_process(task: Task, pid: int, sig: int) -> None:
    """Nothing to send to: ESRCH, whatever the signal (check_kill_permission is never reached)."""
    assert sys(task, "kill", pid, sig) == -Errno.ESRCH


@pytest.mark.parametrize("sig", [65, -1, 1 << 31])
def test_kill_invalid_signal(task: Task, sig: int) -> None:
    assert sys(task, "kill", task.pid, sig) == -Errno.EINVAL
    assert sys(task, "kill", 0, sig) == -Errno.EINVAL


@linux_only
@pytest.mark.parametrize("name, args", [("kill", (NO_SUCH_PID, 65)), ("kill", (-NO_SUCH_PID, 65)),
                                        ("kill", (NO_SUCH_PID, 0)), ("tkill", (NO_SUCH_PID, 65)),
                                        ("tkill", (0, 1)), ("tkill", (-5, 65)),
                                        ("tgkill", (NO_SUCH_PID, NO_SUCH_PID, 65)), ("tgkill", (0, 1, 0)),
                                        ("tgkill", (1, -1, 0))])
def test_send_errors_match_host(task: Task, name: str, args: tuple[int, ...]) -> None:
    assert sys(task, name, *args) == host_sys(name, *args)


def test_tkill(task: Task) -> None:
    assert sys(task, "tkill", task.tid, 0) == 0
    assert sys(task, "tkill", 0, 0) == -Errno.EINVAL
    assert sys(task, "tkill", -1, 0) == -Errno.EINVAL
    assert sys(task, "tkill", -1, 65) == -Errno.EINVAL
    assert sys(task, "tkill", NO_SUCH_PID, 0) == -Errno.ESRCH
    assert sys(task, "tkill", NO_SUCH_PID, 65) == -Errno.ESRCH
    assert sys(task, "tkill", task.tid, 65) == -Errno.EINVAL


def test_tgkill(task: Task) -> None:
    assert sys(task, "tgkill", task.pid, task.tid, 0) == 0
    assert sys(task, "tgkill", 0, task.tid, 0) == -Errno.EINVAL
    assert sys(task, "tgkill", task.pid, 0, 0) == -Errno.EINVAL
    assert sys(task, "tgkill", -1, task.tid, 65) == -Errno.EINVAL
    assert sys(task, "tgkill", task.pid + 1, task.tid, 0) == -Errno.ESRCH
    assert sys(task, "tgkill", task.pid, NO_SUCH_PID, 65) == -Errno.ESRCH
    assert sys(task, "tgkill", task.pid, task.tid, 65) == -Errno.EINVAL


# -- delivery of a self-sent signal ----------------------------------------------------------


@pytest.mark.parametrize("send", [
    lambda t, s: sys(t, "kill", t.pid, s),
    lambda t, s: sys(t, "kill", 0, s),
    lambda t, s: sys(t, "tkill", t.tid, s),
    lambda t, s: sys(t, "tgkill", t.pid, t.tid, s),
], ids=["kill", "kill0", "tkill", "tgkill"])
@pytest.mark.parametrize("sig", [ls.SIGTERM, ls.SIGUSR1, ls.SIGABRT, ls.SIGKILL, 40])
def test_default_action_terminates(task: Task, send: object, sig: int) -> None:
    assert send(task, sig) == 0  # type: ignore[operator]
    assert leave_kernel(task) == ExitStatus(signal=sig)


@pytest.mark.parametrize("sig", [ls.SIGCHLD, ls.SIGURG, ls.SIGWINCH, ls.SIGCONT])
def test_default_ignored_signal_is_dropped(task: Task, sig: int) -> None:
    assert sys(task, "kill", task.pid, sig) == 0
    assert pending(task) == 0
    assert leave_kernel(task) is None


def test_ignored_signal_is_dropped(task: Task) -> None:
    assert set_action(task, ls.SIGTERM, ls.SIG_IGN) == 0
    assert sys(task, "kill", task.pid, ls.SIGTERM) == 0
    assert pending(task) == 0
    assert leave_kernel(task) is None


def test_blocked_signal_waits_until_unblocked(task: Task) -> None:
    poke(task, SET, "Q", m(ls.SIGTERM))
    assert sys(task, "rt_sigprocmask", ls.SIG_BLOCK, SET, 0, 8) == 0
    assert sys(task, "kill", task.pid, ls.SIGTERM) == 0
    assert leave_kernel(task) is None
    assert pending(task) == m(ls.SIGTERM)
    assert sys(task, "rt_sigprocmask", ls.SIG_UNBLOCK, SET, 0, 8) == 0
    assert leave_kernel(task) == ExitStatus(signal=ls.SIGTERM)


def test_blocked_ignored_signal_stays_pending(task: Task) -> None:
    """sig_ignored() is false for a blocked signal: it is queued, and dropped on delivery."""
    assert set_action(task, ls.SIGUSR2, ls.SIG_IGN) == 0
    poke(task, SET, "Q", m(ls.SIGUSR2))
    assert sys(task, "rt_sigprocmask", ls.SIG_BLOCK, SET, 0, 8) == 0
    assert sys(task, "kill", task.pid, ls.SIGUSR2) == 0
    assert pending(task) == m(ls.SIGUSR2)
    assert sys(task, "rt_sigprocmask", ls.SIG_UNBLOCK, SET, 0, 8) == 0
    assert leave_kernel(task) is None
    assert pending(task) == 0
