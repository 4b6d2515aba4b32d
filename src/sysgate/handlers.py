"""Every built-in handler module, imported once so their @syscall declarations register.

Counterpart: the obj-y lists of the kernel's Makefiles: which subsystems are built in.
A new handler module is added here; the table builder links .tbl rows to whatever
registered.
"""

from sysgate.arch.x86_64 import sys_prctl as _arch_prctl  # noqa: F401
from sysgate.fs import (  # noqa: F401
    eventfd,
    eventpoll,
    select,
    signalfd,
    sys_attr,
    sys_cwd,
    sys_fcntl,
    sys_locks,
    sys_namei,
    sys_open,
    sys_pipe,
    sys_read_write,
    sys_readdir,
    sys_splice,
    sys_stat,
    sys_statfs,
    sys_sync,
    sys_xattr,
    timerfd,
)
from sysgate.kernel import (  # noqa: F401
    exec_domain,
    exit,  # noqa: A004 - kernel/exit.c's counterpart, not the builtin
    fork,
    itimer,
    posix_timers,
    sys_cred,
    sys_exec,
    sys_futex,
    sys_identity,
    sys_membarrier,
    sys_prctl,
    sys_random,
    sys_rlimit,
    sys_sched,
    sys_session,
    sys_signal,
    sys_thread,
    sys_time,
    sys_utsname,
)
from sysgate.mm import sys_fadvise, sys_memfd, sys_mmap  # noqa: F401
from sysgate.net import sys_socket  # noqa: F401

