"""epoll: epoll_create, epoll_create1, epoll_ctl, epoll_wait, epoll_pwait, epoll_pwait2.

Counterpart: fs/eventpoll.c. An epoll instance is a File (anon_inode:[eventpoll]) with
an interest list keyed by (file, fd) and a ready list. Linux puts an item on the ready
list from the watched file's wake-up callback; sysgate looks at the items when the
instance is waited on or polled (ep_collect below): a level-triggered item that is
ready joins the ready list, an edge-triggered one when the file woke its waiters since
the last look (File.poll_seq changed) or its mask gained a bit. ep_send_events then
works as Linux's: each ready item is polled again, reported if it still has events,
disabled if EPOLLONESHOT, put back at the tail if level-triggered.

A registration goes away with EPOLL_CTL_DEL or when the last reference to the watched
file goes (File.put calls file_released), not when one of its descriptors is closed,
as in Linux. Nesting (an epoll watching an epoll) is checked for loops and depth
(ELOOP) as ep_loop_check does. Not modelled: max_user_watches (ENOSPC) and the wake-up
path limits of reverse_path_check (EINVAL); EPOLLEXCLUSIVE is accepted and checked,
and every waiter is woken (only one task waits on an instance in most programs).
"""

from __future__ import annotations

import struct
import time
from typing import TYPE_CHECKING, Annotated

from sysgate.arch.x86_64.structs import TIMESPEC
from sysgate.argtypes import OUT, Arg, Int, IntFd, SizeT, UserPtr, struct_in
from sysgate.errors import KernelError
from sysgate.fs.anon_inodes import AnonFile
from sysgate.fs.file import FMODE_PATH, File, PollWait
from sysgate.fs.select import (
    SigsetIn,
    restore_saved_sigmask_unless,
    set_user_sigmask,
    timeout_end,
    waits_of,
)
from sysgate.kernel.wait import WaitQueue, block, signal_pending
from sysgate.mm.uaccess import access_ok, copy_from_user, copy_to_user
from sysgate.syscall import syscall
from sysgate.uapi import poll as P
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

EPOLL_EVENT = struct.Struct("<IQ")
"""struct epoll_event: packed on x86-64 (12 bytes)."""
EP_PRIVATE_BITS = P.EPOLLWAKEUP | P.EPOLLONESHOT | P.EPOLLET | P.EPOLLEXCLUSIVE
EPOLLEXCLUSIVE_OK_BITS = (P.EPOLLIN | P.EPOLLOUT | P.EPOLLERR | P.EPOLLHUP | P.EPOLLWAKEUP | P.EPOLLET
                          | P.EPOLLEXCLUSIVE)
EP_MAX_NESTS = 4
EP_MAX_EVENTS = 0x7FFFFFFF // EPOLL_EVENT.size

EpollFlags = Annotated[int, Arg("int", 32, True, show="epoll_flags")]
EpollOp = Annotated[int, Arg("int", 32, True, show="epoll_op")]
EventIn = Annotated[int, struct_in("struct epoll_event __user *", "epoll_event")]
EventsOut = Annotated[int, UserPtr("struct epoll_event __user *", show="epoll_events", direction=OUT)]
TimespecIn = Annotated[int, struct_in("const struct __kernel_timespec __user *", "timespec")]


class EpItem:
    """struct epitem: one (file, fd) in an interest list."""

    __slots__ = ("data", "events", "fd", "file", "last", "seq")

    def __init__(self, file: File, fd: int, events: int, data: int) -> None:
        self.file = file
        self.fd = fd
        self.events = events
        self.data = data
        self.seq = 0  # the file's poll_seq when last looked at
        self.last = 0  # its masked events then

    def poll(self, t: Task | None) -> int:
        return self.file.poll(t) & self.events & ~EP_PRIVATE_BITS


class EventPoll(AnonFile):
    """struct eventpoll, and the File that holds it."""

    name = "eventpoll"

    def __init__(self, flags: int) -> None:
        super().__init__(flags)
        self.items: dict[tuple[File, int], EpItem] = {}
        self.rdllist: dict[EpItem, None] = {}  # ordered: the ready list
        self.wq = WaitQueue()  # epoll_wait sleepers, and the instance's own pollers

    # -- the interest list ------------------------------------------------------------

    def _look(self, t: Task | None, item: EpItem) -> bool:
        """Poll `item` and note its state; whether it has become ready (see the docstring)."""
        mask = item.poll(t)
        seq = item.file.poll_seq()
        edge = seq != item.seq or bool(mask & ~item.last)
        item.seq, item.last = seq, mask
        if not mask:
            return False
        return edge or not item.events & P.EPOLLET

    def collect(self, t: Task | None) -> None:
        for item in self.items.values():
            if item.events & ~EP_PRIVATE_BITS and self._look(t, item) and item not in self.rdllist:
                self.rdllist[item] = None

    def insert(self, t: Task, file: File, fd: int, events: int, data: int) -> None:
        item = EpItem(file, fd, events, data)
        self.items[(file, fd)] = item
        if file.f_ep is None:
            file.f_ep = []
        file.f_ep.append(self)
        item.seq = file.poll_seq()
        item.last = item.poll(t)
        if item.last:
            self.rdllist[item] = None
            self.wq.wake_up()

    def modify(self, t: Task, item: EpItem, events: int, data: int) -> None:
        item.events, item.data = events, data
        item.seq = item.file.poll_seq()
        item.last = item.poll(t)
        if item.last and item not in self.rdllist:
            self.rdllist[item] = None
            self.wq.wake_up()

    def remove(self, item: EpItem) -> None:
        del self.items[(item.file, item.fd)]
        self.rdllist.pop(item, None)
        if item.file.f_ep is not None and not any(f is item.file for f, _ in self.items):
            try:
                item.file.f_ep.remove(self)
            except ValueError:
                pass

    def file_released(self, file: File) -> None:
        """eventpoll_release: `file` is gone; its registrations go with it."""
        for key in [k for k in self.items if k[0] is file]:
            self.remove(self.items[key])

    def release(self) -> None:
        for item in list(self.items.values()):
            self.remove(item)

    # -- readiness ----------------------------------------------------------------------

    def poll(self, t: Task | None) -> int:
        """ep_eventpoll_poll: readable while an item on the ready list has events."""
        self.collect(t)
        for item in list(self.rdllist):
            if item.poll(t):
                return P.EPOLLIN | P.EPOLLRDNORM
            del self.rdllist[item]
        return 0

    poll_wait_exact = True

    def poll_wait(self) -> PollWait:
        """The instance's own queue, and what each item's file waits on; an edge-triggered
        item that is ready already waits only for the events it does not have."""
        watched = []
        for item in self.items.values():
            events = item.events & ~EP_PRIVATE_BITS
            if item.events & P.EPOLLET:
                events &= ~item.last
            if events:
                watched.append((item.file, events, item.last if item.events & P.EPOLLET else 0))
        queues, host = waits_of(watched)
        return [self.wq, *queues], host

    def poll_seq(self) -> int:
        return sum(item.file.poll_seq() for item in self.items.values())

    # -- ep_send_events --------------------------------------------------------------------

    def send_events(self, t: Task, uevents: int, maxevents: int) -> int:
        sent = 0
        for item in list(self.rdllist):
            if sent >= maxevents:
                break
            del self.rdllist[item]
            revents = item.poll(t)
            if not revents:
                continue
            try:
                copy_to_user(t.mm, uevents + sent * EPOLL_EVENT.size, EPOLL_EVENT.pack(revents, item.data))
            except KernelError:
                self.rdllist = {item: None, **self.rdllist}  # back at the head, as list_add
                if not sent:
                    raise
                break
            sent += 1
            if item.events & P.EPOLLONESHOT:
                item.events &= EP_PRIVATE_BITS
            elif not item.events & P.EPOLLET:
                self.rdllist[item] = None  # level-triggered: stays ready, at the tail
        return sent

    def depth_below(self, inserting_into: EventPoll, depth: int = 0) -> int:
        """ep_loop_check_proc: how deep epoll instances nest under this one; more than
        EP_MAX_NESTS when `inserting_into` is among them (a loop)."""
        result = 0
        for item in self.items.values():
            if isinstance(item.file, EventPoll):
                if item.file is inserting_into or depth > EP_MAX_NESTS:
                    result = EP_MAX_NESTS + 1
                else:
                    result = max(result, item.file.depth_below(inserting_into, depth + 1) + 1)
                if result > EP_MAX_NESTS:
                    break
        return result

    def depth_above(self, depth: int = 0) -> int:
        """ep_get_upwards_depth_proc: how many epoll levels watch this one."""
        return max((ep.depth_above(depth + 1) + 1 for ep in self.f_ep or ()), default=0)


# -- the system calls ----------------------------------------------------------------------


def do_epoll_create(t: Task, flags: int) -> int:
    if flags & ~P.EPOLL_CLOEXEC:
        raise KernelError(Errno.EINVAL)
    fd = t.files.alloc_fd(0, t.group.nofile())
    return t.files.install(fd, EventPoll(0), bool(flags & P.EPOLL_CLOEXEC))


@syscall(ret="fd")
def sys_epoll_create(t: Task, size: Int) -> int:
    """open an epoll file descriptor"""
    if size <= 0:
        raise KernelError(Errno.EINVAL)
    return do_epoll_create(t, 0)


@syscall(ret="fd")
def sys_epoll_create1(t: Task, flags: EpollFlags) -> int:
    """open an epoll file descriptor, with flags"""
    return do_epoll_create(t, flags)


@syscall()
def sys_epoll_ctl(t: Task, epfd: IntFd, op: EpollOp, fd: IntFd, event: EventIn) -> int:
    """control interface for an epoll file descriptor"""
    events = data = 0
    has_event = op != P.EPOLL_CTL_DEL
    if has_event:
        events, data = EPOLL_EVENT.unpack(copy_from_user(t.mm, event, EPOLL_EVENT.size))
    f = t.files.get(epfd)
    tf = t.files.get(fd)
    if (f.f_mode | tf.f_mode) & FMODE_PATH:
        raise KernelError(Errno.EBADF)  # fdget: an O_PATH descriptor is no file to it
    if not tf.can_poll:
        raise KernelError(Errno.EPERM)
    if has_event and events & P.EPOLLWAKEUP and not t.cred.capable():
        events &= ~P.EPOLLWAKEUP  # ep_take_care_of_epollwakeup: no CAP_BLOCK_SUSPEND
    if f is tf or not isinstance(f, EventPoll):
        raise KernelError(Errno.EINVAL)
    if has_event and events & P.EPOLLEXCLUSIVE:
        if op == P.EPOLL_CTL_MOD:
            raise KernelError(Errno.EINVAL)
        if op == P.EPOLL_CTL_ADD and (isinstance(tf, EventPoll) or events & ~EPOLLEXCLUSIVE_OK_BITS):
            raise KernelError(Errno.EINVAL)
    if op == P.EPOLL_CTL_ADD and isinstance(tf, EventPoll):
        depth = tf.depth_below(f)
        if depth > EP_MAX_NESTS or depth + 1 + f.depth_above() > EP_MAX_NESTS:
            raise KernelError(Errno.ELOOP)
    item = f.items.get((tf, fd))
    if op == P.EPOLL_CTL_ADD:
        if item is not None:
            raise KernelError(Errno.EEXIST)
        f.insert(t, tf, fd, events | P.EPOLLERR | P.EPOLLHUP, data)
    elif op == P.EPOLL_CTL_DEL:
        if item is None:
            raise KernelError(Errno.ENOENT)
        f.remove(item)
    elif op == P.EPOLL_CTL_MOD:
        if item is None:
            raise KernelError(Errno.ENOENT)
        if item.events & P.EPOLLEXCLUSIVE:
            raise KernelError(Errno.EINVAL)
        f.modify(t, item, events | P.EPOLLERR | P.EPOLLHUP, data)
    else:
        raise KernelError(Errno.EINVAL)
    return 0


def do_epoll_wait(t: Task, epfd: int, events: int, maxevents: int, end: int | None) -> int:
    """do_epoll_wait and ep_poll: `end` is the CLOCK_MONOTONIC end (0: do not wait)."""
    if maxevents <= 0 or maxevents > EP_MAX_EVENTS:
        raise KernelError(Errno.EINVAL)
    if not access_ok(events, maxevents * EPOLL_EVENT.size):
        raise KernelError(Errno.EFAULT)
    ep = t.files.get(epfd)
    if not isinstance(ep, EventPoll):
        raise KernelError(Errno.EINVAL)
    ep.collect(t)
    if ep.rdllist:
        sent = ep.send_events(t, events, maxevents)
        if sent:
            return sent
    st = t.call_state()
    if end is not None and (end == 0 or st.timed_out or time.monotonic_ns() >= end):
        return 0
    if signal_pending(t):
        raise KernelError(Errno.EINTR)
    queues, host = ep.poll_wait()
    block(t, queues=queues, host=host, deadline=end, restart=Errno.EINTR)


def _ms_end(t: Task, timeout: int) -> int | None:
    """ep_timeout_to_timespec, once per call (kept in the call state)."""
    data = t.call_state().data
    if "epoll_end" not in data:
        data["epoll_end"] = None if timeout < 0 else timeout_end(timeout // 1000, timeout % 1000 * 1_000_000)
    end = data["epoll_end"]
    assert end is None or isinstance(end, int)
    return end


def _pwait(t: Task, epfd: int, events: int, maxevents: int, end: int | None, sigmask: int,
           sigsetsize: int) -> int:
    data = t.call_state().data
    if "epoll_mask" not in data:
        data["epoll_mask"] = True
        set_user_sigmask(t, sigmask, sigsetsize)
    try:
        ret = do_epoll_wait(t, epfd, events, maxevents, end)
    except KernelError as exc:
        restore_saved_sigmask_unless(t, exc.errno == Errno.EINTR)
        raise
    restore_saved_sigmask_unless(t, False)
    return ret


@syscall()
def sys_epoll_wait(t: Task, epfd: IntFd, events: EventsOut, maxevents: Int, timeout: Int) -> int:
    """wait for an I/O event on an epoll file descriptor"""
    return do_epoll_wait(t, epfd, events, maxevents, _ms_end(t, timeout))


@syscall()
def sys_epoll_pwait(t: Task, epfd: IntFd, events: EventsOut, maxevents: Int, timeout: Int, sigmask: SigsetIn,
                    sigsetsize: SizeT) -> int:
    """wait for an I/O event on an epoll file descriptor, with a signal mask"""
    return _pwait(t, epfd, events, maxevents, _ms_end(t, timeout), sigmask, sigsetsize)


@syscall()
def sys_epoll_pwait2(t: Task, epfd: IntFd, events: EventsOut, maxevents: Int, timeout: TimespecIn,
                     sigmask: SigsetIn, sigsetsize: SizeT) -> int:
    """wait for an I/O event on an epoll file descriptor, with a timespec and a signal mask"""
    data = t.call_state().data
    if "epoll_end" not in data:
        end = None
        if timeout:
            sec, nsec = TIMESPEC.unpack(copy_from_user(t.mm, timeout, TIMESPEC.size))
            end = timeout_end(sec, nsec)
            if end is None:
                raise KernelError(Errno.EINVAL)
        data["epoll_end"] = end
    end = data["epoll_end"]
    assert end is None or isinstance(end, int)
    return _pwait(t, epfd, events, maxevents, end, sigmask, sigsetsize)

