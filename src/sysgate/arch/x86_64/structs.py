"""Struct layouts of the x86-64 user ABI, as the guest reads and writes them.

Counterpart: arch/x86/include/uapi/asm/stat.h, include/uapi/linux/{time_types,resource,
utsname,sysinfo,times,uio,statfs,statx,capability}.h and include/uapi/asm-generic/
statfs.h (64-bit). Each layout is a precompiled struct.Struct; handlers pack and unpack
through the small functions here rather than spelling formats themselves.
"""

from __future__ import annotations

import struct

from sysgate.fs.file import Kstat

STAT = struct.Struct("<QQQIIIIQqqqQQQQQQ24x")
"""struct stat (144 bytes)."""
TIMESPEC = struct.Struct("<qq")
"""struct __kernel_timespec: tv_sec, tv_nsec."""
TIMEVAL = struct.Struct("<qq")
"""struct __kernel_old_timeval: tv_sec, tv_usec."""
TIMEZONE = struct.Struct("<ii")
RLIMIT = struct.Struct("<QQ")
"""struct rlimit / rlimit64: rlim_cur, rlim_max."""
IOVEC = struct.Struct("<QQ")
"""struct iovec: iov_base, iov_len."""
TMS = struct.Struct("<qqqq")
"""struct tms: utime, stime, cutime, cstime (clock_t)."""
SYSINFO = struct.Struct("<q3Q6QH6xQQI4x")
"""struct sysinfo (112 bytes with the trailing padding of the 64-bit layout)."""
RUSAGE = struct.Struct("<qqqq14q")
"""struct rusage: ru_utime, ru_stime (timevals) and 14 longs."""
UTSNAME_FIELD = 65
STATFS = struct.Struct("<qqQQQQQiiqqq4q")
"""struct statfs (120 bytes): f_type, f_bsize, blocks, bfree, bavail, files, ffree,
f_fsid (two ints), f_namelen, f_frsize, f_flags, f_spare[4]."""
STATX_TIMESTAMP = struct.Struct("<qIi")
STATX_HEAD = struct.Struct("<IIQIIIH2xQQQQ")
STATX_SIZE = 256
ROBUST_LIST_HEAD_SIZE = 24
SIGSET_SIZE = 8
"""sizeof(sigset_t) in the kernel on x86-64: 64 signals."""
SIGACTION = struct.Struct("<QQQQ")
"""struct sigaction (kernel): sa_handler, sa_flags, sa_restorer, sa_mask."""
STACK_T = struct.Struct("<QI4xQ")
"""stack_t: ss_sp, ss_flags, ss_size. ss_flags is an int in the uapi but do_sigaltstack
reads it as unsigned, so SS_AUTODISARM (bit 31) round-trips."""
FLOCK = struct.Struct("<hh4xqqi4x")
"""struct flock: l_type, l_whence, l_start, l_len, l_pid."""
WINSIZE = struct.Struct("<HHHH")
OPEN_HOW = struct.Struct("<QQQ")
"""struct open_how: flags, mode, resolve."""


def pack_stat(st: Kstat) -> bytes:
    """struct stat for stat/fstat/lstat/newfstatat (cp_new_stat)."""
    return STAT.pack(
        st.dev, st.ino, st.nlink, st.mode, st.uid, st.gid, 0, st.rdev, st.size,
        st.blksize, st.blocks,
        st.atime_ns // 10**9, st.atime_ns % 10**9,
        st.mtime_ns // 10**9, st.mtime_ns % 10**9,
        st.ctime_ns // 10**9, st.ctime_ns % 10**9,
    )


def _major(dev: int) -> int:
    return ((dev >> 8) & 0xFFF) | ((dev >> 32) & ~0xFFF)


def _minor(dev: int) -> int:
    return (dev & 0xFF) | ((dev >> 12) & ~0xFF)


def pack_statx(st: Kstat, mask: int) -> bytes:
    """struct statx (cp_statx) for a Kstat; `mask` says which fields are valid."""
    head = STATX_HEAD.pack(
        mask, st.blksize, st.attributes, st.nlink, st.uid, st.gid, st.mode & 0xFFFF,
        st.ino, st.size, st.blocks, st.attributes_mask,
    )

    def ts(ns: int | None) -> bytes:
        ns = ns or 0
        return STATX_TIMESTAMP.pack(ns // 10**9, ns % 10**9, 0)

    tail = struct.pack(
        "<IIIIQ", _major(st.rdev) & 0xFFFFFFFF, _minor(st.rdev) & 0xFFFFFFFF,
        _major(st.dev) & 0xFFFFFFFF, _minor(st.dev) & 0xFFFFFFFF, st.mnt_id,
    )
    out = head + ts(st.atime_ns) + ts(st.btime_ns) + ts(st.ctime_ns) + ts(st.mtime_ns) + tail
    return out + bytes(STATX_SIZE - len(out))


def pack_timespec(ns: int) -> bytes:
    return TIMESPEC.pack(ns // 10**9, ns % 10**9)


def pack_timeval(ns: int) -> bytes:
    return TIMEVAL.pack(ns // 10**9, (ns % 10**9) // 1000)


def pack_utsname(fields: list[bytes]) -> bytes:
    """struct new_utsname: six NUL-padded 65-byte fields."""
    return b"".join(f[: UTSNAME_FIELD - 1].ljust(UTSNAME_FIELD, b"\0") for f in fields)
