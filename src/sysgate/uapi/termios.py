"""Terminal settings: struct termios bits and indexes (include/uapi/asm-generic/termbits.h,
termbits-common.h, termios.h; x86 values), the line disciplines (tty.h) and the modem
lines (TIOCM_*)."""

from typing import Final

NCCS: Final = 19
NCC: Final = 8

# c_cc indexes
VINTR: Final = 0
VQUIT: Final = 1
VERASE: Final = 2
VKILL: Final = 3
VEOF: Final = 4
VTIME: Final = 5
VMIN: Final = 6
VSWTC: Final = 7
VSTART: Final = 8
VSTOP: Final = 9
VSUSP: Final = 10
VEOL: Final = 11
VREPRINT: Final = 12
VDISCARD: Final = 13
VWERASE: Final = 14
VLNEXT: Final = 15
VEOL2: Final = 16

# c_iflag
IGNBRK: Final = 0o1
BRKINT: Final = 0o2
IGNPAR: Final = 0o4
PARMRK: Final = 0o10
INPCK: Final = 0o20
ISTRIP: Final = 0o40
INLCR: Final = 0o100
IGNCR: Final = 0o200
ICRNL: Final = 0o400
IUCLC: Final = 0o1000
IXON: Final = 0o2000
IXANY: Final = 0o4000
IXOFF: Final = 0o10000
IMAXBEL: Final = 0o20000
IUTF8: Final = 0o40000

# c_oflag
OPOST: Final = 0o1
OLCUC: Final = 0o2
ONLCR: Final = 0o4
OCRNL: Final = 0o10
ONOCR: Final = 0o20
ONLRET: Final = 0o40
OFILL: Final = 0o100
OFDEL: Final = 0o200
NLDLY: Final = 0o400
NL0: Final = 0o0
NL1: Final = 0o400
CRDLY: Final = 0o3000
CR0: Final = 0o0
CR1: Final = 0o1000
CR2: Final = 0o2000
CR3: Final = 0o3000
TABDLY: Final = 0o14000
TAB0: Final = 0o0
TAB1: Final = 0o4000
TAB2: Final = 0o10000
TAB3: Final = 0o14000
XTABS: Final = 0o14000
BSDLY: Final = 0o20000
BS0: Final = 0o0
BS1: Final = 0o20000
VTDLY: Final = 0o40000
VT0: Final = 0o0
VT1: Final = 0o40000
FFDLY: Final = 0o100000
FF0: Final = 0o0
FF1: Final = 0o100000

# c_cflag
CBAUD: Final = 0o10017
B0: Final = 0o0
B50: Final = 0o1
B75: Final = 0o2
B110: Final = 0o3
B134: Final = 0o4
B150: Final = 0o5
B200: Final = 0o6
B300: Final = 0o7
B600: Final = 0o10
B1200: Final = 0o11
B1800: Final = 0o12
B2400: Final = 0o13
B4800: Final = 0o14
B9600: Final = 0o15
B19200: Final = 0o16
B38400: Final = 0o17
EXTA: Final = B19200
EXTB: Final = B38400
CSIZE: Final = 0o60
CS5: Final = 0o0
CS6: Final = 0o20
CS7: Final = 0o40
CS8: Final = 0o60
CSTOPB: Final = 0o100
CREAD: Final = 0o200
PARENB: Final = 0o400
PARODD: Final = 0o1000
HUPCL: Final = 0o2000
CLOCAL: Final = 0o4000
CBAUDEX: Final = 0o10000
BOTHER: Final = 0o10000
B57600: Final = 0o10001
B115200: Final = 0o10002
B230400: Final = 0o10003
B460800: Final = 0o10004
B500000: Final = 0o10005
B576000: Final = 0o10006
B921600: Final = 0o10007
B1000000: Final = 0o10010
B1152000: Final = 0o10011
B1500000: Final = 0o10012
B2000000: Final = 0o10013
B2500000: Final = 0o10014
B3000000: Final = 0o10015
B3500000: Final = 0o10016
B4000000: Final = 0o10017
CIBAUD: Final = 0o2003600000
CMSPAR: Final = 0o10000000000
CRTSCTS: Final = 0o20000000000
IBSHIFT: Final = 16

# c_lflag
ISIG: Final = 0o1
ICANON: Final = 0o2
XCASE: Final = 0o4
ECHO: Final = 0o10
ECHOE: Final = 0o20
ECHOK: Final = 0o40
ECHONL: Final = 0o100
NOFLSH: Final = 0o200
TOSTOP: Final = 0o400
ECHOCTL: Final = 0o1000
ECHOPRT: Final = 0o2000
ECHOKE: Final = 0o4000
FLUSHO: Final = 0o10000
PENDIN: Final = 0o40000
IEXTEN: Final = 0o100000
EXTPROC: Final = 0o200000

# tcflow() and TCXONC
TCOOFF: Final = 0
TCOON: Final = 1
TCIOFF: Final = 2
TCION: Final = 3

# tcflush() and TCFLSH
TCIFLUSH: Final = 0
TCOFLUSH: Final = 1
TCIOFLUSH: Final = 2

# modem lines
TIOCM_LE: Final = 0x001
TIOCM_DTR: Final = 0x002
TIOCM_RTS: Final = 0x004
TIOCM_ST: Final = 0x008
TIOCM_SR: Final = 0x010
TIOCM_CTS: Final = 0x020
TIOCM_CAR: Final = 0x040
TIOCM_RNG: Final = 0x080
TIOCM_DSR: Final = 0x100
TIOCM_OUT1: Final = 0x2000
TIOCM_OUT2: Final = 0x4000
TIOCM_LOOP: Final = 0x8000

LINE_DISCIPLINES: Final = (
    "N_TTY N_SLIP N_MOUSE N_PPP N_STRIP N_AX25 N_X25 N_6PACK N_MASC N_R3964 N_PROFIBUS_FDL N_IRDA N_SMSBLOCK N_HDLC "
    "N_SYNC_PPP N_HCI N_GIGASET_M101 N_SLCAN N_PPS N_V253 N_CAIF N_GSM0710 N_TI_WL N_TRACESINK N_TRACEROUTER N_NCI "
    "N_SPEAKUP N_NULL"
).split()
"""include/uapi/linux/tty.h: the line disciplines, N_TTY = 0 onwards."""
