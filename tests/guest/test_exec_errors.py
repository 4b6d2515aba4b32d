"""Programs execve cannot start, or starts and then kills: the errno Linux gives, and the
one line and status a shell prints for it (issue 5, point 3).

Each case writes a small broken ELF file (tests/guest/elfcraft.py) and runs it three
ways. Natively, with subprocess, it must end as fs/binfmt_elf.c says it does: an errno
from execve for what load_elf_binary checks before the point of no return (ENOENT for a
missing interpreter, ENOEXEC for a bad program, ELIBBAD for a bad interpreter, EIO, EACCES),
and SIGSEGV for what fails after it (an interpreter of the wrong type, a segment that
cannot be mapped, a file cut short). Then `bash -c PROG` is the oracle for the message:
`sysgate run PROG` must print bash's words after `sysgate: ` (never a traceback) and
exit with bash's status; a program killed by SIGSEGV ends with 139 and the signal's
name, as in a shell. `sysgate trace` must show execve's result as strace does.
"""

from __future__ import annotations

import errno as host_errno
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from sysgate.errors import SysgateError
from tests.guest.conftest import GuestRunner
from tests.guest.elfcraft import (
    EM_AARCH64,
    ET_DYN,
    ET_REL,
    EXIT_42,
    PF_R,
    PF_W,
    PF_X,
    PT_NOTE,
    Elf,
    Segment,
)
from tests.trace.harness import Normaliser, Run, assert_same_trace, native, traced

pytestmark = pytest.mark.guest

BASH = shutil.which("bash")
Make = Callable[[Path], Path]


def program(elf: Elf) -> Make:
    return lambda d: elf.write(d / "prog")


def with_interp(interp: Elf | Make | None, prog: Elf | None = None, name: str = "interp") -> Make:
    """A program whose PT_INTERP names `interp` (an ELF, or a maker of some other file)."""

    def make(d: Path) -> Path:
        if isinstance(interp, Elf):
            path = interp.write(d / name)
        elif interp is not None:
            path = interp(d)
        else:
            path = d / "no-such-loader"
        p = prog or Elf(e_type=ET_DYN)
        p.interp = str(path).encode()
        return p.write(d / "prog")

    return make


def text_file(d: Path) -> Path:
    path = d / "interp.txt"
    path.write_bytes(b"not an ELF file\n" * 8)
    path.chmod(0o755)
    return path


def short_file(d: Path) -> Path:
    path = d / "interp.short"
    path.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(20))
    path.chmod(0o755)
    return path


def directory(d: Path) -> Path:
    path = d / "interp.d"
    path.mkdir()
    return path


def not_executable(d: Path) -> Path:
    return Elf(e_type=ET_DYN).write(d / "interp.ro", mode=0o644)


def truncated(d: Path) -> Path:
    """A program whose program header table is cut off by the end of the file."""
    path = Elf().write(d / "prog")
    path.write_bytes(path.read_bytes()[:80])
    return path


def past_eof(d: Path) -> Path:
    """A writable segment said to hold more file than there is, with a bss after it: the
    kernel's clear_user of the last file page faults (EFAULT after the point of no return)."""
    code = Segment()
    data = Segment(flags=PF_R | PF_W, offset=0x1000, vaddr=0x601000, filesz=0x1800, memsz=0x5000)
    return Elf(segments=[code, data]).write(d / "prog")


def misaligned(d: Path) -> Path:
    """A segment whose p_vaddr and p_offset differ modulo the page: mmap's EINVAL."""
    data = Segment(flags=PF_R | PF_W, offset=0x1000, vaddr=0x601100, filesz=0x10, memsz=0x10)
    return Elf(segments=[Segment(), data]).write(d / "prog")


@dataclass(frozen=True)
class Bad:
    """One broken program and how Linux ends it: an errno name, "SIGSEGV", or "exit 42"."""

    id: str
    make: Make
    linux: str


CASES = [
    Bad("missing-interpreter", with_interp(None), "ENOENT"),
    Bad("interpreter-not-nul-terminated", with_interp(Elf(e_type=ET_DYN), Elf(e_type=ET_DYN, interp_nul=False)),
        "ENOEXEC"),
    Bad("interpreter-is-text", with_interp(text_file), "ELIBBAD"),
    Bad("interpreter-for-aarch64", with_interp(Elf(e_type=ET_DYN, machine=EM_AARCH64)), "ELIBBAD"),
    Bad("interpreter-bad-phentsize", with_interp(Elf(e_type=ET_DYN, phentsize=32)), "ELIBBAD"),
    Bad("interpreter-shorter-than-a-header", with_interp(short_file), "EIO"),
    Bad("interpreter-is-a-directory", with_interp(directory), "EACCES"),
    Bad("interpreter-not-executable", with_interp(not_executable), "EACCES"),
    Bad("interpreter-is-relocatable", with_interp(Elf(e_type=ET_REL)), "SIGSEGV"),
    Bad("interpreter-without-pt-load", with_interp(Elf(e_type=ET_DYN, segments=[Segment(PT_NOTE, PF_R)])),
        "SIGSEGV"),
    Bad("interpreter-with-its-own-interpreter", with_interp(Elf(e_type=ET_DYN, interp=b"/no/such/ld.so")),
        "exit 42"),
    Bad("program-for-aarch64", program(Elf(machine=EM_AARCH64)), "ENOEXEC"),
    Bad("program-says-elfclass32", program(Elf(ei_class=1)), "exit 42"),  # elf_check_arch reads e_machine only
    Bad("program-truncated", truncated, "ENOEXEC"),
    Bad("program-relocatable", program(Elf(e_type=ET_REL)), "ENOEXEC"),
    Bad("segment-file-larger-than-memory", program(Elf(segments=[Segment(filesz=0x2000, memsz=0x1000)])),
        "SIGSEGV"),
    Bad("segment-past-end-of-file", past_eof, "SIGSEGV"),
    Bad("segment-misaligned", misaligned, "SIGSEGV"),
    Bad("no-pt-load", program(Elf(segments=[Segment(PT_NOTE, PF_R)])), "SIGSEGV"),
    Bad("pie-with-interpreter-runs", with_interp(Elf(e_type=ET_DYN, code=EXIT_42)), "exit 42"),
    Bad("static-pie-runs", program(Elf(e_type=ET_DYN, segments=[Segment(flags=PF_R | PF_X, align=0x200000)])),
        "exit 42"),
]


def linux_outcome(prog: Path) -> str:
    """What the host kernel does with `prog`: execve's errno name, the signal, or the exit."""
    try:
        r = subprocess.run([str(prog)], capture_output=True, cwd=prog.parent, timeout=30, check=False)
    except OSError as exc:
        return host_errno.errorcode[exc.errno or 0]
    return "SIGSEGV" if r.returncode == -11 else f"exit {r.returncode}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_exec_error_as_linux_and_bash(case: Bad, guest: GuestRunner, tmp_path: Path) -> None:
    prog = case.make(tmp_path)
    assert linux_outcome(prog) == case.linux, "the host disagrees with Linux 6.12"
    ours = guest.cli(["run", str(prog)], cwd=tmp_path)
    err = ours.stderr.decode()
    assert "Traceback" not in err and ours.stdout == b""
    if case.linux == "SIGSEGV":
        assert (ours.returncode, err) == (139, "Segmentation fault\n")
        return
    if case.linux.startswith("exit"):
        assert (ours.returncode, err) == (int(case.linux.split()[1]), "")
        return
    if BASH is None:
        pytest.skip("no bash on the host to compare the message with")
    shell = subprocess.run([BASH, "-c", str(prog)], capture_output=True, cwd=tmp_path, timeout=30, check=False)
    m = re.fullmatch(r"\S*bash: (?:line \d+: )?(.*)\n", shell.stderr.decode())
    assert m, shell.stderr
    message = m.group(1)
    if case.id == "program-for-aarch64":
        message += " (a 64-bit AArch64 program; sysgate runs x86-64 programs)"
    assert (ours.returncode, err) == (shell.returncode, f"sysgate: {message}\n")


EXECVE_ENVP = Normaliser(extra=[(r"\], 0x[0-9a-fA]+ /\*", "], ENVP /*")])
"""The envp address of a failed first execve is the caller's: strace's is its own stack's."""


@pytest.mark.parametrize("case", [c for c in CASES if c.id in {
    "missing-interpreter", "interpreter-is-text", "interpreter-shorter-than-a-header",
    "interpreter-is-relocatable", "interpreter-without-pt-load", "segment-past-end-of-file", "segment-misaligned",
    "segment-file-larger-than-memory"}], ids=lambda c: c.id)
def test_exec_error_trace(case: Bad, tmp_path: Path) -> None:
    """`sysgate trace PROG`: `execve(...) = -1 EPERM (...)` then `+++ killed by SIGSEGV +++`, as strace."""
    prog = case.make(tmp_path)
    cwd = tmp_path / "run"
    theirs = native([str(prog)], [], cwd)
    try:
        ours = traced([str(prog)], [], cwd)
    except SysgateError:  # execve failed: the trace has its line, the error is the CLI's to print
        ours = Run((cwd.parent / f"{cwd.name}.sysgate.trace").read_text(), 0, b"", b"")
    if case.linux != "SIGSEGV":
        # strace's own child, not the program, exits 1 after an execve that failed.
        theirs = Run(theirs.trace.replace("+++ exited with 1 +++\n", ""), 0, b"", b"")
    assert_same_trace(theirs, ours, EXECVE_ENVP)
    assert "execve(" in theirs.trace
