#!/usr/bin/env python3
"""Regenerate docs/syscalls.md from the declarations (`--check` only compares)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from sysgate.tables.listing import render_markdown  # noqa: E402
from sysgate.tables.tbl import x86_64_table  # noqa: E402

TARGET = ROOT / "docs" / "syscalls.md"


def render() -> str:
    return render_markdown([x86_64_table()])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--check", action="store_true", help="exit 1 if docs/syscalls.md is out of date")
    ns = p.parse_args()
    text = render()
    if ns.check:
        if TARGET.read_text() != text:
            print("docs/syscalls.md is out of date: run tools/gen_docs.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
