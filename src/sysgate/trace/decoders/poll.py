"""poll, select, epoll, eventfd, timerfd and signalfd: their arguments and results as strace 6.1 prints them.

Counterpart: strace's poll.c (print_pollfd, decode_poll_entering/exiting), desc.c
(decode_select, print_kernel_sigset), epoll.c, eventfd.c, time.c (timerfd_*), signalfd.c
and the tables xlat/pollflags.in, epollevents.in, epollctls.in, epollflags.in,
efd_flags.in, timerfdflags.in, sfd_flags.in.

poll and select print the descriptors and events they were given when the call is made;
what the kernel reports (revents, the ready sets, the time left) goes into the result:
`= 1 ([{fd=3, revents=POLLIN}])`, `= 1 (in [3], left {tv_sec=0, tv_usec=999})`,
`= 0 (Timeout)`. epoll_wait prints the events it got as its second argument at return.
"""

from __future__ import annotations

import struct

from sysgate.syscall import Param
from sysgate.trace.decoders.signal import print_sigset_addr_len
from sysgate.trace.decoders.time import fmt_timespec, fmt_timeval, print_timespec, print_timeval
from sysgate.trace.printers import (
    Ctx,
    addr,
    at_entry,
    flags_printer,
    print_array,
    printer,
    ret_printer,
    umove,
    xval_printer,
)
from sysgate.trace.xlat import Xlat, printflags
from sysgate.uapi import poll as P

O_NONBLOCK, O_CLOEXEC = 0o4000, 0o2000000
POLL_FLAGS = Xlat.of([
    (P.POLLIN, "POLLIN"), (P.POLLPRI, "POLLPRI"), (P.POLLOUT, "POLLOUT"), (P.POLLERR, "POLLERR"),
    (P.POLLHUP, "POLLHUP"), (P.POLLNVAL, "POLLNVAL"), (P.POLLRDNORM, "POLLRDNORM"), (P.POLLRDBAND, "POLLRDBAND"),
    (P.POLLWRNORM, "POLLWRNORM"), (P.POLLWRBAND, "POLLWRBAND"), (P.POLLMSG, "POLLMSG"),
    (P.POLLREMOVE, "POLLREMOVE"), (P.POLLRDHUP, "POLLRDHUP"), (0x8000, "POLL_BUSY_LOOP"),
])
"""xlat/pollflags.in with x86's values."""
EPOLL_EVENTS = Xlat.of([
    (P.EPOLLIN, "EPOLLIN"), (P.EPOLLPRI, "EPOLLPRI"), (P.EPOLLOUT, "EPOLLOUT"), (P.EPOLLERR, "EPOLLERR"),
    (P.EPOLLHUP, "EPOLLHUP"), (P.EPOLLNVAL, "EPOLLNVAL"), (P.EPOLLRDNORM, "EPOLLRDNORM"),
    (P.EPOLLRDBAND, "EPOLLRDBAND"), (P.EPOLLWRNORM, "EPOLLWRNORM"), (P.EPOLLWRBAND, "EPOLLWRBAND"),
    (P.EPOLLMSG, "EPOLLMSG"), (P.EPOLLRDHUP, "EPOLLRDHUP"), (P.EPOLLEXCLUSIVE, "EPOLLEXCLUSIVE"),
    (P.EPOLLWAKEUP, "EPOLLWAKEUP"), (P.EPOLLONESHOT, "EPOLLONESHOT"), (P.EPOLLET, "EPOLLET"),
])
EPOLL_CTLS = Xlat.of([(P.EPOLL_CTL_ADD, "EPOLL_CTL_ADD"), (P.EPOLL_CTL_DEL, "EPOLL_CTL_DEL"),
                      (P.EPOLL_CTL_MOD, "EPOLL_CTL_MOD")])
EPOLL_FLAGS = Xlat.of([(O_CLOEXEC, "EPOLL_CLOEXEC")])
EFD_FLAGS = Xlat.of([(1, "EFD_SEMAPHORE"), (O_CLOEXEC, "EFD_CLOEXEC"), (O_NONBLOCK, "EFD_NONBLOCK")])
TFD_FLAGS = Xlat.of([(1, "TFD_TIMER_ABSTIME"), (2, "TFD_TIMER_CANCEL_ON_SET"), (O_CLOEXEC, "TFD_CLOEXEC"),
                     (O_NONBLOCK, "TFD_NONBLOCK")])
SFD_FLAGS = Xlat.of([(O_CLOEXEC, "SFD_CLOEXEC"), (O_NONBLOCK, "SFD_NONBLOCK")])
POLLFD = struct.Struct("<ihh")
EPOLL_EVENT = struct.Struct("<IQ")
ITIMERSPEC = struct.Struct("<qqqq")
SIGSET_ARGPACK = struct.Struct("<QQ")
SIGSET_SIZE = 8
FDSET_MAX = 1024 * 1024

flags_printer("epoll_flags", EPOLL_FLAGS, "EPOLL_???")
xval_printer("epoll_op", EPOLL_CTLS, "EPOLL_CTL_???")
flags_printer("efd_flags", EFD_FLAGS, "EFD_???")
flags_printer("tfd_create_flags", TFD_FLAGS, "TFD_???")
flags_printer("tfd_settime_flags", TFD_FLAGS, "TFD_???")
flags_printer("sfd_flags", SFD_FLAGS, "SFD_???")


def _always(ctx: Ctx, v: int, p: Param) -> bool:
    return True


for _name in ("pollfd", "fd_set", "select_timeval", "poll_timespec"):
    at_entry(_name)(_always)  # given to the kernel and printed as given; the result shows what it wrote


# -- poll -------------------------------------------------------------------------------------


@printer("pollfd")
def p_pollfd(ctx: Ctx, v: int, p: Param) -> str:
    """decode_poll_entering: `[{fd=3, events=POLLIN|POLLPRI}]`."""
    style = ctx.opts.xlat_style

    def elem(data: bytes) -> str:
        fd, events, _ = POLLFD.unpack(data)
        if fd < 0:
            return f"{{fd={fd}}}"
        return f"{{fd={ctx.printfd(fd)}, events={printflags(style, POLL_FLAGS, events & 0xFFFF, 'POLL???')}}}"

    return print_array(ctx, v, ctx.arg("nfds") & 0xFFFFFFFF, POLLFD.size, elem)


def _sprint_ts(ctx: Ctx, ptr: int, timeval: bool) -> str:
    if not ptr:
        return "NULL"
    data = ctx.read(ptr, 16)
    if data is None:
        return addr(ptr)
    sec, frac = struct.unpack("<qq", data)
    return fmt_timeval(sec, frac) if timeval else fmt_timespec(sec, frac)


@ret_printer("poll")
def r_poll(ctx: Ctx, v: int) -> str:
    """decode_poll_exiting: the descriptors with revents, `left` for ppoll, or Timeout."""
    if v == 0:
        return "0 (Timeout)"
    start = ctx.arg("ufds")
    nfds = ctx.arg("nfds") & 0xFFFFFFFF
    items: list[str] = []
    if ctx.opts.structs and start and nfds:
        limit = ctx.opts.string_limit if not ctx.opts.verbose else 1 << 32
        for i in range(nfds):
            cur = start + i * POLLFD.size
            data = ctx.read(cur, POLLFD.size)
            if data is None:
                items.append(f"{cur:#x}")
                break
            fd, _, revents = POLLFD.unpack(data)
            if not revents & 0xFFFF:
                continue
            if len(items) >= limit:
                items.append("...")
                break
            items.append(f"{{fd={fd}, revents={printflags(ctx.opts.xlat_style, POLL_FLAGS, revents & 0xFFFF)}}}")
    text = f"[{', '.join(items)}]" if items else ""
    if ctx.spec is not None and ctx.spec.name == "ppoll":
        tsp = ctx.arg("tsp")
        if tsp:
            text += (", left " if text else "left ") + _sprint_ts(ctx, tsp, timeval=False)
    return f"{v} ({text})" if text else str(v)


# -- select -----------------------------------------------------------------------------------


def _nfds(ctx: Ctx) -> int:
    n = ctx.arg("n")
    n = n - (1 << 32) if n & 0x80000000 else n & 0xFFFFFFFF
    return min(max(n, 0), FDSET_MAX)


def _fd_bits(data: bytes, nfds: int) -> list[int]:
    bits = int.from_bytes(data, "little")
    return [j for j in range(nfds) if bits >> j & 1]


@printer("fd_set")
def p_fd_set(ctx: Ctx, v: int, p: Param) -> str:
    """decode_select at entry: `[0 3]`, NULL, or the address."""
    nfds = _nfds(ctx)
    size = ((nfds + 7) // 8 + 7) & -8
    if not ctx.opts.structs or size == 0:
        return addr(v)
    data = umove(ctx, v, size)
    if isinstance(data, str):
        return data
    return "[" + " ".join(ctx.printfd(j) for j in _fd_bits(data, nfds)) + "]"


@printer("select_timeval")
def p_select_timeval(ctx: Ctx, v: int, p: Param) -> str:
    return print_timeval(ctx, v)


@printer("poll_timespec")
def p_poll_timespec(ctx: Ctx, v: int, p: Param) -> str:
    return print_timespec(ctx, v)


@ret_printer("select")
def r_select(ctx: Ctx, v: int) -> str:
    """decode_select at exit: `1 (in [3], left {...})`, or `0 (Timeout)`."""
    if v == 0:
        return "0 (Timeout)"
    nfds = _nfds(ctx)
    size = ((nfds + 7) // 8 + 7) & -8
    ready = v
    parts: list[str] = []
    for name, arg in (("in", "inp"), ("out", "outp"), ("except", "exp")):
        if ready <= 0:
            break
        ptr = ctx.arg(arg)
        data = ctx.read(ptr, size) if ptr and size else None
        if data is None:
            continue
        fds = _fd_bits(data, nfds)[:ready]
        ready -= len(fds)
        if fds:
            parts.append(f"{name} [{' '.join(map(str, fds))}]")
    timeval = ctx.spec is not None and ctx.spec.name == "select"
    tp = ctx.arg("tvp" if timeval else "tsp")
    if tp:
        parts.append("left " + _sprint_ts(ctx, tp, timeval))
    return f"{v} ({', '.join(parts)})"


@printer("sigset_argpack")
def p_sigset_argpack(ctx: Ctx, v: int, p: Param) -> str:
    """print_kernel_sigset: pselect6's `{sigmask=[], sigsetsize=8}`."""
    data = umove(ctx, v, SIGSET_ARGPACK.size)
    if isinstance(data, str):
        return data
    mask, size = SIGSET_ARGPACK.unpack(data)
    return f"{{sigmask={print_sigset_addr_len(ctx, mask, size)}, sigsetsize={size}}}"


@printer("sigset_len")
def p_sigset_len(ctx: Ctx, v: int, p: Param) -> str:
    """print_sigset_addr_len with the size in the parameter after the colon (`sigset_len:sigsetsize`)."""
    _, _, size_name = p.arg.show.partition(":")
    return print_sigset_addr_len(ctx, v, ctx.arg(size_name) if size_name else SIGSET_SIZE)


# -- epoll ------------------------------------------------------------------------------------


def epoll_event_text(style: str, data: bytes) -> str:
    events, u64 = EPOLL_EVENT.unpack(data)
    return (f"{{events={printflags(style, EPOLL_EVENTS, events, 'EPOLL???')}, "
            f"data={{u32={u64 & 0xFFFFFFFF}, u64={u64}}}}}")


@printer("struct epoll_event")
def p_epoll_event(ctx: Ctx, v: int, p: Param) -> str:
    """SYS_FUNC(epoll_ctl)'s event (its address for EPOLL_CTL_DEL)."""
    if ctx.arg("op") & 0xFFFFFFFF == P.EPOLL_CTL_DEL:
        return addr(v)
    data = umove(ctx, v, EPOLL_EVENT.size)
    return data if isinstance(data, str) else epoll_event_text(ctx.opts.xlat_style, data)


@printer("epoll_events")
def p_epoll_events(ctx: Ctx, v: int, p: Param) -> str:
    """epoll_wait_common at exit: the events returned."""
    n = ctx.ret if ctx.ret is not None and ctx.ret > 0 else 0
    if ctx.failed:
        return addr(v)
    return print_array(ctx, v, n, EPOLL_EVENT.size, lambda d: epoll_event_text(ctx.opts.xlat_style, d))


# -- timerfd ----------------------------------------------------------------------------------


def itimerspec_text(data: bytes) -> str:
    isec, insec, vsec, vnsec = ITIMERSPEC.unpack(data)
    return f"{{it_interval={fmt_timespec(isec, insec)}, it_value={fmt_timespec(vsec, vnsec)}}}"


@printer("struct itimerspec")
def p_itimerspec(ctx: Ctx, v: int, p: Param) -> str:
    """print_itimerspec64: `{it_interval={tv_sec=0, tv_nsec=0}, it_value={tv_sec=1, tv_nsec=0}}`."""
    data = umove(ctx, v, ITIMERSPEC.size)
    return data if isinstance(data, str) else itimerspec_text(data)
