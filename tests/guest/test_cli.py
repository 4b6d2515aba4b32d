"""The `sysgate` command: exit statuses as a shell reports them, environment options,
one-line errors for programs it cannot start (never a traceback), and `sysgate syscalls`.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.guest.conftest import GUEST_ENV, GuestRunner, Outcome

pytestmark = pytest.mark.guest

Build = Callable[[str], Path]


def one_line_error(r: Outcome, status: int) -> str:
    """The run failed with `status` and exactly one line on stderr; return that line."""
    err = r.stderr.decode()
    assert "Traceback" not in err
    assert (r.returncode, r.stdout, err.count("\n"), err.endswith("\n")) == (status, b"", 1, True), err
    return err.rstrip("\n")


@pytest.mark.parametrize("code", [0, 1, 255])
def test_exit_status_passes_through(code: int, guest: GuestRunner, first_variant: Build) -> None:
    r = guest.cli(["run", str(first_variant("exit_code")), str(code)])
    assert (r.returncode, r.stdout, r.stderr) == (code, b"", b"")


@pytest.mark.parametrize(("program", "signo", "message"), [("null_write", 11, "Segmentation fault"),
                                                           ("abort", 6, "Aborted")])
def test_signal_death_is_reported_like_a_shell(program: str, signo: int, message: str, guest: GuestRunner,
                                               first_variant: Build) -> None:
    r = guest.cli(["run", str(first_variant(program))])
    assert r.returncode == 128 + signo
    assert r.stdout == f"[RUN] {program}\n".encode()
    assert r.stderr.decode() == message + "\n"


def env_lines(r: Outcome) -> dict[str, str]:
    """What the args program printed about its environment."""
    lines = r.stdout.decode().splitlines()
    return dict(line.split("=", 1) for line in lines if line.startswith(("SYSGATE_TEST=", "envc=")))


def test_env_options(guest: GuestRunner, first_variant: Build) -> None:
    exe = str(first_variant("args"))
    base = guest.cli(["run", exe])
    assert base.returncode == 0, base
    assert env_lines(base) == {"envc": str(len(GUEST_ENV)), "SYSGATE_TEST": "<hello world>"}

    r = guest.cli(["run", "--env", "SYSGATE_TEST=a=b c", "--env", "NEW=1", exe])
    assert r.returncode == 0, r
    assert env_lines(r) == {"envc": str(len(GUEST_ENV) + 1), "SYSGATE_TEST": "<a=b c>"}

    r = guest.cli(["run", "--unset-env", "SYSGATE_TEST", "--unset-env", "NOT_SET", exe])
    assert r.returncode == 0, r
    assert env_lines(r) == {"envc": str(len(GUEST_ENV) - 1), "SYSGATE_TEST": "<(unset)>"}


def test_env_option_needs_an_equals_sign(guest: GuestRunner) -> None:
    line = one_line_error(guest.cli(["run", "--env", "NOEQUALS", "/bin/true"]), 2)
    assert "NOEQUALS" in line and "NAME=VALUE" in line


def test_program_arguments_are_not_sysgate_options(guest: GuestRunner, first_variant: Build) -> None:
    r = guest.cli(["run", str(first_variant("args")), "--env", "X=1", "-h"])
    assert r.returncode == 0, r
    assert b"argv[1]=<--env>\nargv[2]=<X=1>\nargv[3]=<-h>\n" in r.stdout


def test_missing_program(guest: GuestRunner, tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-program")
    assert one_line_error(guest.cli(["run", missing]), 127) == f"sysgate: {missing}: No such file or directory"


def test_missing_command_in_path(guest: GuestRunner) -> None:
    """A bare name is searched in PATH; not found there is also status 127, as in a shell."""
    line = one_line_error(guest.cli(["run", "no-such-command-xyz"]), 127)
    assert line.startswith("sysgate: no-such-command-xyz: ")


def elf_header(ei_class: int, machine: int) -> bytes:
    """A bare ELF executable header (no program headers) for another class or machine."""
    if ei_class == 2:
        fields = struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, 0x400000, 64, 0, 0, 64, 56, 0, 64, 0, 0)
    else:
        fields = struct.pack("<HHIIIIIHHHHHH", 2, machine, 1, 0x8048000, 52, 0, 0, 52, 32, 0, 40, 0, 0)
    return b"\x7fELF" + bytes([ei_class, 1, 1, 0]) + bytes(8) + fields + bytes(64)


@pytest.mark.parametrize(("content", "detail"), [
    (b"just some text\n", ""),
    (b"\x7fELF\x02\x01", ""),
    (elf_header(2, 183), " (a 64-bit AArch64 program; sysgate runs x86-64 programs)"),
    (elf_header(1, 3), " (a 32-bit i386 program; sysgate runs x86-64 programs)"),
], ids=["text", "truncated-elf", "aarch64", "i386"])
def test_not_an_x86_64_program(content: bytes, detail: str, guest: GuestRunner, tmp_path: Path) -> None:
    prog = tmp_path / "prog"
    prog.write_bytes(content)
    prog.chmod(0o755)
    line = one_line_error(guest.cli(["run", str(prog)]), 126)
    assert line == f"sysgate: {prog}: cannot execute binary file: Exec format error{detail}"


@pytest.mark.parametrize("kind", ["not-executable", "directory"])
def test_cannot_execute(kind: str, guest: GuestRunner, tmp_path: Path) -> None:
    prog = tmp_path / "prog"
    if kind == "directory":
        prog.mkdir()
    else:
        prog.write_bytes(Path("/bin/busybox").read_bytes() if os.path.exists("/bin/busybox") else b"\x7fELF")
        prog.chmod(0o644)
    message = "Is a directory" if kind == "directory" else "Permission denied"  # bash's words
    assert one_line_error(guest.cli(["run", str(prog)]), 126) == f"sysgate: {prog}: {message}"


def test_syscalls_lists_support(guest: GuestRunner) -> None:
    r = guest.cli(["syscalls"])
    assert (r.returncode, r.stderr) == (0, b"")
    rows = {}
    for line in r.stdout.decode().splitlines():
        fields = line.split()
        if not line.startswith("#") and len(fields) >= 4 and fields[0].isdigit():
            rows[fields[1]] = (int(fields[0]), fields[3])
    assert rows["read"] == (0, "full")
    assert rows["write"] == (1, "full")
    assert rows["ptrace"] == (101, "missing")


def test_syscalls_json(guest: GuestRunner) -> None:
    r = guest.cli(["syscalls", "--json"])
    assert r.returncode == 0, r
    table = {s["name"]: s for s in json.loads(r.stdout)["syscalls"]}
    assert (table["read"]["nr"], table["read"]["support"]) == (0, "full")
    assert table["ptrace"]["support"] == "missing"


ENTRY_REGS = r"""
	.globl _start
_start:			/* exit status: 1 if any general register but rsp is non-zero */
	mov %rax, %rdi
	or %rbx, %rdi; or %rcx, %rdi; or %rdx, %rdi; or %rsi, %rdi; or %rbp, %rdi
	or %r8, %rdi; or %r9, %rdi; or %r10, %rdi; or %r11, %rdi; or %r12, %rdi
	or %r13, %rdi; or %r14, %rdi; or %r15, %rdi
	test %rdi, %rdi
	setnz %dil
	movzbl %dil, %edi
	mov $60, %eax
	syscall
"""


def test_general_registers_are_zero_at_entry(guest: GuestRunner, tmp_path: Path) -> None:
    """start_thread after ELF_PLAT_INIT: a program starts with every register but rsp zero,
    whatever sysgate's own CPU probes left behind."""
    src = tmp_path / "regs.S"
    src.write_text(ENTRY_REGS)
    prog = tmp_path / "regs"
    subprocess.run(["gcc", "-nostdlib", "-static", "-o", str(prog), str(src)], check=True)
    assert subprocess.run([str(prog)], check=False).returncode == 0  # the native oracle
    r = guest.cli(["run", str(prog)])
    assert (r.returncode, r.stderr) == (0, b"")
