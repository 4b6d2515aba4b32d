"""The vDSO's functions, as machine code: clock_gettime, gettimeofday, time, getcpu,
clock_getres.

Counterpart: arch/x86/entry/vdso/vclock_gettime.c and vgetcpu.c, with the generic
lib/vdso/gettimeofday.c they call (do_hres, the fallbacks). Each function follows
Linux's: the clocks the vDSO answers are computed from the vvar page and the TSC without
entering the kernel; any other clock id (the CPU-time clocks, ALARM clocks, invalid
ids), or a vvar page whose clock_mode is VDSO_CLOCKMODE_NONE, makes the real system
call with the caller's arguments, so results and errno are the kernel's.

Differences from Linux, each keeping the results the system call gives:
- the coarse clocks are the high-resolution time rounded down to a jiffy (4 ms), as
  sysgate's clock_gettime computes them, where Linux reads the base of the last tick;
- time() reads the high-resolution clock where Linux reads the last tick's seconds;
- getcpu answers CPU 0, node 0 (sysgate has one CPU), where Linux reads RDPID/LSL.

Registers: arguments in rdi, rsi, rdx; the functions use only rax, rcx, rdx, r8-r11
(caller-saved in the SysV ABI) and no stack, so each is a leaf with CFA = rsp + 8.
"""

from __future__ import annotations

from dataclasses import dataclass

from sysgate.vdso import vvar as vv
from sysgate.vdso.asm import Asm, Mem

NR_GETTIMEOFDAY, NR_TIME, NR_CLOCK_GETTIME, NR_CLOCK_GETRES = 96, 201, 228, 229
"""arch/x86/entry/syscalls/syscall_64.tbl: what the fallbacks call."""
NSEC_PER_USEC = 1000


@dataclass(frozen=True, slots=True)
class Function:
    """One exported function: its name (without __vdso_), offset in the code and size."""

    name: str
    offset: int
    size: int


def _vdso_data(cs: int) -> int:
    """Address of vdso_data[cs], as an offset from the vDSO's first byte."""
    return -vv.VVAR_SIZE + vv.vdso_data_offset(cs)


class _Labels:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, what: str) -> str:
        self.n += 1
        return f".L{what}{self.n}"


def do_hres(a: Asm, new: _Labels, fallback: str) -> None:
    """r8 = &vdso_data, r9 = &vdso_data->basetime[clock]; out rax = sec, rdx = nsec.

    Clobbers rcx, r10, r11. Jumps to `fallback` when clock_mode is not TSC.
    """
    retry, spin, positive, done = new("retry"), new("spin"), new("pos"), new("done")
    a.label(retry)
    a.mov("r10d", Mem("r8", vv.SEQ))  # seq = vdso_read_begin(vd)
    a.test("r10d", 1)
    a.jcc("ne", spin)  # a write is in progress
    a.cmp(Mem("r8", vv.CLOCK_MODE), vv.VDSO_CLOCKMODE_TSC)
    a.jcc("ne", fallback)
    a.lfence()  # rdtsc_ordered
    a.rdtsc()
    a.shl("rdx", 32)
    a.or_("rax", "rdx")  # cycles
    a.sub("rax", Mem("r8", vv.CYCLE_LAST))  # delta = cycles - cycle_last
    a.jcc("ae", positive)
    a.xor("eax", "eax")  # a TSC behind cycle_last counts as no time
    a.label(positive)
    a.mov("edx", Mem("r8", vv.MULT))
    a.mul("rdx")  # rdx:rax = delta * mult, 128 bits: no overflow however long since the base
    a.add("rax", Mem("r9", 8))  # + basetime.nsec (shifted)
    a.adc("rdx", 0)
    a.mov("ecx", Mem("r8", vv.SHIFT))
    a.shrd("rax", "rdx")  # ns = (...) >> shift
    a.mov("r11", Mem("r9", 0))  # basetime.sec
    a.cmp("r10d", Mem("r8", vv.SEQ))  # vdso_read_retry
    a.jcc("ne", retry)
    a.xor("edx", "edx")
    a.mov("ecx", vv.NSEC_PER_SEC)
    a.div("rcx")  # __iter_div_u64_rem: rax = whole seconds in ns, rdx = the rest
    a.add("rax", "r11")
    a.jmp(done)
    a.label(spin)
    a.pause()
    a.jmp(retry)
    a.label(done)


def _fallback(a: Asm, label: str, nr: int) -> None:
    """The system call with the caller's own arguments (still in rdi, rsi, rdx)."""
    a.label(label)
    a.mov("eax", nr)
    a.syscall()
    a.ret()


def _clock_mask(a: Asm, into: str) -> None:
    """into = 1 << clock (clock in edi, already checked < MAX_CLOCKS)."""
    a.mov(into, 1)
    a.mov("ecx", "edi")
    a.shl(into, "cl")


def clock_gettime(a: Asm, new: _Labels) -> None:
    """int __vdso_clock_gettime(clockid_t clock, struct __kernel_timespec *ts)"""
    fallback, have, store = new("fallback"), new("have"), new("store")
    a.cmp("edi", vv.MAX_CLOCKS - 1)
    a.jcc("a", fallback)  # (u32)clock >= MAX_CLOCKS: negative ids are CPU clocks
    _clock_mask(a, "eax")
    a.lea("r8", Mem("rip", target=_vdso_data(vv.CS_HRES_COARSE)))
    a.test("eax", vv.VDSO_HRES | vv.VDSO_COARSE)
    a.jcc("ne", have)
    a.test("eax", vv.VDSO_RAW)
    a.jcc("e", fallback)
    a.lea("r8", Mem("rip", target=_vdso_data(vv.CS_RAW)))
    a.label(have)
    a.mov("r9d", "edi")
    a.shl("r9", 4)
    a.add("r9", "r8")
    a.add("r9", vv.BASETIME)  # &vd->basetime[clock]
    do_hres(a, new, fallback)
    _clock_mask(a, "r10d")
    a.test("r10d", vv.VDSO_COARSE)
    a.jcc("e", store)
    a.mov("r9", "rax")  # a coarse clock: nsec rounded down to a tick
    a.mov("rax", "rdx")
    a.xor("edx", "edx")
    a.mov("ecx", vv.TICK_NSEC)
    a.div("rcx")
    a.mul("rcx")
    a.mov("rdx", "rax")
    a.mov("rax", "r9")
    a.label(store)
    a.mov(Mem("rsi", 0), "rax")
    a.mov(Mem("rsi", 8), "rdx")
    a.xor("eax", "eax")
    a.ret()
    _fallback(a, fallback, NR_CLOCK_GETTIME)


def gettimeofday(a: Asm, new: _Labels) -> None:
    """int __vdso_gettimeofday(struct __kernel_old_timeval *tv, struct timezone *tz)"""
    fallback, tz, done = new("fallback"), new("tz"), new("done")
    a.test("rdi", "rdi")
    a.jcc("e", tz)
    a.lea("r8", Mem("rip", target=_vdso_data(vv.CS_HRES_COARSE)))
    a.lea("r9", Mem("r8", vv.BASETIME))  # basetime[CLOCK_REALTIME]
    do_hres(a, new, fallback)
    a.mov(Mem("rdi", 0), "rax")
    a.mov("rax", "rdx")
    a.xor("edx", "edx")
    a.mov("ecx", NSEC_PER_USEC)
    a.div("rcx")
    a.mov(Mem("rdi", 8), "rax")  # tv_usec
    a.label(tz)
    a.test("rsi", "rsi")
    a.jcc("e", done)
    a.lea("r8", Mem("rip", target=_vdso_data(vv.CS_HRES_COARSE)))
    a.mov("eax", Mem("r8", vv.TZ_MINUTESWEST))
    a.mov(Mem("rsi", 0), "eax")
    a.mov("eax", Mem("r8", vv.TZ_DSTTIME))
    a.mov(Mem("rsi", 4), "eax")
    a.label(done)
    a.xor("eax", "eax")
    a.ret()
    _fallback(a, fallback, NR_GETTIMEOFDAY)


def time(a: Asm, new: _Labels) -> None:
    """__kernel_old_time_t __vdso_time(__kernel_old_time_t *t)"""
    fallback, done = new("fallback"), new("done")
    a.lea("r8", Mem("rip", target=_vdso_data(vv.CS_HRES_COARSE)))
    a.lea("r9", Mem("r8", vv.BASETIME))  # basetime[CLOCK_REALTIME]
    do_hres(a, new, fallback)
    a.test("rdi", "rdi")
    a.jcc("e", done)
    a.mov(Mem("rdi", 0), "rax")
    a.label(done)
    a.ret()
    _fallback(a, fallback, NR_TIME)


def getcpu(a: Asm, new: _Labels) -> None:
    """long __vdso_getcpu(unsigned *cpu, unsigned *node, void *tcache): CPU 0, node 0."""
    node, done = new("node"), new("done")
    a.test("rdi", "rdi")
    a.jcc("e", node)
    a.mov(Mem("rdi", 0), 0)  # a 32-bit store
    a.label(node)
    a.test("rsi", "rsi")
    a.jcc("e", done)
    a.mov(Mem("rsi", 0), 0)
    a.label(done)
    a.xor("eax", "eax")
    a.ret()


def clock_getres(a: Asm, new: _Labels) -> None:
    """int __vdso_clock_getres(clockid_t clock, struct __kernel_timespec *res)"""
    fallback, coarse, store, done = new("fallback"), new("coarse"), new("store"), new("done")
    a.cmp("edi", vv.MAX_CLOCKS - 1)
    a.jcc("a", fallback)
    _clock_mask(a, "eax")
    a.test("eax", vv.VDSO_HRES | vv.VDSO_RAW)
    a.jcc("e", coarse)
    a.lea("r8", Mem("rip", target=_vdso_data(vv.CS_HRES_COARSE)))
    a.mov("edx", Mem("r8", vv.HRTIMER_RES))
    a.jmp(store)
    a.label(coarse)
    a.test("eax", vv.VDSO_COARSE)
    a.jcc("e", fallback)
    a.mov("edx", vv.TICK_NSEC)
    a.label(store)
    a.test("rsi", "rsi")
    a.jcc("e", done)
    a.xor("ecx", "ecx")
    a.mov(Mem("rsi", 0), "rcx")  # tv_sec = 0
    a.mov(Mem("rsi", 8), "rdx")
    a.label(done)
    a.xor("eax", "eax")
    a.ret()
    _fallback(a, fallback, NR_CLOCK_GETRES)


FUNCTIONS = (clock_gettime, gettimeofday, time, getcpu, clock_getres)


def assemble(origin: int) -> tuple[bytes, list[Function]]:
    """The vDSO's code placed at `origin` in the image, and where each function is."""
    a = Asm(origin)
    new = _Labels()
    funcs = []
    for emit in FUNCTIONS:
        a.align(16)
        start = a.here()
        emit(a, new)
        funcs.append(Function(emit.__name__, start, a.here() - start))
    return a.finish(), funcs
