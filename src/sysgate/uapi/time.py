"""Clocks and timer flags (include/uapi/linux/time.h) and the encoding of CPU-time and
dynamic clock ids (include/linux/posix-timers_types.h)."""

from typing import Final

CLOCK_REALTIME: Final = 0
CLOCK_MONOTONIC: Final = 1
CLOCK_PROCESS_CPUTIME_ID: Final = 2
CLOCK_THREAD_CPUTIME_ID: Final = 3
CLOCK_MONOTONIC_RAW: Final = 4
CLOCK_REALTIME_COARSE: Final = 5
CLOCK_MONOTONIC_COARSE: Final = 6
CLOCK_BOOTTIME: Final = 7
CLOCK_REALTIME_ALARM: Final = 8
CLOCK_BOOTTIME_ALARM: Final = 9
CLOCK_SGI_CYCLE: Final = 10
CLOCK_TAI: Final = 11
TIMER_ABSTIME: Final = 1
NSEC_PER_SEC: Final = 1_000_000_000

# A negative clockid_t: ~pid << 3 | kind, where kind is one of these (with
# CPUCLOCK_PERTHREAD_MASK set for a thread's clock) or CLOCKFD for a dynamic (fd) clock.
CPUCLOCK_PROF: Final = 0
CPUCLOCK_VIRT: Final = 1
CPUCLOCK_SCHED: Final = 2
CPUCLOCK_PERTHREAD_MASK: Final = 4
CLOCKFD: Final = 3
CLOCKFD_MASK: Final = 7
