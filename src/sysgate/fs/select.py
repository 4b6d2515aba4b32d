"""Waiting for descriptors: poll, ppoll, select, pselect6.

Counterpart: fs/select.c (do_select, core_sys_select, do_sys_poll, do_poll,
poll_select_set_timeout, poll_select_finish, do_restart_poll) and kernel/signal.c
(set_user_sigmask, restore_saved_sigmask_unless).

Each run of the call polls every file (File.poll); if none is ready it sleeps on what the
files name in File.poll_wait (kernel wait queues, host descriptors) until its deadline,
kept in the call state, and the call runs again (sysgate.kernel.wait). A signal ends a
wait that found nothing with -ERESTARTNOHAND, which poll() turns into
-ERESTART_RESTARTBLOCK with a restart_block resuming the wait until the same end time;
select, pselect6 and ppoll write the time left back to the caller's timeout, as Linux
does unless the personality has STICKY_TIMEOUTS.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

from sysgate.arch.x86_64.structs import TIMESPEC, TIMEVAL
from sysgate.argtypes import INOUT, Int, SizeT, UInt, UserPtr
from sysgate.errors import KernelError
from sysgate.fs.file import File
from sysgate.kernel.signal import recalc_sigpending
from sysgate.kernel.wait import WaitQueue, block, signal_pending
from sysgate.mm.uaccess import copy_from_user, copy_to_user
from sysgate.syscall import syscall
from sysgate.uapi import poll as P
from sysgate.uapi.errno import Errno
from sysgate.uapi.personality import STICKY_TIMEOUTS
from sysgate.uapi.signal import SIGKILL, SIGSTOP, sigmask

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

PollFds = Annotated[int, UserPtr("struct pollfd __user *", show="pollfd", direction=INOUT, size="nfds")]
FdSet = Annotated[int, UserPtr("fd_set __user *", show="fd_set", direction=INOUT, size="n")]
TimevalIo = Annotated[int, UserPtr("struct __kernel_old_timeval __user *", show="select_timeval", direction=INOUT)]
TimespecIo = Annotated[int, UserPtr("struct __kernel_timespec __user *", show="poll_timespec", direction=INOUT)]
SigsetIn = Annotated[int, UserPtr("const sigset_t __user *", show="sigset_len:sigsetsize")]
SigArgPack = Annotated[int, UserPtr("void __user *", show="sigset_argpack")]

POLLFD = struct.Struct("<ihh")
SIGSET_SIZE = 8
TIME64_MAX = (1 << 63) - 1
NSEC_PER_SEC = 1_000_000_000
WATCHED = (P.POLLIN | P.POLLPRI | P.POLLOUT | P.POLLRDNORM | P.POLLRDBAND | P.POLLWRNORM | P.POLLWRBAND
           | P.POLLRDHUP)
"""The poll bits a host descriptor can be waited on for (the rest always come)."""


# -- what poll, select and epoll share -------------------------------------------------


def set_user_sigmask(t: Task, umask: int, sigsetsize: int) -> None:
    """set_user_sigmask: the mask the wait runs with; the old one is restored after the
    call, or after the handler of the signal that interrupted it (TIF_RESTORE_SIGMASK)."""
    if not umask:
        return
    if sigsetsize != SIGSET_SIZE:
        raise KernelError(Errno.EINVAL)
    mask = int.from_bytes(copy_from_user(t.mm, umask, SIGSET_SIZE), "little")
    t.saved_sigmask = t.blocked
    t.blocked = mask & ~(sigmask(SIGKILL) | sigmask(SIGSTOP))
    recalc_sigpending(t)


def restore_saved_sigmask_unless(t: Task, interrupted: bool) -> None:
    """Put the caller's mask back now, unless a signal interrupted the wait: then the
    signal is delivered under the wait's mask and the old one comes back after it."""
    if interrupted or t.saved_sigmask is None:
        return
    t.blocked = t.saved_sigmask
    t.saved_sigmask = None
    recalc_sigpending(t)


def timeout_end(sec: int, nsec: int) -> int | None:
    """poll_select_set_timeout: the CLOCK_MONOTONIC end time (0: do not wait), or None for
    an invalid timespec (the caller raises EINVAL)."""
    if sec < 0 or not 0 <= nsec < NSEC_PER_SEC:
        return None
    if not sec and not nsec:
        return 0
    return min(time.monotonic_ns() + sec * NSEC_PER_SEC + nsec, TIME64_MAX)


def waits_of(files: list[tuple[File, int, int]]) -> tuple[list[WaitQueue], list[tuple[int, int]]]:
    """Everything to sleep on for `files`, each with the poll events it is watched for and
    its mask now: kernel queues, and host descriptors narrowed to those events. A host
    descriptor that shows POLLERR or POLLHUP already is left out (the host reports those
    whatever is asked, so waiting on it would not sleep)."""
    queues: list[WaitQueue] = []
    host: list[tuple[int, int]] = []
    for f, events, now in files:
        qs, hs = f.poll_wait()
        for q in qs:
            if q not in queues:
                queues.append(q)
        if now & (P.POLLERR | P.POLLHUP) and not f.poll_wait_exact:
            continue
        for fd, ev in hs:
            host.append((fd, ev if f.poll_wait_exact else ev & events & WATCHED))
    return queues, host


class CallTimer:
    """The deadline of a waiting call: read from the user once, kept in the call state."""

    def __init__(self, t: Task, key: str) -> None:
        self.data = t.call_state().data
        self.key = key

    @property
    def started(self) -> bool:
        return self.key in self.data

    def start(self, end: int | None) -> None:
        self.data[self.key] = end

    @property
    def end(self) -> int | None:
        end = self.data[self.key]
        assert end is None or isinstance(end, int)
        return end

    def expired(self, t: Task) -> bool:
        end = self.end
        return end is not None and (end == 0 or t.call_state().timed_out or time.monotonic_ns() >= end)


def write_back_timeout(t: Task, end: int | None, ptr: int, layout: str, ret: int) -> int:
    """poll_select_finish: store the time left in the caller's timeout."""
    if not ptr or end is None:
        return ret
    if not t.personality & STICKY_TIMEOUTS:
        if end == 0:
            return ret
        left = max(0, end - time.monotonic_ns())
        sec, nsec = divmod(left, NSEC_PER_SEC)
        data = TIMESPEC.pack(sec, nsec) if layout == "timespec" else TIMEVAL.pack(sec, nsec // 1000)
        try:
            copy_to_user(t.mm, ptr, data)
            return ret
        except KernelError:
            pass
    return -Errno.EINTR if ret == -Errno.ERESTARTNOHAND else ret


# -- poll ---------------------------------------------------------------------------------


def do_sys_poll(t: Task, ufds: int, nfds: int, timer: CallTimer) -> int:
    """do_sys_poll: the number of ready entries, 0 at the end time, or -ERESTARTNOHAND."""
    if nfds > t.group.nofile():
        raise KernelError(Errno.EINVAL)
    raw = copy_from_user(t.mm, ufds, nfds * POLLFD.size) if nfds else b""
    entries = list(POLLFD.iter_unpack(raw))
    revents: list[int] = []
    watched: list[tuple[File, int, int]] = []
    count = 0
    for fd, events, _ in entries:
        mask = 0
        if fd >= 0:
            f = t.files.lookup(fd)
            if f is None:
                mask = P.POLLNVAL
            else:
                want = (events & 0xFFFF) | P.POLLERR | P.POLLHUP
                now = f.poll(t)
                mask = now & want
                watched.append((f, want, now))
            if mask:
                count += 1
        revents.append(mask)
    if not count:
        if signal_pending(t):
            count = -Errno.ERESTARTNOHAND
        elif not timer.expired(t):
            queues, host = waits_of(watched)
            block(t, queues=queues, host=host, deadline=timer.end, restart=Errno.ERESTARTNOHAND)
    out = bytearray(raw)
    for i, mask in enumerate(revents):
        struct.pack_into("<h", out, i * POLLFD.size + 6, mask - 0x10000 if mask & 0x8000 else mask)
    if nfds:
        copy_to_user(t.mm, ufds, out)  # every revents, as unsafe_put_user stores them
    return count


def _restart_poll(ufds: int, nfds: int, end: int | None) -> Callable[[Task], int]:
    def do_restart_poll(t: Task) -> int:
        timer = CallTimer(t, "poll_end")
        if not timer.started:
            timer.start(end)
        ret = do_sys_poll(t, ufds, nfds, timer)
        if ret == -Errno.ERESTARTNOHAND:
            t.restart_block = do_restart_poll
            raise KernelError(Errno.ERESTART_RESTARTBLOCK)
        return ret

    return do_restart_poll


@syscall(ret="poll")
def sys_poll(t: Task, ufds: PollFds, nfds: UInt, timeout_msecs: Int) -> int:
    """wait for some event on a file descriptor"""
    timer = CallTimer(t, "poll_end")
    if not timer.started:
        end = None
        if timeout_msecs >= 0:
            end = timeout_end(timeout_msecs // 1000, timeout_msecs % 1000 * 1_000_000)
        timer.start(end)
    ret = do_sys_poll(t, ufds, nfds, timer)
    if ret == -Errno.ERESTARTNOHAND:
        t.restart_block = _restart_poll(ufds, nfds, timer.end)
        raise KernelError(Errno.ERESTART_RESTARTBLOCK)
    return ret


def _start_timespec(t: Task, timer: CallTimer, tsp: int) -> None:
    end = None
    if tsp:
        sec, nsec = TIMESPEC.unpack(copy_from_user(t.mm, tsp, TIMESPEC.size))
        end = timeout_end(sec, nsec)
        if end is None:
            raise KernelError(Errno.EINVAL)
    timer.start(end)


@syscall(ret="poll")
def sys_ppoll(t: Task, ufds: PollFds, nfds: UInt, tsp: TimespecIo, sigmask: SigsetIn, sigsetsize: SizeT) -> int:
    """wait for some event on a file descriptor, with a timespec and a signal mask"""
    timer = CallTimer(t, "poll_end")
    if not timer.started:
        _start_timespec(t, timer, tsp)
        set_user_sigmask(t, sigmask, sigsetsize)
    try:
        ret = do_sys_poll(t, ufds, nfds, timer)
    except KernelError as exc:
        ret = -exc.errno
    restore_saved_sigmask_unless(t, ret == -Errno.ERESTARTNOHAND)
    ret = write_back_timeout(t, timer.end, tsp, "timespec", ret)
    if ret < 0:
        raise KernelError(Errno(-ret))
    return ret


# -- select --------------------------------------------------------------------------------


def _fds_bytes(n: int) -> int:
    return (n + 63) // 64 * 8


def _max_fds(t: Task) -> int:
    """fdt->max_fds: the size of the descriptor table (64, then powers of two from 256)."""
    top = max(t.files.files, default=0) + 1
    if top <= 64:
        return 64
    size = 256
    while size < top:
        size *= 2
    return size


def _get_fd_set(t: Task, n: int, ptr: int) -> int:
    if not ptr:
        return 0
    return int.from_bytes(copy_from_user(t.mm, ptr, _fds_bytes(n)), "little")


def _max_select_fd(t: Task, n: int, want: int) -> int:
    """max_select_fd: EBADF for a set bit on a closed descriptor; else the highest set fd + 1."""
    if not want:
        return 0
    for fd in range(n):
        if want >> fd & 1 and fd not in t.files.files:
            raise KernelError(Errno.EBADF)
    return want.bit_length()


def core_sys_select(t: Task, n: int, inp: int, outp: int, exp: int, timer: CallTimer) -> int:
    """core_sys_select: the number of ready bits, with the result sets stored."""
    if n < 0:
        raise KernelError(Errno.EINVAL)
    n = min(n, _max_fds(t))
    limit = (1 << n) - 1
    fin, fout, fex = (_get_fd_set(t, n, p) & limit for p in (inp, outp, exp))
    top = _max_select_fd(t, n, fin | fout | fex)
    rin = rout = rex = 0
    count = 0
    watched: list[tuple[File, int, int]] = []
    for fd in range(top):
        bit = 1 << fd
        if not (fin | fout | fex) & bit:
            continue
        f = t.files.get(fd)
        mask = f.poll(t)
        events = 0
        if fin & bit:
            events |= P.POLLIN_SET
            if mask & P.POLLIN_SET:
                rin |= bit
                count += 1
        if fout & bit:
            events |= P.POLLOUT_SET
            if mask & P.POLLOUT_SET:
                rout |= bit
                count += 1
        if fex & bit:
            events |= P.POLLEX_SET
            if mask & P.POLLEX_SET:
                rex |= bit
                count += 1
        watched.append((f, events, mask))
    if not count:
        if signal_pending(t):
            raise KernelError(Errno.ERESTARTNOHAND)
        if not timer.expired(t):
            queues, host = waits_of(watched)
            block(t, queues=queues, host=host, deadline=timer.end, restart=Errno.ERESTARTNOHAND)
    size = _fds_bytes(n)
    for ptr, bits in ((inp, rin), (outp, rout), (exp, rex)):
        if ptr:
            copy_to_user(t.mm, ptr, bits.to_bytes(size, "little"))
    return count


def _finish_select(t: Task, n: int, inp: int, outp: int, exp: int, timer: CallTimer, tvp: int,
                   layout: str) -> int:
    try:
        ret = core_sys_select(t, n, inp, outp, exp, timer)
    except KernelError as exc:
        ret = -exc.errno
    restore_saved_sigmask_unless(t, ret == -Errno.ERESTARTNOHAND)
    ret = write_back_timeout(t, timer.end, tvp, layout, ret)
    if ret < 0:
        raise KernelError(Errno(-ret))
    return ret


@syscall(ret="select")
def sys_select(t: Task, n: Int, inp: FdSet, outp: FdSet, exp: FdSet, tvp: TimevalIo) -> int:
    """synchronous I/O multiplexing"""
    timer = CallTimer(t, "select_end")
    if not timer.started:
        end = None
        if tvp:
            sec, usec = TIMEVAL.unpack(copy_from_user(t.mm, tvp, TIMEVAL.size))
            q = abs(usec) // 1_000_000 * (1 if usec >= 0 else -1)  # C division truncates
            end = timeout_end(sec + q, (usec - q * 1_000_000) * 1000)
            if end is None:
                raise KernelError(Errno.EINVAL)
        timer.start(end)
    return _finish_select(t, n, inp, outp, exp, timer, tvp, "timeval")


@syscall(ret="select")
def sys_pselect6(t: Task, n: Int, inp: FdSet, outp: FdSet, exp: FdSet, tsp: TimespecIo, sig: SigArgPack) -> int:
    """synchronous I/O multiplexing, with a timespec and a signal mask"""
    timer = CallTimer(t, "select_end")
    if not timer.started:
        umask = size = 0
        if sig:
            umask, size = struct.unpack("<QQ", copy_from_user(t.mm, sig, 16))
        _start_timespec(t, timer, tsp)
        set_user_sigmask(t, umask, size)
    return _finish_select(t, n, inp, outp, exp, timer, tsp, "timespec")
