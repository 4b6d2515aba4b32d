"""personality(2) and `--aslr` (issue 5: randomisation as Linux does it, off by default).

Without --aslr a program starts with PER_LINUX|ADDR_NO_RANDOMIZE, as under `setarch -R`,
and personality.c must print what it prints natively under `setarch -R`; its calls must
trace as strace shows them. With --aslr the personality is PER_LINUX and the layout
moves as Linux moves it (arch_mmap_rnd, randomize_stack_top, arch_randomize_brk): the
areas stay in Linux's ranges, a seed reproduces a layout, and two seeds give two.
"""

from __future__ import annotations

import re
import shutil

import pytest

from tests.guest.conftest import GuestRunner, Outcome
from tests.guest.test_layout import Layout
from tests.trace.harness import Normaliser, assert_same_trace, native, traced

pytestmark = pytest.mark.guest

SETARCH = shutil.which("setarch")
ELF_ET_DYN_BASE = 0x555555554000
STACK_TOP = (1 << 47) - 4096
RND_28_PAGES = (1 << 28) << 12
STACK_RND = 0x3FFFFF << 12
GIB = 1 << 30


def uname26(release: str) -> str:
    """What UNAME26 makes of a release: 6.12.117-x is 2.6.72-x (kernel/sys.c)."""
    m = re.match(r"(\d+)\.(\d+)((?:\.\d+)?)(.*)", release)
    assert m, release
    return f"2.6.{60 + int(m.group(2))}{m.group(4)}"


def checked(run: Outcome) -> bytes:
    """personality.c's output with the kernel's own release turned into the rule it obeys."""
    assert run.returncode == 0, str(run)
    values = dict(line.split(" ", 1) for line in run.stdout.decode().splitlines() if " " in line)
    assert values["release26"] == uname26(values["release"]), values
    return re.sub(rb"(?m)^release(26)? .*$", rb"release\1 R", run.stdout)


@pytest.mark.parametrize("variant", ["glibc-static", "glibc-dynamic-pie", "musl-dynamic"])
def test_personality_matches_setarch_r(variant: str, guest: GuestRunner) -> None:
    if SETARCH is None:
        pytest.skip("the host has no setarch (util-linux)")
    exe = str(guest.build("personality", variant))
    expected = checked(guest.native([SETARCH, "-R", exe]))
    assert b"start 0x40000\n" in expected and b"read-implies-exec mmap(PROT_READ) r-xp\n" in expected
    assert checked(guest.sysgate([exe])) == expected


def test_personality_starts_plain_with_aslr(guest: GuestRunner) -> None:
    exe = str(guest.build("personality", "glibc-static"))
    r = guest.cli(["run", "--aslr", exe])
    assert r.returncode == 0, str(r)
    assert r.stdout.startswith(b"start 0\n")
    natively = guest.native([exe])  # the host randomises: it starts with 0 as well
    assert checked(r) == checked(natively)


def test_personality_trace(guest: GuestRunner) -> None:
    """`personality(0xffffffff) = 0x40000 (PER_LINUX|ADDR_NO_RANDOMIZE)` and the rest, as strace."""
    exe = str(guest.build("personality", "glibc-static"))
    cwd = guest.fresh_dir("trace")
    norm = Normaliser(extra=[(r'release=[^,}]*', 'release=R')])
    for opts in (["-e", "trace=personality"], ["-X", "verbose", "-e", "trace=personality"],
                 ["-X", "raw", "-e", "trace=personality"]):
        theirs = native([exe], opts, cwd)
        ours = traced([exe], opts, cwd)
        assert_same_trace(theirs, ours, norm)
        assert "personality(" in theirs.trace


def aslr_layout(guest: GuestRunner, variant: str, seed: int | None) -> Layout:
    exe = str(guest.build("layout", variant))
    args = ["run", "--aslr"] + (["--aslr-seed", str(seed)] if seed is not None else []) + [exe]
    return Layout.parse(guest.cli(args, cwd=guest.fresh_dir("aslr")))


def areas(layout: Layout) -> dict[str, int]:
    """Where the program, the interpreter, the heap and the stack start (and the stack ends)."""
    out: dict[str, int] = {}
    for line in layout.maps:
        if line.name.endswith(("ld-linux-x86-64.so.2", "libc.so")) and "interp" not in out:
            out["interp"] = line.start
        elif line.name.startswith("/") and "layout-" in line.name and "program" not in out:
            out["program"] = line.start
        elif line.name == "[heap]" and "heap" not in out:
            out["heap"] = line.start
        elif line.name == "[stack]":
            out["stack_end"] = line.end
    return out


@pytest.mark.parametrize("variant", ["glibc-dynamic-pie", "musl-dynamic"])
def test_aslr_ranges_as_linux(variant: str, guest: GuestRunner) -> None:
    for seed in (1, 2, 3):
        layout = aslr_layout(guest, variant, seed)
        a = areas(layout)
        assert ELF_ET_DYN_BASE <= a["program"] < ELF_ET_DYN_BASE + RND_28_PAGES, hex(a["program"])
        assert STACK_TOP - STACK_RND - 2 * 4096 <= a["stack_end"] <= STACK_TOP, hex(a["stack_end"])
        # The interpreter sits at the top of the mmap area: below the stack's random
        # range and gap, and up to 2^28 pages lower.
        top = STACK_TOP - (8 << 20) - STACK_RND - (256 << 12)
        assert top - RND_28_PAGES - (1 << 24) <= a["interp"] < top, hex(a["interp"])
        brk = int(layout.values["brk"], 16)
        program_end = max(line.end for line in layout.maps if "layout-" in line.name)
        assert program_end + 4096 <= brk < program_end + 4096 + GIB, (hex(brk), hex(program_end))


def test_aslr_seed_reproduces_a_layout(guest: GuestRunner) -> None:
    first = aslr_layout(guest, "glibc-dynamic-pie", 42)
    again = aslr_layout(guest, "glibc-dynamic-pie", 42)
    other = aslr_layout(guest, "glibc-dynamic-pie", 43)
    assert first == again
    assert areas(first) != areas(other)
    assert first.values["AT_RANDOM"] != other.values["AT_RANDOM"]  # the stack moved too


def test_no_aslr_is_setarch_r(guest: GuestRunner) -> None:
    """Without --aslr two runs are the same, at Linux's unrandomised addresses."""
    one = aslr_layout_plain(guest)
    assert areas(one)["program"] == ELF_ET_DYN_BASE
    assert one == aslr_layout_plain(guest)


def aslr_layout_plain(guest: GuestRunner) -> Layout:
    exe = str(guest.build("layout", "glibc-dynamic-pie"))
    return Layout.parse(guest.cli(["run", exe], cwd=guest.fresh_dir("plain")))


def test_aslr_seed_must_be_a_number(guest: GuestRunner) -> None:
    r = guest.cli(["run", "--aslr-seed", "x", "/bin/true"])
    assert r.returncode == 2 and b"--aslr-seed" in r.stderr and b"Traceback" not in r.stderr
    r = guest.cli(["trace", "--aslr-seed=x", "/bin/true"])
    assert (r.returncode, r.stderr) == (1, b"sysgate: trace: invalid --aslr-seed argument: 'x' (an integer)\n")


def test_trace_takes_aslr(guest: GuestRunner) -> None:
    exe = str(guest.build("personality", "glibc-static"))
    r = guest.cli(["trace", "--aslr", "-e", "trace=none", exe])
    assert r.returncode == 0 and r.stdout.startswith(b"start 0\n"), str(r)
    r = guest.cli(["trace", "-e", "trace=none", exe])
    assert r.returncode == 0 and r.stdout.startswith(b"start 0x40000\n"), str(r)
