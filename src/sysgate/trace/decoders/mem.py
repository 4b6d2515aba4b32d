"""Printers of the memory-management calls: brk, mmap, munmap, mprotect, mremap, msync,
madvise, mincore.

Counterpart: strace's mem.c and the tables xlat/mmap_prot.in, mmap_flags.in,
mremap_flags.in, mctl_sync.in, madvise_cmds.in. Addresses print as printaddr (NULL or
hex), lengths unsigned; mmap's flags print the mapping type first, then the other flags,
then the huge page size as `21<<MAP_HUGE_SHIFT`; brk, mmap and mremap return addresses,
declared `ret="hex"`.
"""

from __future__ import annotations

from sysgate.syscall import Param
from sysgate.trace.printers import PRINTERS, Ctx, flags_printer, print_array, printer, xval, xval_printer
from sysgate.trace.xlat import Xlat, printflags, printxval
from sysgate.uapi import mman as m

PAGE_SIZE = 4096
MMAP_PROT = Xlat.names(m, "PROT_NONE PROT_READ PROT_WRITE PROT_EXEC PROT_SEM PROT_GROWSDOWN PROT_GROWSUP")
MMAP_FLAGS = Xlat.names(
    m,
    "MAP_SHARED MAP_PRIVATE MAP_SHARED_VALIDATE MAP_FIXED MAP_ANONYMOUS MAP_32BIT MAP_NORESERVE "
    "MAP_POPULATE MAP_NONBLOCK MAP_GROWSDOWN MAP_DENYWRITE MAP_EXECUTABLE MAP_FILE MAP_LOCKED MAP_STACK "
    "MAP_HUGETLB MAP_SYNC MAP_UNINITIALIZED MAP_FIXED_NOREPLACE",
)
"""strace 6.1's order for x86-64 (names of other architectures' bits left out; it has no
MAP_DROPPABLE or MAP_ABOVE4G yet)."""
MREMAP_FLAGS = Xlat.names(m, "MREMAP_MAYMOVE MREMAP_FIXED MREMAP_DONTUNMAP")
MCTL_SYNC = Xlat.names(m, "MS_SYNC MS_ASYNC MS_INVALIDATE")
MADVISE_CMDS = Xlat.names(
    m,
    "MADV_NORMAL MADV_RANDOM MADV_SEQUENTIAL MADV_WILLNEED MADV_DONTNEED MADV_FREE MADV_REMOVE "
    "MADV_DONTFORK MADV_DOFORK MADV_MERGEABLE MADV_UNMERGEABLE MADV_HUGEPAGE MADV_NOHUGEPAGE "
    "MADV_DONTDUMP MADV_DODUMP MADV_WIPEONFORK MADV_KEEPONFORK MADV_COLD MADV_PAGEOUT "
    "MADV_POPULATE_READ MADV_POPULATE_WRITE MADV_DONTNEED_LOCKED MADV_COLLAPSE MADV_HWPOISON "
    "MADV_SOFT_OFFLINE",
)
"""strace 6.1 does not know MADV_GUARD_INSTALL / MADV_GUARD_REMOVE (Linux 6.13)."""


@printer("prot")
def p_prot(ctx: Ctx, v: int, p: Param) -> str:
    """printflags64(mmap_prot, prot, "PROT_???")."""
    return printflags(ctx.opts.xlat_style, MMAP_PROT, v & ((1 << 64) - 1), "PROT_???")


def mmap_flags_text(style: str, flags: int) -> str:
    """print_mmap_flags: the type (MAP_PRIVATE, MAP_FILE for 0, `0x4 /* MAP_??? */`), the
    other flags, then MAP_HUGETLB's size; with -X verbose all of it in a comment after the
    number (the type and flags inside it still abbreviated, as strace does)."""
    flags &= (1 << 64) - 1
    if style == "raw":
        return xval(flags)
    text = printxval("abbrev", MMAP_FLAGS, flags & m.MAP_TYPE, "MAP_???")
    rest = flags & ~m.MAP_TYPE
    huge_mask = m.MAP_HUGE_MASK << m.MAP_HUGE_SHIFT
    huge = rest & huge_mask
    rest &= ~huge_mask
    if rest:
        text += "|" + printflags("abbrev", MMAP_FLAGS, rest)
    if huge:
        text += f"|{huge >> m.MAP_HUGE_SHIFT}<<MAP_HUGE_SHIFT"
    return f"{xval(flags)} /* {text} */" if style == "verbose" else text


@printer("mmap_flags")
def p_mmap_flags(ctx: Ctx, v: int, p: Param) -> str:
    return mmap_flags_text(ctx.opts.xlat_style, v)


@printer("mmap_fd")
def p_mmap_fd(ctx: Ctx, v: int, p: Param) -> str:
    """mmap's fd: an unsigned long in the kernel, printed as the int strace casts it to
    (then as any descriptor: the printer "fd", with -y its path)."""
    fd = v & 0xFFFFFFFF
    return str(PRINTERS["fd"](ctx, fd - (1 << 32) if fd >> 31 else fd, p))


@printer("mmap_offset")
def p_mmap_offset(ctx: Ctx, v: int, p: Param) -> str:
    """PRINT_VAL_X: hex, zero as 0 (mmap's offset)."""
    return xval(v)


@printer("mremap_flags")
def p_mremap_flags(ctx: Ctx, v: int, p: Param) -> str:
    return printflags(ctx.opts.xlat_style, MREMAP_FLAGS, v & ((1 << 64) - 1), "MREMAP_???")


@printer("mremap_new_addr")
def p_mremap_new_addr(ctx: Ctx, v: int, p: Param) -> str | None:
    """The new address, shown only when the flags ask for one (MREMAP_MAYMOVE|MREMAP_FIXED)."""
    both = m.MREMAP_MAYMOVE | m.MREMAP_FIXED
    if ctx.arg("flags") & both != both:
        return None
    return "NULL" if v == 0 else f"{v:#x}"


flags_printer("msync_flags", MCTL_SYNC, "MS_???")


xval_printer("madvise_advice", MADVISE_CMDS, "MADV_???")


@printer("mincore_vec")
def p_mincore_vec(ctx: Ctx, v: int, p: Param) -> str:
    """The residency vector on return: one 0 or 1 per page of `len`, cut after -s entries
    unless -v (print_array)."""
    length = ctx.arg("len")
    nmemb = length // PAGE_SIZE + (1 if length % PAGE_SIZE else 0)
    return print_array(ctx, v, nmemb, 1, lambda b: str(b[0] & 1))
