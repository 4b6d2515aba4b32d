"""sysgate: the Linux system call, built in Python as a user-space kernel.

Runs unmodified Linux x86-64 programs on an emulated CPU and serves every system
call they make the way the Linux kernel does.
"""

from sysgate import argtypes
from sysgate.api import RunResult, run
from sysgate.errors import KernelError, SysgateError
from sysgate.kernel.kernel import ExitStatus, Kernel
from sysgate.kernel.task import Task
from sysgate.mm import uaccess
from sysgate.syscall import Support
from sysgate.uapi.errno import Errno

__all__ = [
    "Errno",
    "ExitStatus",
    "Kernel",
    "KernelError",
    "RunResult",
    "Support",
    "SysgateError",
    "Task",
    "argtypes",
    "run",
    "uaccess",
]
__version__ = "0.1.0"
