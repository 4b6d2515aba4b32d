"""docs/tutorial.md stays true: its files are written, its commands run, outputs compared.

A ```c file=NAME or ```python file=NAME block is written to a scratch folder; each
```console block holds `$ command` lines followed by their expected output, where `...`
stands for any text (addresses, which differ between runs).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent.parent / "docs" / "tutorial.md"
BLOCK = re.compile(r"^```(\w+)( file=(\S+))?\n(.*?)^```$", re.S | re.M)


def blocks() -> list[tuple[str, str | None, str]]:
    return [(m.group(1), m.group(3), m.group(4)) for m in BLOCK.finditer(DOC.read_text())]


def commands() -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    for lang, _, text in blocks():
        if lang != "console":
            continue
        for line in text.splitlines():
            if line.startswith("$ "):
                out.append((line[2:], []))
            else:
                out[-1][1].append(line)
    return out


def matches(expected: list[str], actual: str) -> bool:
    pattern = "\n".join(re.escape(line).replace(r"\.\.\.", ".*") for line in expected)
    return re.fullmatch(pattern, actual.rstrip("\n"), re.S) is not None


@pytest.mark.guest
@pytest.mark.skipif(shutil.which("gcc") is None or not Path("/bin/busybox").exists(),
                    reason="the tutorial needs gcc and busybox-static")
def test_every_command_of_the_tutorial(tmp_path: Path) -> None:
    for _lang, name, text in blocks():
        if name:
            (tmp_path / name).write_text(text)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}", "LC_ALL": "C"}
    assert commands(), "the tutorial has no commands"
    for command, expected in commands():
        r = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True, env=env,  # noqa: S602
                           check=False)
        assert r.returncode == 0, f"$ {command}\n{r.stdout}{r.stderr}"
        assert matches(expected, r.stdout), f"$ {command}\nexpected:\n" + "\n".join(expected) + f"\ngot:\n{r.stdout}"
