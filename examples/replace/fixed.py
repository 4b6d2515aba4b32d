"""Change what existing system calls do, for one run: a deterministic getrandom, and a
uname that reports another release.

    sysgate run --syscalls fixed.py ./show

`replace=True` says that replacing Linux's getrandom (318) and uname (63) is meant; the
replacements live in this kernel only.
"""

from sysgate import Errno, KernelError, Task, uaccess
from sysgate.argtypes import Flags, SizeT, buf_out, struct_out
from typing import Annotated

RELEASE = b"2.6.32-lab"


def install(kernel):  # type: ignore[no-untyped-def]
    @kernel.syscall(nr=318, replace=True)
    def sys_getrandom(t: Task, buf: Annotated[int, buf_out("count")], count: SizeT, flags: Flags) -> int:
        """obtain a series of random bytes (here: always the same ones)"""
        if flags & ~0x7:
            raise KernelError(Errno.EINVAL)
        count = min(count, 256)
        uaccess.copy_to_user(t.mm, buf, bytes(i & 0xFF for i in range(count)))
        return count

    @kernel.syscall(nr=63, replace=True, name="uname")
    def sys_newuname(t: Task, name: Annotated[int, struct_out("struct new_utsname __user *", "new_utsname")]) -> int:
        """get name and information about current kernel (another release)"""
        fields = [b"Linux", b"lab", RELEASE, b"#1", b"x86_64", b"(none)"]
        uaccess.copy_to_user(t.mm, name, b"".join(f.ljust(65, b"\0") for f in fields))
        return 0


if "kernel" in globals():  # run by `sysgate run --syscalls fixed.py`
    install(kernel)  # type: ignore[name-defined]  # noqa: F821
