"""exit and exit_group.

Counterpart: kernel/exit.c. With one thread per process so far, exit and exit_group
both end the process; the status seen by the parent (and by `sysgate run`) is the low
byte of the argument.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sysgate.argtypes import Int
from sysgate.syscall import syscall

if TYPE_CHECKING:
    from sysgate.kernel.task import Task


@syscall()
def sys_exit(t: Task, error_code: Int) -> int:
    """terminate the calling thread"""
    t.kernel.do_group_exit(t, (error_code & 0xFF) << 8)
    return 0


@syscall()
def sys_exit_group(t: Task, error_code: Int) -> int:
    """exit all threads in a process"""
    t.kernel.do_group_exit(t, (error_code & 0xFF) << 8)
    return 0
