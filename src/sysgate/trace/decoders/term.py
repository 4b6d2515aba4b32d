"""Terminal ioctls (type 'T'): struct termios, termio, termios2, winsize, modem lines,
and the requests that take an int or nothing.

Counterpart: strace's term.c (term_ioctl, decode_termios, decode_oflag, decode_cflag,
decode_winsize, decode_modem_flags) and the tables xlat/term_*.in, baud_options.in,
termios_cc.in, term_line_discs.in, modem_flags.in, tcxonc_options.in, tcflsh_options.in.
Without -v a termios shows its four flag words and `...`; with -v also c_line and
every c_cc slot. A request that fills its argument (TCGETS, TIOCGWINSZ, FIONREAD)
shows it only when the call succeeds, its address otherwise.
"""

from __future__ import annotations

import struct

from sysgate.trace import quote
from sysgate.trace.decoders.ioctl import FILLED, UNDECODED, _Undecoded, ioctl_decoder
from sysgate.trace.printers import Ctx, addr, fetch, s32
from sysgate.trace.xlat import Xlat, printflags, printxval
from sysgate.uapi import ioctls as i
from sysgate.uapi import termios as tm

TERM_IFLAGS = Xlat.names(tm, "IGNBRK BRKINT IGNPAR PARMRK INPCK ISTRIP INLCR IGNCR ICRNL IUCLC IXON IXANY IXOFF "
                         "IMAXBEL IUTF8")
TERM_OFLAGS = Xlat.names(tm, "OPOST OLCUC ONLCR OCRNL ONOCR ONLRET OFILL OFDEL")
OFLAG_FIELDS = (
    (Xlat.names(tm, "NL0 NL1"), tm.NLDLY, "NL?"),
    (Xlat.names(tm, "CR0 CR1 CR2 CR3"), tm.CRDLY, "CR?"),
    (Xlat.names(tm, "XTABS TAB0 TAB1 TAB2 TAB3"), tm.TABDLY, "TAB?"),
    (Xlat.names(tm, "BS1 BS0"), tm.BSDLY, "BS?"),
    (Xlat.names(tm, "VT0 VT1"), tm.VTDLY, "VT?"),
    (Xlat.names(tm, "FF0 FF1"), tm.FFDLY, "FF?"),
)
"""decode_oflag's delay fields, each printed by value; XTABS comes before TAB3 as in
strace's table, so TAB3 prints as XTABS."""
BAUDS = Xlat.names(tm, "B0 B50 B75 B110 B134 B150 B200 B300 B600 B1200 B1800 B2400 B4800 B9600 B19200 B38400 "
                   "B57600 B115200 B230400 B460800 B500000 B576000 B921600 B1000000 B1152000 B1500000 "
                   "B2000000 B2500000 B3000000 B3500000 B4000000 EXTA EXTB BOTHER")
CSIZES = Xlat.names(tm, "CS5 CS6 CS7 CS8")
TERM_CFLAGS = Xlat.names(tm, "CSTOPB CREAD PARENB PARODD HUPCL CLOCAL CMSPAR CRTSCTS")
TERM_LFLAGS = Xlat.names(tm, "ISIG ICANON XCASE ECHO ECHOE ECHOK ECHONL NOFLSH IEXTEN ECHOCTL ECHOPRT ECHOKE "
                         "FLUSHO PENDIN TOSTOP EXTPROC")
LINE_DISCS = Xlat.of(enumerate(tm.LINE_DISCIPLINES))
CC_NAMES = Xlat.names(tm, "VINTR VQUIT VERASE VKILL VEOL2 VSWTC VSTART VSTOP VSUSP VREPRINT VDISCARD VWERASE "
                      "VLNEXT VMIN VTIME VEOF VEOL")
IBSHIFT = Xlat.of([(tm.IBSHIFT, "IBSHIFT")])
MODEM_FLAGS = Xlat.names(tm, "TIOCM_LE TIOCM_DTR TIOCM_RTS TIOCM_ST TIOCM_SR TIOCM_CTS TIOCM_CAR TIOCM_RNG "
                         "TIOCM_DSR TIOCM_OUT1 TIOCM_OUT2 TIOCM_LOOP")
TCXONC_OPTIONS = Xlat.names(tm, "TCOOFF TCOON TCIOFF TCION")
TCFLSH_OPTIONS = Xlat.names(tm, "TCIFLUSH TCOFLUSH TCIOFLUSH")

TERMIOS = struct.Struct("<IIIIB19s")
"""struct termios (asm-generic/termbits.h): four flag words, c_line, c_cc[NCCS]."""
TERMIOS2 = struct.Struct("<IIIIB19sII")
"""struct termios2: a termios with c_ispeed and c_ospeed."""
TERMIO = struct.Struct("<HHHHB8sx")
"""struct termio: 16-bit flag words, c_line, c_cc[NCC]."""
WINSIZE = struct.Struct("<HHHH")

_GET_TERMIOS = {i.TCGETS, i.TIOCGLCKTRMIOS}
_SET_TERMIOS = {i.TCSETS, i.TCSETSW, i.TCSETSF, i.TIOCSLCKTRMIOS}
_SET_TERMIOS2 = {i.TCSETS2, i.TCSETSW2, i.TCSETSF2}
_SET_TERMIO = {i.TCSETA, i.TCSETAW, i.TCSETAF}
_GET_INT = {i.TIOCGPGRP, i.TIOCGSID, i.TIOCGETD, i.TIOCGSOFTCAR, i.TIOCGPTN, i.FIONREAD, i.TIOCOUTQ,
            i.TIOCGEXCL, i.TIOCGDEV}
_SET_INT = {i.TIOCSPGRP, i.TIOCSETD, i.FIONBIO, i.FIOASYNC, i.TIOCPKT, i.TIOCSSOFTCAR, i.TIOCSPTLCK}
_NO_ARG = {i.TIOCSBRK, i.TIOCCBRK, i.TIOCCONS, i.TIOCNOTTY, i.TIOCEXCL, i.TIOCNXCL, i.FIOCLEX, i.FIONCLEX,
           i.TIOCVHANGUP, i.TIOCSSERIAL}


def _oflag(style: str, val: int) -> str:
    """decode_oflag: each delay field by value, then the other flags."""
    out = []
    for table, mask, dflt in OFLAG_FIELDS:
        out.append(printxval(style, table, val & mask, dflt))
        val &= ~mask
    return "|".join(out) + "|" + printflags(style, TERM_OFLAGS, val)


def _cflag(style: str, val: int) -> str:
    """decode_cflag: the output speed, the input speed if set (`B9600<<IBSHIFT`), the
    character size, then the other flags."""
    out = printxval(style, BAUDS, val & tm.CBAUD, "B???") + "|"
    if val & tm.CIBAUD:
        out += (printxval(style, BAUDS, (val & tm.CIBAUD) >> tm.IBSHIFT, "B???") + "<<"
                + printxval(style, IBSHIFT, tm.IBSHIFT) + "|")
    out += printxval(style, CSIZES, val & tm.CSIZE, "CS?") + "|"
    return out + printflags(style, TERM_CFLAGS, val & ~(tm.CBAUD | tm.CIBAUD | tm.CSIZE))


def _flags(style: str, iflag: int, oflag: int, cflag: int, lflag: int) -> str:
    return (f"c_iflag={printflags(style, TERM_IFLAGS, iflag)}, c_oflag={_oflag(style, oflag)}, "
            f"c_cflag={_cflag(style, cflag)}, c_lflag={printflags(style, TERM_LFLAGS, lflag)}")


def _cc(cc: bytes) -> str:
    """decode_term_cc: `c_cc=[[VINTR]=0x3, ..., [17]=0]`."""
    items = (f"[{CC_NAMES.lookup(n) or n}]={c:#x}" if c else f"[{CC_NAMES.lookup(n) or n}]=0" for n, c in enumerate(cc))
    return "c_cc=[" + ", ".join(items) + "]"


def _line(style: str, line: int) -> str:
    return "c_line=" + printxval(style, LINE_DISCS, line, "N_???")


def _print_termios(ctx: Ctx, ptr: int, filled: bool, layout: struct.Struct) -> str:
    """decode_termios for the three layouts; `filled`: the kernel wrote it (printed only if
    the call succeeded). termios2 adds the two speeds after c_cc."""
    data = fetch(ctx, ptr, layout.size, ignore_syserror=not filled)
    if data is None:
        return addr(ptr)
    iflag, oflag, cflag, lflag, line, cc, *speeds = layout.unpack(data)
    style = ctx.opts.xlat_style
    text = "{" + _flags(style, iflag, oflag, cflag, lflag) + ", "
    if not ctx.opts.verbose:
        return text + "...}"
    text += f"{_line(style, line)}, {_cc(cc)}"
    if speeds:
        text += f", c_ispeed={speeds[0]}, c_ospeed={speeds[1]}"
    return text + "}"


def print_termios(ctx: Ctx, ptr: int, filled: bool) -> str:
    return _print_termios(ctx, ptr, filled, TERMIOS)


def print_termios2(ctx: Ctx, ptr: int, filled: bool) -> str:
    return _print_termios(ctx, ptr, filled, TERMIOS2)


def print_termio(ctx: Ctx, ptr: int, filled: bool) -> str:
    return _print_termios(ctx, ptr, filled, TERMIO)


def print_winsize(ctx: Ctx, ptr: int, filled: bool) -> str:
    """`{ws_row=24, ws_col=80, ws_xpixel=0, ws_ypixel=0}`."""
    data = fetch(ctx, ptr, WINSIZE.size, ignore_syserror=not filled)
    if data is None:
        return addr(ptr)
    row, col, xpixel, ypixel = WINSIZE.unpack(data)
    return f"{{ws_row={row}, ws_col={col}, ws_xpixel={xpixel}, ws_ypixel={ypixel}}}"


def print_modem(ctx: Ctx, ptr: int, filled: bool) -> str:
    """`[TIOCM_DTR|TIOCM_RTS]`."""
    data = fetch(ctx, ptr, 4, ignore_syserror=not filled)
    if data is None:
        return addr(ptr)
    return f"[{printflags(ctx.opts.xlat_style, MODEM_FLAGS, int.from_bytes(data, 'little'), 'TIOCM_???')}]"


def print_int(ctx: Ctx, ptr: int, filled: bool) -> str:
    """printnum_int: `[5]`."""
    data = fetch(ctx, ptr, 4, ignore_syserror=not filled)
    if data is None:
        return addr(ptr)
    return f"[{int.from_bytes(data, 'little', signed=True)}]"


@ioctl_decoder("T")
def term_ioctl(ctx: Ctx, code: int, arg: int) -> str | _Undecoded | None:
    """term_ioctl: what follows the request for each terminal request strace decodes."""
    style = ctx.opts.xlat_style
    printers = (
        (_GET_TERMIOS, print_termios, True), (_SET_TERMIOS, print_termios, False),
        ({i.TCGETS2}, print_termios2, True), (_SET_TERMIOS2, print_termios2, False),
        ({i.TCGETA}, print_termio, True), (_SET_TERMIO, print_termio, False),
        ({i.TIOCGWINSZ}, print_winsize, True), ({i.TIOCSWINSZ}, print_winsize, False),
        ({i.TIOCMGET}, print_modem, True), ({i.TIOCMBIS, i.TIOCMBIC, i.TIOCMSET}, print_modem, False),
        (_GET_INT, print_int, True), (_SET_INT, print_int, False),
    )
    for codes, fn, filled in printers:
        if code in codes:
            return fn(ctx, arg, filled)
    if code == i.TCXONC:
        return printxval(style, TCXONC_OPTIONS, arg, "TC???")
    if code == i.TCFLSH:
        return printxval(style, TCFLSH_OPTIONS, arg, "TC???")
    if code in (i.TCSBRK, i.TCSBRKP, i.TIOCSCTTY):
        return str(s32(arg))
    if code == i.TIOCSTI:
        return quote.printstr(ctx.read, arg, 1, ctx.opts.string_limit, ctx.opts.xflag)
    if code in _NO_ARG:
        return None
    return UNDECODED


FILLED.update(_GET_TERMIOS, _GET_INT, {i.TCGETS2, i.TCGETA, i.TIOCGWINSZ, i.TIOCMGET})
