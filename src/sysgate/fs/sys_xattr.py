"""Extended attributes: setxattr, lsetxattr, fsetxattr, getxattr, lgetxattr, fgetxattr,
listxattr, llistxattr, flistxattr, removexattr, lremovexattr, fremovexattr.

Counterpart: fs/xattr.c (path_setxattr, setxattr_copy, do_getxattr, listxattr,
path_removexattr, xattr_permission). What Linux does before the file system is asked is
done here, in Linux's order: the descriptor (EBADF, O_PATH descriptors included), the
path walk, the attribute's name (ERANGE when empty or longer than XATTR_NAME_MAX), the
value's size (E2BIG past XATTR_SIZE_MAX for a set; a get or list is cut to 64 KiB) and
copying the value in or out (EFAULT). A get or list walks the path first and copies
the name second; a set or remove copies the name (and the value) before it walks.

The attributes themselves are the host's: a host file's attributes are read and written
by the host kernel, so ENODATA, EOPNOTSUPP, EPERM for user attributes on symbolic links,
ERANGE for a small buffer and permission errors are exactly those of the file's real
file system. The path calls open the file as O_PATH through the guest's own lookup (so
/proc/self and a root folder are the guest's) and name it to the host as
/proc/self/fd/N, which reaches that inode itself, a symbolic link included. The
kernel's own files (procfs) have no attributes: after xattr_permission's checks every
name gives EOPNOTSUPP and the list is empty, as procfs answers.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import OUT, Arg, Fd, Path, StrIn, UserPtr
from sysgate.errors import KernelError
from sysgate.fs.file import File
from sysgate.fs.namei import KernelPath, lookup
from sysgate.fs.sys_read_write import fdget
from sysgate.fs.vfs import vfs_open, vfs_stat
from sysgate.host import host_check, libc_fn
from sysgate.mm.uaccess import copy_from_user, copy_to_user, getname, strncpy_from_user
from sysgate.syscall import syscall
from sysgate.uapi import fcntl as o
from sysgate.uapi import stat as ls
from sysgate.uapi import xattr as x
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

ValueIn = Annotated[int, UserPtr("const void __user *", show="xattr_value", size="size")]
ValueOut = Annotated[int, UserPtr("void __user *", show="xattr_value", direction=OUT, size="size")]
ListOut = Annotated[int, UserPtr("char __user *", show="xattr_list", direction=OUT, size="size")]
XattrFlags = Annotated[int, Arg("int", 32, True, show="xattr_flags")]
XattrSize = Annotated[int, Arg("size_t", show="udec")]

_c_char_p, _c_void_p, _c_size_t, _c_int = ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int
_ssize = ctypes.c_ssize_t
_getxattr = libc_fn("getxattr", _ssize, _c_char_p, _c_char_p, _c_void_p, _c_size_t)
_fgetxattr = libc_fn("fgetxattr", _ssize, _c_int, _c_char_p, _c_void_p, _c_size_t)
_setxattr = libc_fn("setxattr", _c_int, _c_char_p, _c_char_p, _c_void_p, _c_size_t, _c_int)
_fsetxattr = libc_fn("fsetxattr", _c_int, _c_int, _c_char_p, _c_void_p, _c_size_t, _c_int)
_listxattr = libc_fn("listxattr", _ssize, _c_char_p, _c_void_p, _c_size_t)
_flistxattr = libc_fn("flistxattr", _ssize, _c_int, _c_void_p, _c_size_t)
_removexattr = libc_fn("removexattr", _c_int, _c_char_p, _c_char_p)
_fremovexattr = libc_fn("fremovexattr", _c_int, _c_int, _c_char_p)


class Target:
    """The inode an xattr call works on.

    A host file by descriptor: used directly for the f*xattr calls, or through its
    /proc/self/fd link for an O_PATH descriptor (which the host's f*xattr refuse). The
    kernel's own files carry only their mode, for the VFS's checks.
    """

    def __init__(self, file: File | None, mode: int, direct: bool) -> None:
        self.file = file
        self.mode = mode
        self.direct = direct

    def host(self) -> tuple[int, bytes] | None:
        """(host fd, /proc/self/fd path) of a host file, or None for a kernel object."""
        fd = self.file.host_fd if self.file is not None else None
        return None if fd is None else (fd, b"/proc/self/fd/%d" % fd)


def _path_target(t: Task, pathname: int, follow: bool) -> Target:
    """user_path_at(pathname, LOOKUP_FOLLOW or not), opened as O_PATH; the caller puts it."""
    name = getname(t.mm, pathname)
    if not follow and isinstance(lookup(t, o.AT_FDCWD, name, follow=False), KernelPath):
        st = vfs_stat(t, o.AT_FDCWD, name, False)
        if st.mode & ls.S_IFMT == ls.S_IFLNK:
            return Target(None, st.mode, False)  # a procfs link itself (lgetxattr of /proc/self/exe)
    f = vfs_open(t, o.AT_FDCWD, name, o.O_PATH | (0 if follow else o.O_NOFOLLOW), 0).get()
    return Target(f, _mode(f), False)


def _fd_target(t: Task, fd: int) -> Target:
    f = fdget(t, fd)  # CLASS(fd): O_PATH descriptors are EBADF
    return Target(f, _mode(f), True)


def _mode(f: File) -> int:
    try:
        return f.stat().mode
    except KernelError:
        return 0


def _put(target: Target) -> None:
    if target.file is not None and not target.direct:
        target.file.put()


def _name(t: Task, name: int) -> bytes:
    """The attribute's name: ERANGE when empty or without a NUL in XATTR_NAME_MAX + 1 bytes."""
    kname = strncpy_from_user(t.mm, name, x.XATTR_NAME_MAX + 1)
    if not kname:  # "" or no NUL within the buffer (strncpy_from_user returned 0 or its size)
        raise KernelError(Errno.ERANGE)
    return kname


def _kernel_object(t: Task, mode: int, name: bytes, write: bool) -> KernelError:
    """A file system without extended attributes: xattr_permission's answer, the LSM's
    (commoncap: security.* needs CAP_SYS_ADMIN to change), else EOPNOTSUPP."""
    if name.startswith(x.XATTR_TRUSTED_PREFIX) and not t.cred.capable():
        return KernelError(Errno.EPERM if write else Errno.ENODATA)
    kind = mode & ls.S_IFMT
    if name.startswith(x.XATTR_USER_PREFIX) and kind not in (ls.S_IFREG, ls.S_IFDIR):
        return KernelError(Errno.EPERM if write else Errno.ENODATA)
    if write and not name.startswith((x.XATTR_SECURITY_PREFIX, x.XATTR_SYSTEM_PREFIX)) \
            and not t.cred.capable() and not mode & 0o200:
        return KernelError(Errno.EACCES)  # inode_permission(MAY_WRITE) on the owner's file
    if write and name.startswith(x.XATTR_SECURITY_PREFIX) and name != x.XATTR_NAME_CAPS \
            and not t.cred.capable():
        return KernelError(Errno.EPERM)
    return KernelError(Errno.EOPNOTSUPP)


def _host(fn: Callable[..., int] | None, *args: object) -> int:
    """A host C library xattr call: its result, or the Linux errno of its failure."""
    if fn is None:
        raise KernelError(Errno.EOPNOTSUPP)  # a host C library without xattr calls
    return host_check(fn(*args))


# -- get ------------------------------------------------------------------------------------


def do_getxattr(t: Task, target: Target, name: int, value: int, size: int) -> int:
    kname = _name(t, name)
    size = min(size, x.XATTR_SIZE_MAX)
    host = target.host()
    if host is None:
        raise _kernel_object(t, target.mode, kname, False)
    buf = ctypes.create_string_buffer(size) if size else None
    try:
        if target.direct:
            n = _host(_fgetxattr, host[0], kname, buf, size)
        else:
            n = _host(_getxattr, host[1], kname, buf, size)
    except KernelError as exc:
        if exc.errno == Errno.ERANGE and size >= x.XATTR_SIZE_MAX:
            raise KernelError(Errno.E2BIG) from None  # a value larger than Linux allows
        raise
    if n > 0 and buf is not None:
        copy_to_user(t.mm, value, buf.raw[:n])
    return n


@syscall()
def sys_getxattr(t: Task, pathname: Path, name: StrIn, value: ValueOut, size: XattrSize) -> int:
    """retrieve an extended attribute value"""
    target = _path_target(t, pathname, True)
    try:
        return do_getxattr(t, target, name, value, size)
    finally:
        _put(target)


@syscall()
def sys_lgetxattr(t: Task, pathname: Path, name: StrIn, value: ValueOut, size: XattrSize) -> int:
    """retrieve an extended attribute value, not following a final symbolic link"""
    target = _path_target(t, pathname, False)
    try:
        return do_getxattr(t, target, name, value, size)
    finally:
        _put(target)


@syscall()
def sys_fgetxattr(t: Task, fd: Fd, name: StrIn, value: ValueOut, size: XattrSize) -> int:
    """retrieve an extended attribute value of an open file"""
    return do_getxattr(t, _fd_target(t, fd), name, value, size)


# -- list -----------------------------------------------------------------------------------


def do_listxattr(t: Task, target: Target, list_: int, size: int) -> int:
    size = min(size, x.XATTR_LIST_MAX)
    host = target.host()
    if host is None:
        return 0  # no ->listxattr: security_inode_listsecurity lists nothing
    buf = ctypes.create_string_buffer(size) if size else None
    try:
        if target.direct:
            n = _host(_flistxattr, host[0], buf, size)
        else:
            n = _host(_listxattr, host[1], buf, size)
    except KernelError as exc:
        if exc.errno == Errno.ERANGE and size >= x.XATTR_LIST_MAX:
            raise KernelError(Errno.E2BIG) from None
        raise
    if n > 0 and buf is not None:
        copy_to_user(t.mm, list_, buf.raw[:n])
    return n


@syscall()
def sys_listxattr(t: Task, pathname: Path, list: ListOut, size: XattrSize) -> int:  # noqa: A002 - Linux's name
    """list extended attribute names"""
    target = _path_target(t, pathname, True)
    try:
        return do_listxattr(t, target, list, size)
    finally:
        _put(target)


@syscall()
def sys_llistxattr(t: Task, pathname: Path, list: ListOut, size: XattrSize) -> int:  # noqa: A002
    """list extended attribute names, not following a final symbolic link"""
    target = _path_target(t, pathname, False)
    try:
        return do_listxattr(t, target, list, size)
    finally:
        _put(target)


@syscall()
def sys_flistxattr(t: Task, fd: Fd, list: ListOut, size: XattrSize) -> int:  # noqa: A002
    """list extended attribute names of an open file"""
    return do_listxattr(t, _fd_target(t, fd), list, size)


# -- set ------------------------------------------------------------------------------------


def setxattr_copy(t: Task, name: int, value: int, size: int, flags: int) -> tuple[bytes, bytes | None]:
    """The flags, the name and the value, checked and copied in before anything else."""
    if flags & ~(x.XATTR_CREATE | x.XATTR_REPLACE):
        raise KernelError(Errno.EINVAL)
    kname = _name(t, name)
    if not size:
        return kname, None
    if size > x.XATTR_SIZE_MAX:
        raise KernelError(Errno.E2BIG)
    return kname, copy_from_user(t.mm, value, size)


def do_setxattr(t: Task, target: Target, kname: bytes, kvalue: bytes | None, flags: int) -> int:
    host = target.host()
    if host is None:
        raise _kernel_object(t, target.mode, kname, True)
    size = len(kvalue) if kvalue is not None else 0
    if target.direct:
        _host(_fsetxattr, host[0], kname, kvalue, size, flags)
    else:
        _host(_setxattr, host[1], kname, kvalue, size, flags)
    return 0


def path_setxattr(t: Task, pathname: int, name: int, value: int, size: int, flags: int, follow: bool) -> int:
    kname, kvalue = setxattr_copy(t, name, value, size, flags)
    target = _path_target(t, pathname, follow)
    try:
        return do_setxattr(t, target, kname, kvalue, flags)
    finally:
        _put(target)


@syscall()
def sys_setxattr(t: Task, pathname: Path, name: StrIn, value: ValueIn, size: XattrSize,
                 flags: XattrFlags) -> int:
    """set an extended attribute value"""
    return path_setxattr(t, pathname, name, value, size, flags, True)


@syscall()
def sys_lsetxattr(t: Task, pathname: Path, name: StrIn, value: ValueIn, size: XattrSize,
                  flags: XattrFlags) -> int:
    """set an extended attribute value, not following a final symbolic link"""
    return path_setxattr(t, pathname, name, value, size, flags, False)


@syscall()
def sys_fsetxattr(t: Task, fd: Fd, name: StrIn, value: ValueIn, size: XattrSize, flags: XattrFlags) -> int:
    """set an extended attribute value of an open file"""
    target = _fd_target(t, fd)
    kname, kvalue = setxattr_copy(t, name, value, size, flags)
    return do_setxattr(t, target, kname, kvalue, flags)


# -- remove ---------------------------------------------------------------------------------


def do_removexattr(t: Task, target: Target, kname: bytes) -> int:
    host = target.host()
    if host is None:
        raise _kernel_object(t, target.mode, kname, True)
    if target.direct:
        _host(_fremovexattr, host[0], kname)
    else:
        _host(_removexattr, host[1], kname)
    return 0


def path_removexattr(t: Task, pathname: int, name: int, follow: bool) -> int:
    kname = _name(t, name)
    target = _path_target(t, pathname, follow)
    try:
        return do_removexattr(t, target, kname)
    finally:
        _put(target)


@syscall()
def sys_removexattr(t: Task, pathname: Path, name: StrIn) -> int:
    """remove an extended attribute"""
    return path_removexattr(t, pathname, name, True)


@syscall()
def sys_lremovexattr(t: Task, pathname: Path, name: StrIn) -> int:
    """remove an extended attribute, not following a final symbolic link"""
    return path_removexattr(t, pathname, name, False)


@syscall()
def sys_fremovexattr(t: Task, fd: Fd, name: StrIn) -> int:
    """remove an extended attribute of an open file"""
    target = _fd_target(t, fd)
    return do_removexattr(t, target, _name(t, name))
