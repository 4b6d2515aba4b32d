"""ioctl: the request by name, and its argument as the request's decoder prints it.

Counterpart: strace's ioctl.c (SYS_FUNC(ioctl), ioctl_decode_command_number,
ioctl_print_code, ioctl_lookup) and its ioctlent table, here src/sysgate/tables/ioctlent.tbl
(the names strace 6.1 knows). A request strace knows prints
by name (several names for one number are joined with " or "), one it does not as
`_IOC(_IOC_READ, 0x54, 0x99, 0x4)`; -X raw prints the number, -X verbose both.

The argument is decoded by the decoder registered for the request's type byte
(`ioctl_decoder`; the terminal requests, type 'T', are in decoders.term); an argument
no decoder claims prints in hex, as strace prints it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources

from sysgate.syscall import Param
from sysgate.trace.printers import Ctx, at_entry, printer
from sysgate.trace.xlat import Xlat, printflags
from sysgate.uapi.ioctls import _IOC, _IOC_DIR, _IOC_NONE, _IOC_NR, _IOC_READ, _IOC_SIZE, _IOC_TYPE, _IOC_WRITE

IOC_DIRS = Xlat.of([(_IOC_NONE, "_IOC_NONE"), (_IOC_READ, "_IOC_READ"), (_IOC_WRITE, "_IOC_WRITE")])
"""xlat/ioctl_dirs.in."""


class _Undecoded:
    """What a decoder returns for an argument it leaves to the generic hex."""


UNDECODED = _Undecoded()
Decoder = Callable[[Ctx, int, int], "str | _Undecoded | None"]
"""decoder(ctx, request, arg): the argument's text, None to print no argument, or UNDECODED."""
DECODERS: dict[int, Decoder] = {}


def ioctl_decoder(kind: int | str) -> Callable[[Decoder], Decoder]:
    """Register the argument decoder of the requests of type `kind` (the _IOC_TYPE byte)."""

    def register(fn: Decoder) -> Decoder:
        DECODERS[ord(kind) if isinstance(kind, str) else kind] = fn
        return fn

    return register


@cache
def ioctlent() -> dict[int, tuple[str, ...]]:
    """Request code -> the names strace prints for it, in its order."""
    out: dict[int, list[str]] = {}
    text = resources.files("sysgate.tables").joinpath("ioctlent.tbl").read_text("ascii")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            code, name = line.split()
            out.setdefault(int(code, 16), []).append(name)
    return {code: tuple(names) for code, names in out.items()}


def _sized(name: str, value: int) -> str:
    return f"{name}({value})"


_EVDEV_READ = {0x06: "EVIOCGNAME", 0x07: "EVIOCGPHYS", 0x08: "EVIOCGUNIQ", 0x09: "EVIOCGPROP",
               0x0A: "EVIOCGMTSLOTS", 0x18: "EVIOCGKEY", 0x19: "EVIOCGLED", 0x1A: "EVIOCGSND", 0x1B: "EVIOCGSW"}
_HID_READ = {0x04: "HIDIOCGRAWNAME", 0x05: "HIDIOCGRAWPHYS", 0x06: "HIDIOCSFEATURE", 0x08: "HIDIOCGRAWUNIQ",
             0x12: "HIDIOCGPHYS"}
_HID_READ_WRITE = {0x06: "HIDIOCSFEATURE", 0x07: "HIDIOCGFEATURE"}


def decode_number(code: int) -> str | None:
    """ioctl_decode_command_number: the requests whose number carries a size or index, named
    with it (`EVIOCGNAME(256)`, `MIXER_READ(3)`). The event-bit and axis requests
    (EVIOCGBIT, EVIOCGABS, EVIOCSABS) are not decoded here."""
    kind, direction, nr, size = chr(_IOC_TYPE(code)), _IOC_DIR(code), _IOC_NR(code), _IOC_SIZE(code)
    if kind == "!":
        return "SECCOMP_IOCTL_NOTIF_ID_VALID_WRONG_DIR" if code == _IOC(_IOC_READ, 0x21, 2, 8) else None
    if kind == "E" and direction == _IOC_READ and nr in _EVDEV_READ:
        return _sized(_EVDEV_READ[nr], size)
    if kind == "H" and direction == _IOC_READ and nr in _HID_READ:
        return _sized(_HID_READ[nr], size)
    if kind == "H" and direction == _IOC_READ | _IOC_WRITE and nr in _HID_READ_WRITE:
        return _sized(_HID_READ_WRITE[nr], size)
    if kind == "M" and direction in (_IOC_READ, _IOC_WRITE):
        return _sized("MIXER_READ" if direction == _IOC_READ else "MIXER_WRITE", nr)
    if kind == "U" and direction == _IOC_READ and nr == 0x2C:
        return _sized("UI_GET_SYSNAME", size)
    if kind == "j" and direction == _IOC_READ and nr == 0x13:
        return _sized("JSIOCGNAME", size)
    if kind == "k" and direction == _IOC_WRITE and nr == 0:
        return _sized("SPI_IOC_MESSAGE", size)
    return None


def _hex(v: int) -> str:
    return f"{v:#x}" if v else "0"


def ioc_code(code: int) -> str:
    """ioctl_print_code: `_IOC(dir, type, nr, size)`."""
    direction = printflags("abbrev", IOC_DIRS, _IOC_DIR(code), "_IOC_???")
    return f"_IOC({direction}, {_hex(_IOC_TYPE(code))}, {_hex(_IOC_NR(code))}, {_hex(_IOC_SIZE(code))})"


def request_name(code: int) -> str:
    """The request as -X abbrev prints it."""
    special = decode_number(code)
    names = ioctlent().get(code, ())
    if names:
        return " or ".join(((special,) if special else ()) + names)
    return special or ioc_code(code)


@printer("ioctl_cmd")
def p_ioctl_cmd(ctx: Ctx, v: int, p: Param) -> str:
    code = v & 0xFFFFFFFF
    style = ctx.opts.xlat_style
    if style == "raw":
        return _hex(code)
    if style == "verbose":
        return f"{_hex(code)} /* {request_name(code)} */"
    return request_name(code)


@printer("ioctl_arg")
def p_ioctl_arg(ctx: Ctx, v: int, p: Param) -> str | None:
    """The argument as the request's decoder prints it (None: no argument), else in hex.

    Declared "exit:", because the requests that fill a structure (TCGETS, TIOCGWINSZ)
    show it when the call returns; decoders print what the call was given as it was.
    """
    code = ctx.arg("cmd") & 0xFFFFFFFF
    decoder = DECODERS.get(_IOC_TYPE(code))
    if decoder is not None:
        text = decoder(ctx, code, v)
        if not isinstance(text, _Undecoded):
            return text
    return _hex(v)


FILLED: set[int] = set()
"""The requests whose decoder prints the argument at exit (it shows what the kernel filled
in: TCGETS, TIOCGWINSZ, FIONREAD); decoders add theirs."""


@at_entry("ioctl_arg", exit_sep=True)
def ioctl_at_entry(ctx: Ctx, v: int, p: Param) -> bool:
    """SYS_FUNC(ioctl): decoded at entry (RVAL_DECODED) unless the decoder waits for the kernel."""
    return ctx.arg("cmd") & 0xFFFFFFFF not in FILLED
