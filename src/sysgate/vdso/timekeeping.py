"""Keeping the vvar page current: the TSC calibrated against the host's clocks, and a
tick that publishes the clocks' bases.

Counterpart: arch/x86/kernel/tsc.c (calibrating the TSC, its mult/shift),
kernel/time/timekeeping.c (timekeeping_adjust: steering the clock by its rate rather
than stepping it) and kernel/time/vsyscall.c (update_vsyscall, run on every tick).

The guest's clocks are the host's: at each tick a Timekeeper pairs the guest's TSC
(sysgate.cpu.tsc) with the host's CLOCK_MONOTONIC, and publishes for the vDSO a base
and a rate (mult/shift) from which the time at any later TSC value follows. As in
Linux, the published clock never steps back: at a tick its value is carried on from
where the previous rate had brought it, and the rate is steered so that what remains of
the difference to the host clock is taken out over the next ticks. REALTIME, BOOTTIME
and TAI are MONOTONIC plus the host's offsets (a step of the host's clock, e.g. by
settimeofday or NTP, moves them at the next tick); MONOTONIC_RAW has its own base
(vdso_data[CS_RAW]) steered to the host's MONOTONIC_RAW.

The TSC's frequency is measured once per sysgate process against CLOCK_MONOTONIC_RAW,
over CALIBRATION_NS at the first start (which therefore waits that long), and refined
at every tick as the measured interval grows. The tick runs on a daemon thread every
TICK_SECONDS; it only takes Python's lock while it samples and writes, so the guest
(which runs with the lock released) is never held up by it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sysgate.uapi import time as lt
from sysgate.vdso import vvar as vv

TICK_SECONDS = 0.05
CALIBRATION_NS = 10_000_000
STEP_NS = 1_000_000
"""A published clock behind the host's by more than this steps forward at once."""
MAX_SLEW = 0.005
"""The rate may be steered by at most 0.5% (Linux's NTP allows 0.05%; a fresh
calibration may need more)."""
SAMPLES = 3
TIGHT_NS = 20_000
MAX_BRACKET_NS = 200_000
"""A tick whose TSC could not be paired with the host clock more closely than this (the
thread was descheduled in every try) is skipped: the last rates stay in force."""
_RAW = getattr(time, "CLOCK_MONOTONIC_RAW", time.CLOCK_MONOTONIC)
_BOOT = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)
_TAI = getattr(time, "CLOCK_TAI", time.CLOCK_REALTIME)
_mono = time.monotonic_ns

ReadTsc = Callable[[], int]


@dataclass(frozen=True, slots=True)
class Sample:
    """The TSC and the host's clocks (ns) at one moment."""

    tsc: int
    mono: int
    raw: int
    real: int
    boot: int
    tai: int
    jitter: int = 0  # the widest bracket the other clocks were read in (ns)
    bracket: int = 0  # how far apart the MONOTONIC reads around the TSC read were (ns)


def take_sample(read_tsc: ReadTsc) -> Sample:
    """A TSC value and CLOCK_MONOTONIC read as close together as the host allows (the
    tightest of a few brackets), and the other clocks as offsets from MONOTONIC."""
    best: tuple[int, int, int] | None = None
    for _ in range(SAMPLES):
        before = _mono()
        tsc = read_tsc()
        after = _mono()
        if best is None or after - before < best[0]:
            best = (after - before, tsc, (before + after) // 2)
    assert best is not None
    bracket, tsc, mono = best
    offsets = []
    jitter = 0
    for clock in (_RAW, time.CLOCK_REALTIME, _BOOT, _TAI):
        tightest: tuple[int, int] | None = None
        for _ in range(SAMPLES):
            before = _mono()
            value = time.clock_gettime_ns(clock)
            after = _mono()
            if tightest is None or after - before < tightest[0]:
                tightest = (after - before, value - (before + after) // 2)
        assert tightest is not None
        jitter = max(jitter, tightest[0])
        offsets.append(tightest[1])
    raw, real, boot, tai = (mono + off for off in offsets)
    return Sample(tsc, mono, raw, real, boot, tai, jitter, bracket)


def tight_sample(read_tsc: ReadTsc, first: Sample | None = None) -> Sample:
    """A sample whose TSC read was bracketed within TIGHT_NS, trying a few times (the
    calibration's end points: their error is divided only by a 10 ms baseline)."""
    best = first or take_sample(read_tsc)
    for _ in range(10):
        if best.bracket <= TIGHT_NS:
            break
        s = take_sample(read_tsc)
        if s.bracket < best.bracket:
            best = s
    return best


class Calibration:
    """The TSC's rate in ns per cycle, measured against CLOCK_MONOTONIC_RAW from the
    first sample this process took (tsc_refine_calibration_work, continued forever)."""

    def __init__(self) -> None:
        self.anchor: Sample | None = None
        self._lock = threading.Lock()

    def rate(self, read_tsc: ReadTsc, now: Sample) -> tuple[float, Sample]:
        """The rate, and the sample to use (taken later if the baseline was too short)."""
        with self._lock:
            if self.anchor is None:
                self.anchor = now = tight_sample(read_tsc, now)
            wait = CALIBRATION_NS - (now.raw - self.anchor.raw)
            if wait > 0:
                time.sleep(wait / 1e9)
                now = tight_sample(read_tsc)
            cycles = now.tsc - self.anchor.tsc
            if cycles <= 0:
                raise ValueError("the TSC did not advance")
            return (now.raw - self.anchor.raw) / cycles, now


CALIBRATION = Calibration()


def choose_shift(rate: float) -> int:
    """The largest shift (at most 32) that keeps mult = rate << shift below 2^30, with
    room for steering (clocks_calc_mult_shift's aim: precision without overflow)."""
    shift = 32
    while shift > 0 and rate * (1 << shift) >= 1 << 30:
        shift -= 1
    return shift


def _clamp(value: int, limit: int) -> int:
    return max(-limit, min(limit, value))


@dataclass(slots=True)
class Timeline:
    """One published clock: value(tsc) = base + (tsc - cycle_last) * mult, in ns << shift."""

    shift: int
    cycle_last: int = 0
    base: int = 0
    mult: int = 0
    integral: int = 0  # the steady rate correction learnt so far (mult units)

    def at(self, tsc: int) -> int:
        """The value the vDSO computes at `tsc` (ns << shift), as do_hres does."""
        return self.base + max(tsc - self.cycle_last, 0) * self.mult

    def steer(self, tsc: int, host_ns: int, nominal: int, interval: int) -> None:
        """Rebase at `tsc` without a step back, and steer the rate towards `host_ns`
        (timekeeping_adjust's job): a proportional part takes half of the difference out
        over the next `interval` cycles, an integral part learns a steady rate error (the
        host clock's NTP frequency, a calibration still rough)."""
        target = host_ns << self.shift
        if self.mult == 0:
            value = target  # the first tick
        else:
            value = self.at(tsc)
            if value < target - (STEP_NS << self.shift):
                value = target  # far behind (a first, rough calibration): step forward
        error = (value - target) // max(interval, 1)  # in mult units: shifted ns per cycle
        self.base, self.cycle_last = value, tsc
        limit = int(nominal * MAX_SLEW)
        self.mult = nominal - _clamp(error // 2 + self.integral, limit)
        self.integral = _clamp(self.integral + error // 8, limit)


def split(value: int, shift: int) -> tuple[int, int]:
    """A value in ns << shift as vdso_timestamp: (sec, nsec << shift)."""
    sec = (value >> shift) // vv.NSEC_PER_SEC
    return sec, value - ((sec * vv.NSEC_PER_SEC) << shift)


class Timekeeper:
    """Publishes the clocks to one vvar page, now and on every tick."""

    def __init__(self, page: vv.VvarPage, read_tsc: ReadTsc, calibration: Calibration = CALIBRATION) -> None:
        self.page = page
        self.read_tsc = read_tsc
        self.calibration = calibration
        self.hres: Timeline | None = None
        self.raw: Timeline | None = None
        self.offsets: dict[int, int] = {}
        self._last_tsc = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Publish the clocks (calibrating first if this process has not), then tick.

        Without a usable TSC the page says VDSO_CLOCKMODE_NONE and the vDSO makes the
        system calls, as Linux's does when the clocksource is not vDSO-capable.
        """
        if not self._tick_or_disable():
            return
        self._thread = threading.Thread(target=self._run, name="sysgate-timekeeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking; the page keeps its last values (still valid, drifting slowly)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(TICK_SECONDS) and self._tick_or_disable():
            pass

    def _tick_or_disable(self) -> bool:
        try:
            self.tick()
            return True
        except Exception:  # noqa: BLE001 - whatever broke the TSC, the guest must not see it
            with self._lock:
                self.page.update([vv.VdsoData(), vv.VdsoData()])
            return False

    def tick(self) -> None:
        """Sample, steer the timelines, and publish (update_vsyscall)."""
        with self._lock:
            rate, s = self.calibration.rate(self.read_tsc, take_sample(self.read_tsc))
            if s.bracket > MAX_BRACKET_NS and self.hres is not None:
                return
            if self.hres is None or self.raw is None:
                shift = choose_shift(rate)
                self.hres, self.raw = Timeline(shift), Timeline(shift)
            nominal = round(rate * (1 << self.hres.shift))
            interval = max(round(TICK_SECONDS * 1e9 / rate), s.tsc - self._last_tsc if self._last_tsc else 0)
            self._last_tsc = s.tsc
            self.hres.steer(s.tsc, s.mono, nominal, interval)
            self.raw.steer(s.tsc, s.raw, nominal, interval)
            for clock, value in ((lt.CLOCK_REALTIME, s.real), (lt.CLOCK_BOOTTIME, s.boot), (lt.CLOCK_TAI, s.tai)):
                offset = value - s.mono
                old = self.offsets.get(clock)
                # Offsets between the host's clocks change only when one is stepped; a
                # reading close to the last one (within 1 µs, or within what being
                # descheduled while reading can add) is that one, measured again.
                if old is None or abs(offset - old) > max(1_000, 2 * s.jitter):
                    self.offsets[clock] = offset
            self.page.update(self.vdso_data())

    def vdso_data(self) -> list[vv.VdsoData]:
        """Both vdso_data as the current timelines define them."""
        assert self.hres is not None and self.raw is not None
        hres, raw = self.hres, self.raw
        shift = hres.shift
        bases = {lt.CLOCK_MONOTONIC: split(hres.base, shift)}
        for clock in (lt.CLOCK_REALTIME, lt.CLOCK_BOOTTIME, lt.CLOCK_TAI):
            bases[clock] = split(hres.base + (self.offsets[clock] << shift), shift)
        bases[lt.CLOCK_REALTIME_COARSE] = bases[lt.CLOCK_REALTIME]
        bases[lt.CLOCK_MONOTONIC_COARSE] = bases[lt.CLOCK_MONOTONIC]
        return [
            vv.VdsoData(vv.VDSO_CLOCKMODE_TSC, hres.cycle_last, hres.mult, shift, bases),
            vv.VdsoData(vv.VDSO_CLOCKMODE_TSC, raw.cycle_last, raw.mult, shift,
                        {lt.CLOCK_MONOTONIC_RAW: split(raw.base, shift)}),
        ]
