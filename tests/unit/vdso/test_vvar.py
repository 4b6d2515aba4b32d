"""The vvar page's layout and the vDSO's arithmetic on it (the Python model, read_clock,
that tests/cpu/test_vdso_code.py holds the machine code to)."""

from __future__ import annotations

import struct

import pytest

from sysgate.uapi import time as lt
from sysgate.vdso import vvar as vv
from sysgate.vdso.vvar import VdsoData, VvarPage, clock_res, read_clock, unpack

SHIFT = 32
MULT = 1 << (SHIFT - 1)  # 2 GHz: 0.5 ns per cycle, exactly
LAST = 10**12
NS = vv.NSEC_PER_SEC


def page_with(hres: VdsoData, raw: VdsoData | None = None) -> bytes:
    buf = bytearray(vv.PAGE_SIZE)
    VvarPage(memoryview(buf)).update([hres, raw or VdsoData()])
    return bytes(buf)


def tsc_data(**bases: tuple[int, int]) -> VdsoData:
    return VdsoData(vv.VDSO_CLOCKMODE_TSC, LAST, MULT, SHIFT, {getattr(lt, k): v for k, v in bases.items()})


def test_layout_follows_linux_vdso_data() -> None:
    assert vv.VDSO_DATA_OFFSET == 128 and vv.VVAR_SIZE == 4 * 4096
    assert vv.BASETIME + vv.VDSO_BASES * vv.BASETIME_SIZE == vv.TZ_MINUTESWEST
    assert len(VdsoData().pack_body()) + 4 == vv.VDSO_DATA_SIZE  # seq, then the body
    assert vv.vdso_data_offset(vv.CS_RAW) == 128 + vv.VDSO_DATA_SIZE
    assert vv.VDSO_HRES == 0x883 and vv.VDSO_COARSE == 0x60 and vv.VDSO_RAW == 0x10


def test_update_round_trips_and_keeps_seq_even() -> None:
    buf = bytearray(vv.PAGE_SIZE)
    page = VvarPage(memoryview(buf))
    hres = tsc_data(CLOCK_REALTIME=(1_700_000_000, 5 << SHIFT), CLOCK_MONOTONIC=(42, 7))
    raw = VdsoData(vv.VDSO_CLOCKMODE_TSC, LAST, MULT, SHIFT, {lt.CLOCK_MONOTONIC_RAW: (41, 9)})
    page.update([hres, raw])
    page.update([hres, raw])
    for cs, want in ((vv.CS_HRES_COARSE, hres), (vv.CS_RAW, raw)):
        seq, got = unpack(bytes(buf), cs)
        assert seq == 4
        assert (got.clock_mode, got.cycle_last, got.mult, got.shift, got.hrtimer_res) == \
            (want.clock_mode, want.cycle_last, want.mult, want.shift, 1)
        for clock, base in want.basetime.items():
            assert got.basetime[clock] == base
    assert VvarPage(memoryview(buf)).seq == 4  # a new writer carries on from the page's count


def test_hres_clock_is_base_plus_scaled_delta() -> None:
    page = page_with(tsc_data(CLOCK_MONOTONIC=(100, 999_999_000 << SHIFT)))
    assert read_clock(page, lt.CLOCK_MONOTONIC, LAST) == (100, 999_999_000)
    assert read_clock(page, lt.CLOCK_MONOTONIC, LAST + 2000) == (101, 0)  # 1000 ns later: carries into sec
    assert read_clock(page, lt.CLOCK_MONOTONIC, LAST + 10 * 2_000_000_000) == (110, 999_999_000)


def test_long_gaps_do_not_overflow() -> None:
    """The product delta * mult is 128 bits wide: a day without a tick still adds up."""
    page = page_with(tsc_data(CLOCK_MONOTONIC=(0, 0)))
    day = 86_400 * 2_000_000_000
    assert read_clock(page, lt.CLOCK_MONOTONIC, LAST + day) == (86_400, 0)
    assert read_clock(page, lt.CLOCK_MONOTONIC, LAST + 365 * day) == (365 * 86_400, 0)


def test_a_tsc_behind_cycle_last_counts_as_no_time() -> None:
    page = page_with(tsc_data(CLOCK_MONOTONIC=(5, 6 << SHIFT)))
    assert read_clock(page, lt.CLOCK_MONOTONIC, LAST - 10**9) == (5, 6)


def test_coarse_clocks_round_down_to_a_tick() -> None:
    base = (7, 123_456_789 << SHIFT)
    page = page_with(tsc_data(CLOCK_REALTIME_COARSE=base, CLOCK_MONOTONIC_COARSE=base, CLOCK_REALTIME=base))
    assert read_clock(page, lt.CLOCK_REALTIME, LAST) == (7, 123_456_789)
    assert read_clock(page, lt.CLOCK_REALTIME_COARSE, LAST) == (7, 120_000_000)
    assert read_clock(page, lt.CLOCK_MONOTONIC_COARSE, LAST) == (7, 120_000_000)


def test_raw_reads_its_own_vdso_data() -> None:
    raw = VdsoData(vv.VDSO_CLOCKMODE_TSC, LAST - 2000, MULT // 2, SHIFT, {lt.CLOCK_MONOTONIC_RAW: (3, 0)})
    page = page_with(tsc_data(CLOCK_MONOTONIC_RAW=(999, 0)), raw)
    assert read_clock(page, lt.CLOCK_MONOTONIC_RAW, LAST + 2000) == (3, 1000)


@pytest.mark.parametrize("clock", [
    lt.CLOCK_PROCESS_CPUTIME_ID, lt.CLOCK_THREAD_CPUTIME_ID, lt.CLOCK_REALTIME_ALARM, lt.CLOCK_BOOTTIME_ALARM,
    lt.CLOCK_SGI_CYCLE, 12, 15, 16, 1234, -1, -6, 0x7FFFFFFF,
])
def test_other_clock_ids_take_the_system_call(clock: int) -> None:
    page = page_with(tsc_data(CLOCK_MONOTONIC=(1, 0)))
    assert read_clock(page, clock, LAST) is None


@pytest.mark.parametrize("clock", [lt.CLOCK_REALTIME, lt.CLOCK_MONOTONIC, lt.CLOCK_BOOTTIME, lt.CLOCK_TAI,
                                   lt.CLOCK_MONOTONIC_RAW, lt.CLOCK_REALTIME_COARSE])
def test_no_clock_source_means_the_system_call(clock: int) -> None:
    """A page the timekeeper has not filled (VDSO_CLOCKMODE_NONE), as at first map."""
    assert read_clock(page_with(VdsoData()), clock, LAST) is None


def test_clock_getres() -> None:
    page = page_with(VdsoData())
    for clock in (lt.CLOCK_REALTIME, lt.CLOCK_MONOTONIC, lt.CLOCK_BOOTTIME, lt.CLOCK_TAI, lt.CLOCK_MONOTONIC_RAW):
        assert clock_res(page, clock) == 1
    assert clock_res(page, lt.CLOCK_REALTIME_COARSE) == clock_res(page, lt.CLOCK_MONOTONIC_COARSE) == 4_000_000
    for clock in (lt.CLOCK_PROCESS_CPUTIME_ID, lt.CLOCK_BOOTTIME_ALARM, 16, -1):
        assert clock_res(page, clock) is None


def test_a_value_that_cannot_be_stored_leaves_the_page_readable() -> None:
    buf = bytearray(vv.PAGE_SIZE)
    page = VvarPage(memoryview(buf))
    page.update([tsc_data(CLOCK_MONOTONIC=(1, 0)), VdsoData()])
    before = bytes(buf)
    with pytest.raises(struct.error):
        page.update([tsc_data(CLOCK_REALTIME=(-1, 0)), VdsoData()])
    assert bytes(buf) == before and unpack(bytes(buf), vv.CS_HRES_COARSE)[0] % 2 == 0
