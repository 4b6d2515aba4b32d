"""/proc/version: the kernel's banner.

Counterpart: fs/proc/version.c (version_proc_show) and init/version.c
(linux_proc_banner: "%s version %s (builder@host) (compiler) %s"). The system name,
release and version are the utsname uname(2) reports; sysgate's "compiler" is the
Python that runs it.
"""

from __future__ import annotations

import platform
from typing import TYPE_CHECKING

from sysgate.kernel.sys_utsname import UTS_VERSION

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

LINUX_COMPILE_BY = "sysgate"
LINUX_COMPILE_HOST = "sysgate"


def linux_compiler() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}"


def show_version(t: Task) -> bytes:
    release = t.kernel.release.decode("latin-1")
    version = UTS_VERSION.decode("latin-1")
    return (f"Linux version {release} ({LINUX_COMPILE_BY}@{LINUX_COMPILE_HOST}) ({linux_compiler()}) "
            f"{version}\n").encode()
