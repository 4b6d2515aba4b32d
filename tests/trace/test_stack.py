"""`sysgate trace -k` against the host's `strace -k`: the call stack after each call.

Where the host's strace (libunwind) unwinds the program, the frames must be the same:
dynamic programs (through libc and ld.so), static-PIE ones, stripped ones, those with
MiniDebugInfo, a recursion deeper than 256 frames, code in anonymous memory. For static
non-PIE programs (no .eh_frame_hdr, which libunwind needs) and musl ones (no unwind
tables in its library) the host shows only the first frame; sysgate's walk goes on to
main and the start code, and the test checks it does, with the same first frame.

The programs are written and built here: with gcc for the dynamic ones, with the guest
build's variants (tests/guest/build.py) for the static ones.
"""

from __future__ import annotations

import lzma
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.guest.build import build
from tests.trace.harness import Run, assert_same_trace, native, require_host_tools, traced

SOURCES = {
    "nested": r"""
#include <stdio.h>
#include <unistd.h>
__attribute__((noinline)) void leaf(const char *s) { fputs(s, stdout); fflush(stdout); }
__attribute__((noinline)) void middle(const char *s) { leaf(s); asm volatile(""); }
int main(void) { middle("hello\n"); write(1, "bye\n", 4); return 0; }
""",
    "deep": r"""
#include <stdlib.h>
#include <unistd.h>
__attribute__((noinline)) int rec(int n) { if (n == 0) { write(1, "x\n", 2); return 0; } return rec(n - 1) + 1; }
int main(int argc, char **argv) { int n = argc > 1 ? atoi(argv[1]) : 300; return rec(n) == n ? 0 : 1; }
""",
    "fault": r"""
__attribute__((noinline)) int bad(volatile int *p) { return *p; }
int main(void) { return bad((int *)0x1234); }
""",
    "jit": r"""
#include <string.h>
#include <sys/mman.h>
int main(void) {
    static const unsigned char code[] = {
        0xb8, 1, 0, 0, 0,                 /* mov $1, %eax (write) */
        0xbf, 1, 0, 0, 0,                 /* mov $1, %edi */
        0x48, 0x8d, 0x35, 8, 0, 0, 0,     /* lea 8(%rip), %rsi */
        0xba, 4, 0, 0, 0,                 /* mov $4, %edx */
        0x0f, 0x05,                       /* syscall */
        0xc3,                             /* ret */
        'j', 'i', 't', '\n' };
    void *p = mmap((void *)0x10000000, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    memcpy(p, code, sizeof code);
    ((void (*)(void))p)();
    return 0;
}
""",
}


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("stack-src")
    for name, text in SOURCES.items():
        (d / f"{name}.c").write_text(text)
    return d


@pytest.fixture(scope="module")
def dynamic(sources: Path) -> Callable[..., Path]:
    """dynamic(name, post=None): the program built with gcc as a PIE linked to libc.so;
    `post(exe) -> exe` rewrites it (strip, add sections)."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")

    def make(name: str) -> Path:
        exe = sources / f"{name}-dyn"
        if not exe.exists():
            subprocess.run(["gcc", "-O1", "-o", str(exe), str(sources / f"{name}.c")], check=True)
        return exe

    return make


def _runs(tmp_path: Path, argv: Sequence[str], opts: Sequence[str]) -> tuple[Run, Run]:
    require_host_tools()
    cwd = tmp_path / "run"
    return native(list(argv), list(opts), cwd), traced(list(argv), list(opts), cwd)


def _stacks(trace: str) -> list[list[str]]:
    """The frames printed after each call line, call by call."""
    out: list[list[str]] = []
    for line in trace.splitlines():
        if line.startswith(" > "):
            out[-1].append(line)
        else:
            out.append([])
    return [s for s in out if s]


@pytest.mark.guest
def test_dynamic_program(dynamic: Callable[[str], Path], tmp_path: Path) -> None:
    theirs, ours = _runs(tmp_path, [str(dynamic("nested"))], ["-k", "-e", "trace=write"])
    assert_same_trace(theirs, ours)
    assert any("(leaf+0x" in line for line in ours.trace.splitlines())


@pytest.mark.guest
def test_dynamic_loader_frames(dynamic: Callable[[str], Path], tmp_path: Path) -> None:
    # ld.so's own calls: it is stripped to its .dynsym, so frames are named after the few
    # functions it exports.
    theirs, ours = _runs(tmp_path, [str(dynamic("nested"))], ["-k", "-e", "trace=openat,close"])
    assert_same_trace(theirs, ours)
    assert "ld-linux-x86-64.so.2(_dl_catch_error+0x" in ours.trace


@pytest.mark.guest
def test_every_call_with_the_first_execve_and_exit(dynamic: Callable[[str], Path], tmp_path: Path) -> None:
    """The entry point's frame after the first execve, and exit_group's stack after
    `+++ exited with 0 +++`, where strace prints them. (ld.so's own start-up calls are
    left out: without a vDSO it takes other paths under sysgate, see docs/architecture.md.)"""
    theirs, ours = _runs(tmp_path, [str(dynamic("nested"))], ["-k", "-e", "trace=execve,write,exit_group"])
    assert_same_trace(theirs, ours)
    lines = ours.trace.splitlines()
    assert lines[1].startswith(" > ") and "ld-linux-x86-64.so.2(" in lines[1]
    exited = lines.index("+++ exited with 0 +++")
    assert "(_exit+0x" in lines[exited + 1]


@pytest.mark.guest
def test_the_stack_of_a_fault(dynamic: Callable[[str], Path], tmp_path: Path) -> None:
    theirs, ours = _runs(tmp_path, [str(dynamic("fault"))], ["-k", "-e", "trace=none"])
    assert_same_trace(theirs, ours)
    assert "(bad+0x" in ours.trace.splitlines()[1]


@pytest.mark.guest
def test_more_than_256_frames(dynamic: Callable[[str], Path], tmp_path: Path) -> None:
    theirs, ours = _runs(tmp_path, [str(dynamic("deep")), "300"], ["-k", "-e", "trace=write"])
    assert_same_trace(theirs, ours)
    assert ours.trace.splitlines()[-2] == " > too many stack frames"


@pytest.mark.guest
def test_stripped_program(dynamic: Callable[[str], Path], tmp_path: Path) -> None:
    exe = tmp_path / "stripped"
    subprocess.run(["strip", "--strip-all", str(dynamic("nested")), "-o", str(exe)], check=True)
    theirs, ours = _runs(tmp_path, [str(exe)], ["-k", "-e", "trace=write"])
    assert_same_trace(theirs, ours)
    assert f" > {exe}() [0x" in ours.trace


@pytest.mark.guest
def test_minidebuginfo(dynamic: Callable[[str], Path], tmp_path: Path) -> None:
    if shutil.which("objcopy") is None:
        pytest.skip("objcopy is not installed")
    full, mini, exe = dynamic("nested"), tmp_path / "mini", tmp_path / "mdi"
    subprocess.run(["objcopy", "--only-keep-debug", str(full), str(mini)], check=True)
    (tmp_path / "mini.xz").write_bytes(lzma.compress(mini.read_bytes()))
    subprocess.run(["strip", "--strip-all", str(full), "-o", str(exe)], check=True)
    subprocess.run(["objcopy", "--add-section", f".gnu_debugdata={tmp_path / 'mini.xz'}", str(exe)], check=True)
    theirs, ours = _runs(tmp_path, [str(exe)], ["-k", "-e", "trace=write"])
    assert_same_trace(theirs, ours)
    assert f" > {exe}(middle+0x" in ours.trace


@pytest.mark.guest
def test_code_in_anonymous_memory(dynamic: Callable[[str], Path], tmp_path: Path) -> None:
    theirs, ours = _runs(tmp_path, [str(dynamic("jit"))], ["-k", "-e", "trace=write"])
    assert_same_trace(theirs, ours)
    assert " > unexpected_backtracing_error [0x10000018]" in ours.trace.splitlines()


@pytest.mark.guest
def test_cxx_names_demangled(sources: Path, tmp_path: Path) -> None:
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    (sources / "cxx.cc").write_text(
        '#include <unistd.h>\n'
        'namespace ns { struct A { __attribute__((noinline)) void f(int) { write(1, "x\\n", 2); } }; }\n'
        "int main() { ns::A a; a.f(1); }\n")
    exe = sources / "cxx-dyn"
    subprocess.run(["g++", "-O1", "-o", str(exe), str(sources / "cxx.cc")], check=True)
    theirs, ours = _runs(tmp_path, [str(exe)], ["-k", "-e", "trace=write"])
    assert_same_trace(theirs, ours)
    assert f" > {exe}(ns::A::f(int)+0x" in ours.trace


@pytest.mark.guest
def test_static_pie(sources: Path, tmp_path: Path) -> None:
    exe = build("nested", "glibc-static-pie", source_dir=sources)
    theirs, ours = _runs(tmp_path, [str(exe)], ["-k", "-e", "trace=write"])
    assert_same_trace(theirs, ours)


def _names(stack: list[str]) -> list[str]:
    return [line.split("(", 1)[1].split("+", 1)[0] for line in stack]


@pytest.mark.guest
def test_static_program_reaches_start(sources: Path, tmp_path: Path) -> None:
    exe = build("nested", "glibc-static", source_dir=sources)
    theirs, ours = _runs(tmp_path, [str(exe)], ["-k", "-e", "trace=write"])
    ours_stacks, their_stacks = _stacks(ours.trace), _stacks(theirs.trace)
    assert len(ours_stacks) == len(their_stacks) == 2
    for mine, host in zip(ours_stacks, their_stacks, strict=True):
        assert mine[0] == host[0]  # the host's libunwind stops after the first frame here
    first, second = (_names(s) for s in ours_stacks)
    assert first[0] == "__write" and first[-1] == "_start"
    assert first[-4:] == ["main", "__libc_start_call_main", "__libc_start_main_impl", "_start"]
    assert [n for n in first if n in ("leaf", "middle", "main")] == ["leaf", "middle", "main"]
    assert first[first.index("leaf") - 1].endswith("fflush")  # _IO_fflush: the static library's name
    assert second == ["__write", "main", "__libc_start_call_main", "__libc_start_main_impl", "_start"]


@pytest.mark.guest
def test_musl_program_reaches_main(sources: Path, tmp_path: Path) -> None:
    exe = build("nested", "musl-static", source_dir=sources)
    theirs, ours = _runs(tmp_path, [str(exe)], ["-k", "-e", "trace=write,writev"])
    ours_stacks, their_stacks = _stacks(ours.trace), _stacks(theirs.trace)
    assert len(ours_stacks) == len(their_stacks) >= 2
    for mine, host in zip(ours_stacks, their_stacks, strict=True):
        assert mine[0] == host[0]
    # musl's library has no unwind tables: its frames are found by the stack scan.
    first, last = _names(ours_stacks[0]), _names(ours_stacks[-1])
    assert [n for n in first if n in ("leaf", "middle", "main")] == ["leaf", "middle", "main"]
    assert first[-1] != "main"  # the start code's frames follow
    assert last[1:3] == ["write", "main"]  # sccp, the cancellation point write goes through


@pytest.mark.guest
def test_stack_from_a_hook(sources: Path) -> None:
    """capture_stack is usable from a system-call hook: which function made this call."""
    import sysgate
    from sysgate.trace.hooks import SyscallCall
    from sysgate.trace.unwind import capture_stack, stack_at

    exe = build("nested", "glibc-static-pie", source_dir=sources)
    kernel = sysgate.Kernel()
    seen: list[tuple[list[str], list[str]]] = []

    @kernel.on_syscall_enter("write")
    def record(call: SyscallCall) -> None:
        seen.append((capture_stack(call.task), stack_at(call.task, call.frame[7] + 2)))

    r = sysgate.run([str(exe)], capture_output=True, kernel=kernel)
    assert r.stdout == b"hello\nbye\n"
    assert len(seen) == 2
    for captured, at in seen:
        assert captured == at
    assert [line.split("(")[1].split("+")[0] for line in seen[1][0]] == [
        "__write", "main", "__libc_start_call_main", "__libc_start_main_impl", "_start"]
