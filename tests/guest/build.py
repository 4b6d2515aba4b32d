"""Builds the guest programs in tests/guest/src with the host's compilers, at test time.

Each program is compiled in six variants: glibc static, glibc static-PIE and musl
static, and dynamically linked: glibc PIE (-pie, loaded at ELF_ET_DYN_BASE), glibc
non-PIE (-no-pie, at its link address) and musl (PIE, with /lib/ld-musl-x86_64.so.1,
which Debian's musl package installs and musl-tools depends on). Binaries go to a
cache directory (default /work/main/.guest-cache, i.e. `.guest-cache` at the
repository root, or $SYSGATE_GUEST_CACHE), named by a hash of
the source, the shared header, the compiler's identity and the flags, so an edit
rebuilds exactly what changed. Binaries are never committed.

A variant whose compiler is missing is skipped with the reason, not failed.
Run `python tests/guest/build.py` to build everything and print the paths.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SRC_DIR = HERE / "src"
ROOT = HERE.parent.parent
CACHE_DIR = Path(os.environ.get("SYSGATE_GUEST_CACHE", ROOT / ".guest-cache"))
COMMON_FLAGS = ("-O1", "-g0", "-Wall", "-std=gnu11")


@dataclass(frozen=True, slots=True)
class Variant:
    """One way to build a program: a compiler and its link mode."""

    name: str
    compiler: str
    flags: tuple[str, ...]


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("glibc-static", "gcc", ("-static",)),
        Variant("glibc-static-pie", "gcc", ("-static-pie", "-fPIE")),
        Variant("musl-static", "musl-gcc", ("-static",)),
        Variant("glibc-dynamic-pie", "gcc", ("-pie", "-fPIE")),
        Variant("glibc-dynamic-nopie", "gcc", ("-no-pie", "-fno-PIE")),
        Variant("musl-dynamic", "musl-gcc", ("-pie", "-fPIE")),
    )
}
DYNAMIC = ("glibc-dynamic-pie", "glibc-dynamic-nopie", "musl-dynamic")
"""The dynamically linked variants: their PT_INTERP names the system's loader."""
GLIBC_LOADER = "/lib64/ld-linux-x86-64.so.2"
MUSL_LOADER = "/lib/ld-musl-x86_64.so.1"
INTERPRETERS = {"glibc-dynamic-pie": GLIBC_LOADER, "glibc-dynamic-nopie": GLIBC_LOADER, "musl-dynamic": MUSL_LOADER}
"""The loader each dynamic variant names, which can also be run as `LOADER PROG ARGS`."""


def programs() -> list[str]:
    """The names of the guest programs (tests/guest/src/NAME.c)."""
    return sorted(p.stem for p in SRC_DIR.glob("*.c"))


@functools.cache
def _compiler_id(compiler: str) -> str | None:
    """The compiler's path and version banner, or None if it is not installed."""
    path = shutil.which(compiler)
    if path is None:
        return None
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout
    return f"{os.path.realpath(path)}\n{out.splitlines()[0] if out else ''}"


def _cache_key(source: Path, variant: Variant, compiler_id: str) -> str:
    h = hashlib.sha256()
    h.update(compiler_id.encode())
    h.update("\0".join(variant.flags + COMMON_FLAGS).encode())
    for part in [source, *sorted(SRC_DIR.glob("*.h"))]:
        h.update(part.name.encode() + b"\0" + part.read_bytes())
    return h.hexdigest()[:16]


def build(program: str, variant: str, cache_dir: Path = CACHE_DIR, source_dir: Path = SRC_DIR) -> Path:
    """The path of `program` (source_dir/program.c) built as `variant`, compiled if not cached.

    Calls pytest.skip when the variant's compiler is missing; a compile error fails.
    """
    v = VARIANTS[variant]
    compiler_id = _compiler_id(v.compiler)
    if compiler_id is None:
        pytest.skip(f"{variant}: compiler {v.compiler!r} is not installed")
    source = source_dir / f"{program}.c"
    exe = cache_dir / f"{program}-{variant}-{_cache_key(source, v, compiler_id)}"
    if exe.exists():
        return exe
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Compile to a private name and rename, so parallel test workers never see half a file.
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=f".{exe.name}.")
    os.close(fd)
    cmd = [v.compiler, *COMMON_FLAGS, *v.flags, "-I", str(SRC_DIR), "-o", tmp, str(source)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        os.unlink(tmp)
        pytest.fail(f"{' '.join(cmd)} failed:\n{result.stderr}", pytrace=False)
    os.replace(tmp, exe)
    return exe


def main() -> int:
    for variant in VARIANTS:
        for program in programs():
            try:
                print(build(program, variant))
            except pytest.skip.Exception as exc:
                print(f"skipped: {exc}", file=sys.stderr)
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
