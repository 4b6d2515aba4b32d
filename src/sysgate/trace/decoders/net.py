"""Sockets: families, types, addresses, message headers, control messages, options.

Counterpart: strace 6.1's net.c (socket, tprint_sock_type, getsockopt/setsockopt,
shutdown, the `[in => out]` socklen), sockaddr.c (print_sockaddr for AF_UNIX, AF_INET,
AF_INET6; other families as sa_data), msghdr.c (print_struct_msghdr, decode_msg_control
with SCM_RIGHTS and SCM_CREDENTIALS), mmsghdr.c and the xlat tables addrfams, socktypes,
sock_type_flags, inet_protocols, msg_flags, socketlayers, sock_options, shutdown_modes.

A descriptor is printed as printfd prints it: `-y` shows `socket:[INODE]`, and `-yy`
shows the same (strace's protocol details need NETLINK_SOCK_DIAG, which the guest has
not; strace prints the path when that query fails).
"""

from __future__ import annotations

import ipaddress
import struct

from sysgate.argtypes import UserPtr
from sysgate.syscall import Param
from sysgate.trace import quote
from sysgate.trace.printers import U32, Ctx, addr, fetch, flags_printer, printer, s32, xval_printer
from sysgate.trace.xlat import Xlat, printflags, printxval
from sysgate.uapi import socket as s

ADDRFAMS = Xlat.of([(v, n) for n, v in sorted(
    ((n, int(getattr(s, n))) for n in dir(s) if n.startswith("AF_") and n != "AF_MAX"), key=lambda p: p[1])])
SOCKTYPES = Xlat.names(s, "SOCK_STREAM SOCK_DGRAM SOCK_RAW SOCK_RDM SOCK_SEQPACKET SOCK_DCCP SOCK_PACKET")
SOCK_TYPE_FLAGS = Xlat.names(s, "SOCK_CLOEXEC SOCK_NONBLOCK")
INET_PROTOCOLS = Xlat.names(s, "IPPROTO_IP IPPROTO_ICMP IPPROTO_IGMP IPPROTO_TCP IPPROTO_UDP IPPROTO_IPV6 "
                            "IPPROTO_ICMPV6 IPPROTO_SCTP IPPROTO_UDPLITE IPPROTO_RAW IPPROTO_MPTCP")
MSG_FLAGS = Xlat.names(s, "MSG_OOB MSG_PEEK MSG_DONTROUTE MSG_CTRUNC MSG_PROBE MSG_TRUNC MSG_DONTWAIT MSG_EOR "
                       "MSG_WAITALL MSG_FIN MSG_SYN MSG_CONFIRM MSG_RST MSG_ERRQUEUE MSG_NOSIGNAL MSG_MORE "
                       "MSG_WAITFORONE MSG_BATCH MSG_ZEROCOPY MSG_FASTOPEN MSG_CMSG_CLOEXEC")
SOCKET_LAYERS = Xlat.of([(s.SOL_IP, "SOL_IP"), (s.SOL_SOCKET, "SOL_SOCKET"), (s.SOL_TCP, "SOL_TCP"),
                         (s.SOL_UDP, "SOL_UDP"), (s.SOL_IPV6, "SOL_IPV6")])
SHUTDOWN = Xlat.names(s, "SHUT_RD SHUT_WR SHUT_RDWR")
SCMVALS = Xlat.names(s, "SCM_RIGHTS SCM_CREDENTIALS SCM_SECURITY SCM_PIDFD")


def _names(prefix: str, skip: tuple[str, ...] = ()) -> Xlat:
    pairs = sorted(((int(getattr(s, n)), n.removesuffix("_OLD")) for n in dir(s)
                    if n.startswith(prefix) and n not in skip), key=lambda p: p[0])
    return Xlat.of(pairs)


SO_OPTS = _names("SO_", ("SO_RCVTIMEO_NEW", "SO_SNDTIMEO_NEW", "SO_TIMESTAMP_NEW", "SO_TIMESTAMPNS_NEW",
                         "SO_TIMESTAMPING_NEW"))
IP_OPTS = _names("IP_")
IPV6_OPTS = _names("IPV6_")
TCP_OPTS = _names("TCP_")
OPTS_BY_LEVEL = {s.SOL_SOCKET: (SO_OPTS, "SO_???"), s.SOL_IP: (IP_OPTS, "IP_???"),
                 s.SOL_IPV6: (IPV6_OPTS, "IPV6_???"), s.SOL_TCP: (TCP_OPTS, "TCP_???")}

xval_printer("socket_family", ADDRFAMS, "AF_???")
xval_printer("sock_level", SOCKET_LAYERS, "SOL_???")
xval_printer("shutdown_how", SHUTDOWN, "SHUT_???")
flags_printer("msg_flags", MSG_FLAGS, "MSG_???")


@printer("socket_type")
def p_socket_type(ctx: Ctx, v: int, p: Param) -> str:
    """tprint_sock_type: the type by name, then SOCK_CLOEXEC / SOCK_NONBLOCK."""
    v &= U32
    style = ctx.opts.xlat_style
    name = SOCKTYPES.lookup(v & s.SOCK_TYPE_MASK)
    if name is None:
        return printflags(style, SOCK_TYPE_FLAGS, v, "SOCK_???")
    head = printxval(style, SOCKTYPES, v & s.SOCK_TYPE_MASK)
    rest = v & ~s.SOCK_TYPE_MASK
    return head if not rest else head + "|" + printflags(style, SOCK_TYPE_FLAGS, rest, "SOCK_???")


@printer("socket_protocol")
def p_socket_protocol(ctx: Ctx, v: int, p: Param) -> str:
    if ctx.arg("family") in (s.AF_INET, s.AF_INET6):
        return printxval(ctx.opts.xlat_style, INET_PROTOCOLS, v & U32, "IPPROTO_???")
    return str(v & U32)


def format_sockaddr(ctx: Ctx, data: bytes) -> str:
    """print_sockaddr of `data` (the bytes the length covers)."""
    family = int.from_bytes(data[:2].ljust(2, b"\0"), "little")
    out = "{sa_family=" + printxval(ctx.opts.xlat_style, ADDRFAMS, family, "AF_???")
    if len(data) > 2:
        body = data[2:]
        if family == s.AF_UNIX:
            path = body[: s.UNIX_PATH_MAX]
            if path[:1] != b"\0":
                text = quote.quote_bytes(path.split(b"\0", 1)[0], ctx.opts.xflag)
            else:
                text = "@" + quote.quote_bytes(path[1:], ctx.opts.xflag)
            out += ", sun_path=" + text
        elif family == s.AF_INET and len(data) >= 16:
            port = int.from_bytes(body[:2], "big")
            out += f', sin_port=htons({port}), sin_addr=inet_addr("{ipaddress.IPv4Address(body[2:6])}")'
        elif family == s.AF_INET6 and len(data) >= 24:
            port = int.from_bytes(body[:2], "big")
            flow = int.from_bytes(body[2:6], "big")
            a6 = ipaddress.IPv6Address(body[6:22])
            out += (f", sin6_port=htons({port}), sin6_flowinfo=htonl({flow}), "
                    f'inet_pton(AF_INET6, "{a6.compressed}", &sin6_addr)')
            if len(data) > 24:
                out += f", sin6_scope_id={int.from_bytes(body[22:26], 'little')}"
        else:
            out += ", sa_data=" + quote.quote_bytes(body, ctx.opts.xflag)
    return out + "}"


def decode_sockaddr(ctx: Ctx, ptr: int, length: int) -> str:
    if length < 2:
        return addr(ptr)
    length = min(length, s.SOCKADDR_STORAGE_SIZE)
    data = fetch(ctx, ptr, length)
    if data is None:
        return addr(ptr)
    return format_sockaddr(ctx, data)


@printer("sockaddr")
def p_sockaddr(ctx: Ctx, v: int, p: Param) -> str:
    assert isinstance(p.arg, UserPtr) and p.arg.size
    return decode_sockaddr(ctx, v, s32(ctx.arg(p.arg.size)))


def _len_param(ctx: Ctx, p: Param) -> str | None:
    """The socklen pointer that goes with an address or option value: the next parameter."""
    assert ctx.spec is not None
    names = [q.name for q in ctx.spec.params]
    i = names.index(p.name)
    return names[i + 1] if i + 1 < len(names) else None


def _read_int(ctx: Ctx, ptr: int) -> int | None:
    data = ctx.read(ptr, 4) if ptr else None
    return None if data is None else int.from_bytes(data, "little", signed=True)


@printer("sockfd")
def p_sockfd(ctx: Ctx, v: int, p: Param) -> str:
    """printfd; at entry it also notes the lengths the socklen pointers hold, for the
    `[in => out]` printed at exit."""
    assert ctx.spec is not None
    for i, q in enumerate(ctx.spec.params):
        if q.arg.show == "socklen_inout":
            ctx.extra[f"len:{q.name}"] = _read_int(ctx, ctx.args[i])
    return ctx.printfd(v)


@printer("socklen_inout")
def p_socklen_inout(ctx: Ctx, v: int, p: Param) -> str:
    if not v:
        return "NULL"
    before = ctx.extra.get(f"len:{p.name}")
    after = _read_int(ctx, v) if not ctx.failed else None
    if after is None:
        return f"[{before}]" if isinstance(before, int) else addr(v)
    if isinstance(before, int) and before != after:
        return f"[{before} => {after}]"
    return f"[{after}]"


@printer("sockaddr_out")
def p_sockaddr_out(ctx: Ctx, v: int, p: Param) -> str:
    if not v:
        return "NULL"
    name = _len_param(ctx, p)
    ptr = ctx.arg(name) if name else 0
    after = _read_int(ctx, ptr)
    before = ctx.extra.get(f"len:{name}")
    if after is None:
        return addr(v)
    length = min(after, before) if isinstance(before, int) else after
    return decode_sockaddr(ctx, v, length)


def _optname(level: int, name: int, style: str) -> str:
    table = OPTS_BY_LEVEL.get(level)
    if table is None:
        return str(name)
    return printxval(style, table[0], name, table[1])


@printer("sockopt_name")
def p_sockopt_name(ctx: Ctx, v: int, p: Param) -> str:
    return _optname(s32(ctx.arg("level")), s32(v), ctx.opts.xlat_style)


def _optval(ctx: Ctx, ptr: int, length: int) -> str:
    level, name = s32(ctx.arg("level")), s32(ctx.arg("optname"))
    if length <= 0 or not ptr:
        return addr(ptr)
    data = fetch(ctx, ptr, length)
    if data is None:
        return addr(ptr)
    if level == s.SOL_SOCKET and name == s.SO_LINGER and length >= 8:
        on, linger = struct.unpack_from("<ii", data)
        return f"{{l_onoff={on}, l_linger={linger}}}"
    if level == s.SOL_SOCKET and name == s.SO_PEERCRED and length >= 12:
        pid, uid, gid = struct.unpack_from("<iII", data)
        return f"{{pid={pid}, uid={uid}, gid={gid}}}"
    if level == s.SOL_SOCKET and name in (s.SO_RCVTIMEO_OLD, s.SO_SNDTIMEO_OLD) and length >= 16:
        sec, usec = struct.unpack_from("<qq", data)
        return f"{{tv_sec={sec}, tv_usec={usec}}}"
    if length == 4:
        return f"[{int.from_bytes(data, 'little', signed=True)}]"
    return quote.printstr(ctx.read, ptr, length, ctx.opts.string_limit, ctx.opts.xflag)


@printer("sockopt_val")
def p_sockopt_val(ctx: Ctx, v: int, p: Param) -> str:
    return _optval(ctx, v, s32(ctx.arg("optlen")))


@printer("sockopt_val_out")
def p_sockopt_val_out(ctx: Ctx, v: int, p: Param) -> str:
    length = _read_int(ctx, ctx.arg("optlen"))
    return addr(v) if length is None else _optval(ctx, v, length)


MSGHDR = struct.Struct("<Qi4xQQQQi4x")


def _cmsgs(ctx: Ctx, ptr: int, length: int) -> str:
    data = fetch(ctx, ptr, min(length, 20480)) if length >= 16 else None
    if data is None:
        return addr(ptr)
    out = []
    off = 0
    while len(data) - off >= 16:
        clen, level, type_ = struct.unpack_from("<QiI", data, off)
        text = f"{{cmsg_len={clen}, cmsg_level=" + printxval(ctx.opts.xlat_style, SOCKET_LAYERS, level, "SOL_???")
        body = data[off + 16 : off + min(clen, len(data) - off)]
        if level == s.SOL_SOCKET:
            text += ", cmsg_type=" + printxval(ctx.opts.xlat_style, SCMVALS, type_, "SCM_???")
            if type_ == s.SCM_RIGHTS and len(body) >= 4:
                fds = [ctx.printfd(fd) for (fd,) in struct.iter_unpack("<i", body[: len(body) // 4 * 4])]
                text += ", cmsg_data=[" + ", ".join(fds) + "]"
            elif type_ == s.SCM_CREDENTIALS and len(body) >= 12:
                pid, uid, gid = struct.unpack_from("<iII", body)
                text += f", cmsg_data={{pid={pid}, uid={uid}, gid={gid}}}"
        else:
            text += f", cmsg_type={type_:#x}"
        out.append(text + "}")
        step = (clen + 7) & ~7
        if clen < 16 or step >= len(data) - off:
            off = len(data)
            break
        off += step
    return "[" + ", ".join(out) + "]"


def format_msghdr(ctx: Ctx, ptr: int, data_size: int | None, namelen_before: int | None = None) -> str:
    """print_struct_msghdr."""
    from sysgate.trace.decoders.io import print_iov

    raw = fetch(ctx, ptr, MSGHDR.size)
    if raw is None:
        return addr(ptr)
    name, namelen, iov, iovlen, control, controllen, flags = MSGHDR.unpack(raw)
    shown = min(namelen, namelen_before) if namelen_before is not None else namelen
    text = "{msg_name=" + decode_sockaddr(ctx, name, shown) + ", msg_namelen="
    if namelen_before is not None and namelen_before != namelen:
        text += f"{namelen_before} => "
    text += f"{namelen}, msg_iov=" + print_iov(ctx, iov, iovlen, data_size) + f", msg_iovlen={iovlen}"
    if controllen:
        text += ", msg_control=" + _cmsgs(ctx, control, controllen)
    shown_flags = printflags(ctx.opts.xlat_style, MSG_FLAGS, flags & U32, "MSG_???")
    text += f", msg_controllen={controllen}, msg_flags={shown_flags}"
    return text + "}"


@printer("msghdr_in")
def p_msghdr_in(ctx: Ctx, v: int, p: Param) -> str:
    return format_msghdr(ctx, v, None)


@printer("msghdr_out")
def p_msghdr_out(ctx: Ctx, v: int, p: Param) -> str:
    if not ctx.exiting:
        raw = fetch(ctx, v, MSGHDR.size)
        ctx.extra["namelen"] = MSGHDR.unpack(raw)[1] if raw is not None else None
        return addr(v)
    before = ctx.extra.get("namelen")
    if ctx.failed:
        return f"{{msg_namelen={before}}}" if isinstance(before, int) else addr(v)
    return format_msghdr(ctx, v, ctx.ret, before if isinstance(before, int) else None)


def _mmsg(ctx: Ctx, v: int, count: int, received: bool) -> str:
    items = []
    for i in range(count):
        ptr = v + 64 * i
        raw = fetch(ctx, ptr + 56, 4, ignore_syserror=True)
        length = int.from_bytes(raw, "little") if raw is not None else 0
        items.append("{msg_hdr=" + format_msghdr(ctx, ptr, length if received else None) + f", msg_len={length}}}")
    return "[" + ", ".join(items) + "]"


@printer("mmsghdr_in")
def p_mmsghdr_in(ctx: Ctx, v: int, p: Param) -> str:
    if ctx.failed or ctx.ret is None:
        return addr(v)
    return _mmsg(ctx, v, ctx.ret, False)


@printer("mmsghdr_out")
def p_mmsghdr_out(ctx: Ctx, v: int, p: Param) -> str:
    if ctx.failed or ctx.ret is None:
        return addr(v)
    return _mmsg(ctx, v, ctx.ret, True)
