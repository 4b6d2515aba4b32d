"""Timekeeping for the vDSO: steering without steps, calibration, what a tick publishes.

The clocks are the host's, so a published value is compared with the host clock read
around it, with a margin for the time between the reads (not a timing assertion: the
margin bounds a difference of clock values, never how long anything took).
"""

from __future__ import annotations

import time

import pytest

from sysgate.uapi import time as lt
from sysgate.vdso import timekeeping as tk
from sysgate.vdso import vvar as vv
from sysgate.vdso.timekeeping import Calibration, Sample, Timekeeper, Timeline, choose_shift, split
from sysgate.vdso.vvar import VvarPage, read_clock

RATE = 0.4  # ns per cycle of the synthetic TSCs below (2.5 GHz)
RAW = getattr(time, "CLOCK_MONOTONIC_RAW", time.CLOCK_MONOTONIC)
MARGIN_NS = 50_000_000


def synthetic_tsc() -> int:
    """A TSC locked to the host's CLOCK_MONOTONIC_RAW at 2.5 GHz."""
    return int(time.clock_gettime_ns(RAW) / RATE)


def seeded_calibration() -> Calibration:
    """A calibration whose anchor lies at raw time 0 of the synthetic TSC: no waiting."""
    cal = Calibration()
    cal.anchor = Sample(0, 0, 0, 0, 0, 0)
    return cal


def test_choose_shift_keeps_mult_below_2_to_30() -> None:
    for rate in (0.1, 0.4, 1.0, 41.67, 1000.0):  # 10 GHz ... 1 MHz counters
        shift = choose_shift(rate)
        assert 0 < shift <= 32
        assert rate * (1 << shift) < 1 << 30 <= rate * (1 << (shift + 1)) or shift == 32


def test_split_keeps_the_fraction() -> None:
    shift = 32
    value = ((5 * vv.NSEC_PER_SEC + 123) << shift) + 77
    assert split(value, shift) == (5, (123 << shift) + 77)


class TestTimeline:
    SHIFT = 32
    NOMINAL = round(RATE * (1 << 32))
    INTERVAL = round(0.05e9 / RATE)

    def value_ns(self, line: Timeline, tsc: int) -> int:
        return line.at(tsc) >> self.SHIFT

    def test_first_steer_takes_the_host_value(self) -> None:
        line = Timeline(self.SHIFT)
        line.steer(1000, 5_000_000, self.NOMINAL, self.INTERVAL)
        assert (line.cycle_last, self.value_ns(line, 1000), line.mult) == (1000, 5_000_000, self.NOMINAL)

    def test_ahead_of_the_host_it_slows_down_without_stepping_back(self) -> None:
        line = Timeline(self.SHIFT)
        line.steer(0, 0, self.NOMINAL, self.INTERVAL)
        tsc = self.INTERVAL
        before = line.at(tsc)
        host = self.value_ns(line, tsc) - 2_000  # the published clock ran 2 µs ahead
        line.steer(tsc, host, self.NOMINAL, self.INTERVAL)
        assert line.at(tsc) == before  # continuous, to the fraction of a nanosecond
        assert line.mult < self.NOMINAL

    def test_far_ahead_it_slews_at_most_max_slew(self) -> None:
        line = Timeline(self.SHIFT)
        line.steer(0, 0, self.NOMINAL, self.INTERVAL)
        line.steer(self.INTERVAL, self.value_ns(line, self.INTERVAL) - 10**9, self.NOMINAL, self.INTERVAL)
        assert line.mult == self.NOMINAL - int(self.NOMINAL * tk.MAX_SLEW)

    def test_far_behind_it_steps_forward(self) -> None:
        line = Timeline(self.SHIFT)
        line.steer(0, 0, self.NOMINAL, self.INTERVAL)
        host = self.value_ns(line, self.INTERVAL) + 2 * tk.STEP_NS
        line.steer(self.INTERVAL, host, self.NOMINAL, self.INTERVAL)
        assert self.value_ns(line, self.INTERVAL) == host

    def test_a_wrong_rate_converges_and_never_goes_back(self) -> None:
        """Nominal mult 50 ppm fast (a rough first calibration): the error shrinks to
        nanoseconds within a second of ticks, and no tick moves the clock back."""
        line = Timeline(self.SHIFT)
        nominal = round(RATE * (1 + 50e-6) * (1 << self.SHIFT))
        errors = []
        for k in range(40):
            tsc = k * self.INTERVAL
            host = round(tsc * RATE)
            before = line.at(tsc)
            line.steer(tsc, host, nominal, self.INTERVAL)
            assert k == 0 or line.at(tsc) >= before  # a tick never moves the clock back
            errors.append(abs(self.value_ns(line, tsc + self.INTERVAL) - round((tsc + self.INTERVAL) * RATE)))
        assert errors[0] > 1_000
        assert max(errors[-10:]) < 100


def test_calibration_waits_for_a_baseline_then_measures_the_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    slept = []
    monkeypatch.setattr(tk.time, "sleep", slept.append)
    cal = Calibration()
    first = Sample(1_000, 0, 500, 0, 0, 0)
    later = Sample(1_000 + 25_000_000, 0, 500 + 10_000_000, 0, 0, 0)
    monkeypatch.setattr(tk, "take_sample", lambda read: later)
    rate, used = cal.rate(lambda: 0, first)
    assert slept and slept[0] == pytest.approx(tk.CALIBRATION_NS / 1e9)
    assert used is later and rate == pytest.approx(RATE)
    slept.clear()
    assert cal.rate(lambda: 0, later)[0] == pytest.approx(RATE) and not slept  # the anchor stays


def test_a_tsc_that_does_not_advance_is_refused() -> None:
    cal = Calibration()
    cal.anchor = Sample(5, 0, 0, 0, 0, 0)
    with pytest.raises(ValueError):
        cal.rate(lambda: 5, Sample(5, 0, 10**9, 0, 0, 0))


def published(buf: bytearray, clock: int) -> int:
    got = read_clock(bytes(buf), clock, synthetic_tsc())
    assert got is not None
    return got[0] * vv.NSEC_PER_SEC + got[1]


@pytest.mark.parametrize("clock, host", [
    (lt.CLOCK_MONOTONIC, time.CLOCK_MONOTONIC),
    (lt.CLOCK_REALTIME, time.CLOCK_REALTIME),
    (lt.CLOCK_BOOTTIME, getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)),
    (lt.CLOCK_TAI, getattr(time, "CLOCK_TAI", time.CLOCK_REALTIME)),
    (lt.CLOCK_MONOTONIC_RAW, RAW),
])
def test_a_tick_publishes_the_host_clocks(clock: int, host: int) -> None:
    buf = bytearray(vv.PAGE_SIZE)
    keeper = Timekeeper(VvarPage(memoryview(buf)), synthetic_tsc, seeded_calibration())
    keeper.tick()
    before = time.clock_gettime_ns(host)
    ours = published(buf, clock)
    after = time.clock_gettime_ns(host)
    assert before - MARGIN_NS <= ours <= after + MARGIN_NS


def test_coarse_clocks_trail_their_clock_by_less_than_a_tick() -> None:
    buf = bytearray(vv.PAGE_SIZE)
    keeper = Timekeeper(VvarPage(memoryview(buf)), synthetic_tsc, seeded_calibration())
    keeper.tick()
    coarse = published(buf, lt.CLOCK_REALTIME_COARSE)
    fine = published(buf, lt.CLOCK_REALTIME)
    assert coarse % vv.TICK_NSEC == 0
    assert fine - vv.TICK_NSEC < coarse <= fine


def test_the_thread_ticks_until_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tk, "TICK_SECONDS", 0.001)
    buf = bytearray(vv.PAGE_SIZE)
    keeper = Timekeeper(VvarPage(memoryview(buf)), synthetic_tsc, seeded_calibration())
    keeper.start()
    seq = vv.unpack(bytes(buf), vv.CS_HRES_COARSE)[0]
    while vv.unpack(bytes(buf), vv.CS_HRES_COARSE)[0] == seq:
        time.sleep(0.001)
    keeper.stop()
    assert keeper._thread is None
    seq = vv.unpack(bytes(buf), vv.CS_HRES_COARSE)[0]
    assert seq % 2 == 0
    time.sleep(0.01)
    assert vv.unpack(bytes(buf), vv.CS_HRES_COARSE)[0] == seq  # no tick after stop


def test_a_broken_tsc_leaves_the_vdso_on_system_calls() -> None:
    def broken() -> int:
        raise OSError("no TSC")

    buf = bytearray(vv.PAGE_SIZE)
    keeper = Timekeeper(VvarPage(memoryview(buf)), broken, seeded_calibration())
    keeper.start()
    keeper.stop()
    assert vv.unpack(bytes(buf), vv.CS_HRES_COARSE)[1].clock_mode == vv.VDSO_CLOCKMODE_NONE
    assert read_clock(bytes(buf), lt.CLOCK_MONOTONIC, 0) is None


def fixed_samples(monkeypatch: pytest.MonkeyPatch, samples: list[Sample]) -> None:
    monkeypatch.setattr(tk, "take_sample", lambda read: samples.pop(0))


def test_a_descheduled_tick_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = bytearray(vv.PAGE_SIZE)
    keeper = Timekeeper(VvarPage(memoryview(buf)), synthetic_tsc, seeded_calibration())
    s1 = Sample(10**10, 4 * 10**9, 4 * 10**9, 17 * 10**17, 5 * 10**9, 17 * 10**17)
    s2 = Sample(2 * 10**10, 8 * 10**9, 8 * 10**9, 17 * 10**17 + 4 * 10**9, 9 * 10**9, 17 * 10**17 + 4 * 10**9,
                bracket=tk.MAX_BRACKET_NS + 1)
    fixed_samples(monkeypatch, [s1, s2])
    keeper.tick()
    before = bytes(buf)
    keeper.tick()
    assert bytes(buf) == before


@pytest.mark.parametrize("shift_ns, jitter, moves", [
    (500, 0, False),  # the same offset, measured again
    (5_000, 0, True),  # the host's REALTIME was stepped
    (5_000, 10_000, False),  # within what a descheduled read can add
    (-3_000_000, 10_000, True),  # stepped back: REALTIME may go back, as on Linux
])
def test_realtime_offset_follows_host_steps_only(monkeypatch: pytest.MonkeyPatch, shift_ns: int, jitter: int,
                                                  moves: bool) -> None:
    buf = bytearray(vv.PAGE_SIZE)
    keeper = Timekeeper(VvarPage(memoryview(buf)), synthetic_tsc, seeded_calibration())
    real = 17 * 10**17
    s1 = Sample(10**10, 4 * 10**9, 4 * 10**9, real, 5 * 10**9, real)
    s2 = Sample(10**10 + 1000, 4 * 10**9 + 400, 4 * 10**9 + 400, real + 400 + shift_ns, 5 * 10**9 + 400,
                real + 400, jitter=jitter)
    fixed_samples(monkeypatch, [s1, s2])
    keeper.tick()
    old = keeper.offsets[lt.CLOCK_REALTIME]
    keeper.tick()
    assert (keeper.offsets[lt.CLOCK_REALTIME] != old) == moves
    assert keeper.offsets[lt.CLOCK_REALTIME] == (old + shift_ns if moves else old)
