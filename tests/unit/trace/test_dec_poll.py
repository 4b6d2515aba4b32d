"""poll, select, epoll, eventfd, timerfd and signalfd printers against strace 6.1's text
(the whole lines are checked with the host's strace in tests/trace/test_multiprocess.py)."""

from __future__ import annotations

import struct

import sysgate.trace.decoders  # noqa: F401  (registers the printers)
from sysgate.syscall import REGISTRY
from sysgate.trace.options import parse
from sysgate.trace.printers import RET_PRINTERS, Ctx, known_at_entry, render
from tests.conftest import UNMAPPED, USER_BUF


def ctx(task, name: str, args: list[int], *options: str, exiting: bool = False, ret: int | None = None) -> Ctx:
    slot = task.kernel.table64.by_name(name)
    opts, _ = parse([*options, "prog"], {nr: s.name for nr, s in task.kernel.table64.slots.items()}, {})
    opts = opts.for_call(slot.nr in opts.abbrev, slot.nr in opts.verbose_set)
    return Ctx(task, opts, REGISTRY[f"sys_{name}"], args, exiting=exiting, ret=ret)


def arg(c: Ctx, i: int) -> str | None:
    assert c.spec is not None
    return render(c, c.spec.params[i], c.args[i])


def result(c: Ctx) -> str:
    assert c.spec is not None and c.ret is not None
    return RET_PRINTERS[c.spec.ret](c, c.ret)


def test_poll_entry_and_result(task):
    task.mm.write(USER_BUF, struct.pack("<ihh", 3, 1, 1) + struct.pack("<ihh", 4, 5, 4) + struct.pack("<ihh", -1, 1, 0))
    c = ctx(task, "poll", [USER_BUF, 3, 0])
    assert known_at_entry(c, c.spec.params[0], USER_BUF)  # printed as given, before the kernel writes
    assert arg(c, 0) == "[{fd=3, events=POLLIN}, {fd=4, events=POLLIN|POLLOUT}, {fd=-1}]"
    c = ctx(task, "poll", [USER_BUF, 3, 0], exiting=True, ret=2)
    assert result(c) == "2 ([{fd=3, revents=POLLIN}, {fd=4, revents=POLLOUT}])"
    assert result(ctx(task, "poll", [USER_BUF, 3, 0], exiting=True, ret=0)) == "0 (Timeout)"
    assert arg(ctx(task, "poll", [USER_BUF, 3, 0], "-s", "1"), 0) == "[{fd=3, events=POLLIN}, ...]"
    assert arg(ctx(task, "poll", [UNMAPPED, 1, 0]), 0) == f"{UNMAPPED:#x}"
    assert arg(ctx(task, "poll", [USER_BUF, 1, 0], "-X", "raw"), 0) == "[{fd=3, events=0x1}]"


def test_ppoll_result_has_the_time_left(task):
    task.mm.write(USER_BUF, struct.pack("<ihh", 3, 1, 1))
    task.mm.write(USER_BUF + 64, struct.pack("<qq", 4, 500))
    c = ctx(task, "ppoll", [USER_BUF, 1, USER_BUF + 64, 0, 8], exiting=True, ret=1)
    assert result(c) == "1 ([{fd=3, revents=POLLIN}], left {tv_sec=4, tv_nsec=500})"
    assert arg(ctx(task, "ppoll", [USER_BUF, 1, USER_BUF + 64, 0, 8]), 2) == "{tv_sec=4, tv_nsec=500}"
    assert arg(ctx(task, "ppoll", [USER_BUF, 1, 0, USER_BUF + 128, 7]), 3) == f"{USER_BUF + 128:#x}"  # size != 8


def test_select_sets_at_entry_and_ready_ones_in_the_result(task):
    task.mm.write(USER_BUF, (1 << 3 | 1 << 0).to_bytes(8, "little"))
    task.mm.write(USER_BUF + 8, (1 << 4).to_bytes(8, "little"))
    task.mm.write(USER_BUF + 32, struct.pack("<qq", 1, 5))
    args = [5, USER_BUF, USER_BUF + 8, 0, USER_BUF + 32]
    c = ctx(task, "select", args)
    assert [arg(c, i) for i in range(5)] == ["5", "[0 3]", "[4]", "NULL", "{tv_sec=1, tv_usec=5}"]
    assert result(ctx(task, "select", args, exiting=True, ret=3)) == "3 (in [0 3], out [4], left {tv_sec=1, tv_usec=5})"
    assert result(ctx(task, "select", args, exiting=True, ret=1)) == "1 (in [0], left {tv_sec=1, tv_usec=5})"
    assert result(ctx(task, "select", args, exiting=True, ret=0)) == "0 (Timeout)"
    assert arg(ctx(task, "select", [0, USER_BUF, 0, 0, 0]), 1) == f"{USER_BUF:#x}"  # no descriptors: no set


def test_pselect6_sigset_argpack(task):
    task.mm.write(USER_BUF + 64, struct.pack("<qq", 0, 0))
    task.mm.write(USER_BUF + 96, struct.pack("<QQ", USER_BUF + 128, 8))
    task.mm.write(USER_BUF + 128, (1 << 9).to_bytes(8, "little"))  # SIGUSR1
    c = ctx(task, "pselect6", [1, 0, 0, 0, USER_BUF + 64, USER_BUF + 96])
    assert arg(c, 5) == "{sigmask=[USR1], sigsetsize=8}"
    assert arg(c, 4) == "{tv_sec=0, tv_nsec=0}"
    assert result(ctx(task, "pselect6", [1, 0, 0, 0, USER_BUF + 64, 0], exiting=True, ret=0)) == "0 (Timeout)"
    assert arg(ctx(task, "pselect6", [1, 0, 0, 0, 0, 0]), 5) == "NULL"


def test_epoll(task):
    task.mm.write(USER_BUF, struct.pack("<IQ", 0x80000001, 0x100000003))
    assert arg(ctx(task, "epoll_ctl", [5, 1, 3, USER_BUF]), 1) == "EPOLL_CTL_ADD"
    assert arg(ctx(task, "epoll_ctl", [5, 1, 3, USER_BUF]), 3) == \
        "{events=EPOLLIN|EPOLLET, data={u32=3, u64=4294967299}}"
    assert arg(ctx(task, "epoll_ctl", [5, 2, 3, USER_BUF]), 3) == f"{USER_BUF:#x}"  # EPOLL_CTL_DEL
    assert arg(ctx(task, "epoll_ctl", [5, 9, 3, USER_BUF]), 1) == "0x9 /* EPOLL_CTL_??? */"
    task.mm.write(USER_BUF + 12, struct.pack("<IQ", 4, 7))  # packed on x86-64: 12 bytes each
    c = ctx(task, "epoll_wait", [5, USER_BUF, 4, 0], exiting=True, ret=2)
    assert arg(c, 1) == ("[{events=EPOLLIN|EPOLLET, data={u32=3, u64=4294967299}}, "
                         "{events=EPOLLOUT, data={u32=7, u64=7}}]")
    assert arg(ctx(task, "epoll_wait", [5, USER_BUF, 4, 0], exiting=True, ret=0), 1) == "[]"
    assert arg(ctx(task, "epoll_wait", [5, USER_BUF, 4, 0], exiting=True, ret=-4), 1) == f"{USER_BUF:#x}"
    assert arg(ctx(task, "epoll_create1", [0o2000000]), 0) == "EPOLL_CLOEXEC"


def test_fd_event_flags_and_itimerspec(task):
    assert arg(ctx(task, "eventfd2", [0, 0o2004001]), 1) == "EFD_SEMAPHORE|EFD_CLOEXEC|EFD_NONBLOCK"
    assert arg(ctx(task, "timerfd_create", [1, 0o4000]), 1) == "TFD_NONBLOCK"
    assert arg(ctx(task, "timerfd_settime", [3, 3, 0, 0]), 1) == "TFD_TIMER_ABSTIME|TFD_TIMER_CANCEL_ON_SET"
    assert arg(ctx(task, "signalfd4", [-1, 0, 8, 0o2000000]), 3) == "SFD_CLOEXEC"
    assert arg(ctx(task, "signalfd4", [-1, 0, 8, 0x10]), 3) == "0x10 /* SFD_??? */"
    task.mm.write(USER_BUF, struct.pack("<qqqq", 0, 1, 100, 0))
    assert arg(ctx(task, "timerfd_settime", [3, 0, USER_BUF, 0]), 2) == \
        "{it_interval={tv_sec=0, tv_nsec=1}, it_value={tv_sec=100, tv_nsec=0}}"
    assert arg(ctx(task, "timerfd_gettime", [3, USER_BUF], exiting=True, ret=0), 1) == \
        "{it_interval={tv_sec=0, tv_nsec=1}, it_value={tv_sec=100, tv_nsec=0}}"
    task.mm.write(USER_BUF + 64, (1 << 9).to_bytes(8, "little"))
    assert arg(ctx(task, "signalfd4", [-1, USER_BUF + 64, 8, 0]), 1) == "[USR1]"
