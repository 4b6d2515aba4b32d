"""The vvar page: the data the vDSO reads the time from, and the kernel writes.

Counterpart: include/vdso/datapage.h (struct vdso_data), arch/x86/include/asm/vvar.h,
kernel/time/vsyscall.c (update_vsyscall) and include/vdso/helpers.h (the sequence count).
The layout is the vDSO's and the kernel's private contract, as in Linux; it follows
Linux's field order and meaning:

    [vvar] is VVAR_PAGES pages below the vDSO. Page 0 holds, at VDSO_DATA_OFFSET,
    two struct vdso_data: [CS_HRES_COARSE] for REALTIME, MONOTONIC, BOOTTIME, TAI and
    the coarse clocks, [CS_RAW] for MONOTONIC_RAW. Pages 1-3 are Linux's pvclock,
    hvclock and time-namespace pages, which a process without them cannot read (SIGBUS).

    struct vdso_data {                       offset
        u32 seq;                             0    odd while the kernel writes
        s32 clock_mode;                      4    VDSO_CLOCKMODE_NONE: use the syscall
        u64 cycle_last;                      8    TSC value the bases are for
        u32 mult, shift;                     16   ns = (TSC delta * mult) >> shift
        struct { u64 sec, nsec; } basetime[12];  24   per clock id; nsec is shifted left
        s32 tz_minuteswest, tz_dsttime;      216
        u32 hrtimer_res;                     224
    };

A clock's time at TSC value `c` is basetime.sec seconds plus
((c - cycle_last) * mult + basetime.nsec) >> shift nanoseconds, as do_hres computes it;
`read_clock` is that computation in Python, the model the machine code is tested against.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from sysgate.uapi import time as lt

PAGE_SIZE = 4096
VVAR_PAGES = 4
"""vdso-layout.lds.S: vvar_start = . - 4 * PAGE_SIZE (vvar, pvclock, hvclock, timens)."""
VVAR_SIZE = VVAR_PAGES * PAGE_SIZE
VDSO_DATA_OFFSET = 128
"""arch/x86/include/asm/vvar.h: EMIT_VVAR(_vdso_data, 128)."""

CS_HRES_COARSE, CS_RAW = 0, 1
VDSO_BASES = lt.CLOCK_TAI + 1
MAX_CLOCKS = 16
VDSO_CLOCKMODE_NONE, VDSO_CLOCKMODE_TSC = 0, 1

SEQ, CLOCK_MODE, CYCLE_LAST, MULT, SHIFT, BASETIME = 0, 4, 8, 16, 20, 24
TZ_MINUTESWEST, TZ_DSTTIME, HRTIMER_RES = 216, 220, 224
VDSO_DATA_SIZE = 232
BASETIME_SIZE = 16

VDSO_HRES = (1 << lt.CLOCK_REALTIME) | (1 << lt.CLOCK_MONOTONIC) | (1 << lt.CLOCK_BOOTTIME) | (1 << lt.CLOCK_TAI)
VDSO_COARSE = (1 << lt.CLOCK_REALTIME_COARSE) | (1 << lt.CLOCK_MONOTONIC_COARSE)
VDSO_RAW = 1 << lt.CLOCK_MONOTONIC_RAW
"""include/vdso/datapage.h: the clocks the vDSO answers; any other id takes the syscall."""

NSEC_PER_SEC = lt.NSEC_PER_SEC
TICK_NSEC = 4_000_000
"""One jiffy at HZ=250: what the coarse clocks count in (as sysgate's clock_gettime)."""
HRTIMER_RES_NSEC = 1

_HEAD = struct.Struct("<IiQII")
_BASE = struct.Struct("<QQ")
_TAIL = struct.Struct("<iiII")
_SEQ = struct.Struct("<I")


def vdso_data_offset(cs: int) -> int:
    """Where vdso_data[cs] lies in the vvar page."""
    return VDSO_DATA_OFFSET + cs * VDSO_DATA_SIZE


@dataclass(slots=True)
class VdsoData:
    """One struct vdso_data, as the kernel fills it in."""

    clock_mode: int = VDSO_CLOCKMODE_NONE
    cycle_last: int = 0
    mult: int = 0
    shift: int = 0
    basetime: dict[int, tuple[int, int]] = field(default_factory=dict)  # clock -> (sec, nsec << shift)
    tz_minuteswest: int = 0
    tz_dsttime: int = 0
    hrtimer_res: int = HRTIMER_RES_NSEC

    def pack_body(self) -> bytes:
        """Everything after `seq`."""
        out = bytearray(_HEAD.pack(0, self.clock_mode, self.cycle_last, self.mult, self.shift)[4:])
        for clock in range(VDSO_BASES):
            out += _BASE.pack(*self.basetime.get(clock, (0, 0)))
        out += _TAIL.pack(self.tz_minuteswest, self.tz_dsttime, self.hrtimer_res, 0)
        return bytes(out)


class VvarPage:
    """The kernel's side of the vvar page: writes under the sequence count.

    The writer makes `seq` odd, stores the data, then makes it even again
    (vdso_write_begin / vdso_write_end); a reader that saw an odd or changed count
    reads again. Stores reach the page in program order on x86 hosts, which is what the
    reader in the guest relies on.
    """

    def __init__(self, page: memoryview) -> None:
        self.page = page
        self.seq = _SEQ.unpack_from(page, VDSO_DATA_OFFSET)[0]  # carry on from any earlier writer

    def update(self, data: list[VdsoData]) -> None:
        """update_vsyscall: publish both vdso_data at once.

        Everything is packed before the count turns odd, so a value that cannot be
        stored raises here without leaving readers spinning on an odd count.
        """
        bodies = [vd.pack_body() for vd in data]
        self.seq += 1  # odd: a write is in progress
        for cs in range(len(data)):
            _SEQ.pack_into(self.page, vdso_data_offset(cs), self.seq & 0xFFFFFFFF)
        for cs, body in enumerate(bodies):
            off = vdso_data_offset(cs) + 4
            self.page[off : off + len(body)] = body
        self.seq += 1
        for cs in range(len(data)):
            _SEQ.pack_into(self.page, vdso_data_offset(cs), self.seq & 0xFFFFFFFF)


def unpack(page: bytes, cs: int) -> tuple[int, VdsoData]:
    """(seq, data) of vdso_data[cs] as stored in `page`."""
    off = vdso_data_offset(cs)
    seq, mode, last, mult, shift = _HEAD.unpack_from(page, off)
    bases = {c: _BASE.unpack_from(page, off + BASETIME + c * BASETIME_SIZE) for c in range(VDSO_BASES)}
    tzw, tzd, res, _ = _TAIL.unpack_from(page, off + TZ_MINUTESWEST)
    return seq, VdsoData(mode, last, mult, shift, bases, tzw, tzd, res)


def read_clock(page: bytes, clock: int, tsc: int) -> tuple[int, int] | None:
    """(sec, nsec) of `clock` at TSC value `tsc` as the vDSO computes it, or None where
    it takes the system call (a clock it does not answer, or no usable TSC)."""
    if not 0 <= clock < MAX_CLOCKS:
        return None
    msk = 1 << clock
    if msk & (VDSO_HRES | VDSO_COARSE):
        cs = CS_HRES_COARSE
    elif msk & VDSO_RAW:
        cs = CS_RAW
    else:
        return None
    _, vd = unpack(page, cs)
    if vd.clock_mode != VDSO_CLOCKMODE_TSC:
        return None
    sec, nsec_shifted = vd.basetime[clock]
    delta = max(tsc - vd.cycle_last, 0)  # a TSC read behind cycle_last counts as no time
    ns = ((delta * vd.mult + nsec_shifted) >> vd.shift) & ((1 << 64) - 1)
    sec += ns // NSEC_PER_SEC
    ns %= NSEC_PER_SEC
    if msk & VDSO_COARSE:
        ns -= ns % TICK_NSEC
    return sec, ns


def clock_res(page: bytes, clock: int) -> int | None:
    """What the vDSO's clock_getres answers in ns, or None for the syscall."""
    if not 0 <= clock < MAX_CLOCKS:
        return None
    msk = 1 << clock
    if msk & (VDSO_HRES | VDSO_RAW):
        return unpack(page, CS_HRES_COARSE)[1].hrtimer_res
    if msk & VDSO_COARSE:
        return TICK_NSEC
    return None
