"""prctl: operations on a process or thread.

Counterpart: kernel/sys.c (SYSCALL_DEFINE5(prctl)). The options glibc, musl and common
programs use are implemented; every other option gives EINVAL, as Linux does for
options it does not know.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import Arg
from sysgate.errors import KernelError
from sysgate.kernel.signal import valid_signal
from sysgate.mm.uaccess import copy_to_user, put_user_s32, strncpy_from_user
from sysgate.syscall import Support, syscall
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

PR_SET_PDEATHSIG = 1
PR_GET_PDEATHSIG = 2
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_SET_NAME = 15
PR_GET_NAME = 16
PR_CAPBSET_READ = 23
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
TASK_COMM_LEN = 16
CAP_LAST_CAP = 40

Option = Annotated[int, Arg("int", 32, True, show="prctl_option")]
PrctlArg = Annotated[int, Arg("unsigned long", show="prctl_arg")]
PrctlArgOut = Annotated[int, Arg("unsigned long", show="exit:prctl_arg")]
"""prctl's arguments mean what the option says; the second and fifth may be where the
kernel writes (PR_GET_NAME, PR_SCHED_CORE_GET), so strace prints them on return."""


@syscall(support=Support.PARTIAL,
         note="PR_SET/GET_NAME, PR_SET/GET_DUMPABLE, PR_SET/GET_PDEATHSIG, PR_CAPBSET_READ, "
         "PR_SET/GET_NO_NEW_PRIVS; other options give EINVAL", ret="prctl")
def sys_prctl(t: Task, option: Option, arg2: PrctlArgOut, arg3: PrctlArg, arg4: PrctlArg, arg5: PrctlArgOut) -> int:
    """operations on a process or thread"""
    if option == PR_SET_NAME:
        name = strncpy_from_user(t.mm, arg2, TASK_COMM_LEN - 1)
        t.comm = name if name is not None else t.mm.read(arg2, TASK_COMM_LEN - 1)
        return 0
    if option == PR_GET_NAME:
        copy_to_user(t.mm, arg2, t.comm[: TASK_COMM_LEN - 1].ljust(TASK_COMM_LEN, b"\0"))
        return 0
    if option == PR_GET_DUMPABLE:
        return t.group.dumpable
    if option == PR_SET_DUMPABLE:
        if arg2 not in (0, 1):
            raise KernelError(Errno.EINVAL)
        t.group.dumpable = arg2
        return 0
    if option == PR_SET_PDEATHSIG:
        if not valid_signal(arg2):
            raise KernelError(Errno.EINVAL)
        t.pdeath_signal = arg2
        return 0
    if option == PR_GET_PDEATHSIG:
        put_user_s32(t.mm, arg2, t.pdeath_signal)
        return 0
    if option == PR_CAPBSET_READ:
        if arg2 > CAP_LAST_CAP:
            raise KernelError(Errno.EINVAL)
        return 1
    if option == PR_SET_NO_NEW_PRIVS:
        if arg2 != 1 or arg3 or arg4 or arg5:
            raise KernelError(Errno.EINVAL)
        t.no_new_privs = True
        return 0
    if option == PR_GET_NO_NEW_PRIVS:
        if arg2 or arg3 or arg4 or arg5:
            raise KernelError(Errno.EINVAL)
        return int(t.no_new_privs)
    raise KernelError(Errno.EINVAL)
