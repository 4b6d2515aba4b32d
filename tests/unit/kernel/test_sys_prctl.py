"""prctl (kernel/sys.c) and arch_prctl (arch/x86/kernel/process_64.c, process.c, fpu/xstate.c).

In unit tests kernel.cpu is None: arch_prctl keeps the FS and GS bases in the task, and
reads them back from there.
"""

from __future__ import annotations

import pytest

from sysgate.arch.x86_64 import sys_prctl as ap
from sysgate.kernel import sys_prctl as pr
from sysgate.kernel.task import Task
from sysgate.mm.mm import TASK_SIZE_MAX
from sysgate.uapi.errno import Errno
from tests.conftest import EDGE, KERNEL_ADDR, RO_PAGE, UNMAPPED, USER_BUF, put_str, sys
from tests.unit.guestmem import peek1
from tests.unit.hostsys import host_sys, linux_only

OUT = USER_BUF + 0x100
BAD = (KERNEL_ADDR, UNMAPPED, RO_PAGE)
XFEATURE_XTILE_DATA = 18
XFEATURE_MAX = 19  # Linux 6.12: arch/x86/include/asm/fpu/types.h


# -- names ------------------------------------------------------------------------------------


def test_set_and_get_name(task: Task) -> None:
    assert sys(task, "prctl", pr.PR_SET_NAME, put_str(task, "worker")) == 0
    task.mm.write(OUT, b"\xff" * 16)
    assert sys(task, "prctl", pr.PR_GET_NAME, OUT) == 0
    assert task.mm.read(OUT, 16) == b"worker".ljust(16, b"\0")


def test_set_name_truncates_to_15_bytes(task: Task) -> None:
    assert sys(task, "prctl", pr.PR_SET_NAME, put_str(task, "a-name-longer-than-sixteen")) == 0
    assert sys(task, "prctl", pr.PR_GET_NAME, OUT) == 0
    assert task.mm.read(OUT, 16) == b"a-name-longer-t\0"


def test_set_name_reads_at_most_15_bytes(task: Task) -> None:
    """strncpy_from_user(comm, arg2, 15): 15 bytes before a bad page are enough."""
    task.mm.write(EDGE + 0x1000 - 15, b"x" * 15)
    assert sys(task, "prctl", pr.PR_SET_NAME, EDGE + 0x1000 - 15) == 0
    assert sys(task, "prctl", pr.PR_GET_NAME, OUT) == 0
    assert task.mm.read(OUT, 16) == b"x" * 15 + b"\0"
    task.mm.write(EDGE + 0x1000 - 5, b"y" * 5)
    assert sys(task, "prctl", pr.PR_SET_NAME, EDGE + 0x1000 - 5) == -Errno.EFAULT


@pytest.mark.parametrize("bad", [KERNEL_ADDR, UNMAPPED])
def test_set_name_efault(task: Task, bad: int) -> None:
    assert sys(task, "prctl", pr.PR_SET_NAME, bad) == -Errno.EFAULT


@pytest.mark.parametrize("bad", [*BAD, EDGE + 0x1000 - 8])
def test_get_name_efault(task: Task, bad: int) -> None:
    assert sys(task, "prctl", pr.PR_GET_NAME, bad) == -Errno.EFAULT


# -- dumpable, pdeathsig, capabilities, no_new_privs ------------------------------------------------


def test_dumpable(task: Task) -> None:
    assert sys(task, "prctl", pr.PR_GET_DUMPABLE) == 1
    assert sys(task, "prctl", pr.PR_SET_DUMPABLE, 0) == 0
    assert sys(task, "prctl", pr.PR_GET_DUMPABLE) == 0
    assert sys(task, "prctl", pr.PR_SET_DUMPABLE, 1) == 0
    assert sys(task, "prctl", pr.PR_GET_DUMPABLE) == 1
    for bad in (2, 3, -1):
        assert sys(task, "prctl", pr.PR_SET_DUMPABLE, bad) == -Errno.EINVAL


def test_pdeathsig(task: Task) -> None:
    assert sys(task, "prctl", pr.PR_GET_PDEATHSIG, OUT) == 0
    assert peek1(task, OUT, "i") == 0
    assert sys(task, "prctl", pr.PR_SET_PDEATHSIG, 9) == 0
    assert sys(task, "prctl", pr.PR_GET_PDEATHSIG, OUT) == 0
    assert peek1(task, OUT, "i") == 9
    assert sys(task, "prctl", pr.PR_SET_PDEATHSIG, 64) == 0
    for bad in (65, -1):
        assert sys(task, "prctl", pr.PR_SET_PDEATHSIG, bad) == -Errno.EINVAL
    for bad in BAD:
        assert sys(task, "prctl", pr.PR_GET_PDEATHSIG, bad) == -Errno.EFAULT


def test_capbset_read(task: Task) -> None:
    assert sys(task, "prctl", pr.PR_CAPBSET_READ, 0) == 1
    assert sys(task, "prctl", pr.PR_CAPBSET_READ, pr.CAP_LAST_CAP) == 1
    assert sys(task, "prctl", pr.PR_CAPBSET_READ, pr.CAP_LAST_CAP + 1) == -Errno.EINVAL
    assert sys(task, "prctl", pr.PR_CAPBSET_READ, -1) == -Errno.EINVAL


def test_no_new_privs(task: Task) -> None:
    assert sys(task, "prctl", pr.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0
    assert sys(task, "prctl", pr.PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0) == -Errno.EINVAL
    assert sys(task, "prctl", pr.PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0) == -Errno.EINVAL
    assert sys(task, "prctl", pr.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 1) == -Errno.EINVAL
    assert sys(task, "prctl", pr.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0
    assert sys(task, "prctl", pr.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
    assert sys(task, "prctl", pr.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1
    assert sys(task, "prctl", pr.PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0) == -Errno.EINVAL
    assert sys(task, "prctl", pr.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 1) == -Errno.EINVAL


@pytest.mark.parametrize("option", [0, -1, 0x7FFFFFFF, 1000])
def test_unknown_option(task: Task, option: int) -> None:
    assert sys(task, "prctl", option, 0, 0, 0, 0) == -Errno.EINVAL


@linux_only
@pytest.mark.parametrize("args", [
    (pr.PR_SET_DUMPABLE, 2), (pr.PR_SET_PDEATHSIG, 65), (pr.PR_CAPBSET_READ, pr.CAP_LAST_CAP + 1),
    (pr.PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0), (pr.PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0), (0x7FFFFFFF,),
    (pr.PR_CAPBSET_READ, 0), (pr.PR_GET_PDEATHSIG, KERNEL_ADDR),
])
def test_prctl_matches_host(task: Task, args: tuple[int, ...]) -> None:
    """Only options that change nothing on the host (or fail) are tried there."""
    padded = [*args, 0, 0, 0, 0][:5]
    assert sys(task, "prctl", *padded) == host_sys("prctl", *padded)


# -- arch_prctl ------------------------------------------------------------------------------


@pytest.mark.parametrize("set_op, get_op, attr", [(ap.ARCH_SET_FS, ap.ARCH_GET_FS, "fs_base"),
                                                  (ap.ARCH_SET_GS, ap.ARCH_GET_GS, "gs_base")])
def test_set_then_get_base(task: Task, set_op: int, get_op: int, attr: str) -> None:
    assert sys(task, "arch_prctl", get_op, OUT) == 0
    assert peek1(task, OUT, "Q") == 0
    for value in (0x7F0000001000, 0, TASK_SIZE_MAX - 1, 1):
        assert sys(task, "arch_prctl", set_op, value) == 0
        assert getattr(task, attr) == value
        assert sys(task, "arch_prctl", get_op, OUT) == 0
        assert peek1(task, OUT, "Q") == value


@pytest.mark.parametrize("set_op", [ap.ARCH_SET_FS, ap.ARCH_SET_GS])
@pytest.mark.parametrize("value", [TASK_SIZE_MAX, KERNEL_ADDR, (1 << 64) - 1])
def test_set_base_beyond_user_space(task: Task, set_op: int, value: int) -> None:
    assert sys(task, "arch_prctl", set_op, 0x1000) == 0
    assert sys(task, "arch_prctl", set_op, value) == -Errno.EPERM
    assert task.fs_base in (0, 0x1000) and task.gs_base in (0, 0x1000)


@pytest.mark.parametrize("get_op", [ap.ARCH_GET_FS, ap.ARCH_GET_GS, ap.ARCH_GET_XCOMP_SUPP,
                                    ap.ARCH_GET_XCOMP_PERM])
@pytest.mark.parametrize("bad", [*BAD, EDGE + 0x1000 - 4])
def test_get_efault(task: Task, get_op: int, bad: int) -> None:
    assert sys(task, "arch_prctl", get_op, bad) == -Errno.EFAULT


def test_cpuid_options(task: Task) -> None:
    assert sys(task, "arch_prctl", ap.ARCH_GET_CPUID, 0) == 1
    assert sys(task, "arch_prctl", ap.ARCH_SET_CPUID, 0) == -Errno.ENODEV  # no CPUID faulting


def test_xcomp(task: Task) -> None:
    assert sys(task, "arch_prctl", ap.ARCH_GET_XCOMP_SUPP, OUT) == 0
    assert peek1(task, OUT, "Q") == 3  # x87 | SSE
    assert sys(task, "arch_prctl", ap.ARCH_GET_XCOMP_PERM, OUT) == 0
    assert peek1(task, OUT, "Q") == 3


@pytest.mark.parametrize("idx, errno", [
    (0, Errno.EOPNOTSUPP), (1, Errno.EOPNOTSUPP),  # no request is needed (or possible) for them
    (XFEATURE_XTILE_DATA, Errno.EOPNOTSUPP),  # AMX: the CPU has none
    (XFEATURE_MAX - 1, Errno.EOPNOTSUPP), (XFEATURE_MAX, Errno.EINVAL), (25, Errno.EINVAL),
    (64, Errno.EINVAL), (-1, Errno.EINVAL),
])
def test_req_xcomp_perm(task: Task, idx: int, errno: Errno) -> None:
    """xstate_request_perm: EINVAL past XFEATURE_MAX, else only XTILE_DATA may be asked for."""
    assert sys(task, "arch_prctl", ap.ARCH_REQ_XCOMP_PERM, idx) == -errno


def test_xcomp_guest_perm(task: Task) -> None:
    assert sys(task, "arch_prctl", ap.ARCH_GET_XCOMP_GUEST_PERM, OUT) == 0
    assert peek1(task, OUT, "Q") == 3
    assert sys(task, "arch_prctl", ap.ARCH_REQ_XCOMP_GUEST_PERM, XFEATURE_XTILE_DATA) == -Errno.EOPNOTSUPP
    assert sys(task, "arch_prctl", ap.ARCH_REQ_XCOMP_GUEST_PERM, XFEATURE_MAX) == -Errno.EINVAL
    assert sys(task, "arch_prctl", ap.ARCH_GET_XCOMP_GUEST_PERM, KERNEL_ADDR) == -Errno.EFAULT


def test_address_masking_without_lam(task: Task) -> None:
    """CONFIG_ADDRESS_MASKING on a CPU without LAM: nothing masked, nothing to enable."""
    assert sys(task, "arch_prctl", ap.ARCH_GET_UNTAG_MASK, OUT) == 0
    assert peek1(task, OUT, "Q") == (1 << 64) - 1
    assert sys(task, "arch_prctl", ap.ARCH_GET_MAX_TAG_BITS, OUT) == 0
    assert peek1(task, OUT, "Q") == 0
    assert sys(task, "arch_prctl", ap.ARCH_ENABLE_TAGGED_ADDR, 6) == -Errno.ENODEV
    assert sys(task, "arch_prctl", ap.ARCH_FORCE_TAGGED_SVA, 0) == 0
    assert sys(task, "arch_prctl", ap.ARCH_GET_UNTAG_MASK, KERNEL_ADDR) == -Errno.EFAULT
    assert sys(task, "arch_prctl", ap.ARCH_GET_MAX_TAG_BITS, UNMAPPED) == -Errno.EFAULT


@pytest.mark.parametrize("option, features, errno", [
    (ap.ARCH_SHSTK_ENABLE, ap.ARCH_SHSTK_SHSTK, Errno.EOPNOTSUPP),  # no X86_FEATURE_USER_SHSTK
    (ap.ARCH_SHSTK_ENABLE, ap.ARCH_SHSTK_WRSS, Errno.EOPNOTSUPP),
    (ap.ARCH_SHSTK_DISABLE, ap.ARCH_SHSTK_SHSTK, Errno.EOPNOTSUPP),
    (ap.ARCH_SHSTK_ENABLE, ap.ARCH_SHSTK_SHSTK | ap.ARCH_SHSTK_WRSS, Errno.EINVAL),  # one at a time
    (ap.ARCH_SHSTK_ENABLE, 0, Errno.EINVAL),
    (ap.ARCH_SHSTK_UNLOCK, ap.ARCH_SHSTK_SHSTK, Errno.EINVAL),  # only through ptrace
])
def test_shadow_stack_options(task: Task, option: int, features: int, errno: Errno) -> None:
    assert sys(task, "arch_prctl", option, features) == -errno


def test_shadow_stack_status_and_lock(task: Task) -> None:
    assert sys(task, "arch_prctl", ap.ARCH_SHSTK_STATUS, OUT) == 0
    assert peek1(task, OUT, "Q") == 0
    assert sys(task, "arch_prctl", ap.ARCH_SHSTK_LOCK, ap.ARCH_SHSTK_SHSTK) == 0
    assert sys(task, "arch_prctl", ap.ARCH_SHSTK_STATUS, KERNEL_ADDR) == -Errno.EFAULT


@pytest.mark.parametrize("option", [0, 0x1000, 0x1005, 0x1010, 0x1026, 0x3001, 0x2002, 0x9999, -1])
def test_unknown_arch_option(task: Task, option: int) -> None:
    assert sys(task, "arch_prctl", option, OUT) == -Errno.EINVAL


@linux_only
@pytest.mark.parametrize("option", [0x9999, ap.ARCH_SET_FS, ap.ARCH_SET_GS])
def test_arch_prctl_errors_match_host(task: Task, option: int) -> None:
    """The SET options are tried on the host only with a value it refuses."""
    value = TASK_SIZE_MAX if option != 0x9999 else 0
    assert sys(task, "arch_prctl", option, value) == host_sys("arch_prctl", option, value)
