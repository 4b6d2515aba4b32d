"""uname, sysinfo, scheduling, futex, getrandom, thread registrations, identities and exit
traced as strace 6.1 prints them (strings checked against the host's strace on static C
programs calling syscall(2) directly)."""

from __future__ import annotations

import os
import struct

import pytest

from sysgate.syscall import REGISTRY
from sysgate.trace.decoders.futex import sprint_wake_op
from sysgate.trace.options import parse
from sysgate.trace.printers import PRINTERS, Ctx
from sysgate.uapi import futex as fx
from sysgate.uapi import random as lrandom
from tests.conftest import EDGE, UNMAPPED, USER_BUF
from tests.unit.trace.conftest import line, traced

BUF = USER_BUF + 0x100
OUT = USER_BUF + 0x800
TS = USER_BUF + 0x900
WORD = USER_BUF + 0xA00



def hexstr(data: bytes) -> str:
    return '"' + "".join(f"\\x{b:02x}" for b in data) + '"'


# -- uname, sysinfo ---------------------------------------------------------------------------


def test_uname_abbreviated_and_verbose(task):
    k = task.kernel
    node = os.uname().nodename
    assert traced(task, "uname", BUF) == line(f'uname({{sysname="Linux", nodename="{node}", ...}})', "0")
    full = (f'uname({{sysname="Linux", nodename="{node}", release="{k.release.decode()}", '
            f'version="#1 SMP PREEMPT_DYNAMIC sysgate", machine="x86_64", domainname="(none)"}})')
    assert traced(task, "uname", BUF, options=("-v",)) == line(full, "0")
    assert traced(task, "uname", 0) == line("uname(NULL)", "-1 EFAULT (Bad address)")


def test_sysinfo(task):
    out = traced(task, "sysinfo", BUF)
    f = struct.unpack("<q3Q6QH6xQQI4x", task.mm.read(BUF, 112))
    want = (f"sysinfo({{uptime={f[0]}, loads=[{f[1]}, {f[2]}, {f[3]}], totalram={f[4]}, freeram={f[5]}, "
            f"sharedram={f[6]}, bufferram={f[7]}, totalswap={f[8]}, freeswap={f[9]}, procs={f[10]}, "
            f"totalhigh={f[11]}, freehigh={f[12]}, mem_unit={f[13]}}})")
    assert out == line(want, "0")
    assert traced(task, "sysinfo", 1) == line("sysinfo(0x1)", "-1 EFAULT (Bad address)")


# -- scheduling ---------------------------------------------------------------------------------


def test_sched_yield(task):
    assert traced(task, "sched_yield") == line("sched_yield()", "0")


def test_sched_getaffinity_shows_as_many_bytes_as_returned(task):
    assert traced(task, "sched_getaffinity", 0, 128, BUF) == line("sched_getaffinity(0, 128, [0])", "8")
    assert traced(task, "sched_getaffinity", 0, 0, BUF) == line(
        f"sched_getaffinity(0, 0, {BUF:#x})", "-1 EINVAL (Invalid argument)")
    assert traced(task, "sched_getaffinity", 0, 128, 1) == line(
        "sched_getaffinity(0, 128, 0x1)", "-1 EFAULT (Bad address)")
    assert traced(task, "sched_getaffinity", 99999, 128, BUF) == line(
        f"sched_getaffinity(99999, 128, {BUF:#x})", "-1 ESRCH (No such process)")


def test_sched_setaffinity_lists_the_cpus(task):
    task.mm.write(BUF, struct.pack("<QQ", 0x8000000000000005, 3))
    assert traced(task, "sched_setaffinity", 0, 16, BUF) == line("sched_setaffinity(0, 16, [0 2 63 64 65])", "0")
    task.mm.write(BUF, struct.pack("<Q", 1))
    assert traced(task, "sched_setaffinity", 0, 8, BUF) == line("sched_setaffinity(0, 8, [0])", "0")
    assert traced(task, "sched_setaffinity", 0, 0, BUF) == line(
        "sched_setaffinity(0, 0, [])", "-1 EINVAL (Invalid argument)")
    assert traced(task, "sched_setaffinity", 0, 8, 0) == line(
        "sched_setaffinity(0, 8, NULL)", "-1 EFAULT (Bad address)")


def test_affinity_mask_longer_than_strace_reads_ends_with_dots(task):
    task.mm.write(BUF, bytes(256))
    task.mm.write(BUF, struct.pack("<Q", 1))
    task.mm.write(BUF + 200, b"\xff")  # past the 128 bytes strace reads: not shown
    assert traced(task, "sched_setaffinity", 0, 256, BUF) == line("sched_setaffinity(0, 256, [0 ...])", "0")


def test_getcpu(task):
    assert traced(task, "getcpu", BUF, BUF + 4, 0) == line("getcpu([0], [0], NULL)", "0")
    assert traced(task, "getcpu", BUF, 0, 0) == line("getcpu([0], NULL, NULL)", "0")
    assert traced(task, "getcpu", 1, 0, 16) == line("getcpu(0x1, NULL, 0x10)", "-1 EFAULT (Bad address)")


# -- futex --------------------------------------------------------------------------------------


def _futex(task, op: int, val: int, utime: int, uaddr2: int, val3: int, options: tuple[str, ...] = ()) -> str:
    task.mm.write(WORD, struct.pack("<I", 5))
    return traced(task, "futex", WORD, op, val, utime, uaddr2, val3, options=options)


def test_futex_wait_shows_val_and_timeout(task):
    task.mm.write(TS, struct.pack("<qq", 0, 1000))
    assert _futex(task, fx.FUTEX_WAIT | fx.FUTEX_PRIVATE_FLAG, 4, TS, 0, 0) == line(
        f"futex({WORD:#x}, FUTEX_WAIT_PRIVATE, 4, {{tv_sec=0, tv_nsec=1000}})",
        "-1 EAGAIN (Resource temporarily unavailable)")
    assert _futex(task, fx.FUTEX_WAIT, 4, 0, 0, 0, options=("-X", "verbose")) == line(
        f"futex({WORD:#x}, 0 /* FUTEX_WAIT */, 4, NULL)", "-1 EAGAIN (Resource temporarily unavailable)")


def test_futex_wake_shows_only_val(task):
    assert _futex(task, fx.FUTEX_WAKE | fx.FUTEX_PRIVATE_FLAG, 1, 0, 0, 0) == line(
        f"futex({WORD:#x}, FUTEX_WAKE_PRIVATE, 1)", "0")
    assert _futex(task, fx.FUTEX_WAKE, 2147483647, 0, 0, 0, options=("-X", "raw")) == line(
        f"futex({WORD:#x}, 0x1, 2147483647)", "0")


def test_futex_bitset_operations(task):
    task.mm.write(TS, struct.pack("<qq", 0, 1000))
    op = fx.FUTEX_WAIT_BITSET | fx.FUTEX_PRIVATE_FLAG | fx.FUTEX_CLOCK_REALTIME
    assert _futex(task, op, 4, TS, 0, fx.FUTEX_BITSET_MATCH_ANY) == line(
        f"futex({WORD:#x}, FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME, 4, {{tv_sec=0, tv_nsec=1000}}, "
        "FUTEX_BITSET_MATCH_ANY)", "-1 EAGAIN (Resource temporarily unavailable)")
    assert _futex(task, fx.FUTEX_WAKE_BITSET | fx.FUTEX_PRIVATE_FLAG, 1, 0, 0, 5) == line(
        f"futex({WORD:#x}, FUTEX_WAKE_BITSET_PRIVATE, 1, 0x5)", "0")


def test_futex_pi_operations_show_only_the_timeout(task):
    task.mm.write(TS, struct.pack("<qq", 0, 1000))
    assert _futex(task, fx.FUTEX_LOCK_PI | fx.FUTEX_PRIVATE_FLAG, 1, TS, WORD, 9).startswith(
        f"futex({WORD:#x}, FUTEX_LOCK_PI_PRIVATE, {{tv_sec=0, tv_nsec=1000}}) = ")
    assert _futex(task, fx.FUTEX_UNLOCK_PI, 1, TS, WORD, 9).startswith(f"futex({WORD:#x}, FUTEX_UNLOCK_PI) ")
    assert _futex(task, fx.FUTEX_LOCK_PI2 | fx.FUTEX_CLOCK_REALTIME, 1, TS, WORD, 9).startswith(
        f"futex({WORD:#x}, 0x10d /* FUTEX_??? */, {{tv_sec=0, tv_nsec=1000}}) = ")


def test_futex_requeue_shows_val2_and_uaddr2(task):
    assert _futex(task, fx.FUTEX_REQUEUE | fx.FUTEX_PRIVATE_FLAG, 1, 7, WORD, 9).startswith(
        f"futex({WORD:#x}, FUTEX_REQUEUE_PRIVATE, 1, 7, {WORD:#x}) = ")


def test_futex_cmp_requeue_shows_val3(task):
    assert _futex(task, fx.FUTEX_CMP_REQUEUE | fx.FUTEX_PRIVATE_FLAG, 1, 7, WORD, 9).startswith(
        f"futex({WORD:#x}, FUTEX_CMP_REQUEUE_PRIVATE, 1, 7, {WORD:#x}, 9) = ")


def test_futex_wake_op_decodes_val3(task):
    val3 = (fx.FUTEX_OP_ADD << 28) | (fx.FUTEX_OP_CMP_GT << 24) | (1 << 12) | 1
    assert _futex(task, fx.FUTEX_WAKE_OP | fx.FUTEX_PRIVATE_FLAG, 1, 7, WORD, val3).startswith(
        f"futex({WORD:#x}, FUTEX_WAKE_OP_PRIVATE, 1, 7, {WORD:#x}, "
        "FUTEX_OP_ADD<<28|0x1<<12|FUTEX_OP_CMP_GT<<24|0x1) = ")


def test_futex_unknown_command_shows_everything_raw(task):
    assert _futex(task, 14, 1, TS, WORD, 9) == line(
        f"futex({WORD:#x}, 0xe /* FUTEX_??? */, 1, {TS:#x}, {WORD:#x}, 0x9)", "-1 ENOSYS (Function not implemented)")


@pytest.mark.parametrize(("style", "val3", "want"), [
    ("abbrev", 0x14001001, "FUTEX_OP_ADD<<28|0x1<<12|FUTEX_OP_CMP_GT<<24|0x1"),
    ("abbrev", 0xF9000123, "FUTEX_OP_OPARG_SHIFT<<28|0x7<<28 /* FUTEX_OP_??? */|0<<12|"
                           "0x9<<24 /* FUTEX_OP_CMP_??? */|0x123"),
    ("abbrev", 0, "FUTEX_OP_SET<<28|0<<12|FUTEX_OP_CMP_EQ<<24|0"),
    ("verbose", 0x14001001, "0x1 /* FUTEX_OP_ADD */<<28|0x1<<12|0x4 /* FUTEX_OP_CMP_GT */<<24|0x1"),
    ("verbose", 0xF9000123, "0x8 /* FUTEX_OP_OPARG_SHIFT */<<28|0x7<<28 /* FUTEX_OP_??? */|0<<12|"
                            "0x9<<24 /* FUTEX_OP_CMP_??? */|0x123"),
    ("raw", 0x14001001, "0x1<<28 /* FUTEX_OP_??? */|0x1<<12|0x4<<24 /* FUTEX_OP_CMP_??? */|0x1"),
    ("raw", 0xF9000123, "0x8<<28|0x7<<28 /* FUTEX_OP_??? */|0<<12|0x9<<24 /* FUTEX_OP_CMP_??? */|0x123"),
])
def test_sprint_wake_op(style, val3, want):
    assert sprint_wake_op(style, val3) == want


# -- getrandom ------------------------------------------------------------------------------------


def test_getrandom_shows_the_bytes_in_hex(task):
    out = traced(task, "getrandom", BUF, 8, lrandom.GRND_NONBLOCK)
    assert out == line(f"getrandom({hexstr(task.mm.read(BUF, 8))}, 8, GRND_NONBLOCK)", "8")


def test_getrandom_cut_at_the_string_limit(task):
    out = traced(task, "getrandom", BUF, 40, 0)
    assert out == line(f"getrandom({hexstr(task.mm.read(BUF, 32))}..., 40, 0)", "40")
    out = traced(task, "getrandom", BUF, 8, lrandom.GRND_NONBLOCK, options=("-s", "4", "-X", "verbose"))
    assert out == line(f"getrandom({hexstr(task.mm.read(BUF, 4))}..., 8, 0x1 /* GRND_NONBLOCK */)", "8")


def test_getrandom_flags_and_failures(task):
    assert traced(task, "getrandom", BUF, 0, lrandom.GRND_RANDOM | lrandom.GRND_NONBLOCK) == line(
        'getrandom("", 0, GRND_NONBLOCK|GRND_RANDOM)', "0")
    assert traced(task, "getrandom", BUF, 4, 0x10) == line(
        f"getrandom({BUF:#x}, 4, 0x10 /* GRND_??? */)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "getrandom", 1, 4, lrandom.GRND_INSECURE, options=("-X", "raw")) == line(
        "getrandom(0x1, 4, 0x4)", "-1 EFAULT (Bad address)")


# -- thread registrations ---------------------------------------------------------------------------


def test_set_tid_address_prints_its_argument_in_hex(task):
    assert traced(task, "set_tid_address", BUF) == line(f"set_tid_address({BUF:#x})", str(task.tid))
    assert traced(task, "set_tid_address", 0) == line("set_tid_address(0)", str(task.tid))


def test_robust_lists(task):
    assert traced(task, "get_robust_list", 0, OUT, OUT + 8) == line("get_robust_list(0, [NULL], [24])", "0")
    assert traced(task, "set_robust_list", BUF, 24) == line(f"set_robust_list({BUF:#x}, 24)", "0")
    assert traced(task, "set_robust_list", BUF, 23) == line(
        f"set_robust_list({BUF:#x}, 23)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "get_robust_list", 0, OUT, OUT + 8) == line(f"get_robust_list(0, [{BUF:#x}], [24])", "0")
    assert traced(task, "get_robust_list", 0, 1, OUT + 8) == line(
        f"get_robust_list(0, 0x1, {OUT + 8:#x})", "-1 EFAULT (Bad address)")
    assert traced(task, "get_robust_list", 99999, OUT, OUT + 8) == line(
        f"get_robust_list(99999, {OUT:#x}, {OUT + 8:#x})", "-1 ESRCH (No such process)")


def test_rseq_prints_its_arguments_in_hex(task):
    assert traced(task, "rseq", BUF, 32, 0, 0x53053053) == line(f"rseq({BUF:#x}, 0x20, 0, 0x53053053)", "0")
    assert traced(task, "rseq", 0, 32, 1, 0x53053053) == line(
        "rseq(0, 0x20, 0x1, 0x53053053)", "-1 EINVAL (Invalid argument)")
    assert traced(task, "rseq", -1, 0xFFFFFFFF, -1, 0xFFFFFFFF, options=("-X", "verbose")) == line(
        "rseq(0xffffffffffffffff, 0xffffffff, 0xffffffff, 0xffffffff)", "-1 EINVAL (Invalid argument)")


# -- identities ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid",
                                  "getpgrp"])
def test_identity_calls_without_arguments(task, name):
    out = traced(task, name)
    assert out == line(f"{name}()", out.rsplit("= ", 1)[1].strip())
    assert int(out.rsplit("= ", 1)[1]) >= 0


def test_getpgid_getsid(task):
    assert traced(task, "getpgid", 0) == line("getpgid(0)", str(task.group.pgid))
    assert traced(task, "getsid", 99999) == line("getsid(99999)", "-1 ESRCH (No such process)")


def test_getresuid_getresgid(task):
    task.cred.suid = 0xFFFFFFFF  # (uid_t) -1 prints as -1
    task.cred.egid = 1000
    assert traced(task, "getresuid", BUF, BUF + 4, BUF + 8) == line("getresuid([0], [0], [-1])", "0")
    assert traced(task, "getresgid", BUF, BUF + 4, BUF + 8) == line("getresgid([0], [1000], [0])", "0")
    assert traced(task, "getresuid", BUF, 1, BUF + 8) == line(
        f"getresuid({BUF:#x}, 0x1, {BUF + 8:#x})", "-1 EFAULT (Bad address)")


def test_getgroups(task):
    task.cred.groups = [0, 4, 24]
    assert traced(task, "getgroups", 0, 0) == line("getgroups(0, NULL)", "3")
    assert traced(task, "getgroups", 64, BUF) == line("getgroups(64, [0, 4, 24])", "3")
    assert traced(task, "getgroups", 64, BUF, options=("-s", "2")) == line("getgroups(64, [0, 4, ...])", "3")
    assert traced(task, "getgroups", 64, BUF, options=("-s", "2", "-v")) == line("getgroups(64, [0, 4, 24])", "3")
    assert traced(task, "getgroups", -1, BUF) == line(f"getgroups(-1, {BUF:#x})", "-1 EINVAL (Invalid argument)")
    assert traced(task, "getgroups", 64, UNMAPPED) == line(
        f"getgroups(64, {UNMAPPED:#x})", "-1 EFAULT (Bad address)")


def test_group_list_cut_where_memory_ends(task):
    """An element that cannot be read ends the list with `... /* its address */`."""
    spec = REGISTRY["sys_getgroups"]
    opts, _ = parse(["prog"], {}, {})
    start = EDGE + 0x1000 - 8
    task.mm.write(start, struct.pack("<II", 4, 24))
    show = PRINTERS[spec.params[1].arg.show]
    ctx = Ctx(task, opts, spec, [64, start], exiting=True, ret=3)
    assert show(ctx, start, spec.params[1]) == f"[4, 24, ... /* {EDGE + 0x1000:#x} */]"
    ctx = Ctx(task, opts, spec, [64, EDGE + 0x1000], exiting=True, ret=3)
    assert show(ctx, EDGE + 0x1000, spec.params[1]) == f"{EDGE + 0x1000:#x}"


# -- exit ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["exit", "exit_group"])
def test_exit_has_no_result(task, name):
    """The call ends with `= ?`, then the task's end (print_event_exit, print_exited)."""
    assert traced(task, name, 3) == line(f"{name}(3)", "?") + "+++ exited with 3 +++\n"
