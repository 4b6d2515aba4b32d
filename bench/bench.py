#!/usr/bin/env python3
"""sysgate's speed figures: startup, a system call round trip, I/O, compute.

    python3 bench/bench.py            # all figures, as a Markdown table
    python3 bench/bench.py --quick    # smaller N, for a quick look

Each figure is the median of several runs; per-call costs subtract a run with N = 0
from a run with N calls, so process start-up cancels out. Native runs and, when Debian's
qemu-user is installed, qemu-x86_64 runs are measured alongside. The results belong in
docs/performance.md with the date and machine; they are never asserted by a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SYSGATE = [sys.executable, "-m", "sysgate", "run"]


def build(out: Path) -> Path:
    exe = out / "bench"
    subprocess.run(["gcc", "-static", "-O2", "-o", str(exe), str(HERE / "bench.c")], check=True)
    return exe


def dynamic_startup(out: Path, repeat: int) -> list[tuple[str, dict[str, str]]]:
    """Issue 5's start-up figures: a dynamic glibc hello world (goal: under 0.6 s), and
    `python3 -c pass` (ld.so, libc, libm, libz, libexpat and Python's own start-up)."""
    hello = out / "hello-dyn"
    src = out / "hello.c"
    src.write_text('#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n')
    subprocess.run(["gcc", "-O2", "-o", str(hello), str(src)], check=True)
    rows = []
    for name, argv in (("startup of a dynamic glibc hello (s)", [str(hello)]),
                       ("python3 -c pass (s)", ["/usr/bin/python3", "-c", "pass"])):
        cols = {"native": argv, "sysgate": SYSGATE + argv}
        qemu = shutil.which("qemu-x86_64") or shutil.which("qemu-x86_64-static")
        if qemu:
            cols["qemu-user"] = [qemu, *argv]
        rows.append((name, _with_ratio({k: timed(v, repeat) for k, v in cols.items()}, 1.0, "{:.3f}")))
    return rows


def futex_pingpong(out: Path, n: int, repeat: int) -> dict[str, str]:
    """Issue 4's futex figure: two threads hand a word back and forth with FUTEX_WAIT and
    FUTEX_WAKE (bench/futex_pingpong.c); microseconds per round trip (two wake-ups)."""
    exe = out / "futex_pingpong"
    subprocess.run(["gcc", "-static", "-O2", "-pthread", "-o", str(exe), str(HERE / "futex_pingpong.c")],
                   check=True)
    cols = {"native": [str(exe)], "sysgate": SYSGATE + [str(exe)]}
    return _with_ratio({k: per_call(v, [], n, repeat) for k, v in cols.items()}, 1e6)


def process_figures(out: Path, repeat: int, quick: bool) -> list[tuple[str, dict[str, str]]]:
    """Issue 4's process figures (bench/proc_bench.c): fork+execve+wait4 of a static hello,
    in ms per call, and a pipe ping-pong between two processes, in round trips per second."""
    exe = out / "proc_bench"
    subprocess.run(["gcc", "-static", "-O2", "-o", str(exe), str(HERE / "proc_bench.c")], check=True)
    hello = out / "hello-static"
    src = out / "hello-static.c"
    src.write_text('#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n')
    subprocess.run(["gcc", "-static", "-O2", "-o", str(hello), str(src)], check=True)
    cols = {"native": [str(exe)], "sysgate": SYSGATE + [str(exe)]}
    n_fork = 50 if quick else 200
    n_pings = 2_000 if quick else 10_000
    fork = {k: per_call(v, ["forkexec"], n_fork, repeat, [str(hello)]) for k, v in cols.items()}
    ping = {k: per_call(v, ["pingpong"], n_pings, repeat) for k, v in cols.items()}
    rates = {k: 1.0 / v if v else 0.0 for k, v in ping.items()}
    rate_text = {k: f"{v:,.0f}" for k, v in rates.items()}
    if rates.get("native") and rates.get("sysgate"):
        rate_text["sysgate"] += f" ({rates['native'] / rates['sysgate']:.0f}x slower)"
    return [("fork+execve+wait4 of a static hello, per call (ms)", _with_ratio(fork, 1e3)),
            ("pipe ping-pong between two processes (round trips/s)", rate_text)]


def timed(cmd: list[str], repeat: int) -> float:
    """Median wall time of `cmd` in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def per_call(prefix: list[str], args: list[str], n: int, repeat: int, tail: list[str] | None = None) -> float:
    """Seconds per call: (time with n calls - time with none) / n; `tail` follows the count."""
    base = timed(prefix + args + ["0"] + (tail or []), repeat)
    full = timed(prefix + args + [str(n)] + (tail or []), repeat)
    return max(full - base, 0.0) / n


def runners(exe: Path) -> dict[str, list[str]]:
    out = {"native": [str(exe)], "sysgate": SYSGATE + [str(exe)]}
    qemu = shutil.which("qemu-x86_64") or shutil.which("qemu-x86_64-static")
    if qemu:
        out["qemu-user"] = [qemu, str(exe)]
    return out


def traced_getpid(exe: Path, tmp: Path, n: int, repeat: int) -> dict[str, str]:
    """getpid with tracing: `sysgate trace -c`, and a full trace written to a file, beside
    the host's strace doing the same to the native program (when it is installed)."""
    out = str(tmp / "trace.txt")
    trace = [sys.executable, "-m", "sysgate", "trace"]
    cols = {"sysgate": trace + ["-c", "-o", out, str(exe)]}
    strace = shutil.which("strace")
    if strace:
        cols["native"] = [strace, "-c", "-o", out, str(exe)]
    text = {k: f"-c: {per_call(v, ['getpid'], n, repeat) * 1e6:.2f}" for k, v in cols.items()}
    full = {"sysgate": trace + ["-o", out, str(exe)]}
    if strace:
        full["native"] = [strace, "-o", out, str(exe)]
    for k, v in full.items():
        text[k] += f", to a file: {per_call(v, ['getpid'], n, repeat) * 1e6:.2f}"
    if strace:
        text["native"] = "strace " + text["native"]
    return text


def bare_unicorn_compute(exe: Path, n: int, tlb_virtual: bool) -> float:
    """Run the compiled work(n) on a bare Unicorn with no hooks: the engine's own speed."""
    import unicorn as uc
    from unicorn import x86_const as x

    from sysgate.exec.elf import PT_LOAD, parse_elf

    data = exe.read_bytes()
    elf = parse_elf(data)
    sym = subprocess.run(["nm", str(exe)], capture_output=True, text=True, check=True).stdout
    work = next(int(line.split()[0], 16) for line in sym.splitlines() if line.endswith(" work"))
    mu = uc.Uc(uc.UC_ARCH_X86, uc.UC_MODE_64)
    if tlb_virtual:
        mu.ctl_set_tlb_mode(uc.UC_TLB_VIRTUAL)
    for ph in elf.phdrs:
        if ph.type != PT_LOAD:
            continue
        start = ph.vaddr & ~0xFFF
        end = (ph.vaddr + ph.memsz + 0xFFF) & ~0xFFF
        mu.mem_map(start, end - start, uc.UC_PROT_ALL)
        mu.mem_write(ph.vaddr, data[ph.offset : ph.offset + ph.filesz])
    stack, ret = 0x7FF000000000, 0x7FF000100000
    mu.mem_map(stack, 0x100000)
    mu.mem_map(ret, 0x1000)
    mu.mem_write(ret, b"\xf4")
    mu.reg_write(x.UC_X86_REG_RSP, stack + 0xFF000)
    mu.mem_write(stack + 0xFF000, ret.to_bytes(8, "little"))
    mu.reg_write(x.UC_X86_REG_RDI, n)
    start_t = time.perf_counter()
    mu.emu_start(work, ret)
    return time.perf_counter() - start_t


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    ns = p.parse_args()
    repeat = 3 if ns.quick else 5
    n_calls = 100_000 if ns.quick else 1_000_000
    n_writes = 50_000 if ns.quick else 200_000
    n_compute = 5_000_000 if ns.quick else 20_000_000
    rows: list[tuple[str, dict[str, str]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        exe = build(Path(tmp))
        run = runners(exe)
        startup = {k: timed(v + ["none"], repeat) for k, v in run.items()}
        rows.append(("startup of a static hello (s)", {k: f"{v:.3f}" for k, v in startup.items()}))
        rows.extend(dynamic_startup(Path(tmp), repeat))
        getpid = {k: per_call(v, ["getpid"], n_calls, repeat) for k, v in run.items()}
        rows.append(("getpid round trip (µs)", {k: f"{v * 1e6:.2f}" for k, v in getpid.items()}))
        rows.append(("getpid round trip, traced (µs)", traced_getpid(exe, Path(tmp), n_calls // 4, repeat)))
        for mode, what in (("vclock", "through the vDSO"), ("sysclock", "as a system call")):
            clock = {k: per_call(v, [mode], n_calls, repeat) for k, v in run.items()}
            rows.append((f"clock_gettime(CLOCK_MONOTONIC) {what} (µs)", _with_ratio(clock, 1e6, "{:.3f}")))
        write1 = {k: per_call(v, ["write1"], n_writes, repeat) for k, v in run.items()}
        rows.append(("write() of 1 byte (µs)", _with_ratio(write1, 1e6)))
        fio = {k: timed(v + ["fileio", str(Path(tmp) / f"f-{k}")], repeat) - startup[k] for k, v in run.items()}
        rows.append(("8 MiB file I/O in 4 KiB chunks (s)", _with_ratio(fio, 1.0, "{:.3f}")))
        rows.append(("futex ping-pong between two threads, per round trip (µs)",
                     futex_pingpong(Path(tmp), n_calls // 100, repeat)))
        rows.extend(process_figures(Path(tmp), repeat, ns.quick))
        comp = {k: per_call(v, ["compute"], n_compute, repeat) * n_compute for k, v in run.items()}
        comp["bare unicorn, default TLB"] = bare_unicorn_compute(exe, n_compute, False)
        comp["bare unicorn, virtual TLB"] = bare_unicorn_compute(exe, n_compute, True)
        rows.append((f"compute loop, {n_compute:,} iterations (s)", _with_ratio(comp, 1.0, "{:.2f}")))
    cols = ["native", "sysgate", "qemu-user", "bare unicorn, default TLB", "bare unicorn, virtual TLB"]
    cols = [c for c in cols if any(c in r for _, r in rows)]
    print(f"machine: {os.cpu_count()} CPUs, {os.uname().release}, Python {sys.version.split()[0]}")
    print("| figure | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for name, r in rows:
        print(f"| {name} | " + " | ".join(r.get(c, "") for c in cols) + " |")
    return 0


def _with_ratio(values: dict[str, float], scale: float, fmt: str = "{:.2f}") -> dict[str, str]:
    native = values.get("native") or 0.0
    out = {}
    for k, v in values.items():
        text = fmt.format(v * scale)
        if native and k != "native":
            text += f" ({v / native:.0f}x)" if v / native >= 10 else f" ({v / native:.1f}x)"
        out[k] = text
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent / "src"))
    sys.exit(main())
