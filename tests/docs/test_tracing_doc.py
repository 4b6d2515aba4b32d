"""docs/tracing.md's Python example does what the page says it does."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent.parent / "docs" / "tracing.md"
PROG = r"""
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int main(void)
{
	int fd = open("/etc/hostname", O_RDONLY);
	printf("%d %d %d\n", fd, fd < 0 ? errno : 0, getpid());
	return 0;
}
"""


@pytest.mark.guest
@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_the_hooks_example(tmp_path: Path) -> None:
    (tmp_path / "prog.c").write_text(PROG)
    exe = tmp_path / "prog"
    subprocess.run(["gcc", "-static", "-O1", "-o", str(exe), str(tmp_path / "prog.c")], check=True)
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert code is not None
    text = code.group(1)
    run = 'sysgate.run(["./prog"], kernel=k)'
    assert run in text
    scope: dict[str, object] = {}
    exec(text.replace(run, f"r = sysgate.run([{str(exe)!r}], kernel=k, capture_output=True)"), scope)  # noqa: S102
    r = scope["r"]
    # open() of /etc/... failed with EACCES, getpid() said 1234, and the line went to stderr.
    assert (r.returncode, r.stdout, r.stderr) == (0, b"", b"-1 13 1234\n")  # type: ignore[attr-defined]
