"""/proc/PID/mounts, /proc/PID/mountinfo and /proc/filesystems: the mounts a guest sees.

Counterpart: fs/proc_namespace.c (show_vfsmnt, show_mountinfo) and fs/filesystems.c
(filesystems_proc_show). A guest's files are the host's (below its root folder, with
--root), except /proc, which is sysgate's own. So its mount table is the host's (as
sysgate itself sees it), seen from the guest's root as a chrooted process sees it on
Linux (mounts outside the root are left out, the others named relative to it), with
the host's /proc and everything mounted below it replaced by one proc mount: sysgate's.
/proc/filesystems lists the types of those mounts ("nodev" for the ones without a
device), proc among them.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from sysgate.fs.proc import generic

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

PROC_MNT_OPTS = "rw,nosuid,nodev,noexec,relatime"
"""How /proc is mounted on every distribution."""
_SB_OPTS = {"sync", "dirsync", "mand", "lazytime"}
"""show_sb_opts: the superblock flags that come before a file system's own options."""


@dataclass(frozen=True, slots=True)
class Mount:
    """One line of mountinfo; `point` unescaped, the other text fields as the kernel
    escapes them (mangle)."""

    mnt_id: int
    parent: int
    dev: str  # "major:minor"
    root: str
    point: str
    opts: str  # per-mount options: rw/ro, nosuid, ...
    tags: str  # the optional fields ("shared:1 master:2"), "" if none
    fstype: str
    source: str
    super_opts: str


def unescape(text: str) -> str:
    """Undo mangle's octal escapes (\\040 for a space ...)."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 4 <= len(text) and text[i + 1 : i + 4].isdigit():
            out.append(chr(int(text[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def mangle(text: str, chars: str = " \t\n\\") -> str:
    """seq_escape: the characters in `chars` as \\ooo."""
    return "".join("\\%03o" % ord(ch) if ch in chars else ch for ch in text)


def parse_mountinfo(text: str) -> list[Mount]:
    mounts = []
    for line in text.splitlines():
        fields = line.split(" ")
        if "-" not in fields[6:]:
            continue
        sep = fields.index("-", 6)
        tail = fields[sep + 1 :]
        if len(tail) < 3 or len(fields) < 6:
            continue
        mounts.append(Mount(int(fields[0]), int(fields[1]), fields[2], fields[3], unescape(fields[4]), fields[5],
                            " ".join(fields[6:sep]), tail[0], tail[1], " ".join(tail[2:])))
    return mounts


def host_mounts() -> list[Mount]:
    """The mount table sysgate itself runs in."""
    try:
        with open("/proc/self/mountinfo", encoding="latin-1") as f:
            return parse_mountinfo(f.read())
    except OSError:
        return []


def _below(path: str, top: str) -> str | None:
    """`path` relative to the directory `top` (as an absolute path), or None if outside."""
    if top == "/":
        return path
    if path == top:
        return "/"
    if path.startswith(top + "/"):
        return path[len(top) :]
    return None


@functools.cache
def _host_proc() -> Mount | None:
    return next((m for m in host_mounts() if m.point == "/proc" and m.fstype == "proc"), None)


def proc_mnt_id() -> int:
    """The id of sysgate's /proc mount: the host's /proc's, whose place it takes."""
    host = _host_proc()
    if host is not None:
        return host.mnt_id
    return max((m.mnt_id for m in host_mounts()), default=0) + 1


def guest_root(t: Task) -> str:
    """The host directory that is the task's root ("/" without a root folder)."""
    root = t.fs.root
    return os.path.normpath(root.host) if root is not None else "/"


def guest_mounts(t: Task) -> list[Mount]:
    """The task's mount table: the host's seen from its root, with sysgate's /proc."""
    root = guest_root(t)
    proc_point = "/proc" if root == "/" else root + "/proc"
    out: list[Mount] = []
    parent_id = 0
    proc_at: int | None = None
    for m in host_mounts():
        if _below(m.point, proc_point) is not None:
            if proc_at is None:
                proc_at = len(out)  # sysgate's /proc takes the place of the host's
            continue
        if _below(proc_point, m.point) is not None:
            parent_id = m.mnt_id  # the deepest mount holding /proc (mounts come parent first)
        point = _below(m.point, root)
        if point is not None:
            out.append(replace(m, point=point))
    minor = os.minor(generic.PROC_DEV)
    proc = Mount(proc_mnt_id(), parent_id, f"{os.major(generic.PROC_DEV)}:{minor}", "/", "/proc", PROC_MNT_OPTS, "",
                 "proc", "proc", "rw")
    out.insert(len(out) if proc_at is None else proc_at, proc)
    return out


def show_mountinfo(t: Task) -> bytes:
    lines = []
    for m in guest_mounts(t):
        tags = " " + m.tags if m.tags else ""
        lines.append(f"{m.mnt_id} {m.parent} {m.dev} {m.root} {mangle(m.point)} {m.opts}{tags} - {m.fstype} "
                     f"{m.source} {m.super_opts}\n")
    return "".join(lines).encode("latin-1")


def mounts_line(m: Mount) -> str:
    """show_vfsmnt's line from a mountinfo entry: ro/rw, the superblock flags, the
    per-mount options, then the file system's own options."""
    mnt = m.opts.split(",")
    sb = m.super_opts.split(",")[1:] if m.super_opts else []
    sb_flags = []
    while sb and sb[0] in _SB_OPTS:
        sb_flags.append(sb.pop(0))
    opts = ",".join([mnt[0], *sb_flags, *mnt[1:], *sb])
    return f"{m.source} {mangle(m.point)} {m.fstype} {opts} 0 0\n"


def show_mounts(t: Task) -> bytes:
    return "".join(mounts_line(m) for m in guest_mounts(t)).encode("latin-1")


def show_filesystems(t: Task) -> bytes:
    """The file-system types of the guest's mounts, first seen first; "nodev" marks the
    ones not on a block device (an anonymous device number and no /dev source), as
    get_filesystem_list marks those without FS_REQUIRES_DEV."""
    seen: dict[str, bool] = {}
    for m in guest_mounts(t):
        if m.fstype not in seen:
            seen[m.fstype] = m.dev.startswith("0:") and not m.source.startswith("/dev/")
    return "".join(f"{'nodev' if nodev else ''}\t{name}\n" for name, nodev in seen.items()).encode("latin-1")
