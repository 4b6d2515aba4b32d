"""Socket constants (include/linux/socket.h, include/linux/net.h, include/uapi/asm-generic/
socket.h, include/uapi/linux/in.h, in6.h, tcp.h, un.h; x86-64 values)."""

from typing import Final

from sysgate.uapi.fcntl import O_CLOEXEC, O_NONBLOCK

# Address families (include/linux/socket.h)
AF_UNSPEC: Final = 0
AF_UNIX: Final = 1
AF_INET: Final = 2
AF_AX25: Final = 3
AF_IPX: Final = 4
AF_APPLETALK: Final = 5
AF_NETROM: Final = 6
AF_BRIDGE: Final = 7
AF_ATMPVC: Final = 8
AF_X25: Final = 9
AF_INET6: Final = 10
AF_ROSE: Final = 11
AF_DECnet: Final = 12
AF_NETBEUI: Final = 13
AF_SECURITY: Final = 14
AF_KEY: Final = 15
AF_NETLINK: Final = 16
AF_PACKET: Final = 17
AF_ASH: Final = 18
AF_ECONET: Final = 19
AF_ATMSVC: Final = 20
AF_RDS: Final = 21
AF_SNA: Final = 22
AF_IRDA: Final = 23
AF_PPPOX: Final = 24
AF_WANPIPE: Final = 25
AF_LLC: Final = 26
AF_IB: Final = 27
AF_MPLS: Final = 28
AF_CAN: Final = 29
AF_TIPC: Final = 30
AF_BLUETOOTH: Final = 31
AF_IUCV: Final = 32
AF_RXRPC: Final = 33
AF_ISDN: Final = 34
AF_PHONET: Final = 35
AF_IEEE802154: Final = 36
AF_CAIF: Final = 37
AF_ALG: Final = 38
AF_NFC: Final = 39
AF_VSOCK: Final = 40
AF_KCM: Final = 41
AF_QIPCRTR: Final = 42
AF_SMC: Final = 43
AF_XDP: Final = 44
AF_MCTP: Final = 45
AF_MAX: Final = 46  # NPROTO

# Socket types (include/linux/net.h)
SOCK_STREAM: Final = 1
SOCK_DGRAM: Final = 2
SOCK_RAW: Final = 3
SOCK_RDM: Final = 4
SOCK_SEQPACKET: Final = 5
SOCK_DCCP: Final = 6
SOCK_PACKET: Final = 10
SOCK_MAX: Final = 11
SOCK_TYPE_MASK: Final = 0xF
SOCK_CLOEXEC: Final = O_CLOEXEC
SOCK_NONBLOCK: Final = O_NONBLOCK

# Levels
SOL_IP: Final = 0
SOL_SOCKET: Final = 1
SOL_TCP: Final = 6
SOL_UDP: Final = 17
SOL_IPV6: Final = 41

# SOL_SOCKET options (include/uapi/asm-generic/socket.h)
SO_DEBUG: Final = 1
SO_REUSEADDR: Final = 2
SO_TYPE: Final = 3
SO_ERROR: Final = 4
SO_DONTROUTE: Final = 5
SO_BROADCAST: Final = 6
SO_SNDBUF: Final = 7
SO_RCVBUF: Final = 8
SO_KEEPALIVE: Final = 9
SO_OOBINLINE: Final = 10
SO_NO_CHECK: Final = 11
SO_PRIORITY: Final = 12
SO_LINGER: Final = 13
SO_BSDCOMPAT: Final = 14
SO_REUSEPORT: Final = 15
SO_PASSCRED: Final = 16
SO_PEERCRED: Final = 17
SO_RCVLOWAT: Final = 18
SO_SNDLOWAT: Final = 19
SO_RCVTIMEO_OLD: Final = 20
SO_SNDTIMEO_OLD: Final = 21
SO_BINDTODEVICE: Final = 25
SO_ATTACH_FILTER: Final = 26
SO_DETACH_FILTER: Final = 27
SO_PEERNAME: Final = 28
SO_TIMESTAMP_OLD: Final = 29
SO_ACCEPTCONN: Final = 30
SO_PEERSEC: Final = 31
SO_SNDBUFFORCE: Final = 32
SO_RCVBUFFORCE: Final = 33
SO_PASSSEC: Final = 34
SO_TIMESTAMPNS_OLD: Final = 35
SO_MARK: Final = 36
SO_TIMESTAMPING_OLD: Final = 37
SO_PROTOCOL: Final = 38
SO_DOMAIN: Final = 39
SO_RXQ_OVFL: Final = 40
SO_PEEK_OFF: Final = 42
SO_ATTACH_BPF: Final = 50
SO_ATTACH_REUSEPORT_CBPF: Final = 51
SO_ATTACH_REUSEPORT_EBPF: Final = 52
SO_COOKIE: Final = 57
SO_PEERGROUPS: Final = 59
SO_ZEROCOPY: Final = 60
SO_TIMESTAMP_NEW: Final = 63
SO_TIMESTAMPNS_NEW: Final = 64
SO_TIMESTAMPING_NEW: Final = 65
SO_RCVTIMEO_NEW: Final = 66
SO_SNDTIMEO_NEW: Final = 67
SO_PASSPIDFD: Final = 76
SO_PEERPIDFD: Final = 77

# SCM types
SCM_RIGHTS: Final = 1
SCM_CREDENTIALS: Final = 2
SCM_SECURITY: Final = 3
SCM_PIDFD: Final = 4
SCM_MAX_FD: Final = 253

# Message flags (include/linux/socket.h)
MSG_OOB: Final = 0x1
MSG_PEEK: Final = 0x2
MSG_DONTROUTE: Final = 0x4
MSG_CTRUNC: Final = 0x8
MSG_PROBE: Final = 0x10
MSG_TRUNC: Final = 0x20
MSG_DONTWAIT: Final = 0x40
MSG_EOR: Final = 0x80
MSG_WAITALL: Final = 0x100
MSG_FIN: Final = 0x200
MSG_SYN: Final = 0x400
MSG_CONFIRM: Final = 0x800
MSG_RST: Final = 0x1000
MSG_ERRQUEUE: Final = 0x2000
MSG_NOSIGNAL: Final = 0x4000
MSG_MORE: Final = 0x8000
MSG_WAITFORONE: Final = 0x10000
MSG_BATCH: Final = 0x40000
MSG_SOCK_DEVMEM: Final = 0x2000000
MSG_ZEROCOPY: Final = 0x4000000
MSG_FASTOPEN: Final = 0x20000000
MSG_CMSG_CLOEXEC: Final = 0x40000000

SHUT_RD: Final = 0
SHUT_WR: Final = 1
SHUT_RDWR: Final = 2

# Protocols (include/uapi/linux/in.h)
IPPROTO_IP: Final = 0
IPPROTO_ICMP: Final = 1
IPPROTO_IGMP: Final = 2
IPPROTO_TCP: Final = 6
IPPROTO_UDP: Final = 17
IPPROTO_IPV6: Final = 41
IPPROTO_ICMPV6: Final = 58
IPPROTO_SCTP: Final = 132
IPPROTO_UDPLITE: Final = 136
IPPROTO_RAW: Final = 255
IPPROTO_MPTCP: Final = 262

# IP level options (include/uapi/linux/in.h)
IP_TOS: Final = 1
IP_TTL: Final = 2
IP_HDRINCL: Final = 3
IP_OPTIONS: Final = 4
IP_RECVOPTS: Final = 6
IP_RETOPTS: Final = 7
IP_PKTINFO: Final = 8
IP_MTU_DISCOVER: Final = 10
IP_RECVERR: Final = 11
IP_RECVTTL: Final = 12
IP_RECVTOS: Final = 13
IP_MTU: Final = 14
IP_FREEBIND: Final = 15
IP_MULTICAST_IF: Final = 32
IP_MULTICAST_TTL: Final = 33
IP_MULTICAST_LOOP: Final = 34
IP_ADD_MEMBERSHIP: Final = 35
IP_DROP_MEMBERSHIP: Final = 36

# IPv6 level options (include/uapi/linux/in6.h)
IPV6_UNICAST_HOPS: Final = 16
IPV6_MULTICAST_IF: Final = 17
IPV6_MULTICAST_HOPS: Final = 18
IPV6_MULTICAST_LOOP: Final = 19
IPV6_JOIN_GROUP: Final = 20
IPV6_LEAVE_GROUP: Final = 21
IPV6_V6ONLY: Final = 26
IPV6_RECVPKTINFO: Final = 49
IPV6_PKTINFO: Final = 50
IPV6_TCLASS: Final = 67

# TCP level options (include/uapi/linux/tcp.h)
TCP_NODELAY: Final = 1
TCP_MAXSEG: Final = 2
TCP_CORK: Final = 3
TCP_KEEPIDLE: Final = 4
TCP_KEEPINTVL: Final = 5
TCP_KEEPCNT: Final = 6
TCP_SYNCNT: Final = 7
TCP_LINGER2: Final = 8
TCP_DEFER_ACCEPT: Final = 9
TCP_WINDOW_CLAMP: Final = 10
TCP_INFO: Final = 11
TCP_QUICKACK: Final = 12
TCP_CONGESTION: Final = 13
TCP_USER_TIMEOUT: Final = 18
TCP_FASTOPEN: Final = 23
TCP_ZEROCOPY_RECEIVE: Final = 35

# Socket ioctls (include/uapi/linux/sockios.h, asm-generic/sockios.h)
SIOCINQ: Final = 0x541B  # FIONREAD
SIOCOUTQ: Final = 0x5411  # TIOCOUTQ
SIOCATMARK: Final = 0x8905
SIOCOUTQNSD: Final = 0x894B
SIOCGSTAMP_OLD: Final = 0x8906

UNIX_PATH_MAX: Final = 108
SUN_PATH_OFFSET: Final = 2  # offsetof(struct sockaddr_un, sun_path)
SOCKADDR_STORAGE_SIZE: Final = 128
