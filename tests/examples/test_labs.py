"""The labs in examples/, run the way their READMEs show (the CLI and the Python API).

Each C program is compiled at test time (never committed), the declarations are the
files a reader edits, and the expected output is what the README prints.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.guest.build import build

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = ROOT / "examples"


def exe(lab: str, program: str) -> Path:
    return build(program, "glibc-static", source_dir=EXAMPLES / lab)


def sysgate_cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sysgate", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, check=False, env={**os.environ, "LC_ALL": "C"})


@pytest.mark.guest
def test_add10_at_a_free_number() -> None:
    lab = EXAMPLES / "add10"
    prog = exe("add10", "add10")
    without = sysgate_cli("run", prog, cwd=lab)
    assert (without.returncode, without.stdout) == (255, "syscall(548, 10) = -1\n")
    r = sysgate_cli("run", "--syscalls", "add10.py", prog, cwd=lab)
    assert (r.returncode, r.stdout, r.stderr) == (20, "syscall(548, 10) = 20\n", "")


@pytest.mark.guest
def test_add10_replacing_442_knowingly() -> None:
    lab = EXAMPLES / "add10"
    prog = exe("add10", "add10")
    r = sysgate_cli("run", "--syscalls", "add10_at_442.py", prog, "442", cwd=lab)
    assert (r.returncode, r.stdout) == (20, "syscall(442, 10) = 20\n")
    refused = lab / "at_442_without_replace.py"
    refused.write_text((lab / "add10_at_442.py").read_text().replace(", replace=True", ""))
    try:
        r = sysgate_cli("run", "--syscalls", refused.name, prog, "442", cwd=lab)
    finally:
        refused.unlink()
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "'mount_setattr'" in r.stderr and "replace=True" in r.stderr


@pytest.mark.guest
def test_add10_is_listed_like_a_builtin() -> None:
    r = sysgate_cli("syscalls", "--syscalls", "add10.py", cwd=EXAMPLES / "add10")
    line = next(line for line in r.stdout.splitlines() if " add10 " in line)
    assert line.split() == ["548", "add10", "sys_add10", "full"]


@pytest.mark.guest
def test_add10_through_the_python_api() -> None:
    import sysgate
    from sysgate.argtypes import Long

    k = sysgate.Kernel()

    @k.syscall(nr=548)
    def sys_add10(t: sysgate.Task, x: Long) -> int:
        """add ten to a number"""
        return x + 10

    assert sysgate.run([str(exe("add10", "add10"))], kernel=k, capture_output=True).returncode == 20


@pytest.mark.guest
def test_iam_whoami_graders_checks() -> None:
    lab = EXAMPLES / "iam_whoami"
    r = sysgate_cli("run", "--syscalls", "who.py", exe("iam_whoami", "testwho"), cwd=lab)
    assert r.returncode == 0, r.stdout
    assert r.stdout.splitlines()[-1] == "PASS: 0 failure(s)"
    assert "[FAIL]" not in r.stdout


@pytest.mark.guest
def test_iam_then_whoami_in_a_second_run_of_the_same_kernel() -> None:
    lab = EXAMPLES / "iam_whoami"
    r = subprocess.run([sys.executable, "run_api.py", str(exe("iam_whoami", "iam")),
                        str(exe("iam_whoami", "whoami")), "lizhijun"],
                       cwd=lab, capture_output=True, text=True, check=False)
    assert (r.returncode, r.stdout) == (0, 'iam("lizhijun") = 8\nlizhijun\n')


@pytest.mark.guest
def test_whoami_in_a_new_kernel_knows_no_name() -> None:
    lab = EXAMPLES / "iam_whoami"
    r = sysgate_cli("run", "--syscalls", "who.py", exe("iam_whoami", "whoami"), cwd=lab)
    assert (r.returncode, r.stdout) == (0, "\n")


@pytest.mark.guest
def test_replace_getrandom_and_uname() -> None:
    lab = EXAMPLES / "replace"
    prog = exe("replace", "show")
    plain = sysgate_cli("run", prog, cwd=lab)
    assert plain.returncode == 0 and plain.stdout.endswith("release 6.12.117-sysgate\n")
    r = sysgate_cli("run", "--syscalls", "fixed.py", prog, cwd=lab)
    assert (r.returncode, r.stdout) == (0, "random 00010203\nrelease 2.6.32-lab\n")
