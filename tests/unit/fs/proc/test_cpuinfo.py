"""/proc/cpuinfo (arch/x86/kernel/cpu/proc.c) from the CPU's own CPUID, and the kernel's
reading of CPUID (arch/x86/kernel/cpu/common.c)."""

from __future__ import annotations

from sysgate.arch.x86_64.cpufeature import X86_CAP_FLAGS, CpuinfoX86, identify_cpu
from sysgate.fs.proc.cpuinfo import show_cpu, show_cpuinfo
from sysgate.kernel.task import Task

HASWELL = {  # Unicorn's default CPU model, as its cpuid answers
    (0, 0): (0xD, 0x756E6547, 0x6C65746E, 0x49656E69),
    (1, 0): (0x306C4, 0x800, 0xCED82203, 0x78BFBFD),
    (4, 0): (0x121, 0x1C0003F, 0x3F, 0x1), (4, 1): (0x122, 0x1C0003F, 0x3F, 0x1),
    (4, 2): (0x143, 0x3C0003F, 0xFFF, 0x1),
    (6, 0): (0x4, 0, 0, 0),
    (7, 0): (0, 0x389, 0, 0),
    (0xD, 1): (0x1, 0, 0, 0),
    (0x80000000, 0): (0x80000008, 0x756E6547, 0x6C65746E, 0x49656E69),
    (0x80000001, 0): (0x306C4, 0, 0x21, 0x28100800),
    (0x80000002, 0): (0x65746E49, 0x6F43206C, 0x50206572, 0x65636F72),
    (0x80000003, 0): (0x726F7373, 0x61482820, 0x6C657773, 0x296C),
    (0x80000008, 0): (0x3028, 0, 0, 0),
}


def cpuid(leaf: int, sub: int) -> tuple[int, int, int, int]:
    if (leaf, sub) in HASWELL:
        return HASWELL[leaf, sub]
    return HASWELL.get((leaf, 0), (0, 0, 0, 0)) if leaf not in (4, 7, 0xD) else (0, 0, 0, 0)


def test_identify_cpu() -> None:
    c = identify_cpu(cpuid)
    assert (c.vendor_id, c.family, c.model, c.stepping) == ("GenuineIntel", 6, 60, 4)
    assert c.model_id == "Intel Core Processor (Haswell)"
    assert (c.cpuid_level, c.cache_size_kb, c.clflush_size, c.phys_bits, c.virt_bits) == (13, 4096, 64, 40, 48)


def test_flags_are_the_cpuid_bits_in_linuxs_order() -> None:
    flags = identify_cpu(cpuid).flags()
    assert flags[:4] == ["fpu", "de", "pse", "tsc"]
    assert {"sse", "sse2", "ssse3", "sse4_1", "sse4_2", "popcnt", "aes", "syscall", "nx", "lm", "bmi1", "bmi2",
            "fsgsbase", "erms", "xsaveopt", "hypervisor", "arat"} <= set(flags)
    assert not {"avx", "avx2", "fma", "adx", "osxsave", "constant_tsc"} & set(flags)  # absent or unnamed
    word_order = [w for w, names in sorted(X86_CAP_FLAGS.items()) for b in sorted(names) if names[b] in flags]
    assert word_order == sorted(word_order)


def test_every_flag_matches_its_cpuid_bit() -> None:
    c = identify_cpu(cpuid)
    shown = set(c.flags())
    for word, names in X86_CAP_FLAGS.items():
        for bit, name in names.items():
            assert (name in shown) == c.has(word, bit), name


def test_block_layout() -> None:
    text = show_cpu(identify_cpu(cpuid), 0, 2596130)
    names = [line.split("\t")[0] for line in text.splitlines() if line]
    assert names == ["processor", "vendor_id", "cpu family", "model", "model name", "stepping", "cpu MHz",
                     "cache size", "physical id", "siblings", "core id", "cpu cores", "apicid", "initial apicid",
                     "fpu", "fpu_exception", "cpuid level", "wp", "flags", "bugs", "bogomips", "clflush size",
                     "cache_alignment", "address sizes", "power management:"]
    assert "cpu MHz\t\t: 2596.130\n" in text
    assert "bogomips\t: 5192.26\n" in text  # as Linux derives it from the TSC at HZ=250
    assert "bugs\t\t:\n" in text
    assert text.endswith("power management:\n\n")


def test_no_cpu_no_blocks(task: Task) -> None:
    task.kernel.cpuinfo = None
    assert show_cpuinfo(task) == b""
    task.kernel.cpuinfo = CpuinfoX86("GenuineIntel", 6, 60, 4, "x", 13)
    assert show_cpuinfo(task).startswith(b"processor\t: 0\n")
