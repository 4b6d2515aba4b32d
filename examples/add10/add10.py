"""The seed article's exercise: a system call that adds 10 to its argument.

    sysgate run --syscalls add10.py ./add10          # exit status 20

Linux assigns numbers up to 462 (mount_setattr is 442, where the article put its call
before that number was taken); 512-547 belong to x32, so a new call goes at 548 or above.
The CLI runs this file with its Kernel bound to `kernel`.
"""

from sysgate import Task
from sysgate.argtypes import Long


@kernel.syscall(nr=548)  # type: ignore[name-defined]  # noqa: F821 - provided by `sysgate run --syscalls`
def sys_add10(t: Task, x: Long) -> int:
    """add ten to a number"""
    return x + 10
