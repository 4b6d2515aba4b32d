"""Auxiliary vector types (include/uapi/linux/auxvec.h, arch/x86/include/uapi/asm/auxvec.h)."""

from typing import Final

AT_NULL: Final = 0
AT_IGNORE: Final = 1
AT_EXECFD: Final = 2
AT_PHDR: Final = 3
AT_PHENT: Final = 4
AT_PHNUM: Final = 5
AT_PAGESZ: Final = 6
AT_BASE: Final = 7
AT_FLAGS: Final = 8
AT_ENTRY: Final = 9
AT_NOTELF: Final = 10
AT_UID: Final = 11
AT_EUID: Final = 12
AT_GID: Final = 13
AT_EGID: Final = 14
AT_PLATFORM: Final = 15
AT_HWCAP: Final = 16
AT_CLKTCK: Final = 17
AT_SECURE: Final = 23
AT_BASE_PLATFORM: Final = 24
AT_RANDOM: Final = 25
AT_HWCAP2: Final = 26
AT_RSEQ_FEATURE_SIZE: Final = 27
AT_RSEQ_ALIGN: Final = 28
AT_EXECFN: Final = 31
AT_SYSINFO_EHDR: Final = 33
AT_MINSIGSTKSZ: Final = 51
