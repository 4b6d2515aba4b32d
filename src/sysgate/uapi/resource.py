"""Resource limits (include/uapi/asm-generic/resource.h) and their defaults for init
(include/asm-generic/resource.h INIT_RLIMITS, with Debian's usual values)."""

from typing import Final

RLIMIT_CPU: Final = 0
RLIMIT_FSIZE: Final = 1
RLIMIT_DATA: Final = 2
RLIMIT_STACK: Final = 3
RLIMIT_CORE: Final = 4
RLIMIT_RSS: Final = 5
RLIMIT_NPROC: Final = 6
RLIMIT_NOFILE: Final = 7
RLIMIT_MEMLOCK: Final = 8
RLIMIT_AS: Final = 9
RLIMIT_LOCKS: Final = 10
RLIMIT_SIGPENDING: Final = 11
RLIMIT_MSGQUEUE: Final = 12
RLIMIT_NICE: Final = 13
RLIMIT_RTPRIO: Final = 14
RLIMIT_RTTIME: Final = 15
RLIM_NLIMITS: Final = 16
RLIM_INFINITY: Final = (1 << 64) - 1
RLIM64_INFINITY: Final = (1 << 64) - 1

NAMES: Final = [
    "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
    "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
]

RUSAGE_SELF: Final = 0
RUSAGE_CHILDREN: Final = -1
RUSAGE_BOTH: Final = -2
RUSAGE_THREAD: Final = 1

# include/uapi/linux/resource.h: getpriority/setpriority's `which`.
PRIO_PROCESS: Final = 0
PRIO_PGRP: Final = 1
PRIO_USER: Final = 2
