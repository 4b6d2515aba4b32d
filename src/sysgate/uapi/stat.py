"""File-mode bits (include/uapi/linux/stat.h) and statx masks."""

from typing import Final

S_IFMT: Final = 0o170000
S_IFSOCK: Final = 0o140000
S_IFLNK: Final = 0o120000
S_IFREG: Final = 0o100000
S_IFBLK: Final = 0o060000
S_IFDIR: Final = 0o040000
S_IFCHR: Final = 0o020000
S_IFIFO: Final = 0o010000
S_ISUID: Final = 0o4000
S_ISGID: Final = 0o2000
S_ISVTX: Final = 0o1000
S_IALLUGO: Final = 0o7777

STATX_TYPE: Final = 0x0001
STATX_MODE: Final = 0x0002
STATX_NLINK: Final = 0x0004
STATX_UID: Final = 0x0008
STATX_GID: Final = 0x0010
STATX_ATIME: Final = 0x0020
STATX_MTIME: Final = 0x0040
STATX_CTIME: Final = 0x0080
STATX_INO: Final = 0x0100
STATX_SIZE: Final = 0x0200
STATX_BLOCKS: Final = 0x0400
STATX_BASIC_STATS: Final = 0x07FF
STATX_BTIME: Final = 0x0800
STATX_ALL: Final = 0x0FFF
"""The basic stats and btime (deprecated in the uapi header, still in strace's table)."""
STATX_MNT_ID: Final = 0x1000
STATX_DIOALIGN: Final = 0x2000
STATX_MNT_ID_UNIQUE: Final = 0x4000
STATX_SUBVOL: Final = 0x8000
STATX__RESERVED: Final = 0x80000000

DT_UNKNOWN: Final = 0
DT_FIFO: Final = 1
DT_CHR: Final = 2
DT_DIR: Final = 4
DT_BLK: Final = 6
DT_REG: Final = 8
DT_LNK: Final = 10
DT_SOCK: Final = 12
DT_WHT: Final = 14

STATX_ATTR_COMPRESSED: Final = 0x00000004
STATX_ATTR_IMMUTABLE: Final = 0x00000010
STATX_ATTR_APPEND: Final = 0x00000020
STATX_ATTR_NODUMP: Final = 0x00000040
STATX_ATTR_ENCRYPTED: Final = 0x00000800
STATX_ATTR_AUTOMOUNT: Final = 0x00001000
STATX_ATTR_MOUNT_ROOT: Final = 0x00002000
STATX_ATTR_VERITY: Final = 0x00100000
STATX_ATTR_DAX: Final = 0x00200000

UTIME_NOW: Final = (1 << 30) - 1
UTIME_OMIT: Final = (1 << 30) - 2
"""utimensat: tv_nsec values that mean "now" and "leave it" (include/linux/stat.h)."""


def s_isdir(mode: int) -> bool:
    return mode & S_IFMT == S_IFDIR


def s_isreg(mode: int) -> bool:
    return mode & S_IFMT == S_IFREG


def s_islnk(mode: int) -> bool:
    return mode & S_IFMT == S_IFLNK


def dt_type(mode: int) -> int:
    """The d_type getdents reports for a mode (S_DT in include/linux/fs_types.h)."""
    return (mode & S_IFMT) >> 12
