"""Where execve puts a program, compared with Linux under `setarch -R` (issue 5, point 1).

tests/guest/src/layout.c prints the auxiliary vector's addresses, main, the initial
break and /proc/self/maps. With randomisation off, Linux's choices are exact addresses,
and sysgate's must be the same:

- exactly (addresses, permissions, offsets, device, inode, name): every line of the
  files the kernel maps itself (the program and its interpreter), [heap], [stack], the
  auxiliary vector, the break, and main when the kernel mapped it;
- in their own layout (addresses relative to the file's first line, and everything
  else exactly): the libraries the interpreter maps, since they sit below the vDSO in
  the mmap area, and the vDSO (sysgate.vdso, another part of issue 5) moves them;
- not at all: anonymous lines the loaders allocate (their number and size depend on
  the vDSO too), and the [vdso], [vvar] and [vsyscall] lines.

Each build runs as execve runs it, and the dynamic ones also as `LOADER PROG`, the
loader started as the program (Linux maps it in the mmap area and moves the break to
ELF_ET_DYN_BASE).
"""

from __future__ import annotations

import difflib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.guest.build import DYNAMIC, INTERPRETERS, VARIANTS
from tests.guest.conftest import GuestRunner, Outcome

pytestmark = pytest.mark.guest

SETARCH = shutil.which("setarch")
SKIPPED_NAMES = {"[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]"}


@dataclass(frozen=True, slots=True)
class Line:
    """One line of /proc/PID/maps."""

    start: int
    end: int
    perms: str
    offset: str
    dev: str
    inode: str
    name: str

    @classmethod
    def parse(cls, text: str) -> Line:
        fields = text.split(maxsplit=5)
        start, end = (int(x, 16) for x in fields[0].split("-"))
        return cls(start, end, fields[1], fields[2], fields[3], fields[4], fields[5] if len(fields) > 5 else "")

    def __str__(self) -> str:
        return f"{self.start:x}-{self.end:x} {self.perms} {self.offset} {self.dev} {self.inode} {self.name}"

    def moved(self, base: int) -> str:
        """The line with its addresses relative to `base`."""
        rest = f"{self.perms} {self.offset} {self.dev} {self.inode} {self.name}"
        return f"+{self.start - base:x}-+{self.end - base:x} {rest}"


@dataclass(frozen=True, slots=True)
class Layout:
    """What layout.c printed: `key=value` lines, then the maps."""

    values: dict[str, str]
    maps: list[Line]

    @classmethod
    def parse(cls, run: Outcome) -> Layout:
        assert run.returncode == 0, str(run)
        values: dict[str, str] = {}
        maps = []
        for text in run.stdout.decode().splitlines():
            key, sep, value = text.partition("=")
            if sep and " " not in key:
                values[key] = value
            else:
                maps.append(Line.parse(text))
        return cls(values, maps)

    def file_base(self, name: str) -> int:
        return min(line.start for line in self.maps if line.name == name)

    def containing(self, addr: int) -> Line:
        for line in self.maps:
            if line.start <= addr < line.end:
                return line
        raise AssertionError(f"{addr:#x} is in no mapping")


def compare(native: Layout, ours: Layout, kernel_files: set[str]) -> list[str]:
    """The differences between two layouts under the rules of this module's docstring."""
    problems = []
    exact = ("AT_PHENT", "AT_PHNUM", "AT_PAGESZ", "AT_FLAGS", "AT_CLKTCK", "AT_SECURE", "AT_RANDOM", "AT_EXECFN",
             "AT_PLATFORM", "execfn", "platform", "argv0", "brk")
    for key in exact:
        if native.values.get(key) != ours.values.get(key):
            problems.append(f"{key}: native {native.values.get(key)} sysgate {ours.values.get(key)}")

    def where(layout: Layout, key: str) -> str:
        """An address exactly if the kernel chose it, else relative to its file's start
        (after `ld.so PROG`, AT_ENTRY and AT_PHDR are PROG's, which ld.so mapped)."""
        addr = int(layout.values.get(key, "0"), 16)
        line = layout.containing(addr) if addr else None
        if line is None or line.name in kernel_files or not line.name.startswith("/"):
            return hex(addr)
        return f"{line.name}+{addr - layout.file_base(line.name):#x}"

    for key in ("AT_BASE", "AT_ENTRY", "AT_PHDR", "main"):
        if where(native, key) != where(ours, key):
            problems.append(f"{key}: native {where(native, key)} sysgate {where(ours, key)}")

    def lines(layout: Layout) -> list[str]:
        out: list[str] = []
        for line in layout.maps:
            if line.name in kernel_files or line.name in ("[heap]", "[stack]"):
                out.append(str(line))
            elif line.name.startswith("/"):
                out.append(line.moved(layout.file_base(line.name)))
            elif line.name and line.name not in SKIPPED_NAMES:
                out.append(line.name)
        return out

    a, b = lines(native), lines(ours)
    if a != b:
        problems.append("/proc/self/maps differs (native -> sysgate):")
        problems += [d.rstrip("\n") for d in difflib.unified_diff(a, b, "native", "sysgate", n=1, lineterm="")][2:]
    return problems


RUNS = [(v, False) for v in VARIANTS] + [(v, True) for v in DYNAMIC if v != "glibc-dynamic-nopie"]


@pytest.mark.parametrize(("variant", "via_loader"), RUNS,
                         ids=[v + ("-via-loader" if loader else "") for v, loader in RUNS])
def test_layout_matches_setarch_r(variant: str, via_loader: bool, guest: GuestRunner) -> None:
    if SETARCH is None:
        pytest.skip("the host has no setarch (util-linux)")
    exe = str(guest.build("layout", variant))
    kernel_files = {os.path.realpath(exe)}
    argv = [exe]
    if variant in DYNAMIC:
        loader = INTERPRETERS[variant]
        kernel_files.add(os.path.realpath(loader))
        if via_loader:
            argv = [loader, exe]
            kernel_files = {os.path.realpath(loader)}  # the program is the loader's to map
    cwd = guest.fresh_dir("run")
    native = Layout.parse(guest.native([SETARCH, "-R", *argv], cwd=cwd))
    ours = Layout.parse(guest.sysgate(argv, cwd=cwd))
    problems = compare(native, ours, kernel_files)
    assert not problems, "\n".join(problems)


def test_compare_notices_a_moved_program(guest: GuestRunner, tmp_path: Path) -> None:
    """The comparison can fail: a layout with the program one page higher differs."""
    text = (b"AT_BASE=0\nmain=0x401000\nbrk=0x405000\n"
            b"00400000-00402000 r-xp 00000000 fe:00 12 /p\n00405000-00426000 rw-p 00000000 00:00 0 [heap]\n")
    moved = text.replace(b"00400000-00402000", b"00401000-00403000").replace(b"0x401000", b"0x402000")
    a = Layout.parse(Outcome(0, text, b""))
    b = Layout.parse(Outcome(0, moved, b""))
    assert compare(a, a, {"/p"}) == []
    assert compare(a, b, {"/p"}) == [
        "main: native 0x401000 sysgate 0x402000", "/proc/self/maps differs (native -> sysgate):", "@@ -1,2 +1,2 @@",
        "-400000-402000 r-xp 00000000 fe:00 12 /p", "+401000-403000 r-xp 00000000 fe:00 12 /p",
        " 405000-426000 rw-p 00000000 00:00 0 [heap]"]
    # A library moved as a whole is the same library.
    assert compare(a, b, set()) == []
