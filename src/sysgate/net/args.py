"""The argument types of the socket calls, with the printers the tracer uses for them.

Counterpart: the parameter lists of net/socket.c's SYSCALL_DEFINEs; the printers are
sysgate.trace.decoders.net's (strace's net.c, sockaddr.c, msghdr.c).
"""

from __future__ import annotations

from typing import Annotated

from sysgate.argtypes import INOUT, OUT, Arg, UserPtr

SockFd = Annotated[int, Arg("int", 32, True, show="sockfd")]
Family = Annotated[int, Arg("int", 32, True, show="socket_family")]
SockType = Annotated[int, Arg("int", 32, True, show="socket_type")]
Protocol = Annotated[int, Arg("int", 32, True, show="socket_protocol")]
FdPairOut = Annotated[int, UserPtr("int __user *", show="fd_pair", direction=OUT)]
AddrIn = Annotated[int, UserPtr("struct sockaddr __user *", show="sockaddr", size="addrlen")]
AddrToIn = Annotated[int, UserPtr("struct sockaddr __user *", show="sockaddr", size="addr_len")]
AddrOut = Annotated[int, UserPtr("struct sockaddr __user *", show="sockaddr_out", direction=OUT)]
AddrLen = Annotated[int, Arg("int", 32, True)]
AddrLenPtr = Annotated[int, UserPtr("int __user *", show="socklen_inout", direction=INOUT)]
SendBuf = Annotated[int, UserPtr("void __user *", show="buf", size="len")]
RecvBuf = Annotated[int, UserPtr("void __user *", show="buf", direction=OUT, size="ret")]
BufLenIn = Annotated[int, Arg("size_t")]
BufLenOut = Annotated[int, Arg("size_t")]
MsgFlags = Annotated[int, Arg("unsigned int", 32, show="msg_flags")]
SockLevel = Annotated[int, Arg("int", 32, True, show="sock_level")]
SockOpt = Annotated[int, Arg("int", 32, True, show="sockopt_name")]
OptvalIn = Annotated[int, UserPtr("char __user *", show="sockopt_val", size="optlen")]
OptvalOut = Annotated[int, UserPtr("char __user *", show="sockopt_val_out", direction=OUT)]
OptLen = Annotated[int, Arg("int", 32, True)]
OptLenPtr = Annotated[int, UserPtr("int __user *", show="socklen_inout", direction=INOUT)]
ShutHow = Annotated[int, Arg("int", 32, True, show="shutdown_how")]
MsghdrIn = Annotated[int, UserPtr("struct user_msghdr __user *", show="msghdr_in")]
MsghdrOut = Annotated[int, UserPtr("struct user_msghdr __user *", show="msghdr_out", direction=INOUT)]
MmsghdrIn = Annotated[int, UserPtr("struct mmsghdr __user *", show="mmsghdr_in", direction=INOUT)]
MmsghdrOut = Annotated[int, UserPtr("struct mmsghdr __user *", show="mmsghdr_out", direction=INOUT)]
Vlen = Annotated[int, Arg("unsigned int", 32)]
TimespecIn = Annotated[int, UserPtr("struct __kernel_timespec __user *", show="struct", struct="timespec")]
