"""memfd_create flags (include/uapi/linux/memfd.h, linux/hugetlb_encode.h)."""

from typing import Final

MFD_CLOEXEC: Final = 0x0001
MFD_ALLOW_SEALING: Final = 0x0002
MFD_HUGETLB: Final = 0x0004
MFD_NOEXEC_SEAL: Final = 0x0008
MFD_EXEC: Final = 0x0010
MFD_ALL_FLAGS: Final = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC
"""mm/memfd.c: every flag memfd_create knows."""

MFD_HUGE_SHIFT: Final = 26
MFD_HUGE_MASK: Final = 0x3F
"""With MFD_HUGETLB, log2 of the huge page size sits in bits 26..31."""

MFD_NAME_PREFIX: Final = b"memfd:"
MFD_NAME_MAX_LEN: Final = 255 - len(MFD_NAME_PREFIX)
"""mm/memfd.c: NAME_MAX less the prefix (249 bytes, the NUL not counted)."""
