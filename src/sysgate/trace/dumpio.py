"""-e read=FDS / -e write=FDS: hex dumps of the data read from or written to descriptors.

Counterpart: strace's syscall.c (dumpio) and util.c (dumpstr, dumpiov_upto),
msghdr.c / mmsghdr.c (dumpiov_in_msghdr, dumpiov_in_mmsghdr). After the call's line,
for a call on a descriptor of the set, each 16 bytes become one line:

     | 00000  48 65 6c 6c 6f 2c 20 77  6f 72 6c 64 21 0a        Hello, world!.   |

Writes are dumped even when they fail; reads only when they succeed, up to the result.
Vector calls announce each buffer (` * 5 bytes in buffer 0`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from sysgate.errors import GuestFault

if TYPE_CHECKING:
    from sysgate.kernel.task import Task
    from sysgate.trace.hooks import SyscallCall
    from sysgate.trace.strace import Tracer

WRITES = {"write": "str", "pwrite64": "str", "sendto": "str", "mq_timedsend": "str",
          "writev": "iov", "pwritev": "iov", "pwritev2": "iov", "vmsplice": "iov",
          "sendmsg": "msghdr", "sendmmsg": "mmsghdr"}
READS = {"read": "str", "pread64": "str", "recvfrom": "str", "mq_timedreceive": "str",
         "readv": "iov", "preadv": "iov", "preadv2": "iov",
         "recvmsg": "msghdr", "recvmmsg": "mmsghdr"}
UNLIMITED = 1 << 64
MSGHDR_SIZE = 56  # struct user_msghdr on x86-64: msg_iov at 16, msg_iovlen at 24
MMSGHDR_SIZE = 64  # struct mmsghdr: the msghdr, then msg_len at 56


def dumpio(tr: Tracer, call: SyscallCall, result: int, failed: bool, out: TextIO) -> None:
    """The dump after `call`'s line, if -e read= or -e write= names its descriptor."""
    opts = tr.opts
    if opts.write_fds.empty and opts.read_fds.empty:
        return
    fd = call.frame[1] & 0xFFFFFFFF
    if fd & 0x80000000:
        return
    t, a = call.task, call.frame
    kind = WRITES.get(call.name)
    if kind is not None and fd in opts.write_fds:
        if kind == "str":
            dumpstr(t, a[2], a[3], out)
        elif kind == "iov":
            dumpiov(t, a[3], a[2], UNLIMITED, out)
        elif kind == "msghdr":
            dump_msghdr(t, a[2], UNLIMITED, out)
        else:
            dump_mmsghdr(t, a[2], result, out)
        return
    kind = READS.get(call.name)
    if failed or kind is None or fd not in opts.read_fds:
        return
    if kind == "str":
        dumpstr(t, a[2], result, out)
    elif kind == "iov":
        dumpiov(t, a[3], a[2], result, out)
    elif kind == "msghdr":
        dump_msghdr(t, a[2], result, out)
    else:
        dump_mmsghdr(t, a[2], result, out)


def _read(t: Task, addr: int, size: int) -> bytes | None:
    try:
        return t.mm.read(addr, size)
    except GuestFault:
        return None


def dumpstr(t: Task, addr: int, length: int, out: TextIO) -> None:
    """dumpstr: 16 bytes a line, offset, two groups of eight hex bytes, then the characters."""
    length &= 0xFFFFFFFFFFFFFFFF
    if addr + length >= 1 << 64 or length >= (1 << 64) - 16:
        return
    width = 1 + ((length - 1).bit_length() - 1) // 4 if length > 1 << 20 else 5  # offs_chars
    chunk = 1 << 16
    i = 0
    data = b""
    while i < length:
        if i % chunk == 0:
            fetch = min(length - i, chunk)
            data = _read(t, addr + i, fetch) or b""
            if len(data) < fetch:
                if i:
                    out.write(f" | <Cannot fetch {fetch} byte{'' if fetch == 1 else 's'} from pid {t.pid} "
                              f"@{addr + i:#x}>\n")
                return
        row = data[i % chunk : i % chunk + 16]
        hexes = "".join(f"{b:02x} " + (" " if k == 7 else "") for k, b in enumerate(row))
        hexes = hexes.ljust(50)
        chars = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in row).ljust(16)
        out.write(f" | {i:0{width}x}  {hexes}{chars} |\n")
        i += 16


def dumpiov(t: Task, iovcnt: int, addr: int, data_size: int, out: TextIO) -> None:
    """dumpiov_upto: each buffer of an iovec array, up to `data_size` bytes in all."""
    iovcnt &= 0xFFFFFFFF
    if iovcnt & 0x80000000:
        return
    raw = _read(t, addr, 16 * iovcnt)
    if raw is None:
        return
    for i in range(iovcnt):
        base = int.from_bytes(raw[16 * i : 16 * i + 8], "little")
        size = min(int.from_bytes(raw[16 * i + 8 : 16 * i + 16], "little"), data_size)
        if not size:
            break
        data_size -= size
        out.write(f" * {size} bytes in buffer {i}\n")
        dumpstr(t, base, size, out)


def dump_msghdr(t: Task, addr: int, data_size: int, out: TextIO) -> None:
    raw = _read(t, addr, MSGHDR_SIZE)
    if raw is not None:
        iov = int.from_bytes(raw[16:24], "little")
        iovlen = int.from_bytes(raw[24:32], "little")
        dumpiov(t, iovlen, iov, data_size, out)


def dump_mmsghdr(t: Task, addr: int, count: int, out: TextIO) -> None:
    """dumpiov_in_mmsghdr: each message the call handled (its result), with its buffers."""
    for i in range(max(count, 0)):
        raw = _read(t, addr + i * MMSGHDR_SIZE, MMSGHDR_SIZE)
        if raw is None:
            break
        iovlen = int.from_bytes(raw[24:32], "little")
        out.write(f" = {iovlen} buffers in vector {i}\n")
        dumpiov(t, iovlen, int.from_bytes(raw[16:24], "little"), int.from_bytes(raw[56:60], "little"), out)
