"""The vDSO's machine code, run on the CPU against a vvar page with known contents.

Each function is called as C code calls it (arguments in rdi/rsi/rdx, a return address
on the stack pointing at `hlt`) with the real TSC. Its results are checked against the
Python model of the same arithmetic (sysgate.vdso.vvar.read_clock) evaluated at TSC
values read just before and just after the call; the fallbacks are checked by the
system call they make; callee-saved registers must survive.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from sysgate.cpu.base import StopKind
from sysgate.cpu.tsc import read_tsc
from sysgate.cpu.uc import UnicornCpu
from sysgate.mm.mm import Mm
from sysgate.mm.physmem import PhysMem
from sysgate.mm.vma import Vma
from sysgate.uapi import time as lt
from sysgate.vdso import vvar as vv
from sysgate.vdso.image import vdso_image
from sysgate.vdso.vma import map_vdso, vvar_frame
from sysgate.vdso.vvar import VdsoData, VvarPage, read_clock

STUB = 0x400000  # hlt: where the called function returns to
DATA = 0x600000
STACK = 0x7FF00000
SHIFT = 32
MULT = round(0.4 * (1 << SHIFT))
SAVED = {"rbx": 0x1111, "rbp": 0x2222, "r12": 0x3333, "r13": 0x4444, "r14": 0x5555, "r15": 0x6666}
NS = vv.NSEC_PER_SEC


@dataclass
class Machine:
    cpu: UnicornCpu
    mm: Mm
    page: VvarPage
    vdso: int
    syscalls: list[list[int]]

    def call(self, name: str, *args: int) -> int:
        """Call __vdso_NAME(args...) and return rax; the stack and saved registers checked."""
        regs = dict(zip(("rdi", "rsi", "rdx"), args, strict=False))
        self.mm.write(STACK, struct.pack("<Q", STUB))
        self.cpu.set_regs({"rsp": STACK, "rax": 0xDEAD, **SAVED, **regs})
        stop = self.cpu.run(self.vdso + vdso_image().symbols[f"__vdso_{name}"])
        assert stop.kind is StopKind.HALT and stop.pc == STUB + 1
        assert self.cpu.get_regs(list(SAVED)) == list(SAVED.values())
        assert self.cpu.get_reg("rsp") == STACK + 8
        return self.cpu.get_reg("rax")

    def publish(self, hres: VdsoData, raw: VdsoData | None = None) -> None:
        self.page.update([hres, raw or VdsoData()])

    def timespec(self, addr: int = DATA) -> tuple[int, int]:
        sec, nsec = struct.unpack("<qq", self.mm.read(addr, 16))
        return sec, nsec


@pytest.fixture
def machine() -> Iterator[Machine]:
    phys = PhysMem(1 << 28)
    mm = Mm(phys)
    mm.mmap_base = 0x7FFFF7FFF000
    mm.insert_vma(Vma(STUB, STUB + 0x1000, 5))
    mm.insert_vma(Vma(DATA, DATA + 0x1000, 3))
    mm.insert_vma(Vma(STACK - 0x1000, STACK + 0x1000, 3))
    mm.phys.page(mm.handle_mm_fault(STUB, 1) >> 12)[0] = 0xF4  # hlt
    vdso = map_vdso(mm)
    cpu = UnicornCpu(phys, mm)
    calls: list[list[int]] = []

    def entry(frame: list[int]) -> int:
        calls.append(frame)
        return -22

    cpu.on_syscall = entry
    yield Machine(cpu, mm, VvarPage(phys.page(vvar_frame(phys))), vdso, calls)
    cpu.close()
    phys.close()


def hres(base: tuple[int, int] = (1_700_000_000, 123_456_789 << SHIFT), **extra: int) -> VdsoData:
    bases = {c: base for c in (lt.CLOCK_REALTIME, lt.CLOCK_MONOTONIC, lt.CLOCK_BOOTTIME, lt.CLOCK_TAI,
                               lt.CLOCK_REALTIME_COARSE, lt.CLOCK_MONOTONIC_COARSE)}
    return VdsoData(vv.VDSO_CLOCKMODE_TSC, read_tsc(), MULT, SHIFT, bases, **extra)


def within(m: Machine, clock: int, got: tuple[int, int], before: int, after: int) -> bool:
    page = bytes(m.mm.phys.page(vvar_frame(m.mm.phys)))
    lo, hi = read_clock(page, clock, before), read_clock(page, clock, after)
    assert lo is not None and hi is not None
    return lo <= got <= hi


@pytest.mark.parametrize("clock", [lt.CLOCK_REALTIME, lt.CLOCK_MONOTONIC, lt.CLOCK_BOOTTIME, lt.CLOCK_TAI,
                                   lt.CLOCK_REALTIME_COARSE, lt.CLOCK_MONOTONIC_COARSE])
def test_clock_gettime_computes_what_the_model_computes(machine: Machine, clock: int) -> None:
    machine.publish(hres())
    before = read_tsc()
    assert machine.call("clock_gettime", clock, DATA) == 0
    after = read_tsc()
    got = machine.timespec()
    assert within(machine, clock, got, before, after)
    assert 0 <= got[1] < NS
    if clock in (lt.CLOCK_REALTIME_COARSE, lt.CLOCK_MONOTONIC_COARSE):
        assert got[1] % vv.TICK_NSEC == 0
    assert not machine.syscalls


def test_monotonic_raw_uses_its_own_data(machine: Machine) -> None:
    raw = VdsoData(vv.VDSO_CLOCKMODE_TSC, read_tsc(), MULT, SHIFT, {lt.CLOCK_MONOTONIC_RAW: (77, 0)})
    machine.publish(hres(), raw)
    before = read_tsc()
    assert machine.call("clock_gettime", lt.CLOCK_MONOTONIC_RAW, DATA) == 0
    assert within(machine, lt.CLOCK_MONOTONIC_RAW, machine.timespec(), before, read_tsc())
    assert machine.timespec()[0] in (77, 78)


@pytest.mark.parametrize("clock", [lt.CLOCK_PROCESS_CPUTIME_ID, lt.CLOCK_THREAD_CPUTIME_ID, lt.CLOCK_REALTIME_ALARM,
                                   lt.CLOCK_BOOTTIME_ALARM, lt.CLOCK_SGI_CYCLE, 12, 16, 1234, -1, -6])
def test_other_clocks_make_the_system_call(machine: Machine, clock: int) -> None:
    machine.publish(hres())
    machine.mm.write(DATA, b"\xaa" * 16)
    assert machine.call("clock_gettime", clock & 0xFFFFFFFF, DATA) == (1 << 64) - 22  # the kernel's -EINVAL
    assert [c[:3] for c in machine.syscalls] == [[228, clock & 0xFFFFFFFF, DATA]]
    assert machine.mm.read(DATA, 16) == b"\xaa" * 16


@pytest.mark.parametrize("name, args, nr", [
    ("clock_gettime", (lt.CLOCK_MONOTONIC, DATA), 228),
    ("gettimeofday", (DATA, 0), 96),
    ("time", (DATA,), 201),
])
def test_without_a_clock_source_everything_is_a_system_call(machine: Machine, name: str, args: tuple[int, ...],
                                                             nr: int) -> None:
    machine.publish(VdsoData())
    machine.call(name, *args)
    assert [c[0] for c in machine.syscalls] == [nr] and machine.syscalls[0][1:1 + len(args)] == list(args)


def test_gettimeofday(machine: Machine) -> None:
    machine.publish(hres(tz_minuteswest=-60, tz_dsttime=1))
    machine.mm.write(DATA + 16, b"\xff" * 8)
    before = read_tsc()
    assert machine.call("gettimeofday", DATA, DATA + 16) == 0
    after = read_tsc()
    sec, usec = machine.timespec()
    page = bytes(machine.mm.phys.page(vvar_frame(machine.mm.phys)))
    lo, hi = read_clock(page, lt.CLOCK_REALTIME, before), read_clock(page, lt.CLOCK_REALTIME, after)
    assert lo is not None and hi is not None
    assert (lo[0], lo[1] // 1000) <= (sec, usec) <= (hi[0], hi[1] // 1000)
    assert struct.unpack("<ii", machine.mm.read(DATA + 16, 8)) == (-60, 1)
    machine.mm.write(DATA, b"\xaa" * 16)
    assert machine.call("gettimeofday", 0, DATA + 16) == 0  # tv NULL: only tz
    assert machine.mm.read(DATA, 16) == b"\xaa" * 16
    assert machine.call("gettimeofday", 0, 0) == 0
    assert not machine.syscalls


def test_time(machine: Machine) -> None:
    machine.publish(hres())
    got = machine.call("time", DATA)
    assert got == struct.unpack("<q", machine.mm.read(DATA, 8))[0] in (1_700_000_000, 1_700_000_001)
    assert machine.call("time", 0) in (1_700_000_000, 1_700_000_001)  # time(NULL)
    assert not machine.syscalls


def test_getcpu_is_cpu_0_node_0(machine: Machine) -> None:
    machine.mm.write(DATA, b"\xff" * 8)
    assert machine.call("getcpu", DATA, DATA + 4, 0) == 0
    assert machine.mm.read(DATA, 8) == bytes(8)
    assert machine.call("getcpu", 0, 0, 0) == 0
    assert not machine.syscalls


@pytest.mark.parametrize("clock, ns", [(lt.CLOCK_REALTIME, 1), (lt.CLOCK_MONOTONIC_RAW, 1), (lt.CLOCK_TAI, 1),
                                       (lt.CLOCK_REALTIME_COARSE, vv.TICK_NSEC), (lt.CLOCK_MONOTONIC_COARSE,
                                                                                   vv.TICK_NSEC)])
def test_clock_getres(machine: Machine, clock: int, ns: int) -> None:
    machine.publish(VdsoData())  # the resolution does not need a clock source
    machine.mm.write(DATA, b"\xff" * 16)
    assert machine.call("clock_getres", clock, DATA) == 0
    assert machine.timespec() == (0, ns)
    assert machine.call("clock_getres", clock, 0) == 0
    assert not machine.syscalls


def test_clock_getres_of_other_clocks_is_the_system_call(machine: Machine) -> None:
    assert machine.call("clock_getres", lt.CLOCK_PROCESS_CPUTIME_ID, DATA) == (1 << 64) - 22
    assert [c[:3] for c in machine.syscalls] == [[229, lt.CLOCK_PROCESS_CPUTIME_ID, DATA]]


def test_a_write_in_progress_is_waited_for(machine: Machine) -> None:
    """The sequence count: while it is odd the reader spins; once the writer is done it
    reads the new data, never the half-written one."""
    machine.publish(hres(base=(5, 0)))
    page = machine.page.page
    off = vv.vdso_data_offset(vv.CS_HRES_COARSE)
    seq = struct.unpack_from("<I", page, off)[0]
    struct.pack_into("<I", page, off, seq + 1)  # a writer has begun
    struct.pack_into("<Q", page, off + vv.BASETIME + lt.CLOCK_MONOTONIC * 16, 999)  # half-written

    def finish() -> None:
        body = hres(base=(42, 0)).pack_body()
        page[off + 4 : off + 4 + len(body)] = body
        struct.pack_into("<I", page, off, seq + 2)

    timer = threading.Timer(0.05, finish)
    timer.start()
    guard = threading.Timer(10, machine.cpu.stop)  # a reader that never sees the end must not hang the suite
    guard.start()
    try:
        assert machine.call("clock_gettime", lt.CLOCK_MONOTONIC, DATA) == 0
    finally:
        guard.cancel()
        timer.join()
    assert machine.timespec()[0] in (42, 43)
