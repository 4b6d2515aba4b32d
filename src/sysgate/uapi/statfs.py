"""struct statfs f_flags: the mount flags statfs reports (include/linux/statfs.h)."""

from typing import Final

ST_RDONLY: Final = 0x0001
ST_NOSUID: Final = 0x0002
ST_NODEV: Final = 0x0004
ST_NOEXEC: Final = 0x0008
ST_SYNCHRONOUS: Final = 0x0010
ST_VALID: Final = 0x0020
"""f_flags holds the flags: vfs_statfs always sets it."""
ST_MANDLOCK: Final = 0x0040
ST_NOATIME: Final = 0x0400
ST_NODIRATIME: Final = 0x0800
ST_RELATIME: Final = 0x1000
ST_NOSYMFOLLOW: Final = 0x2000
