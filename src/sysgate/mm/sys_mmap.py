"""Memory-management system calls: brk, mmap, munmap, mprotect, mremap, madvise, msync,
mincore.

Counterpart: mm/mmap.c, mm/mprotect.c, mm/mremap.c, mm/madvise.c, mm/msync.c,
mm/mincore.c and arch/x86/kernel/sys_x86_64.c. The handlers decode arguments and call
sysgate.mm.mmap, where the work and the order of checks live.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import OUT, Arg, SizeT, ULong, UserPtr
from sysgate.errors import GuestFault, KernelError
from sysgate.fs.file import FMODE_READ, FMODE_WRITE
from sysgate.host import host_fallocate
from sysgate.mm.mm import READ, WRITE
from sysgate.mm.mmap import FileMapping, do_brk, do_mmap, do_mprotect, do_mremap, do_munmap
from sysgate.mm.physmem import PAGE_MASK, PAGE_SHIFT, PAGE_SIZE, page_align
from sysgate.mm.uaccess import access_ok, copy_to_user
from sysgate.mm.vma import VM_LOCKED, VM_PFNMAP, VM_SHARED
from sysgate.syscall import Support, syscall
from sysgate.uapi import mman as m
from sysgate.uapi.errno import Errno
from sysgate.uapi.personality import READ_IMPLIES_EXEC
from sysgate.uapi.resource import RLIM_INFINITY, RLIMIT_DATA

if TYPE_CHECKING:
    from sysgate.kernel.task import Task
    from sysgate.mm.mm import Mm

Prot = Annotated[int, Arg("unsigned long", show="prot")]
MapFlags = Annotated[int, Arg("unsigned long", show="mmap_flags")]
VecOut = Annotated[int, UserPtr("unsigned char __user *", show="mincore_vec", direction=OUT)]
UAddr = Annotated[int, Arg("unsigned long", show="ptr")]
"""A user address: printed NULL or hex (strace's printaddr)."""
MmapFd = Annotated[int, Arg("unsigned long", show="mmap_fd")]
MmapOff = Annotated[int, Arg("unsigned long", show="mmap_offset")]
MremapFlags = Annotated[int, Arg("unsigned long", show="mremap_flags")]
MremapNewAddr = Annotated[int, Arg("unsigned long", show="mremap_new_addr")]
MsyncFlags = Annotated[int, Arg("int", 32, True, show="msync_flags")]
Advice = Annotated[int, Arg("int", 32, True, show="madvise_advice")]
DEV_ZERO = os.makedev(1, 5)
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 0x01, 0x02


@syscall(ret="hex")
def sys_brk(t: Task, brk: UAddr) -> int:
    """change data segment size"""
    limit = t.group.rlimits[RLIMIT_DATA][0]
    return do_brk(t.mm, brk, -1 if limit == RLIM_INFINITY else limit)


@syscall(support=Support.PARTIAL,
         note="MAP_PRIVATE file pages are copied at first touch (later changes to the file are "
         "not seen); MAP_HUGETLB gives ENOMEM (no huge pages); no THP alignment", ret="hex")
def sys_mmap(t: Task, addr: UAddr, len: SizeT, prot: Prot, flags: MapFlags, fd: MmapFd, off: MmapOff) -> int:  # noqa: A002
    """map files or devices into memory"""
    if off & ~PAGE_MASK:
        raise KernelError(Errno.EINVAL)
    if prot & m.PROT_READ and t.personality & READ_IMPLIES_EXEC:
        prot |= m.PROT_EXEC  # do_mmap: "Does the application expect PROT_READ to imply PROT_EXEC?"
    file = None
    if not flags & m.MAP_ANONYMOUS:
        f = t.files.get(fd & 0xFFFFFFFF)
        if flags & m.MAP_HUGETLB:
            raise KernelError(Errno.EINVAL)
        try:
            st = f.stat()
        except KernelError:
            st = None
        if st is not None and st.rdev == DEV_ZERO and st.mode & 0o170000 == 0o020000:
            # /dev/zero maps as anonymous memory, private or shared (mmap_zero).
            flags |= m.MAP_ANONYMOUS
        else:
            file = FileMapping(f.mapping, bool(f.f_mode & FMODE_READ), bool(f.f_mode & FMODE_WRITE))
    elif flags & m.MAP_HUGETLB:
        raise KernelError(Errno.ENOMEM)
    return do_mmap(t.mm, addr, len, prot, flags, file, off)


@syscall()
def sys_munmap(t: Task, addr: UAddr, len: SizeT) -> int:  # noqa: A002
    """unmap files or devices from memory"""
    do_munmap(t.mm, addr, len)
    return 0


@syscall()
def sys_mprotect(t: Task, start: UAddr, len: SizeT, prot: Prot) -> int:  # noqa: A002
    """set protection on a region of memory"""
    if prot & m.PROT_READ and t.personality & READ_IMPLIES_EXEC:
        prot |= m.PROT_EXEC  # do_mprotect_pkey's rier (every VMA here has VM_MAYEXEC)
    do_mprotect(t.mm, start, len, prot)
    return 0


@syscall(ret="hex")
def sys_mremap(
    t: Task, addr: UAddr, old_len: ULong, new_len: ULong, flags: MremapFlags, new_addr: MremapNewAddr
) -> int:
    """remap a virtual memory address"""
    return do_mremap(t.mm, addr, old_len, new_len, flags, new_addr)


_VALID_ADVICE = {
    m.MADV_NORMAL, m.MADV_RANDOM, m.MADV_SEQUENTIAL, m.MADV_WILLNEED, m.MADV_DONTNEED,
    m.MADV_FREE, m.MADV_REMOVE, m.MADV_DONTFORK, m.MADV_DOFORK, m.MADV_MERGEABLE,
    m.MADV_UNMERGEABLE, m.MADV_HUGEPAGE, m.MADV_NOHUGEPAGE, m.MADV_DONTDUMP, m.MADV_DODUMP,
    m.MADV_WIPEONFORK, m.MADV_KEEPONFORK, m.MADV_COLD, m.MADV_PAGEOUT, m.MADV_POPULATE_READ,
    m.MADV_POPULATE_WRITE, m.MADV_DONTNEED_LOCKED, m.MADV_COLLAPSE, m.MADV_HWPOISON,
    m.MADV_SOFT_OFFLINE,
}


@syscall(support=Support.PARTIAL,
         note="DONTNEED/FREE drop pages, POPULATE_* fault them in, REMOVE punches the file; "
         "the other advice is accepted and has no effect")
def sys_madvise(t: Task, start: UAddr, len_in: SizeT, behavior: Advice) -> int:
    """give advice about use of memory"""
    if behavior not in _VALID_ADVICE:
        raise KernelError(Errno.EINVAL)
    if start & ~PAGE_MASK:
        raise KernelError(Errno.EINVAL)
    length = page_align(len_in)
    if (len_in and not length) or length >= 1 << 64:
        raise KernelError(Errno.EINVAL)
    end = start + length
    if end >= 1 << 64:
        raise KernelError(Errno.EINVAL)
    if end == start:
        return 0
    if behavior in (m.MADV_HWPOISON, m.MADV_SOFT_OFFLINE):
        if not t.cred.capable():
            raise KernelError(Errno.EPERM)
        raise KernelError(Errno.EINVAL)
    mm = t.mm
    if behavior in (m.MADV_POPULATE_READ, m.MADV_POPULATE_WRITE):
        _madvise_populate(mm, start, end, WRITE if behavior == m.MADV_POPULATE_WRITE else READ)
        return 0
    unmapped = False
    pos = start
    for vma in mm.vmas_in(start, end):
        if vma.start > pos:
            unmapped = True
        lo, hi = max(vma.start, start), min(vma.end, end)
        pos = hi
        if behavior in (m.MADV_DONTNEED, m.MADV_DONTNEED_LOCKED, m.MADV_FREE):
            if (behavior == m.MADV_DONTNEED and vma.flags & VM_LOCKED) or vma.flags & VM_PFNMAP:
                raise KernelError(Errno.EINVAL)  # madvise_dontneed_free_valid_vma ([vvar] is VM_PFNMAP)
            if behavior == m.MADV_FREE and (vma.file is not None or vma.shared):
                raise KernelError(Errno.EINVAL)
            mm.zap_range(lo, hi)
        elif behavior == m.MADV_REMOVE:
            # Shared anonymous memory is a shmem file in Linux: a hole can be punched in it.
            if vma.flags & VM_LOCKED or (vma.file is None and not vma.shared):
                raise KernelError(Errno.EINVAL)
            if not vma.flags & VM_SHARED:
                raise KernelError(Errno.EACCES)
            # madvise_remove: punch a hole in the file (vfs_fallocate), then drop the pages.
            assert vma.file is not None
            host_fallocate(vma.file.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, vma.file_offset(lo), hi - lo)
            mm.zap_range(lo, hi)
        elif behavior == m.MADV_WIPEONFORK and (vma.file is not None or vma.shared):
            raise KernelError(Errno.EINVAL)
    if pos < end or unmapped:
        raise KernelError(Errno.ENOMEM)
    return 0


def _madvise_populate(mm: Mm, start: int, end: int, access: int) -> None:
    """Fault [start, end) in, stopping at the first page that cannot be (madvise_populate).

    No VMA: ENOMEM; a VMA without VM_READ/VM_WRITE for the access: EINVAL (check_vma_flags,
    which does not apply x86's "write or exec implies read"); a fault that fails: EFAULT.
    """
    for page in range(start, end, PAGE_SIZE):
        vma = mm.vma_at(page)
        if vma is None:
            raise KernelError(Errno.ENOMEM)
        if not vma.prot & access:
            raise KernelError(Errno.EINVAL)
        try:
            mm.handle_mm_fault(page, access)
        except GuestFault:
            raise KernelError(Errno.EFAULT) from None


@syscall()
def sys_msync(t: Task, start: UAddr, len: SizeT, flags: MsyncFlags) -> int:  # noqa: A002
    """synchronize a file with a memory map"""
    if flags & ~(m.MS_ASYNC | m.MS_INVALIDATE | m.MS_SYNC):
        raise KernelError(Errno.EINVAL)
    if start & ~PAGE_MASK:
        raise KernelError(Errno.EINVAL)
    if flags & m.MS_ASYNC and flags & m.MS_SYNC:
        raise KernelError(Errno.EINVAL)
    # (len + ~PAGE_MASK) & PAGE_MASK in 64 bits: a len within a page of 2**64 becomes 0.
    end = start + (page_align(len) & 0xFFFFFFFFFFFFFFFF)
    if end >= 1 << 64:
        raise KernelError(Errno.ENOMEM)
    if end == start:
        return 0
    unmapped = False
    pos = start
    for vma in t.mm.vmas_in(start, end):
        if vma.start > pos:
            unmapped = True
        pos = vma.end
        if flags & m.MS_INVALIDATE and vma.flags & VM_LOCKED:
            raise KernelError(Errno.EBUSY)
        if flags & m.MS_SYNC and vma.file is not None and vma.shared:
            os.fsync(vma.file.fd)
    if pos < end or unmapped:
        raise KernelError(Errno.ENOMEM)
    return 0


@syscall(support=Support.PARTIAL,
         note="anonymous pages are resident once touched; file pages always count as resident")
def sys_mincore(t: Task, start: UAddr, len: SizeT, vec: VecOut) -> int:  # noqa: A002
    """determine whether pages are resident in memory"""
    if start & ~PAGE_MASK:
        raise KernelError(Errno.EINVAL)
    if not access_ok(start, len):
        raise KernelError(Errno.ENOMEM)
    pages = (len >> PAGE_SHIFT) + (1 if len & (PAGE_SIZE - 1) else 0)
    if not access_ok(vec, pages):
        raise KernelError(Errno.EFAULT)
    out = bytearray()
    mm = t.mm
    for i in range(pages):
        addr = start + (i << PAGE_SHIFT)
        vma = mm.vma_at(addr)
        if vma is None:
            copy_to_user(mm, vec, bytes(out))  # the entries before the hole were stored
            raise KernelError(Errno.ENOMEM)
        out.append(1 if (addr >> PAGE_SHIFT) in mm.pt or vma.file is not None else 0)
    copy_to_user(t.mm, vec, bytes(out))
    return 0
