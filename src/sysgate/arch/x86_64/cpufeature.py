"""What the kernel knows about its CPU, read from CPUID once when the CPU starts.

Counterpart: arch/x86/kernel/cpu/common.c (identify_cpu, get_cpu_cap, cpu_detect,
get_model_name), arch/x86/kernel/cpu/cacheinfo.c (the cache size) and the flag names
of arch/x86/include/asm/cpufeatures.h. The answers are those of the emulated CPU, the
same CPUID the guest sees; /proc/cpuinfo prints them (sysgate.fs.proc.cpuinfo).

Only the feature words that come straight from a CPUID leaf are kept; the words Linux
computes itself (3, 7, 8, 11, 21: constant_tsc, pti, ...) describe the host kernel's
view of a real machine and are left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

CpuidFn = Callable[[int, int], tuple[int, int, int, int]]
EAX, EBX, ECX, EDX = range(4)

CPUID_WORDS: dict[int, tuple[int, int, int]] = {
    0: (0x00000001, 0, EDX), 1: (0x80000001, 0, EDX), 4: (0x00000001, 0, ECX), 6: (0x80000001, 0, ECX),
    9: (0x00000007, 0, EBX), 10: (0x0000000D, 1, EAX), 12: (0x00000007, 1, EAX), 13: (0x80000008, 0, EBX),
    14: (0x00000006, 0, EAX), 15: (0x8000000A, 0, EDX), 16: (0x00000007, 0, ECX), 17: (0x80000007, 0, EBX),
    18: (0x00000007, 0, EDX), 19: (0x8000001F, 0, EAX),
}
"""Feature word -> (leaf, subleaf, register), as get_cpu_cap fills x86_capability."""

_NAMES = {
    0: "0:fpu 1:vme 2:de 3:pse 4:tsc 5:msr 6:pae 7:mce 8:cx8 9:apic 11:sep 12:mtrr 13:pge 14:mca 15:cmov "
       "16:pat 17:pse36 18:pn 19:clflush 21:dts 22:acpi 23:mmx 24:fxsr 25:sse 26:sse2 27:ss 28:ht 29:tm "
       "30:ia64 31:pbe",
    1: "11:syscall 19:mp 20:nx 22:mmxext 25:fxsr_opt 26:pdpe1gb 27:rdtscp 29:lm 30:3dnowext 31:3dnow",
    4: "0:pni 1:pclmulqdq 2:dtes64 3:monitor 4:ds_cpl 5:vmx 6:smx 7:est 8:tm2 9:ssse3 10:cid 11:sdbg "
       "12:fma 13:cx16 14:xtpr 15:pdcm 17:pcid 18:dca 19:sse4_1 20:sse4_2 21:x2apic 22:movbe 23:popcnt "
       "24:tsc_deadline_timer 25:aes 26:xsave 28:avx 29:f16c 30:rdrand 31:hypervisor",
    6: "0:lahf_lm 1:cmp_legacy 2:svm 3:extapic 4:cr8_legacy 5:abm 6:sse4a 7:misalignsse 8:3dnowprefetch "
       "9:osvw 10:ibs 11:xop 12:skinit 13:wdt 15:lwp 16:fma4 17:tce 19:nodeid_msr 21:tbm 22:topoext "
       "23:perfctr_core 24:perfctr_nb 26:bpext 27:ptsc 28:perfctr_llc 29:mwaitx",
    9: "0:fsgsbase 1:tsc_adjust 2:sgx 3:bmi1 4:hle 5:avx2 7:smep 8:bmi2 9:erms 10:invpcid 11:rtm 12:cqm "
       "14:mpx 15:rdt_a 16:avx512f 17:avx512dq 18:rdseed 19:adx 20:smap 21:avx512ifma 23:clflushopt "
       "24:clwb 25:intel_pt 26:avx512pf 27:avx512er 28:avx512cd 29:sha_ni 30:avx512bw 31:avx512vl",
    10: "0:xsaveopt 1:xsavec 2:xgetbv1 3:xsaves",
    12: "4:avx_vnni 5:avx512_bf16 17:fred 26:lam",
    13: "0:clzero 1:irperf 2:xsaveerptr 4:rdpru 9:wbnoinvd 23:amd_ppin 25:virt_ssbd 27:cppc 31:brs",
    14: "0:dtherm 1:ida 2:arat 4:pln 6:pts 7:hwp 8:hwp_notify 9:hwp_act_window 10:hwp_epp 11:hwp_pkg_req "
        "19:hfi",
    15: "0:npt 1:lbrv 2:svm_lock 3:nrip_save 4:tsc_scale 5:vmcb_clean 6:flushbyasid 7:decodeassists "
        "10:pausefilter 12:pfthreshold 13:avic 15:v_vmsave_vmload 16:vgif 18:x2avic 20:v_spec_ctrl 25:vnmi",
    16: "1:avx512vbmi 2:umip 3:pku 4:ospke 5:waitpkg 6:avx512_vbmi2 8:gfni 9:vaes 10:vpclmulqdq "
        "11:avx512_vnni 12:avx512_bitalg 13:tme 14:avx512_vpopcntdq 16:la57 22:rdpid 24:bus_lock_detect "
        "25:cldemote 27:movdiri 28:movdir64b 29:enqcmd 30:sgx_lc",
    17: "0:overflow_recov 1:succor 3:smca",
    18: "2:avx512_4vnniw 3:avx512_4fmaps 4:fsrm 8:avx512_vp2intersect 10:md_clear 14:serialize 16:tsxldtrk "
        "18:pconfig 19:arch_lbr 20:ibt 22:amx_bf16 23:avx512_fp16 24:amx_tile 25:amx_int8 28:flush_l1d "
        "29:arch_capabilities",
    19: "0:sme 1:sev 3:sev_es 4:sev_snp 14:debug_swap 28:svsm",
}


def _parse(spec: str) -> dict[int, str]:
    return {int(bit): name for bit, name in (item.split(":") for item in spec.split())}


X86_CAP_FLAGS: dict[int, dict[int, str]] = {word: _parse(spec) for word, spec in _NAMES.items()}
"""Feature word -> bit -> the name /proc/cpuinfo shows (x86_cap_flags, Linux 6.12); bits
cpufeatures.h gives no quoted name are not shown."""


@dataclass(frozen=True, slots=True)
class CpuinfoX86:
    """struct cpuinfo_x86, as far as /proc/cpuinfo and the auxv need it."""

    vendor_id: str
    family: int
    model: int
    stepping: int
    model_id: str
    cpuid_level: int
    capability: dict[int, int] = field(default_factory=dict)  # feature word -> bits
    cache_size_kb: int = 0
    clflush_size: int = 64
    phys_bits: int = 36
    virt_bits: int = 48
    power: int = 0  # CPUID 0x80000007 EDX
    apicid: int = 0

    def has(self, word: int, bit: int) -> bool:
        return bool(self.capability.get(word, 0) >> bit & 1)

    def flags(self) -> list[str]:
        """The names of the features the CPU has, in Linux's order (word, then bit)."""
        return [names[bit] for word, names in sorted(X86_CAP_FLAGS.items())
                for bit in sorted(names) if self.has(word, bit)]


def _regs_text(*regs: int) -> str:
    return b"".join(r.to_bytes(4, "little") for r in regs).split(b"\0")[0].decode("latin-1")


def identify_cpu(cpuid: CpuidFn) -> CpuinfoX86:
    """Read what Linux's identify_cpu reads from CPUID (only leaves the CPU reports)."""
    level, b, c, d = cpuid(0, 0)
    vendor = _regs_text(b, d, c)
    sig, ebx1, _, _ = cpuid(1, 0) if level >= 1 else (0, 0, 0, 0)
    family = (sig >> 8) & 0xF
    model = (sig >> 4) & 0xF
    if family >= 6:
        model += ((sig >> 16) & 0xF) << 4
    if family == 0xF:
        family += (sig >> 20) & 0xFF
    ext_level = cpuid(0x80000000, 0)[0]
    if not 0x80000000 <= ext_level <= 0x8000FFFF:
        ext_level = 0
    caps: dict[int, int] = {}
    for word, (leaf, sub, reg) in CPUID_WORDS.items():
        top = ext_level if leaf >= 0x80000000 else level
        if leaf <= top:
            caps[word] = cpuid(leaf, sub)[reg]
    model_id = ""
    if ext_level >= 0x80000004:
        regs = [r for leaf in (0x80000002, 0x80000003, 0x80000004) for r in cpuid(leaf, 0)]
        model_id = _regs_text(*regs).strip()
    phys, virt = 36, 48
    if ext_level >= 0x80000008:
        eax = cpuid(0x80000008, 0)[0]
        phys, virt = eax & 0xFF, (eax >> 8) & 0xFF
    power = cpuid(0x80000007, 0)[3] if ext_level >= 0x80000007 else 0
    clflush = ((ebx1 >> 8) & 0xFF) * 8 if caps.get(0, 0) >> 19 & 1 else 64
    cache = _cache_size(cpuid, vendor, level, ext_level)
    return CpuinfoX86(vendor, family, model, sig & 0xF, model_id, level, caps, cache, clflush or 64, phys, virt,
                      power, ebx1 >> 24)


def _cache_size(cpuid: CpuidFn, vendor: str, level: int, ext_level: int) -> int:
    """x86_cache_size in KB. Intel: the L3 if there is one, else the L2, else L1i + L1d,
    from the deterministic cache parameters (leaf 4, init_intel_cacheinfo); others: the
    L2 of leaf 0x80000006 (cpu_detect_cache_sizes)."""
    if vendor == "GenuineIntel" and level >= 4:
        by_level: dict[int, int] = {}
        l1 = 0
        for sub in range(16):
            a, b, c, _ = cpuid(4, sub)
            kind = a & 0x1F
            if kind == 0:
                break
            ways, parts, line = (b >> 22) + 1, ((b >> 12) & 0x3FF) + 1, (b & 0xFFF) + 1
            size = ways * parts * line * (c + 1) // 1024
            cache_level = (a >> 5) & 7
            if cache_level == 1:
                l1 += size
            else:
                by_level[cache_level] = size
        return by_level.get(3) or by_level.get(2) or l1
    if ext_level >= 0x80000006:
        return cpuid(0x80000006, 0)[2] >> 16
    return 0
