"""The oracle for `sysgate trace`: the host's strace, run natively with the same options.

A guest program runs twice in the same (recreated) directory, with the same argv,
environment and stdin: under the host's `strace -o FILE OPTIONS`, and under
`sysgate trace -o FILE OPTIONS` in this process. Both traces are normalised for what
differs by nature, not by sysgate's fault:

- addresses in the top of the address space (stack, mmap areas), which the two
  kernels place differently (the native run has ASLR off, so brk and the program's own
  addresses do match), and a descriptor's pipe inode (`pipe:[123]`);
- pids (results of getpid, gettid, set_tid_address, ...), random bytes (getrandom's
  buffer), times (-t, -r, -T, -c's time columns);
- the calls a C library may answer in the vDSO (clock_gettime, gettimeofday, time,
  getcpu): dropped. Both kernels have a vDSO now, so these lines appear only for what
  the vDSO passes to the kernel (CPU-time clocks, invalid ids), on both sides, with
  times that differ; tests/guest/test_vdso.py checks that the others never trap.

Then the line sequences must be equal; a difference fails with a unified diff of the
normalised traces. Calls whose argument printers are not written yet can be compared
by name only (`loose=`), and `differences()` lists what differs by system call.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import resource
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import sysgate
from sysgate.kernel.kernel import Kernel
from sysgate.trace import options
from sysgate.trace.qualify import SyscallNames

STRACE = shutil.which("strace")
SETARCH = shutil.which("setarch")
GUEST_ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "TZ": "UTC", "SYSGATE_TEST": "hello world"}
VDSO_CALLS = frozenset({"clock_gettime", "clock_getres", "gettimeofday", "time", "getcpu"})
PID_RESULTS = frozenset({"getpid", "gettid", "getppid", "set_tid_address", "getpgrp", "getpgid", "getsid",
                         "setsid", "fork", "vfork", "clone", "clone3", "wait4"})
HIGH_ADDR = re.compile(r"\b0x7f[0-9a-f]{10}\b")
BRK0 = re.compile(r"^(?:\S+ +)*brk\((?:NULL|0)\) += (0x[0-9a-f]+)", re.M)
PID_ARGS = frozenset({"tgkill", "tkill", "kill", "wait4"})
PIPE = re.compile(r"(pipe|socket|anon_inode:\[?\w*\]?):\[\d+\]")
LINE = re.compile(r"^(?P<lead>(?:\[[^]]*\] |HH:MM:SS(?:\.F)? |EPOCH(?:\.F)? |\(\+ REL\) |REL |PID )*)"
                  r"(?P<name>[a-z_0-9]+)\((?P<rest>.*)$")
RESULT = re.compile(r"\) +(?P<eq>= .*?)(?P<time> <\d+(?:\.\d+)?>)?$")


def require_host_tools() -> None:
    """Skip (with the reason) where the oracle is missing; the CI image has both."""
    if STRACE is None:
        pytest.skip("the host has no strace")
    if SETARCH is None:
        pytest.skip("the host has no setarch (util-linux)")


@dataclass(frozen=True, slots=True)
class Run:
    """One traced run: the trace text, and how the program ended."""

    trace: str
    returncode: int
    stdout: bytes
    stderr: bytes


def _no_core() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # "+++ killed by SIGSEGV (core dumped) +++" is host policy


def native(program: Sequence[str], opts: Sequence[str], cwd: Path, stdin: bytes = b"",
           env: dict[str, str] | None = None) -> Run:
    """`strace -o FILE OPTS PROGRAM` on the host, with address-space randomisation off."""
    require_host_tools()
    assert STRACE is not None and SETARCH is not None
    _fresh(cwd)
    out = cwd.parent / f"{cwd.name}.native.trace"
    r = subprocess.run([SETARCH, "-R", STRACE, "-o", str(out), *opts, *program], env=env or GUEST_ENV,
                       input=stdin, capture_output=True, cwd=cwd, timeout=60, check=False, preexec_fn=_no_core)
    trace = out.read_text(errors="surrogateescape") if out.exists() else ""
    return Run(trace, r.returncode, r.stdout, r.stderr)


def traced(program: Sequence[str], opts: Sequence[str], cwd: Path, stdin: bytes = b"",
           env: dict[str, str] | None = None, kernel: Kernel | None = None) -> Run:
    """`sysgate trace -o FILE OPTS PROGRAM`, in this process, in the same directory."""
    _fresh(cwd)
    out = cwd.parent / f"{cwd.name}.sysgate.trace"
    kernel = kernel or Kernel()
    pairs, prog = options.scan(["-o", str(out), *opts, *program])
    names = SyscallNames({nr: s.name for nr, s in kernel.table64.slots.items()})
    kernel.trace(options.build(pairs, names, True))
    with contextlib.chdir(cwd):
        r = sysgate.run(prog, env=env or GUEST_ENV, stdin=stdin, capture_output=True, kernel=kernel)
    assert r.stdout is not None and r.stderr is not None
    trace = out.read_text(errors="surrogateescape") if out.exists() else ""
    return Run(trace, r.returncode, r.stdout, r.stderr)


def _fresh(cwd: Path) -> None:
    if cwd.exists():
        shutil.rmtree(cwd)
    cwd.mkdir(parents=True)


# -- normalisation ---------------------------------------------------------------------------


@dataclass(slots=True)
class Normaliser:
    """What a comparison treats as equal. `loose`: calls compared by name and status only."""

    loose: frozenset[str] = frozenset()
    drop: frozenset[str] = VDSO_CALLS
    times: bool = True
    extra: list[tuple[str, str]] = field(default_factory=list)  # (regex, replacement) for one test
    skip: tuple[str, ...] = ()  # regexes of lines left out (a signal whose moment is a race on the host)

    def lines(self, trace: str) -> list[str]:
        m = BRK0.search(trace)
        heap = int(m.group(1), 16) if m else None
        out = []
        for line in trace.splitlines():
            norm = self.line(line, heap)
            if norm is not None:
                out.append(norm)
        return out

    def line(self, line: str, heap: int | None = None) -> str | None:
        """One line normalised; None to leave it out. `heap`: where the first brk(NULL) put the heap."""
        if any(re.search(pattern, line) for pattern in self.skip):
            return None
        # Addresses keep their length, so that the column of " = " is still compared.
        line = HIGH_ADDR.sub(lambda m: "0x" + "A" * (len(m.group(0)) - 2), line)
        if heap is not None:  # malloc'd addresses: glibc picks routines (and sizes) by CPU features
            line = re.sub(r"\b0x[0-9a-f]+\b", lambda m: "0x" + "H" * (len(m.group(0)) - 2)
                          if heap <= int(m.group(0), 16) < heap + (1 << 30) else m.group(0), line)
        original = line
        line = re.sub(r"^\d+ +", "PID ", line)  # -f -o FILE: each line starts with the pid, as "%-5u "
        line = re.sub(r"si_pid=\d+", "si_pid=PID", line)
        line = re.sub(r"parent_tid=\[\d+\]", "parent_tid=[PID]", line)
        line = PIPE.sub(r"\1:[INODE]", line)
        for pattern, repl in self.extra:
            line = re.sub(pattern, repl, line)
        if self.times:
            line = _times(line)
        m = LINE.match(line)
        if m is None:
            return line
        name, rest = m.group("name"), m.group("rest")
        if name in self.drop:
            return None
        if name == "getrandom":
            rest = re.sub(r'^"(?:[^"\\]|\\.)*"(\.\.\.)?', '"RANDOM"', rest)
        if name in PID_RESULTS:
            rest = re.sub(r"(\) +)= (0x[0-9a-f]+|\d+)((?: <T>)?)$", r"\1= PID\3", rest)
        if name in PID_ARGS:
            rest = re.sub(r"^\d+(, \d+)?", lambda m: ", ".join("PID" for _ in m.group(0).split(", ")), rest)
        if name.startswith("syscall_0x"):  # leftover registers: glibc's code paths depend on the CPU
            args = rest.split(", ")
            rest = ", ".join(args[:3] + ["REG" for _ in args[3:5]] + args[5:]) if len(args) > 5 else rest
        if name == "sysinfo":  # the machine's state at the moment: uptime, load, memory, processes
            rest = re.sub(r"=(\d+|\[[0-9, ]+\])", "=N", rest)
        lead = m.group("lead")
        if name == "execve":  # strace's -i shows where its own child called execve
            lead = re.sub(r"\[[0-9a-f]{16}\] $", "[IP] ", lead)
        if name in self.loose:
            r = RESULT.search(rest)
            status = "= -1 " + r.group("eq").split()[2] if r and r.group("eq").startswith("= -1 ") else "= ..."
            return f"{lead}{name}(...) {status}"
        out = f"{lead}{name}({rest}"
        if out != original:  # a value of another length was replaced: the padding cannot be compared
            out = re.sub(r"\) += ", ") = ", out)
        return out


def _times(line: str) -> str:
    """The times in a line's leader (-t, -tt, -ttt, -r) and after it (-T), whatever their precision."""
    out = ""
    while True:
        m = re.match(r"\[[^]]*\] |PID ", line)
        if m:
            out, line = out + m.group(0), line[m.end():]
            continue
        m = re.match(r"(\d\d:\d\d:\d\d)(\.\d+)? ", line)
        if m:
            out, line = out + "HH:MM:SS" + (".F" if m.group(2) else "") + " ", line[m.end():]
            continue
        m = re.match(r"\d{9,}(\.\d+)? ", line)
        if m:
            out, line = out + "EPOCH" + (".F" if m.group(1) else "") + " ", line[m.end():]
            continue
        m = re.match(r"\(\+ *\d+(\.\d+)?\) | *\d+\.\d+ ", line)
        if m:
            out, line = out + ("(+ REL) " if m.group(0).startswith("(") else "REL "), line[m.end():]
            continue
        break
    return out + re.sub(r" <\d+(\.\d+)?>$", " <T>", line)


def diff(expected: Iterable[str], ours: Iterable[str], what: str = "sysgate trace") -> str:
    return "\n".join(difflib.unified_diff(list(expected), list(ours), "strace (native)", what, lineterm="", n=3))


def assert_same_trace(native_run: Run, ours: Run, norm: Normaliser | None = None) -> None:
    """Equal normalised traces, or a failure with the unified diff."""
    norm = norm or Normaliser()
    a, b = norm.lines(native_run.trace), norm.lines(ours.trace)
    if a != b:
        pytest.fail("the traces differ (after normalisation):\n" + diff(a, b), pytrace=False)


def differences(native_trace: str, ours_trace: str, norm: Normaliser | None = None) -> dict[str, list[str]]:
    """The lines that differ, by system call (for reports: which printers are still missing)."""
    norm = norm or Normaliser()
    a, b = norm.lines(native_trace), norm.lines(ours_trace)
    out: dict[str, list[str]] = {}
    sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            continue
        for x, y in zip(a[i1:i2], b[j1:j2], strict=False):
            m = LINE.match(x)
            key = m.group("name") if m else x.split()[0] if x.split() else "?"
            out.setdefault(key, []).append(f"- {x}\n+ {y}")
        for x in a[i1 + (j2 - j1) : i2]:
            out.setdefault("(only in strace)", []).append(f"- {x}")
        for y in b[j1 + (i2 - i1) : j2]:
            out.setdefault("(only in sysgate)", []).append(f"+ {y}")
    return out


def path_env() -> dict[str, str]:
    return dict(GUEST_ENV, PATH=os.environ.get("PATH", GUEST_ENV["PATH"]))


# -- several processes (-f, -ff) ---------------------------------------------------------------

PID_LEAD = re.compile(r"^(\d+) +")
UNFINISHED = " <unfinished ...>"
RESUMED = re.compile(r"^<\.\.\. (?P<name>\w+) resumed>")
CHILD_RESULT = re.compile(r"^(?:clone|clone3|fork|vfork)\(.*\) += (\d+)$")
CHILD_TIMES = [(r"si_utime=\d+, si_stime=\d+", "si_utime=U, si_stime=S")]


def join_resumed(lines: Iterable[str]) -> list[str]:
    """One task's lines with each `X(... <unfinished ...>` and its `<... X resumed>...` made
    one line again, as if no other task had cut it (the interleaving of tasks is the
    schedulers', not the tracer's)."""
    out: list[str] = []
    open_at: int | None = None
    for line in lines:
        m = RESUMED.match(line)
        if m is not None and open_at is not None:
            out[open_at] = out[open_at][: -len(UNFINISHED)] + line[m.end():]
            open_at = None
            continue
        if line.endswith(UNFINISHED) and not line.startswith("<..."):
            open_at = len(out)
        out.append(line)
    return out


def _by_pid(trace: str) -> tuple[list[int], dict[int, list[str]]]:
    """A `-f -o FILE` trace split by the pid each line starts with (in order of appearance)."""
    order: list[int] = []
    lines: dict[int, list[str]] = {}
    for line in trace.splitlines():
        m = PID_LEAD.match(line)
        if m is None:
            continue
        pid = int(m.group(1))
        if pid not in lines:
            order.append(pid)
            lines[pid] = []
        lines[pid].append(line[m.end():])
    return order, lines


def name_tasks(first: int, lines: dict[int, list[str]]) -> dict[str, list[str]]:
    """Each task's joined lines under a name that does not depend on pid numbers: P for
    the first, P.1 for its first child (the result of its first clone/fork/vfork), ..."""
    named: dict[str, list[str]] = {}
    names: dict[int, str] = {}
    todo = [("P", first)]
    while todo:
        name, pid = todo.pop()
        own = join_resumed(lines.get(pid, []))
        named[name] = own
        names[pid] = name
        children = [int(m.group(1)) for line in own if (m := CHILD_RESULT.match(line)) is not None]
        todo += [(f"{name}.{i + 1}", c) for i, c in enumerate(children)]
    return {name: [subst_pids(x, names) for x in own] for name, own in named.items()}


PID_PLACES = [re.compile(p) for p in (
    r"^(?:clone|clone3|fork|vfork|wait4|waitid|getpid|gettid|getppid)\(.*\) += (\d+)$", r"si_pid=(\d+)",
    r"parent_tid=\[(\d+)\]", r"^waitid\(P_PID, (\d+),", r"^wait4\((\d+),", r"superseded by execve in pid (\d+)")]


def subst_pids(line: str, names: dict[int, str]) -> str:
    """The pids of known tasks, where a line shows one, replaced by the task's name."""
    for pattern in PID_PLACES:
        m = pattern.search(line)
        if m is not None and int(m.group(1)) in names:
            line = line[: m.start(1)] + names[int(m.group(1))] + line[m.end(1) :]
    return line


def tasks_of(trace: str | dict[int, str]) -> dict[str, list[str]]:
    """The tasks of a -f trace (one text) or of -ff files (pid -> text), named by name_tasks."""
    if isinstance(trace, str):
        order, lines = _by_pid(trace)
        if not order:
            return {}
        return name_tasks(order[0], lines)
    lines = {pid: text.splitlines() for pid, text in trace.items()}
    return name_tasks(min(lines), lines) if lines else {}


def assert_same_tasks(theirs: dict[str, list[str]], ours: dict[str, list[str]],
                      norm: Normaliser | None = None) -> None:
    """The same tasks (by name), each with the same normalised lines."""
    norm = norm or Normaliser(extra=list(CHILD_TIMES))
    assert sorted(ours) == sorted(theirs), f"tasks: strace {sorted(theirs)}, sysgate {sorted(ours)}"
    problems = []
    for name in sorted(theirs):
        a = [x for x in (norm.line(x) for x in theirs[name]) if x is not None]
        b = [x for x in (norm.line(x) for x in ours[name]) if x is not None]
        a = [re.sub(r"\) += ", ") = ", x) for x in a]
        b = [re.sub(r"\) += ", ") = ", x) for x in b]
        if a != b:
            problems.append(f"task {name}:\n" + diff(a, b))
    if problems:
        pytest.fail("the traces differ (after normalisation):\n" + "\n".join(problems), pytrace=False)


def separate_files(base: Path) -> dict[int, str]:
    """-ff's FILE.PID files next to `base` (FILE), by pid."""
    out = {}
    for f in base.parent.glob(base.name + ".*"):
        suffix = f.name[len(base.name) + 1 :]
        if suffix.isdigit():
            out[int(suffix)] = f.read_text(errors="surrogateescape")
    return out
