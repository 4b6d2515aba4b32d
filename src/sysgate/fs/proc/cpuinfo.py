"""/proc/cpuinfo: one block per CPU; sysgate's kernel has one, processor 0.

Counterpart: arch/x86/kernel/cpu/proc.c (show_cpuinfo) on an SMP x86-64 kernel. The
figures are the kernel's CpuinfoX86 (sysgate.arch.x86_64.cpufeature), read from the
emulated CPU's own CPUID, so the flags are exactly the features a guest finds with
the cpuid instruction. The "bugs" line is empty: the emulated CPU executes nothing
speculatively. The clock is the TSC's, which the guest reads with rdtsc; bogomips
follows from it as Linux derives it (loops_per_jiffy of a TSC-calibrated delay).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sysgate.arch.x86_64.cpufeature import CpuinfoX86
    from sysgate.kernel.task import Task

HZ = 250
"""Debian's CONFIG_HZ: loops_per_jiffy, and so bogomips, are per jiffy."""
X86_POWER_FLAGS = ("ts", "fid", "vid", "ttp", "tm", "stc", "100mhzsteps", "hwpstate", "", "cpb",
                   "eff_freq_ro", "proc_feedback", "acc_power")
"""arch/x86/kernel/cpu/powerflags.c: CPUID 0x80000007 EDX, bit by bit."""


def show_cpu(c: CpuinfoX86, cpu: int, tsc_khz: int) -> str:
    """One processor's block, ending with a blank line."""
    out = [
        f"processor\t: {cpu}\n",
        f"vendor_id\t: {c.vendor_id or 'unknown'}\n",
        f"cpu family\t: {c.family}\n",
        f"model\t\t: {c.model}\n",
        f"model name\t: {c.model_id or 'unknown'}\n",
        f"stepping\t: {c.stepping}\n",
    ]
    if c.has(0, 4):  # X86_FEATURE_TSC
        out.append(f"cpu MHz\t\t: {tsc_khz // 1000}.{tsc_khz % 1000:03d}\n")
    if c.cache_size_kb:
        out.append(f"cache size\t: {c.cache_size_kb} KB\n")
    out += [
        "physical id\t: 0\nsiblings\t: 1\ncore id\t\t: 0\ncpu cores\t: 1\n",
        f"apicid\t\t: {c.apicid}\ninitial apicid\t: {c.apicid}\n",
        f"fpu\t\t: yes\nfpu_exception\t: yes\ncpuid level\t: {c.cpuid_level}\nwp\t\t: yes\n",
        "flags\t\t:", "".join(" " + name for name in c.flags()), "\n",
        "bugs\t\t:\n",
    ]
    lpj = tsc_khz * 1000 // HZ
    out.append(f"bogomips\t: {lpj // (500000 // HZ)}.{lpj // (5000 // HZ) % 100:02d}\n")
    out += [
        f"clflush size\t: {c.clflush_size}\n",
        f"cache_alignment\t: {c.clflush_size}\n",
        f"address sizes\t: {c.phys_bits} bits physical, {c.virt_bits} bits virtual\n",
        "power management:",
    ]
    for bit in range(32):
        if c.power >> bit & 1:
            name = X86_POWER_FLAGS[bit] if bit < len(X86_POWER_FLAGS) else None
            out.append((" " + name if name else "") if name is not None else f" [{bit}]")
    out.append("\n\n")
    return "".join(out)


def tsc_khz() -> int:
    """The TSC's frequency in kHz, as the kernel's timekeeping has calibrated it against
    the host's clock (tsc_khz)."""
    from sysgate.cpu.tsc import read_tsc
    from sysgate.vdso.timekeeping import CALIBRATION, take_sample

    try:
        ns_per_cycle, _ = CALIBRATION.rate(read_tsc, take_sample(read_tsc))
    except ValueError:  # a TSC that does not advance
        return 0
    return round(1_000_000 / ns_per_cycle)


def show_cpuinfo(t: Task) -> bytes:
    """Every online CPU: processor 0, if the CPU has been identified."""
    c = t.kernel.cpuinfo
    if c is None:
        return b""
    return show_cpu(c, 0, tsc_khz()).encode("latin-1")
