"""Extended-attribute constants (include/uapi/linux/xattr.h, linux/limits.h)."""

from typing import Final

XATTR_CREATE: Final = 0x1
"""setxattr: fail with EEXIST if the attribute exists."""
XATTR_REPLACE: Final = 0x2
"""setxattr: fail with ENODATA if the attribute does not exist."""

XATTR_NAME_MAX: Final = 255
XATTR_SIZE_MAX: Final = 65536
XATTR_LIST_MAX: Final = 65536

XATTR_SECURITY_PREFIX: Final = b"security."
XATTR_SYSTEM_PREFIX: Final = b"system."
XATTR_TRUSTED_PREFIX: Final = b"trusted."
XATTR_USER_PREFIX: Final = b"user."
XATTR_NAME_CAPS: Final = b"security.capability"
