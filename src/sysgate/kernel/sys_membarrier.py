"""membarrier: memory barriers on every thread of a process, or of the system.

Counterpart: kernel/sched/membarrier.c, as built for x86-64 (CONFIG_RSEQ and
ARCH_HAS_MEMBARRIER_SYNC_CORE on, no nohz_full CPU). The machine has one CPU, so, as
on a one-CPU Linux, a barrier has no other CPU to interrupt: each command checks its
flags and its registration (EPERM for an expedited command the process did not register
for) and returns 0. The registrations are the address space's (mm->membarrier_state):
the threads sharing it share them, and execve starts from none.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import Arg
from sysgate.errors import KernelError
from sysgate.syscall import syscall
from sysgate.uapi import membarrier as mb
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task
    from sysgate.mm.mm import Mm

MembarrierCmd = Annotated[int, Arg("int", 32, True, show="membarrier_cmd")]
MembarrierFlags = Annotated[int, Arg("unsigned int", 32, show="membarrier_flags")]
CpuId = Annotated[int, Arg("int", 32, True, show="membarrier_cpu")]

# mm->membarrier_state bits (include/linux/sched/mm.h).
PRIVATE_EXPEDITED_READY = 1 << 0
PRIVATE_EXPEDITED = 1 << 1
GLOBAL_EXPEDITED_READY = 1 << 2
GLOBAL_EXPEDITED = 1 << 3
PRIVATE_EXPEDITED_SYNC_CORE_READY = 1 << 4
PRIVATE_EXPEDITED_SYNC_CORE = 1 << 5
PRIVATE_EXPEDITED_RSEQ_READY = 1 << 6
PRIVATE_EXPEDITED_RSEQ = 1 << 7

CMD_BITMASK = (
    mb.MEMBARRIER_CMD_GLOBAL | mb.MEMBARRIER_CMD_GLOBAL_EXPEDITED | mb.MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED
    | mb.MEMBARRIER_CMD_PRIVATE_EXPEDITED | mb.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED
    | mb.MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE | mb.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE
    | mb.MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ | mb.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ
    | mb.MEMBARRIER_CMD_GET_REGISTRATIONS
)
"""MEMBARRIER_CMD_QUERY's answer: every command this kernel has."""

_READY = {  # the barrier commands that need a registration: the state bit they need
    mb.MEMBARRIER_CMD_PRIVATE_EXPEDITED: PRIVATE_EXPEDITED_READY,
    mb.MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE: PRIVATE_EXPEDITED_SYNC_CORE_READY,
    mb.MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ: PRIVATE_EXPEDITED_RSEQ_READY,
}
_REGISTER = {  # the registration commands: the state bits they set
    mb.MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED: GLOBAL_EXPEDITED | GLOBAL_EXPEDITED_READY,
    mb.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: PRIVATE_EXPEDITED | PRIVATE_EXPEDITED_READY,
    mb.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE:
        PRIVATE_EXPEDITED | PRIVATE_EXPEDITED_SYNC_CORE | PRIVATE_EXPEDITED_SYNC_CORE_READY,
    mb.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ:
        PRIVATE_EXPEDITED | PRIVATE_EXPEDITED_RSEQ | PRIVATE_EXPEDITED_RSEQ_READY,
}

_STATE: weakref.WeakKeyDictionary[Mm, int] = weakref.WeakKeyDictionary()
"""mm->membarrier_state of each address space; a new one (execve) has none."""


def membarrier_state(mm: Mm) -> int:
    return _STATE.get(mm, 0)


def membarrier_get_registrations(mm: Mm) -> int:
    """The registration commands whose state is set (membarrier_get_registrations)."""
    state = membarrier_state(mm)
    out = 0
    for cmd, bits in ((mb.MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, GLOBAL_EXPEDITED | GLOBAL_EXPEDITED_READY),
                      (mb.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, PRIVATE_EXPEDITED | PRIVATE_EXPEDITED_READY),
                      (mb.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE,
                       PRIVATE_EXPEDITED_SYNC_CORE | PRIVATE_EXPEDITED_SYNC_CORE_READY),
                      (mb.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ,
                       PRIVATE_EXPEDITED_RSEQ | PRIVATE_EXPEDITED_RSEQ_READY)):
        if state & bits:
            out |= cmd
    return out


@syscall(ret="membarrier")
def sys_membarrier(t: Task, cmd: MembarrierCmd, flags: MembarrierFlags, cpu_id: CpuId) -> int:
    """issue memory barriers on a set of threads"""
    if cmd == mb.MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ:
        if flags not in (0, mb.MEMBARRIER_CMD_FLAG_CPU):
            raise KernelError(Errno.EINVAL)
    elif flags:
        raise KernelError(Errno.EINVAL)
    mm = t.mm
    if cmd == mb.MEMBARRIER_CMD_QUERY:
        return CMD_BITMASK
    if cmd in (mb.MEMBARRIER_CMD_GLOBAL, mb.MEMBARRIER_CMD_GLOBAL_EXPEDITED):
        return 0  # one CPU: no other CPU to wait for or to interrupt
    ready = _READY.get(cmd)
    if ready is not None:
        if not membarrier_state(mm) & ready:
            raise KernelError(Errno.EPERM)
        return 0  # the one CPU runs this thread: the barrier is the system call itself
    bits = _REGISTER.get(cmd)
    if bits is not None:
        _STATE[mm] = membarrier_state(mm) | bits
        return 0
    if cmd == mb.MEMBARRIER_CMD_GET_REGISTRATIONS:
        return membarrier_get_registrations(mm)
    raise KernelError(Errno.EINVAL)
