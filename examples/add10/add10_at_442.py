"""The article's number, 442, knowingly: it is mount_setattr in Linux 6.12's table.

    sysgate run --syscalls add10_at_442.py ./add10 442     # exit status 20

Declaring a number Linux already assigns is refused unless `replace=True` says you mean
it; the built-in is then replaced in this kernel only.
"""

from sysgate import Task
from sysgate.argtypes import Long


@kernel.syscall(nr=442, replace=True)  # type: ignore[name-defined]  # noqa: F821 - provided by the CLI
def sys_add10(t: Task, x: Long) -> int:
    """add ten to a number"""
    return x + 10
