"""ioctl request numbers: the encoding (include/uapi/asm-generic/ioctl.h) and the
terminal and generic file requests (include/uapi/asm-generic/ioctls.h; x86 values)."""

from typing import Final

_IOC_NRBITS: Final = 8
_IOC_TYPEBITS: Final = 8
_IOC_SIZEBITS: Final = 14
_IOC_NRSHIFT: Final = 0
_IOC_TYPESHIFT: Final = 8
_IOC_SIZESHIFT: Final = 16
_IOC_DIRSHIFT: Final = 30
_IOC_NONE: Final = 0
_IOC_WRITE: Final = 1
_IOC_READ: Final = 2


def _IOC(direction: int, kind: int, nr: int, size: int) -> int:
    return (direction << _IOC_DIRSHIFT) | (kind << _IOC_TYPESHIFT) | (nr << _IOC_NRSHIFT) | (size << _IOC_SIZESHIFT)


def _IOC_DIR(code: int) -> int:
    return (code >> _IOC_DIRSHIFT) & 3


def _IOC_TYPE(code: int) -> int:
    return (code >> _IOC_TYPESHIFT) & 0xFF


def _IOC_NR(code: int) -> int:
    return (code >> _IOC_NRSHIFT) & 0xFF


def _IOC_SIZE(code: int) -> int:
    return (code >> _IOC_SIZESHIFT) & ((1 << _IOC_SIZEBITS) - 1)


TCGETS: Final = 0x5401
TCSETS: Final = 0x5402
TCSETSW: Final = 0x5403
TCSETSF: Final = 0x5404
TCGETA: Final = 0x5405
TCSETA: Final = 0x5406
TCSETAW: Final = 0x5407
TCSETAF: Final = 0x5408
TCSBRK: Final = 0x5409
TCXONC: Final = 0x540A
TCFLSH: Final = 0x540B
TIOCEXCL: Final = 0x540C
TIOCNXCL: Final = 0x540D
TIOCSCTTY: Final = 0x540E
TIOCGPGRP: Final = 0x540F
TIOCSPGRP: Final = 0x5410
TIOCOUTQ: Final = 0x5411
TIOCSTI: Final = 0x5412
TIOCGWINSZ: Final = 0x5413
TIOCSWINSZ: Final = 0x5414
TIOCMGET: Final = 0x5415
TIOCMBIS: Final = 0x5416
TIOCMBIC: Final = 0x5417
TIOCMSET: Final = 0x5418
TIOCGSOFTCAR: Final = 0x5419
TIOCSSOFTCAR: Final = 0x541A
FIONREAD: Final = 0x541B
TIOCINQ: Final = FIONREAD
TIOCLINUX: Final = 0x541C
TIOCCONS: Final = 0x541D
TIOCGSERIAL: Final = 0x541E
TIOCSSERIAL: Final = 0x541F
TIOCPKT: Final = 0x5420
FIONBIO: Final = 0x5421
TIOCNOTTY: Final = 0x5422
TIOCSETD: Final = 0x5423
TIOCGETD: Final = 0x5424
TCSBRKP: Final = 0x5425
TIOCSBRK: Final = 0x5427
TIOCCBRK: Final = 0x5428
TIOCGSID: Final = 0x5429
TCGETS2: Final = _IOC(_IOC_READ, ord("T"), 0x2A, 44)
TCSETS2: Final = _IOC(_IOC_WRITE, ord("T"), 0x2B, 44)
TCSETSW2: Final = _IOC(_IOC_WRITE, ord("T"), 0x2C, 44)
TCSETSF2: Final = _IOC(_IOC_WRITE, ord("T"), 0x2D, 44)
TIOCGPTN: Final = _IOC(_IOC_READ, ord("T"), 0x30, 4)
TIOCSPTLCK: Final = _IOC(_IOC_WRITE, ord("T"), 0x31, 4)
TIOCGDEV: Final = _IOC(_IOC_READ, ord("T"), 0x32, 4)
TIOCSIG: Final = _IOC(_IOC_WRITE, ord("T"), 0x36, 4)
TIOCVHANGUP: Final = 0x5437
TIOCGPKT: Final = _IOC(_IOC_READ, ord("T"), 0x38, 4)
TIOCGPTLCK: Final = _IOC(_IOC_READ, ord("T"), 0x39, 4)
TIOCGEXCL: Final = _IOC(_IOC_READ, ord("T"), 0x40, 4)
TIOCGPTPEER: Final = _IOC(_IOC_NONE, ord("T"), 0x41, 0)
FIONCLEX: Final = 0x5450
FIOCLEX: Final = 0x5451
FIOASYNC: Final = 0x5452
TIOCSERCONFIG: Final = 0x5453
TIOCGLCKTRMIOS: Final = 0x5456
TIOCSLCKTRMIOS: Final = 0x5457
FIOQSIZE: Final = 0x5460
