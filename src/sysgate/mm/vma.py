"""Virtual memory areas and what backs them.

Counterpart: include/linux/mm_types.h (struct vm_area_struct) and mm/vma.c. A Vma is a
page-aligned range [start, end) with one protection, its flags, and its backing: none
(anonymous memory), a private view of a file (pages copied in on first touch), or a
shared view of a file (the file's own pages, through host mappings). Shared anonymous
memory is a shared view of a memfd, as Linux's is of a shmem file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sysgate.mm.physmem import PAGE_SHIFT, PAGE_SIZE, PhysMem
from sysgate.uapi.mman import PROT_EXEC, PROT_READ, PROT_WRITE

if TYPE_CHECKING:
    from sysgate.fs.root import Root
    from sysgate.mm.mm import Mm

# vm_flags bits we keep (include/linux/mm.h); the names are the kernel's.
VM_SHARED = 0x00000008
VM_MAYREAD = 0x00000010
VM_MAYWRITE = 0x00000020
VM_MAYEXEC = 0x00000040
VM_MAYSHARE = 0x00000080
VM_GROWSDOWN = 0x00000100
VM_DONTEXPAND = 0x00040000
VM_ACCOUNT = 0x00100000
VM_NORESERVE = 0x00200000
VM_LOCKED = 0x00002000
VM_PFNMAP = 0x00000400
VM_IO = 0x00004000
VM_DONTDUMP = 0x04000000
BRK_FLAGS = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ACCOUNT
"""do_brk_flags: the break's and an ELF bss's memory (VM_DATA_DEFAULT_FLAGS | VM_ACCOUNT)."""


SHARED_WINDOW = 64 << 20
"""Shared pages of a file come from host MAP_SHARED mappings of this many bytes of it."""


class MappedFile:
    """A host file that VMAs map (the kernel's vm_file and its page cache), shared by
    every VMA of it.

    Holds its own host descriptor, so the guest closing its fd does not end the
    mapping, as on Linux. `path`, `dev` and `ino` are what /proc/PID/maps prints.
    Shared mappings take the file's own pages: windows of the file mapped shared on the
    host and handed to the CPU as physical memory, made when first touched, so one VMA
    may grow (mremap), split, or be mapped twice and always see the same pages.
    """

    def __init__(self, hostfd: int, path: str, writable: bool, host_named: bool = False,
                 root: Root | None = None) -> None:
        st = os.fstat(hostfd)
        self.fd = os.dup(hostfd)
        self.path = path
        self.host_named = host_named  # the host's name of the file is the guest's
        self.root = root  # ... as seen from this root folder (sysgate.fs.root)
        self.dev = st.st_dev
        self.ino = st.st_ino
        self.writable = writable
        self.refs = 0
        self._windows: dict[int, int] = {}  # window index -> first pfn
        self._phys: PhysMem | None = None

    def get(self) -> MappedFile:
        self.refs += 1
        return self

    def put(self) -> None:
        self.refs -= 1
        if self.refs == 0:
            if self._phys is not None:
                for pfn in self._windows.values():
                    self._phys.unmap_file(pfn)
            self._windows.clear()
            os.close(self.fd)

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def d_path(self) -> str:
        """The name /proc/PID/maps shows: the file's path now (d_path), or the fixed name
        of an internal file such as shared anonymous memory's "/dev/zero (deleted)"."""
        if self.host_named:
            try:
                host = os.readlink(f"/proc/self/fd/{self.fd}")
            except OSError:
                return self.path
            return (self.root.guest_path(host) or host) if self.root is not None else host
        return self.path

    def read_page(self, offset: int) -> bytes:
        """The page of the file at `offset` (short at end of file)."""
        return os.pread(self.fd, PAGE_SIZE, offset)

    def shared_pfn(self, phys: PhysMem, offset: int) -> int:
        """The frame that is the file's page at `offset` (the page cache's page)."""
        window = offset // SHARED_WINDOW
        base = self._windows.get(window)
        if base is None:
            self._phys = phys
            try:
                base = phys.map_file(self.fd, window * SHARED_WINDOW, SHARED_WINDOW, self.writable)
            except PermissionError:
                # A write-sealed memfd: the host maps it shared only read-only. No mapping made
                # since can write (sysgate.mm.memfd); one made before F_SEAL_FUTURE_WRITE writes
                # to private copies of the pages of windows it first touches after the seal.
                base = phys.map_file(self.fd, window * SHARED_WINDOW, SHARED_WINDOW, self.writable, private=True)
            self._windows[window] = base
        return base + ((offset % SHARED_WINDOW) >> PAGE_SHIFT)


def shmem_file(length: int) -> MappedFile:
    """The object behind shared anonymous memory (shmem_zero_setup): a memfd of `length`."""
    fd = os.memfd_create("dev/zero", os.MFD_CLOEXEC)
    try:
        os.ftruncate(fd, length)
        return MappedFile(fd, "/dev/zero (deleted)", writable=True)
    finally:
        os.close(fd)


class SpecialMapping(Protocol):
    """A mapping the kernel itself provides, such as [vdso] and [vvar]
    (struct vm_special_mapping): its pages come from `fault`, and it cannot be split."""

    name: str

    def fault(self, phys: PhysMem, offset: int) -> int | None:
        """The frame for the page at byte `offset` into the mapping (vmf->pgoff), or
        None for VM_FAULT_SIGBUS; MemoryError when no frame is left."""

    def mremap(self, mm: Mm, vma: Vma) -> None:
        """The mapping was moved to `vma` (vm_special_mapping.mremap)."""


@dataclass(slots=True, eq=False)
class Vma:
    """One mapping: [start, end), protection, flags and backing."""

    start: int
    end: int
    prot: int
    flags: int = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC
    file: MappedFile | None = None
    pgoff: int = 0  # file offset of `start`, in bytes
    name: str = field(default="")  # "[heap]", "[stack]", ... for /proc/PID/maps
    special: SpecialMapping | None = None  # the kernel's own pages ([vdso], [vvar])

    @property
    def shared(self) -> bool:
        """A shared mapping (VM_MAYSHARE): its pages are the file's, never private copies."""
        return bool(self.flags & VM_MAYSHARE)

    @property
    def growsdown(self) -> bool:
        return bool(self.flags & VM_GROWSDOWN)

    def file_offset(self, addr: int) -> int:
        return self.pgoff + (addr - self.start)

    def hold(self) -> Vma:
        """Take references on the backing (a new VMA over it was made)."""
        if self.file is not None:
            self.file.get()
        return self

    def release(self) -> None:
        """Drop this VMA's references on its backing."""
        if self.file is not None:
            self.file.put()

    def split_at(self, addr: int) -> Vma:
        """Cut this VMA at `addr`; return the upper part (self keeps the lower)."""
        upper = Vma(
            addr, self.end, self.prot, self.flags, self.file,
            self.file_offset(addr), self.name, self.special,
        ).hold()
        self.end = addr
        return upper

    def can_merge(self, nxt: Vma) -> bool:
        """Whether `nxt`, starting where this one ends, can become one VMA with it."""
        return (
            self.end == nxt.start
            and self.prot == nxt.prot
            and self.flags == nxt.flags
            and self.file is nxt.file
            and self.name == nxt.name
            and self.special is None and nxt.special is None  # VM_SPECIAL never merges
            and (self.file is None or self.file_offset(self.end) == nxt.pgoff)
        )


def uc_perms(prot: int) -> int:
    """The access a page with `prot` grants on x86: any of R/W/X implies read."""
    perms = prot & (PROT_WRITE | PROT_EXEC)
    if prot & (PROT_READ | PROT_WRITE | PROT_EXEC):
        perms |= PROT_READ
    return perms
