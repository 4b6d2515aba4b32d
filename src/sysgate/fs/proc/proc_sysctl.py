"""/proc/sys: the kernel's tunables, the ones programs read.

Counterpart: fs/proc/proc_sysctl.c (the directories, test_perm) with the tables of
kernel/sysctl.c, kernel/utsname_sysctl.c, drivers/char/random.c, mm/ and fs/. Each
value is the kernel's own: the names uname reports (and hostname and domainname can be
written, as sethostname and setdomainname would set them, by root), the limits sysgate
applies (fs.nr_open, vm.mmap_min_addr, kernel.ngroups_max, the capability set).
Tunables sysgate does not act on are read-only here (mode 0444) instead of accepting
writes that would change nothing; entries sysgate does not have are absent (ENOENT).
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

from sysgate.fs.fdtable import NR_OPEN
from sysgate.fs.proc.generic import ProcNode, Show, StaticDir, Store, dir_node, file_node
from sysgate.kernel.sys_utsname import UTS_VERSION

if TYPE_CHECKING:
    from sysgate.kernel.kernel import Kernel
    from sysgate.kernel.task import Task

NEW_UTS_LEN = 64
PID_MAX_DEFAULT = 32768
"""include/linux/threads.h: pid_max on a kernel with few CPUs (sysgate's has one)."""
NGROUPS_MAX = 65536
CAP_LAST_CAP = 40
RANDOMIZE_VA_SPACE = 2
"""Full randomisation, Linux's default; sysgate starts programs with ADDR_NO_RANDOMIZE
in their personality instead (as `setarch -R`), unless run with --aslr."""

_boot_ids: weakref.WeakKeyDictionary[Kernel, str] = weakref.WeakKeyDictionary()

Value = Callable[["Task"], str]


def _uuid(t: Task) -> str:
    """A fresh random UUID on every read, as /proc/sys/kernel/random/uuid."""
    return str(uuid.UUID(bytes=t.kernel.random_bytes(16), version=4))


def _mmap_min_addr(t: Task) -> str:
    return str(t.mm.mmap_min_addr)


def _boot_id(t: Task) -> str:
    """random/boot_id: one random UUID per boot of the kernel."""
    k = t.kernel
    if k not in _boot_ids:
        _boot_ids[k] = str(uuid.UUID(bytes=k.random_bytes(16), version=4))
    return _boot_ids[k]


def _domainname(t: Task) -> str:
    return bytes(t.kernel.domainname).decode("latin-1")


def _hostname(t: Task) -> str:
    return bytes(t.kernel.hostname).decode("latin-1")


def _osrelease(t: Task) -> str:
    return bytes(t.kernel.release).decode("latin-1")


def _uts_store(attr: str) -> Store:
    """proc_do_uts_string: the text up to a newline or NUL, at most 64 bytes (only root
    can open the file for writing: its mode is 0644)."""

    def store(t: Task, data: bytes) -> int:
        value = data.split(b"\n", 1)[0].split(b"\0", 1)[0][: NEW_UTS_LEN]
        setattr(t.kernel, attr, value)
        return len(data)

    return store


# name -> (mode, value, store); a dict value is a subdirectory. Names sorted as Linux lists them.
Table: TypeAlias = dict[str, "tuple[int, Value, Store | None] | Table"]

TABLE: Table = {
    "fs": {
        "file-max": (0o444, lambda t: str((1 << 63) - 1), None),
        "nr_open": (0o444, lambda t: str(NR_OPEN), None),
    },
    "kernel": {
        "cap_last_cap": (0o444, lambda t: str(CAP_LAST_CAP), None),
        "domainname": (0o644, _domainname, _uts_store("domainname")),
        "hostname": (0o644, _hostname, _uts_store("hostname")),
        "ngroups_max": (0o444, lambda t: str(NGROUPS_MAX), None),
        "osrelease": (0o444, _osrelease, None),
        "ostype": (0o444, lambda t: "Linux", None),
        "overflowgid": (0o444, lambda t: "65534", None),
        "overflowuid": (0o444, lambda t: "65534", None),
        "pid_max": (0o444, lambda t: str(PID_MAX_DEFAULT), None),
        "random": {
            "boot_id": (0o444, _boot_id, None),
            "entropy_avail": (0o444, lambda t: "256", None),
            "poolsize": (0o444, lambda t: "256", None),
            "uuid": (0o444, _uuid, None),
        },
        "randomize_va_space": (0o444, lambda t: str(RANDOMIZE_VA_SPACE), None),
        "version": (0o444, lambda t: UTS_VERSION.decode("latin-1"), None),
    },
    "vm": {
        "mmap_min_addr": (0o444, _mmap_min_addr, None),
        "overcommit_memory": (0o444, lambda t: "0", None),
        "overcommit_ratio": (0o444, lambda t: "50", None),
    },
}


def _subdir(table: Table) -> Callable[[tuple[bytes, ...]], list[ProcNode]]:
    return lambda parts: _entries(table, parts)


def _text(value: Value) -> Show:
    return lambda t: (value(t) + "\n").encode("latin-1")


def _entries(table: Table, parts: tuple[bytes, ...]) -> list[ProcNode]:
    out = []
    for name, spec in sorted(table.items()):
        here = parts + (name.encode(),)
        if isinstance(spec, dict):
            out.append(dir_node(here, 0o555, StaticDir(here, _subdir(spec)), sysctl=True))
        else:
            mode, value, store = spec
            out.append(file_node(here, mode, _text(value), store=store, sysctl=True))
    return out


def sys_dir(parts: tuple[bytes, ...]) -> ProcNode:
    """/proc/sys."""
    return dir_node(parts, 0o555, StaticDir(parts, lambda p: _entries(TABLE, p)), sysctl=True)
