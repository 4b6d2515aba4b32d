"""The tracer's own lines: results, nameless and raw calls, the leader, -a, status
filters, injection notes, dumps, the execve/signal/exit lines and JSON records.
(Argument printers are tested with their decoders, in test_dec_*.)"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from sysgate.entry.traced import make_traced_entry
from sysgate.fs.hostfs import HostFile
from sysgate.kernel.kernel import ExitStatus
from sysgate.kernel.signal import SigInfo
from sysgate.kernel.task import Task
from sysgate.trace.options import parse
from sysgate.trace.strace import Tracer, chex, err_text
from sysgate.uapi.errno import Errno
from tests.conftest import USER_BUF, put_str
from tests.unit.trace.conftest import traced

IP = 0x401000


def tracer(t: Task, *options: str, out: io.StringIO | None = None) -> Tracer:
    opts, _ = parse([*options, "prog"], {nr: s.name for nr, s in t.kernel.table64.slots.items()})
    return t.kernel.trace(opts, out if out is not None else io.StringIO())


def run(t: Task, nr: int, *args: int, options: tuple[str, ...] = ()) -> str:
    """Dispatch number `nr` with `args` through the traced entry; the trace it printed."""
    out = io.StringIO()
    tracer(t, *options, out=out)
    t.kernel.current = t
    try:
        frame = [nr, *[a & 0xFFFFFFFFFFFFFFFF for a in args], *([0] * (6 - len(args))), IP, 0x202]
        make_traced_entry(t.kernel)(frame)
    finally:
        t.kernel.tracer = None
    return out.getvalue()


def test_result_column_and_the_space_after_a_long_call(task: Task) -> None:
    assert traced(task, "getuid") == f"{'getuid()':<39} = {task.cred.uid}\n"
    assert traced(task, "getuid", options=("-a", "5")) == f"getuid() = {task.cred.uid}\n"
    assert traced(task, "getuid", options=("-a", "12")) == f"getuid()    = {task.cred.uid}\n"


def test_nameless_numbers_print_every_register_as_strace_does(task: Task) -> None:
    assert run(task, 1000, 1, 2, 3) == \
        "syscall_0x3e8(0x1, 0x2, 0x3, 0, 0, 0)   = -1 ENOSYS (Function not implemented)\n"
    assert run(task, 0xFFFFFFFF).startswith("syscall_0xffffffffffffffff(0, 0, 0, 0, 0, 0) = -1 ENOSYS")
    assert run(task, 0x400003E8).startswith("syscall_0x400003e8(")
    assert run(task, 1000, options=("-e", "trace=none")).startswith("syscall_0x3e8(")  # always traced


def test_raw_calls(task: Task) -> None:
    assert run(task, 39, options=("-e", "raw=getpid")) == f"{'getpid()':<39} = {task.pid:#x}\n"
    put_str(task, b"hi")
    assert run(task, 1, 1000, USER_BUF, 2, options=("-e", "raw=write")) == \
        f"{f'write(0x3e8, {USER_BUF:#x}, 0x2)':<39} = -1 EBADF (Bad file descriptor)\n"


def test_err_text() -> None:
    assert err_text(2) == "-1 ENOENT (No such file or directory)"
    assert err_text(512) == "? ERESTARTSYS (To be restarted if SA_RESTART is set)"
    assert err_text(524) == "-1 ENOTSUPP (Unknown error 524)"
    assert err_text(4000) == "-1 (errno 4000)"
    assert chex(0) == "0" and chex(-1) == "0xffffffffffffffff" and chex(16) == "0x10"


def test_leader(task: Task) -> None:
    assert traced(task, "getuid", options=("-n",)).startswith("[ 102] getuid()")
    assert traced(task, "getuid", options=("-i",)).startswith("[0000000000000002] getuid()")  # after `syscall`
    assert run(task, 0xFFFFFFFF, options=("-n",)).startswith("[???] syscall_0xffffffffffffffff(")
    assert run(task, 0x400003E8, options=("-n",)).startswith("[1073742824] syscall_0x400003e8(")
    line = traced(task, "getuid", options=("-tt", "-r", "-T"))
    assert line[:8].count(":") == 2 and "(+     0.000000) getuid()" in line and line.rstrip().endswith(">")


def test_status_filters(task: Task) -> None:
    assert traced(task, "close", 1000, options=("-z",)) == ""
    assert traced(task, "close", 1000, options=("-Z",)).startswith("close(1000)")
    assert traced(task, "getuid", options=("-Z",)) == ""
    assert traced(task, "getuid", options=("-e", "status=!failed")).startswith("getuid()")


def test_injection_notes(task: Task) -> None:
    assert traced(task, "getuid", options=("-e", "inject=getuid:retval=5")) == f"{'getuid()':<39} = 5 (INJECTED)\n"
    assert traced(task, "getuid", options=("-e", "inject=getuid:error=EPERM:delay_exit=1ns")) == \
        f"{'getuid()':<39} = -1 EPERM (Operation not permitted) (INJECTED) (DELAYED)\n"
    assert traced(task, "getuid", options=("-e", "inject=getuid:delay_enter=1")).endswith(" (DELAYED)\n")
    put_str(task, b"/nonexistent-dir/x")
    line = traced(task, "openat", -100, USER_BUF, 0, options=("-e", "inject=openat:poke_enter=@arg2=2f00"))
    call = 'openat(AT_FDCWD, "/", O_RDONLY)'
    assert line == f"{call:<39} = 3 (INJECTED: args)\n"
    assert traced(task, "getuid", options=("-e", "inject=getuid:retval=1:poke_exit=@arg1=00")).endswith(
        "(INJECTED)\n")  # getuid has no argument 1: nothing poked


def test_injected_error_does_not_run_the_call(task: Task, tmp_path: Path) -> None:
    put_str(task, b"created")
    traced(task, "openat", -100, USER_BUF, 0o101, 0o644, options=("-e", "inject=openat:error=ENOSPC"))
    assert not (tmp_path / "created").exists()
    traced(task, "openat", -100, USER_BUF, 0o101, 0o644, options=("-e", "trace=close", "-e", "inject=openat:error=1"))
    assert (tmp_path / "created").exists()  # injection applies to traced calls only


def test_abbrev_and_verbose_sets(task: Task) -> None:
    assert traced(task, "uname", USER_BUF, options=("-e", "verbose=none")) == \
        f"{f'uname({USER_BUF:#x})':<39} = 0\n"
    assert traced(task, "uname", USER_BUF).startswith("uname({sysname=")


def test_dumps_after_the_line(task: Task) -> None:
    put_str(task, b"Hello, world!\n\x01" + bytes(range(0x41, 0x53)))
    r, w = os.pipe()
    try:
        task.files.install(5, HostFile(w, 1, "pipe:[1]"), False)
        out = traced(task, "write", 5, USER_BUF, 33, options=("-e", "write=5"))
        other = traced(task, "write", 5, USER_BUF, 3, options=("-e", "write=4"))
    finally:
        os.close(r)
    assert out.splitlines()[1:] == [
        " | 00000  48 65 6c 6c 6f 2c 20 77  6f 72 6c 64 21 0a 01 41  Hello, world!..A |",
        " | 00010  42 43 44 45 46 47 48 49  4a 4b 4c 4d 4e 4f 50 51  BCDEFGHIJKLMNOPQ |",
        " | 00020  52                                                R                |",
    ]
    assert len(other.splitlines()) == 1


def test_read_dumps_only_what_was_read(task: Task) -> None:
    r, w = os.pipe()
    try:
        os.write(w, b"abc")
        task.files.install(6, HostFile(r, 0, "pipe:[2]"), False)
        ok = traced(task, "read", 6, USER_BUF, 100, options=("-e", "read=6"))
        iov = USER_BUF + 0x200
        task.mm.write(iov, (USER_BUF).to_bytes(8, "little") + (2).to_bytes(8, "little")
                      + (USER_BUF + 16).to_bytes(8, "little") + (10).to_bytes(8, "little"))
        os.write(w, b"xyz")
        vec = traced(task, "readv", 6, iov, 2, options=("-e", "read=all"))
        bad = traced(task, "read", 1000, USER_BUF, 100, options=("-e", "read=all"))
    finally:
        os.close(w)
    assert ok.splitlines()[1:] == [" | 00000  61 62 63" + " " * 42 + "abc              |"]
    assert vec.splitlines()[1:] == [" * 2 bytes in buffer 0", " | 00000  78 79" + " " * 45 + "xy               |",
                                    " * 1 bytes in buffer 1", " | 00000  7a" + " " * 48 + "z                |"]
    assert len(bad.splitlines()) == 1


def test_json_records(task: Task) -> None:
    out = traced(task, "close", 1000, options=("--trace-format=json",))
    record = json.loads(out)
    assert record["type"] == "syscall" and record["syscall"] == "close" and record["args"] == {"fd": 1000}
    assert record["errno"] == "EBADF" and record["result"] == -9 and record["text"] == ["1000"]
    assert record["line"] == "close(1000) = -1 EBADF (Bad file descriptor)"


def test_json_summary_record(task: Task) -> None:
    out = io.StringIO()
    tr = tracer(task, "--trace-format=json", "-C", "-S", "calls", out=out)
    tr.summary.add(3, "close", 10, True)
    tr.finish()
    assert json.loads(out.getvalue()) == {"type": "summary", "rows": [
        {"syscall": "close", "calls": 1, "errors": 1, "time_ns": 10, "min_ns": 10, "max_ns": 10}]}
    assert task.kernel.tracer is None  # a tracer traces one run


def test_lines_cut_by_another_line(task: Task) -> None:
    out = io.StringIO()
    tr = tracer(task, out=out)
    tr.begin(task, "read(3", sep=True)
    tr.whole_line(task, "--- SIGCHLD {si_signo=SIGCHLD} ---")
    tr.end_line(task, '"abc", 3', "3", resumed="read")
    tr.begin(task, "prctl(PR_GET_DUMPABLE", sep=True)
    tr.end_line(task, "", "1", resumed="prctl")
    assert out.getvalue().splitlines() == [
        "read(3,  <unfinished ...>",
        "--- SIGCHLD {si_signo=SIGCHLD} ---",
        '<... read resumed>"abc", 3)             = 3',
        "prctl(PR_GET_DUMPABLE)                  = 1",
    ]


def test_execve_line(task: Task) -> None:
    def line(*options: str, error: int = 0, argv: tuple[bytes, ...] = (b"prog", b"arg")) -> str:
        out = io.StringIO()
        tr = tracer(task, *options, out=out)
        tr.execve(task, b"/bin/prog", list(argv), [b"A=1", b"B=2"], error, 1500, 0, 0x401000, 0x7FFFFFFFE000)
        return out.getvalue()

    assert line() == 'execve("/bin/prog", ["prog", "arg"], 0x7fffffffe020 /* 2 vars */) = 0\n'
    assert line("-v") == 'execve("/bin/prog", ["prog", "arg"], ["A=1", "B=2"]) = 0\n'
    assert line("-s", "1", argv=(b"prog", b"arg", b"x")) == \
        'execve("/bin/prog", ["p"..., ...], 0x7fffffffe028 /* 2 vars */) = 0\n'
    assert line("-e", "verbose=none") == 'execve("/bin/prog", 0x7fffffffe008, 0x7fffffffe020) = 0\n'
    assert line(error=Errno.EACCES).endswith(" = -1 EACCES (Permission denied)\n")
    assert line("-Z") == "" and line("-e", "trace=write") == ""
    assert line("-T").endswith(" = 0 <0.000001>\n")
    assert line("-n", "-i").startswith("[  59] [0000000000401000] execve(")


def test_signal_and_exit_lines(task: Task) -> None:
    def lines(*options: str) -> list[str]:
        out = io.StringIO()
        tr = tracer(task, *options, out=out)
        tr.signal(task, SigInfo(11, 1, addr=0))
        tr.exited(task, ExitStatus(signal=11))
        tr.exited(task, ExitStatus(code=3))  # a process ends once: this one is not written
        out2 = io.StringIO()
        tracer(task, *options, out=out2).exited(task, ExitStatus(code=3))
        return out.getvalue().splitlines() + out2.getvalue().splitlines()

    assert lines() == ["--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=NULL} ---",
                       "+++ killed by SIGSEGV +++", "+++ exited with 3 +++"]
    assert lines("-e", "signal=none") == ["+++ exited with 3 +++"]
    assert lines("-qq") == lines("-e", "quiet=exit") == lines()[:2]
    assert lines("-c") == []


@pytest.mark.parametrize(("options", "name"), [(("-o", "{d}/log"), "log"), (("-ff", "-o", "{d}/log"), "log.2")])
def test_output_files(task: Task, tmp_path: Path, options: tuple[str, ...], name: str) -> None:
    opts, _ = parse([o.format(d=tmp_path) for o in options] + ["prog"], {39: "getpid"})
    tr = task.kernel.trace(opts)
    tr.whole_line(task, "first")
    tr.finish()
    assert (tmp_path / name).read_text() == "first\n"
    opts, _ = parse(["-A", "-o", str(tmp_path / "log"), "prog"], {})
    tr = task.kernel.trace(opts)
    tr.whole_line(task, "second")
    tr.finish()
    assert (tmp_path / "log").read_text().endswith("second\n")


def test_output_to_a_command(task: Task, tmp_path: Path) -> None:
    opts, _ = parse(["-o", f"|cat > {tmp_path}/piped", "prog"], {})
    tr = task.kernel.trace(opts)
    tr.whole_line(task, "through a pipe")
    tr.finish()
    assert (tmp_path / "piped").read_text() == "through a pipe\n"


def test_pid_prefixes(task: Task, tmp_path: Path) -> None:
    """`[pid N] ` once strace traces more than one task (with -f: a child it followed)."""
    other = task.kernel.create_init_task((0, 1, 2))
    task.kernel.current = task
    assert other.tid != task.tid
    assert traced(task, "getuid").startswith("getuid()")  # the other task is not traced
    out = io.StringIO()
    tr = tracer(task, "-f", out=out)
    tr.whole_line(task, tr.leader_of(task, None, None) + "x")
    tr.task_created(task, other)
    tr.whole_line(task, tr.leader_of(task, None, None) + "y")
    assert out.getvalue() == f"x\n[pid {task.tid:5d}] y\n"
    tr.finish()
    opts, _ = parse(["-f", "-o", str(tmp_path / "log"), "prog"], {})
    tr = task.kernel.trace(opts)
    tr.whole_line(task, tr.leader_of(task, None, None) + "x")
    tr.finish()
    assert (tmp_path / "log").read_text() == f"{task.tid:<5d} x\n"
