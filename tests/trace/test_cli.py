"""`sysgate trace` as a command: usage errors in one line with status 1, -h and -V, the
output destinations, -E, JSON lines, and user system calls traced by name."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from sysgate.cli import TRACE_USAGE, main
from tests.guest.build import build
from tests.guest.conftest import GUEST_ENV, GuestRunner

ROOT = Path(__file__).resolve().parent.parent.parent
WHO = ROOT / "examples" / "iam_whoami"

Build = Callable[[str], Path]


@pytest.mark.parametrize(("argv", "message"), [
    ([], "sysgate: trace: must have PROG [ARGS]; see 'sysgate trace -h'"),
    (["-c"], "sysgate: trace: must have PROG [ARGS]; see 'sysgate trace -h'"),
    (["-j", "true"], "sysgate: trace: invalid option -- 'j'"),
    (["-s", "x", "true"], "sysgate: trace: invalid -s argument: 'x'"),
    (["-e", "trace=nosuch", "true"], "sysgate: trace: invalid system call 'nosuch'"),
    (["-e", "inject=write:error=ENOPE", "true"], "sysgate: trace: invalid inject argument 'write:error=ENOPE'"),
    (["-e", "signal=SIGNOPE", "true"], "sysgate: trace: invalid signal 'SIGNOPE'"),
    (["-p", "1"], "sysgate: trace: -p/--attach: sysgate traces only the programs it runs"),
    (["--syscalls", "/nonexistent.py", "true"], None),
])
def test_usage_errors(argv: list[str], message: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["trace", *argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
    if message is None:
        assert status == 2 and err.startswith("sysgate: --syscalls /nonexistent.py:")
    else:
        assert (status, err) == (1, message + "\n")


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "-h"]) == 0
    assert capsys.readouterr().out == TRACE_USAGE
    assert main(["trace", "-V"]) == 0
    assert capsys.readouterr().out.startswith("sysgate trace -- ")


@pytest.mark.guest
def test_trace_goes_to_stderr_and_the_status_passes_through(guest: GuestRunner, first_variant: Build) -> None:
    r = guest.cli(["trace", "-e", "trace=exit_group", str(first_variant("exit_code")), "3"])
    assert (r.returncode, r.stdout) == (3, b"")
    assert r.stderr.decode().splitlines() == [f"{'exit_group(3)':<39} = ?", "+++ exited with 3 +++"]


@pytest.mark.guest
def test_output_files_and_environment(guest: GuestRunner, first_variant: Build, tmp_path: Path) -> None:
    exe = str(first_variant("exit_code"))
    r = guest.cli(["trace", "-ff", "-o", str(tmp_path / "log"), "-e", "trace=execve", "-E", "EXTRA=1",
                   "-E", "TZ", "--unset-env", "LC_ALL", "-v", exe, "0"])
    assert (r.returncode, r.stderr) == (0, b"")
    (log,) = tmp_path.glob("log.*")
    first = log.read_text().splitlines()[0]
    env = dict(GUEST_ENV, EXTRA="1")
    del env["TZ"], env["LC_ALL"]
    assert first.endswith("[" + ", ".join(f'"{k}={v}"' for k, v in env.items()) + "]) = 0"), first


@pytest.mark.guest
def test_json_lines(guest: GuestRunner, first_variant: Build) -> None:
    r = guest.cli(["trace", "--trace-format=json", "-e", "trace=write,exit_group", str(first_variant("hello"))])
    records = [json.loads(line) for line in r.stderr.decode().splitlines()]
    assert [x["type"] for x in records] == ["syscall", "syscall", "exit"]
    write = records[0]
    assert write["syscall"] == "write" and write["args"]["fd"] == 1 and write["result"] == 14
    assert write["line"] == 'write(1, "Hello, world!\\n", 14) = 14'
    assert records[1]["result"] is None and records[2]["code"] == 0


@pytest.mark.guest
def test_user_system_calls_are_traced_by_name_and_counted(guest: GuestRunner) -> None:
    testwho = str(build("testwho", "glibc-static", source_dir=WHO))
    who = str(WHO / "who.py")
    r = guest.cli(["trace", "--syscalls", who, "-e", "trace=iam,whoami", "-s", "4", testwho])
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 0, r
    assert lines[0] == 'iam("lizh"...)'.ljust(39) + " = 8"
    assert lines[1] == 'whoami("lizh"..., 64)'.ljust(39) + " = 8"
    assert lines[-1] == "+++ exited with 0 +++" and all(x.startswith(("iam(", "whoami(")) for x in lines[:-1])
    r = guest.cli(["trace", "--syscalls", who, "-c", "-S", "name", "-e", "trace=/^(iam|whoami|write)$", testwho])
    rows = {line.split()[-1]: line.split() for line in r.stderr.decode().splitlines()[2:-2]}
    assert set(rows) == {"iam", "whoami", "write"}
    assert rows["iam"][3:5] == ["6", "3"]  # calls, errors
