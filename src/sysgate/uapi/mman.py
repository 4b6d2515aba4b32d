"""Memory-mapping constants (include/uapi/asm-generic/mman-common.h, mman.h, x86 mman.h)."""

from typing import Final

PROT_NONE: Final = 0x0
PROT_READ: Final = 0x1
PROT_WRITE: Final = 0x2
PROT_EXEC: Final = 0x4
PROT_SEM: Final = 0x8
PROT_GROWSDOWN: Final = 0x01000000
PROT_GROWSUP: Final = 0x02000000

MAP_SHARED: Final = 0x01
MAP_PRIVATE: Final = 0x02
MAP_SHARED_VALIDATE: Final = 0x03
MAP_DROPPABLE: Final = 0x08
MAP_TYPE: Final = 0x0F
MAP_FIXED: Final = 0x10
MAP_ANONYMOUS: Final = 0x20
MAP_32BIT: Final = 0x40
MAP_GROWSDOWN: Final = 0x0100
MAP_DENYWRITE: Final = 0x0800
MAP_EXECUTABLE: Final = 0x1000
MAP_LOCKED: Final = 0x2000
MAP_NORESERVE: Final = 0x4000
MAP_POPULATE: Final = 0x8000
MAP_NONBLOCK: Final = 0x10000
MAP_STACK: Final = 0x20000
MAP_HUGETLB: Final = 0x40000
MAP_SYNC: Final = 0x80000
MAP_FIXED_NOREPLACE: Final = 0x100000
MAP_UNINITIALIZED: Final = 0x4000000
MAP_ABOVE4G: Final = 0x80

MREMAP_MAYMOVE: Final = 1
MREMAP_FIXED: Final = 2
MREMAP_DONTUNMAP: Final = 4

MS_ASYNC: Final = 1
MS_INVALIDATE: Final = 2
MS_SYNC: Final = 4

MADV_NORMAL: Final = 0
MADV_RANDOM: Final = 1
MADV_SEQUENTIAL: Final = 2
MADV_WILLNEED: Final = 3
MADV_DONTNEED: Final = 4
MADV_FREE: Final = 8
MADV_REMOVE: Final = 9
MADV_DONTFORK: Final = 10
MADV_DOFORK: Final = 11
MADV_MERGEABLE: Final = 12
MADV_UNMERGEABLE: Final = 13
MADV_HUGEPAGE: Final = 14
MADV_NOHUGEPAGE: Final = 15
MADV_DONTDUMP: Final = 16
MADV_DODUMP: Final = 17
MADV_WIPEONFORK: Final = 18
MADV_KEEPONFORK: Final = 19
MADV_COLD: Final = 20
MADV_PAGEOUT: Final = 21
MADV_POPULATE_READ: Final = 22
MADV_POPULATE_WRITE: Final = 23
MADV_DONTNEED_LOCKED: Final = 24
MADV_COLLAPSE: Final = 25
MADV_HWPOISON: Final = 100
MADV_SOFT_OFFLINE: Final = 101
MADV_GUARD_INSTALL: Final = 102
MADV_GUARD_REMOVE: Final = 103

MAP_FILE: Final = 0
"""The historical name of "not anonymous" (glibc's sys/mman.h): the empty mapping type."""
MAP_HUGE_SHIFT: Final = 26
MAP_HUGE_MASK: Final = 0x3F
"""MAP_HUGETLB's page size: log2 of it in bits 26..31 of the flags (asm-generic/hugetlb_encode.h)."""
