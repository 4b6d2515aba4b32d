"""ioctl traced as strace 6.1 prints it: the request by name (or `_IOC(...)`), terminal
structures, ints and no-argument requests (the strings are those the host's strace
printed for static C programs making the same calls)."""

from __future__ import annotations

import fcntl
import os
import struct
import termios
from collections.abc import Iterator

import pytest

from sysgate.kernel.task import Task
from sysgate.trace.decoders.ioctl import ioc_code, ioctlent, request_name
from sysgate.uapi import ioctls as i
from tests.conftest import USER_BUF, make_task, put_str
from tests.unit.trace.conftest import line, traced

BUF = USER_BUF
ARG = USER_BUF + 0x100
CC = bytes([3, 0x1C, 0x7F, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1A, 0, 0x12, 0xF, 0x17, 0x16, 0, 0, 0])
STD_FLAGS = ("c_iflag=ICRNL|IXON, c_oflag=NL0|CR0|TAB0|BS0|VT0|FF0|OPOST|ONLCR, c_cflag=B38400|CS8|CREAD, "
             "c_lflag=ISIG|ICANON|ECHO|ECHOE|ECHOK|IEXTEN|ECHOCTL|ECHOKE")
STD_CC = ("c_cc=[[VINTR]=0x3, [VQUIT]=0x1c, [VERASE]=0x7f, [VKILL]=0x15, [VEOF]=0x4, [VTIME]=0, [VMIN]=0x1, "
          "[VSWTC]=0, [VSTART]=0x11, [VSTOP]=0x13, [VSUSP]=0x1a, [VEOL]=0, [VREPRINT]=0x12, [VDISCARD]=0xf, "
          "[VWERASE]=0x17, [VLNEXT]=0x16, [VEOL2]=0, [17]=0, [18]=0]")



ENOTTY = "-1 ENOTTY (Inappropriate ioctl for device)"



@pytest.fixture
def tty(tmp_path) -> Iterator[Task]:
    """A task whose stdio is a fresh pseudo-terminal, set as Linux sets a new one."""
    try:
        master, slave = os.openpty()
    except OSError as exc:  # no pseudo-terminals here (no /dev/ptmx)
        pytest.skip(f"openpty: {exc}")
    attrs = termios.tcgetattr(slave)
    attrs[0], attrs[1] = termios.ICRNL | termios.IXON, termios.OPOST | termios.ONLCR
    attrs[2] = termios.B38400 | termios.CS8 | termios.CREAD
    attrs[3] = (termios.ISIG | termios.ICANON | termios.ECHO | termios.ECHOE | termios.ECHOK | termios.IEXTEN
                | termios.ECHOCTL | termios.ECHOKE)
    attrs[6] = list(CC[:17]) + [0] * (len(attrs[6]) - 17)
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("<HHHH", 24, 80, 0, 0))
    t = make_task(tmp_path, (slave, slave, slave))
    yield t
    t.kernel.shutdown()
    os.close(slave)
    os.close(master)


def put_termios(task, iflag: int, oflag: int, cflag: int, lflag: int, line_: int = 0) -> int:
    task.mm.write(ARG, struct.pack("<IIIIB19s", iflag, oflag, cflag, lflag, line_, CC))
    return ARG


# -- the request -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "name"), [
    (i.TCGETS, "TCGETS"),
    (i.TCSETS, "SNDCTL_TMR_START or TCSETS"),
    (i.TCSETSF, "SNDCTL_TMR_CONTINUE or TCSETSF"),
    (i.FIONREAD, "FIONREAD"),
    (i.TIOCGPTN, "TIOCGPTN"),
    (0x80086601, "FS_IOC_GETFLAGS"),
    (0x80081272, "BLKGETSIZE64"),
    (0x5499, "_IOC(_IOC_NONE, 0x54, 0x99, 0)"),
    (0x80045499, "_IOC(_IOC_READ, 0x54, 0x99, 0x4)"),
    (0xC0090000, "_IOC(_IOC_READ|_IOC_WRITE, 0, 0, 0x9)"),
    (0x80082102, "SECCOMP_IOCTL_NOTIF_ID_VALID_WRONG_DIR"),
    (0x81004506, "EVIOCGNAME(256)"),
    (0x40044D03, "MIXER_WRITE(3)"),
    (0x80044D03, "MIXER_READ(3) or MCE_GETCLEAR_FLAGS"),
    (0x80104806, "HIDIOCSFEATURE(16)"),
    (0xC0104807, "HIDIOCGFEATURE(16)"),
])
def test_request_names(code, name):
    assert request_name(code) == name


def test_ioctlent_is_sorted_and_has_no_name_twice():
    table = ioctlent()
    names = [n for ns in table.values() for n in ns]
    assert len(names) == len(set(names)) > 3000
    assert table[i.TIOCGWINSZ] == ("TIOCGWINSZ",)
    assert ioc_code(0) == "_IOC(_IOC_NONE, 0, 0, 0)"


def test_request_raw_and_verbose(task, f3):
    assert traced(task, "ioctl", f3, i.TCGETS, 0, options=("-X", "raw")) == line("ioctl(3, 0x5401, NULL)", ENOTTY)
    assert traced(task, "ioctl", f3, i.FIOCLEX, options=("-X", "verbose")) == line(
        "ioctl(3, 0x5451 /* FIOCLEX */)", "0")
    assert traced(task, "ioctl", f3, 0x5499, 7, options=("-X", "verbose")) == line(
        "ioctl(3, 0x5499 /* _IOC(_IOC_NONE, 0x54, 0x99, 0) */, 0x7)", ENOTTY)


def test_unknown_requests_print_the_argument_in_hex(task, f3):
    assert traced(task, "ioctl", f3, 0x5499, 7) == line("ioctl(3, _IOC(_IOC_NONE, 0x54, 0x99, 0), 0x7)", ENOTTY)
    assert traced(task, "ioctl", f3, i.TIOCGPTPEER, 0) == line("ioctl(3, TIOCGPTPEER, 0)", ENOTTY)
    assert traced(task, "ioctl", f3, i.TIOCLINUX, 0) == line("ioctl(3, TIOCLINUX, 0)", ENOTTY)
    assert traced(task, "ioctl", f3, i.FIOQSIZE, ARG) == line("ioctl(3, FIOQSIZE, 0x10000100)", "0")


# -- terminal requests on a terminal -----------------------------------------------------------------


def test_tcgets_and_tiocgwinsz_on_a_terminal(tty):
    assert traced(tty, "ioctl", 0, i.TCGETS, ARG) == line(f"ioctl(0, TCGETS, {{{STD_FLAGS}, ...}})", "0")
    assert traced(tty, "ioctl", 0, i.TCGETS, ARG, options=("-v",)) == line(
        f"ioctl(0, TCGETS, {{{STD_FLAGS}, c_line=N_TTY, {STD_CC}}})", "0")
    assert traced(tty, "ioctl", 0, i.TIOCGWINSZ, ARG) == line(
        "ioctl(0, TIOCGWINSZ, {ws_row=24, ws_col=80, ws_xpixel=0, ws_ypixel=0})", "0")
    assert traced(tty, "ioctl", 0, i.FIONREAD, ARG) == line("ioctl(0, FIONREAD, [0])", "0")


def test_tcgets_raw_and_verbose(tty):
    assert traced(tty, "ioctl", 0, i.TCGETS, ARG, options=("-X", "verbose")) == line(
        "ioctl(0, 0x5401 /* TCGETS */, {c_iflag=0x500 /* ICRNL|IXON */, c_oflag=0 /* NL0 */|0 /* CR0 */|"
        "0 /* TAB0 */|0 /* BS0 */|0 /* VT0 */|0 /* FF0 */|0x5 /* OPOST|ONLCR */, c_cflag=0xf /* B38400 */|"
        "0x30 /* CS8 */|0x80 /* CREAD */, c_lflag=0x8a3b /* ISIG|ICANON|ECHO|ECHOE|ECHOK|IEXTEN|ECHOCTL|ECHOKE */, "
        "...})", "0")
    assert traced(tty, "ioctl", 0, i.TCGETS, ARG, options=("-X", "raw")) == line(
        "ioctl(0, 0x5401, {c_iflag=0x500, c_oflag=0|0|0|0|0|0|0x5, c_cflag=0xf|0x30|0x80, c_lflag=0x8a3b, ...})", "0")


# -- terminal requests on a file: decoded as given, or the address ------------------------------------


def test_get_requests_that_fail_show_the_address(task, f3):
    assert traced(task, "ioctl", f3, i.TCGETS, ARG) == line("ioctl(3, TCGETS, 0x10000100)", ENOTTY)
    assert traced(task, "ioctl", f3, i.TIOCGWINSZ, ARG) == line("ioctl(3, TIOCGWINSZ, 0x10000100)", ENOTTY)
    assert traced(task, "ioctl", f3, i.TCGETS, 0) == line("ioctl(3, TCGETS, NULL)", ENOTTY)
    assert traced(task, "ioctl", f3, i.TIOCMGET, ARG) == line("ioctl(3, TIOCMGET, 0x10000100)", ENOTTY)
    assert traced(task, "ioctl", f3, i.TIOCGPTN, ARG) == line("ioctl(3, TIOCGPTN, 0x10000100)", ENOTTY)
    assert traced(task, "ioctl", 99, i.TCGETS, ARG) == line("ioctl(99, TCGETS, 0x10000100)",
                                                            "-1 EBADF (Bad file descriptor)")
    assert traced(task, "ioctl", 99, i.FIOCLEX) == line("ioctl(99, FIOCLEX)", "-1 EBADF (Bad file descriptor)")


def test_set_requests_show_what_they_were_given(task, f3):
    std = put_termios(task, 0x500, 0x5, 0xBF, 0x8A3B)
    assert traced(task, "ioctl", f3, i.TCSETS, std) == line(
        f"ioctl(3, SNDCTL_TMR_START or TCSETS, {{{STD_FLAGS}, ...}})", ENOTTY)
    assert traced(task, "ioctl", f3, i.TCSETS, put_termios(task, 0, 0, 0, 0)) == line(
        "ioctl(3, SNDCTL_TMR_START or TCSETS, {c_iflag=, c_oflag=NL0|CR0|TAB0|BS0|VT0|FF0|, c_cflag=B0|CS5|, "
        "c_lflag=, ...})", ENOTTY)
    assert traced(task, "ioctl", f3, i.TCSETS, put_termios(task, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 200),
                  options=("-v",)) == line(
        "ioctl(3, SNDCTL_TMR_START or TCSETS, {c_iflag=IGNBRK|BRKINT|IGNPAR|PARMRK|INPCK|ISTRIP|INLCR|IGNCR|ICRNL|"
        "IUCLC|IXON|IXANY|IXOFF|IMAXBEL|IUTF8|0xffff8000, c_oflag=NL1|CR3|XTABS|BS1|VT1|FF1|OPOST|OLCUC|ONLCR|OCRNL|"
        "ONOCR|ONLRET|OFILL|OFDEL|0xffff0000, c_cflag=B4000000|B4000000<<IBSHIFT|CS8|CSTOPB|CREAD|PARENB|PARODD|"
        "HUPCL|CLOCAL|CMSPAR|CRTSCTS|0x2ff0e000, c_lflag=ISIG|ICANON|XCASE|ECHO|ECHOE|ECHOK|ECHONL|NOFLSH|IEXTEN|"
        "ECHOCTL|ECHOPRT|ECHOKE|FLUSHO|PENDIN|TOSTOP|EXTPROC|0xfffe2000, c_line=0xc8 /* N_??? */, "
        f"{STD_CC}}})", ENOTTY)
    oflag = 0o14000 | 0o20000 | 0o40000 | 0o100000 | 0o400 | 0o2000  # TAB3 BS1 VT1 FF1 NL1 CR2
    odd = put_termios(task, 0o40000, oflag, 0o15 | (0o16 << 16) | 0o40, 0x80000, 3)
    assert traced(task, "ioctl", f3, i.TCSETSF, odd) == line(
        "ioctl(3, SNDCTL_TMR_CONTINUE or TCSETSF, {c_iflag=IUTF8, c_oflag=NL1|CR2|XTABS|BS1|VT1|FF1|, "
        "c_cflag=B9600|B19200<<IBSHIFT|CS7|, c_lflag=0x80000, ...})", ENOTTY)
    bother = put_termios(task, 0, 0, 0o10000 | (0o10000 << 16) | 0o60 | 0o20000000000, 0)
    assert traced(task, "ioctl", f3, i.TCSETS, bother).startswith(
        "ioctl(3, SNDCTL_TMR_START or TCSETS, {c_iflag=, c_oflag=NL0|CR0|TAB0|BS0|VT0|FF0|, "
        "c_cflag=BOTHER|BOTHER<<IBSHIFT|CS8|CRTSCTS, c_lflag=, ...})")
    assert traced(task, "ioctl", f3, i.TCSETS, 0) == line("ioctl(3, SNDCTL_TMR_START or TCSETS, NULL)", ENOTTY)
    task.mm.write(ARG, struct.pack("<HHHH", 24, 80, 1, 2))
    assert traced(task, "ioctl", f3, i.TIOCSWINSZ, ARG) == line(
        "ioctl(3, TIOCSWINSZ, {ws_row=24, ws_col=80, ws_xpixel=1, ws_ypixel=2})", ENOTTY)


def test_termio_and_termios2(task, f3):
    task.mm.write(ARG, struct.pack("<HHHHB8sx", 0x4000, 0, 0xED00 | 0x1000, 0, 15, bytes([0x10, 0, 0, 0, 0, 8, 0, 3])))
    assert traced(task, "ioctl", f3, i.TCSETA, ARG, options=("-v",)) == line(
        "ioctl(3, TCSETA, {c_iflag=IUTF8, c_oflag=NL0|CR0|TAB0|BS0|VT0|FF0|, c_cflag=BOTHER|CS5|PARENB|HUPCL|CLOCAL|"
        "0xe000, c_lflag=, c_line=N_HCI, c_cc=[[VINTR]=0x10, [VQUIT]=0, [VERASE]=0, [VKILL]=0, [VEOF]=0, "
        "[VTIME]=0x8, [VMIN]=0, [VSWTC]=0x3]})", ENOTTY)
    assert traced(task, "ioctl", f3, i.TCGETA, ARG) == line("ioctl(3, TCGETA, 0x10000100)", ENOTTY)
    task.mm.write(ARG, struct.pack("<IIIIB19sII", 0x4000, 0, 0o10017 | 0o0, 0x80000, 3, CC, 0, 9600))
    assert traced(task, "ioctl", f3, i.TCSETS2, ARG, options=("-v",)) == line(
        "ioctl(3, TCSETS2, {c_iflag=IUTF8, c_oflag=NL0|CR0|TAB0|BS0|VT0|FF0|, c_cflag=B4000000|CS5|, "
        f"c_lflag=0x80000, c_line=N_PPP, {STD_CC}, c_ispeed=0, c_ospeed=9600}})", ENOTTY)
    assert traced(task, "ioctl", f3, i.TCGETS2, ARG) == line("ioctl(3, TCGETS2, 0x10000100)", ENOTTY)


def test_int_and_flag_arguments(task, f3):
    task.mm.write(ARG, struct.pack("<i", 0x10000))
    assert traced(task, "ioctl", f3, i.TIOCSPTLCK, ARG) == line("ioctl(3, TIOCSPTLCK, [65536])", ENOTTY)
    assert traced(task, "ioctl", f3, i.TIOCMBIC, ARG) == line("ioctl(3, TIOCMBIC, [0x10000 /* TIOCM_??? */])", ENOTTY)
    task.mm.write(ARG, struct.pack("<i", 6))
    assert traced(task, "ioctl", f3, i.TIOCMSET, ARG) == line("ioctl(3, TIOCMSET, [TIOCM_DTR|TIOCM_RTS])", ENOTTY)
    task.mm.write(ARG, struct.pack("<i", 0))
    assert traced(task, "ioctl", f3, i.TIOCMBIS, ARG) == line("ioctl(3, TIOCMBIS, [0])", ENOTTY)
    assert traced(task, "ioctl", f3, i.TCXONC, 1) == line("ioctl(3, TCXONC, TCOON)", ENOTTY)
    assert traced(task, "ioctl", f3, i.TCXONC, 9) == line("ioctl(3, TCXONC, 0x9 /* TC??? */)", ENOTTY)
    assert traced(task, "ioctl", f3, i.TCFLSH, 2) == line("ioctl(3, TCFLSH, TCIOFLUSH)", ENOTTY)
    assert traced(task, "ioctl", f3, i.TCSBRK, 1) == line("ioctl(3, TCSBRK, 1)", ENOTTY)
    assert traced(task, "ioctl", f3, i.TIOCSCTTY, 0xFFFFFFFF) == line("ioctl(3, TIOCSCTTY, -1)", ENOTTY)
    assert traced(task, "ioctl", f3, i.TIOCSTI, put_str(task, "\n", ARG)) == line('ioctl(3, TIOCSTI, "\\n")', ENOTTY)
    assert traced(task, "ioctl", f3, i.TIOCNOTTY) == line("ioctl(3, TIOCNOTTY)", ENOTTY)


def test_generic_file_requests(task, f3):
    task.mm.write(ARG, struct.pack("<i", 1))
    assert traced(task, "ioctl", f3, i.FIONREAD, ARG) == line("ioctl(3, FIONREAD, [0])", "0")
    assert traced(task, "ioctl", f3, i.FIOCLEX) == line("ioctl(3, FIOCLEX)", "0")
    assert traced(task, "ioctl", f3, i.FIONCLEX) == line("ioctl(3, FIONCLEX)", "0")
    task.mm.write(ARG, struct.pack("<i", 0))
    assert traced(task, "ioctl", f3, i.FIONBIO, ARG) == line("ioctl(3, FIONBIO, [0])", "0")
    assert traced(task, "ioctl", f3, i.FIOASYNC, ARG) == line("ioctl(3, FIOASYNC, [0])", "0")


def test_structures_are_addresses_without_verbose(task, f3):
    std = put_termios(task, 0x500, 0x5, 0xBF, 0x8A3B)
    assert traced(task, "ioctl", f3, i.TCSETS, std, options=("-e", "verbose=none")) == line(
        "ioctl(3, SNDCTL_TMR_START or TCSETS, 0x10000100)", ENOTTY)
    assert traced(task, "ioctl", f3, i.FIONREAD, ARG, options=("-e", "verbose=none")) == line(
        "ioctl(3, FIONREAD, 0x10000100)", "0")
