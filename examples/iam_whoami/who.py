"""The Linux 0.11 lab: iam() stores a name in the kernel, whoami() gives it back.

    sysgate run --syscalls who.py ./testwho

    iam(const char *name)                    72 in Linux 0.11, 548 here
        copies a name of at most 23 characters into the kernel and returns its length;
        EINVAL (and nothing stored) if it is longer, EFAULT for a bad pointer.
    whoami(char *name, unsigned int size)    73 in Linux 0.11, 549 here
        copies the name and its NUL back and returns its length; EINVAL if `size`
        cannot hold them.

The name lives in the Kernel object, so with the Python API a second run of the same
Kernel sees what the first stored (run_api.py). Bad pointers need no checks here: the
uaccess functions turn them into EFAULT as Linux's do.
"""

from sysgate import Errno, KernelError, Task, uaccess
from sysgate.argtypes import StrIn, UInt, buf_out
from typing import Annotated

NAME_MAX = 23
NR_IAM, NR_WHOAMI = 548, 549


def install(kernel):  # type: ignore[no-untyped-def]
    """Declare iam and whoami in `kernel`; the stored name is this kernel's own."""
    stored = {"name": b""}

    @kernel.syscall(nr=NR_IAM)
    def sys_iam(t: Task, name: StrIn) -> int:
        """store a name in the kernel"""
        copied = uaccess.strncpy_from_user(t.mm, name, NAME_MAX + 1)
        if copied is None:  # no NUL within 24 bytes: longer than 23 characters
            raise KernelError(Errno.EINVAL)
        stored["name"] = copied
        return len(copied)

    @kernel.syscall(nr=NR_WHOAMI)
    def sys_whoami(t: Task, name: Annotated[int, buf_out("size")], size: UInt) -> int:
        """get the name stored by iam"""
        value = stored["name"]
        if size < len(value) + 1:
            raise KernelError(Errno.EINVAL)
        uaccess.copy_to_user(t.mm, name, value + b"\0")
        return len(value)


if "kernel" in globals():  # run by `sysgate run --syscalls who.py`
    install(kernel)  # type: ignore[name-defined]  # noqa: F821
