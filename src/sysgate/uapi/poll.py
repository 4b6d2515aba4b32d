"""poll(2), epoll(7), eventfd(2), timerfd_create(2) and signalfd(2) constants.

Counterpart: include/uapi/asm-generic/poll.h, include/uapi/linux/eventpoll.h,
include/uapi/linux/eventfd.h (via include/linux/eventfd.h), include/uapi/linux/timerfd.h
and include/uapi/linux/signalfd.h. The POLL* bits equal the EPOLL* bits of the same name.
"""

from __future__ import annotations

from typing import Final

POLLIN: Final = 0x0001
POLLPRI: Final = 0x0002
POLLOUT: Final = 0x0004
POLLERR: Final = 0x0008
POLLHUP: Final = 0x0010
POLLNVAL: Final = 0x0020
POLLRDNORM: Final = 0x0040
POLLRDBAND: Final = 0x0080
POLLWRNORM: Final = 0x0100
POLLWRBAND: Final = 0x0200
POLLMSG: Final = 0x0400
POLLREMOVE: Final = 0x1000
POLLRDHUP: Final = 0x2000

EPOLLIN: Final = POLLIN
EPOLLPRI: Final = POLLPRI
EPOLLOUT: Final = POLLOUT
EPOLLERR: Final = POLLERR
EPOLLHUP: Final = POLLHUP
EPOLLNVAL: Final = POLLNVAL
EPOLLRDNORM: Final = POLLRDNORM
EPOLLRDBAND: Final = POLLRDBAND
EPOLLWRNORM: Final = POLLWRNORM
EPOLLWRBAND: Final = POLLWRBAND
EPOLLMSG: Final = POLLMSG
EPOLLRDHUP: Final = POLLRDHUP
EPOLLEXCLUSIVE: Final = 1 << 28
EPOLLWAKEUP: Final = 1 << 29
EPOLLONESHOT: Final = 1 << 30
EPOLLET: Final = 1 << 31

EPOLL_CTL_ADD: Final = 1
EPOLL_CTL_DEL: Final = 2
EPOLL_CTL_MOD: Final = 3
EPOLL_CLOEXEC: Final = 0o2000000

DEFAULT_POLLMASK: Final = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM
"""include/linux/poll.h: what a file without a ->poll is (always readable and writable)."""
POLLIN_SET: Final = POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR
POLLOUT_SET: Final = POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR
POLLEX_SET: Final = POLLPRI
"""fs/select.c: the poll bits that make an fd count as readable, writable, exceptional."""

EFD_SEMAPHORE: Final = 1
EFD_CLOEXEC: Final = 0o2000000
EFD_NONBLOCK: Final = 0o4000

TFD_TIMER_ABSTIME: Final = 1
TFD_TIMER_CANCEL_ON_SET: Final = 2
TFD_CLOEXEC: Final = 0o2000000
TFD_NONBLOCK: Final = 0o4000

SFD_CLOEXEC: Final = 0o2000000
SFD_NONBLOCK: Final = 0o4000
