"""A task confined to a root folder, and the escape-test tree around it.

    tmp_path/secret                 "outside\\n"   (must never be read, changed or replaced)
    tmp_path/outdir/                a directory outside the root
    tmp_path/root/                  the guest's /
        etc/passwd                  "inside\\n"
        secret                      absent: where "../secret" lands inside
        a/b/c/                      nested directories
        dev/  proc/  tmp/           empty, as `sysgate rootfs` makes them
        abs -> /etc/passwd          an absolute link (the guest's /etc/passwd)
        hostabs -> <tmp_path>/secret    the host path of the secret, as an absolute link
        a/b/rel -> ../../../../../../etc/passwd   a relative link climbing past the root
        loop1 -> loop2, loop2 -> loop1

Every test checks the effect inside and that the secret is unchanged (`assert_outside_intact`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sysgate.kernel.kernel import Kernel
from sysgate.kernel.task import Task
from sysgate.mm.vma import Vma
from sysgate.uapi.fcntl import AT_FDCWD, O_RDONLY
from sysgate.uapi.mman import PROT_READ, PROT_WRITE
from tests.conftest import USER_BUF, USER_BUF_SIZE, put_str, sys

OUT = USER_BUF + 0x8000
SECRET = b"outside\n"


@dataclass
class Confined:
    """The task and the two sides of the boundary."""

    t: Task
    root: Path
    outside: Path

    @property
    def secret(self) -> Path:
        return self.outside / "secret"

    def name(self, s: str | bytes, slot: int = 0) -> int:
        return put_str(self.t, s, USER_BUF + slot * 0x1000)

    def call(self, call: str, *args: int | str | bytes) -> int:
        """A system call; str/bytes arguments become guest strings (slots 0, 1, 2 ...)."""
        raw: list[int] = []
        slot = 0
        for a in args:
            if isinstance(a, str | bytes):
                raw.append(self.name(a, slot))
                slot += 1
            else:
                raw.append(a)
        return sys(self.t, call, *raw)

    def read(self, path: str | bytes, dfd: int = AT_FDCWD) -> bytes | int:
        """The contents of a file as the guest reads it, or -errno."""
        fd = self.call("openat", dfd, path, O_RDONLY, 0)
        if fd < 0:
            return fd
        n = sys(self.t, "read", fd, OUT, 4096)
        sys(self.t, "close", fd)
        assert n >= 0
        return self.t.mm.read(OUT, n)

    def readlink(self, path: str | bytes) -> bytes | int:
        n = self.call("readlink", path, OUT, 4096)
        return n if n < 0 else self.t.mm.read(OUT, n)

    def getcwd(self) -> bytes | int:
        n = sys(self.t, "getcwd", OUT, 4096)
        return n if n < 0 else self.t.mm.read(OUT, n - 1)

    def assert_outside_intact(self) -> None:
        assert self.secret.read_bytes() == SECRET
        assert sorted(p.name for p in self.outside.iterdir()) == ["outdir", "root", "secret"]


def make_tree(tmp_path: Path) -> Path:
    (tmp_path / "secret").write_bytes(SECRET)
    (tmp_path / "outdir").mkdir()
    root = tmp_path / "root"
    for d in ("etc", "a/b/c", "dev", "proc", "tmp"):
        (root / d).mkdir(parents=True)
    (root / "etc/passwd").write_bytes(b"inside\n")
    os.symlink("/etc/passwd", root / "abs")
    os.symlink(str(tmp_path / "secret"), root / "hostabs")
    os.symlink("../../../../../../etc/passwd", root / "a/b/rel")
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    return root


def confined_task(root: Path, stdio: tuple[int, int, int] | None = None) -> Task:
    kernel = Kernel(memory_limit=1 << 30, root=root)
    null = os.open(os.devnull, os.O_RDWR)
    try:
        t = kernel.create_init_task(stdio or (null, null, null))
    finally:
        os.close(null)
    t.mm.insert_vma(Vma(USER_BUF, USER_BUF + USER_BUF_SIZE, PROT_READ | PROT_WRITE))
    return t


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Confined]:
    """A task whose / is tmp_path/root; the host umask is 0 while it exists."""
    root = make_tree(tmp_path)
    t = confined_task(root)
    old = os.umask(0)
    yield Confined(t, root, tmp_path)
    os.umask(old)
    t.kernel.shutdown()
