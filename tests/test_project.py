"""The project's promises about itself: the README's commands, CI, generated docs, and
the static checks (mypy --strict on src/, ruff)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    lines = (ROOT / "README.md").read_text().splitlines()
    return [line.strip() for line in lines[:12] if line.startswith("    ")]


def test_readme_opens_with_the_two_commands() -> None:
    install, tests = readme_commands()
    assert "pip install -e ." in install and "sysgate run" in install
    assert "pip install -e '.[test]'" in tests and "pytest" in tests


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert readme_commands()[1] in ci.splitlines()


def test_generated_docs_are_current() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_docs.py"), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("mypy") is None, reason="mypy is installed by '.[test]'")
def test_mypy_strict_on_src() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-4000:]


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is installed by '.[test]'")
def test_ruff_is_clean() -> None:
    result = subprocess.run(["ruff", "check", "src", "tests", "tools", "bench"], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-4000:]


def test_only_the_cpu_layer_uses_unicorn() -> None:
    """DESIGN: nothing above sysgate.cpu imports unicorn or talks to it through cffi."""
    offenders = []
    for path in (ROOT / "src" / "sysgate").rglob("*.py"):
        if path.parent.name == "cpu":
            continue
        text = path.read_text()
        if "import unicorn" in text or "from unicorn" in text or "import cffi" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_source_files_stay_small() -> None:
    """STYLE: modules under about 500 lines."""
    big = [(str(p.relative_to(ROOT)), n) for p in (ROOT / "src").rglob("*.py")
           if (n := len(p.read_text().splitlines())) > 500]
    assert big == []
