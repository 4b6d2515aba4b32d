"""The tracer with several tasks (trace/tasks.py and strace.py): who is traced with and
without -f, `[pid N]`, lines cut by another task's (`<unfinished ...>` / `<... X
resumed>`), what strace prints before the cut, and the `= ?` and `+++` lines of a task
that ends inside a call. Calls are fed to the Tracer as the traced entry does."""

from __future__ import annotations

import io
import struct

from sysgate.kernel.task import Task
from sysgate.trace.hooks import SyscallCall
from sysgate.trace.options import parse
from sysgate.trace.strace import Tracer
from tests.conftest import USER_BUF


def tracer(t: Task, *options: str) -> tuple[Tracer, io.StringIO]:
    table = t.kernel.table64
    opts, _ = parse([*options, "prog"], {nr: s.name for nr, s in table.slots.items()}, table.slots)
    out = io.StringIO()
    tr = t.kernel.trace(opts, out)
    tr.procs.follows(t)  # the task strace started
    return tr, out


def call(t: Task, name: str, *args: int) -> SyscallCall:
    slot = t.kernel.table64.by_name(name)
    assert slot is not None and slot.spec is not None
    frame = [slot.nr, *[a & 0xFFFFFFFFFFFFFFFF for a in args], *([0] * (6 - len(args))), 0x401000, 0x202]
    return SyscallCall(t, slot.nr, slot, frame, slot.spec.decode(frame, 64))


def ended(tr: Tracer, t: Task, wstatus: int) -> None:
    """What do_exit does before it tells the kernel's tracer."""
    t.exit_code = wstatus
    if t in t.group.threads:
        t.group.threads.remove(t)
    tr.task_exited(t)


def done(tr: Tracer, c: SyscallCall, result: int) -> None:
    c.result = result
    tr.exit(c)


def pad(text: str, result: str) -> str:
    """A finished line: the result at column 40, as strace's tabto pads it."""
    return f"{text:<39} = {result}"


def second(task: Task) -> Task:
    other = task.kernel.create_init_task((0, 1, 2))
    task.kernel.current = task
    return other


def test_a_call_cut_by_another_task_is_resumed(task):
    b = second(task)
    tr, out = tracer(task, "-f")
    tr.task_created(task, b)
    task.mm.write(USER_BUF, b"hi")
    r = call(task, "read", 0, USER_BUF, 64)
    tr.enter(r)
    g = call(b, "getuid")
    tr.enter(g)
    done(tr, g, 0)
    done(tr, r, 2)
    a, n = f"[pid {task.tid:5d}] ", f"[pid {b.tid:5d}] "
    assert out.getvalue().splitlines() == [f"{a}read(0,  <unfinished ...>", pad(f"{n}getuid()", "0"),
                                           pad(f'{a}<... read resumed>"hi", 64)', "2")]


def test_without_follow_other_tasks_are_not_traced(task):
    b = second(task)
    tr, out = tracer(task)
    tr.task_created(task, b)
    g = call(b, "getuid")
    tr.enter(g)
    done(tr, g, 0)
    ended(tr, b, 0)
    g = call(task, "getuid")
    tr.enter(g)
    done(tr, g, 0)
    assert out.getvalue().splitlines() == [pad("getuid()", "0")]


def test_a_task_ending_in_a_call_ends_its_line_with_a_question_mark(task):
    b = second(task)
    tr, out = tracer(task, "-f")
    tr.task_created(task, b)
    w = call(task, "wait4", -1, USER_BUF, 0, 0)
    tr.enter(w)
    g = call(b, "getuid")  # cuts the wait4 line
    tr.enter(g)
    done(tr, g, 0)
    ended(tr, task, 9)  # killed by SIGKILL while it waited
    done(tr, w, 0)  # the entry's own exit comes later: nothing more is printed
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("wait4(-1,  <unfinished ...>")
    assert lines[2] == f"[pid {task.tid:5d}] <... wait4 resumed> <unfinished ...>) = ?"
    assert lines[3] == f"[pid {task.tid:5d}] +++ killed by SIGKILL +++"
    assert len(lines) == 4


def test_exit_group_then_exited_and_the_prefix_goes_with_the_last_but_one_task(task):
    b = second(task)
    tr, out = tracer(task, "-f")
    tr.task_created(task, b)
    e = call(b, "exit_group", 7)
    tr.enter(e)
    ended(tr, b, 7 << 8)
    g = call(task, "getuid")
    tr.enter(g)
    done(tr, g, 0)
    n = f"[pid {b.tid:5d}] "
    assert out.getvalue().splitlines() == [pad(f"{n}exit_group(7)", "?"), f"{n}+++ exited with 7 +++",
                                           pad("getuid()", "0")]


def test_a_leader_is_reported_after_its_last_thread(task):
    b = second(task)
    b.group = task.group  # a thread of the same process
    task.group.threads = [b]  # the leader has gone (do_exit took it off the list)
    tr, out = tracer(task, "-f")
    tr.task_created(task, b)
    task.exit_code = 0
    tr.task_exited(task)
    assert out.getvalue() == ""
    task.group.threads = []
    b.exit_code = 3 << 8
    tr.task_exited(b)
    # strace drops the thread's tcb before it sees the leader's status: one task left, no prefix
    assert out.getvalue().splitlines() == [f"[pid {b.tid:5d}] +++ exited with 3 +++", "+++ exited with 3 +++"]


def test_what_strace_prints_before_a_cut(task):
    """fcntl's lock and prctl's name are known at entry; clone's tail and TCGETS's termios
    are not, and their separator comes with them."""
    b = second(task)
    tr, out = tracer(task, "-f")
    tr.task_created(task, b)
    task.mm.write(USER_BUF, struct.pack("<hhqqi4x", 1, 0, 0, 0, 0))
    cases = [(call(task, "fcntl", 3, 7, USER_BUF), "fcntl(3, F_SETLKW, {l_type=F_WRLCK, l_whence=SEEK_SET, "
              "l_start=0, l_len=0} <unfinished ...>", "<... fcntl resumed>) = 0"),
             (call(task, "clone", 0x01200011, 0, 0, 0x4AF650, 0),
              "clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD <unfinished ...>",
              "<... clone resumed>, child_tidptr=0x4af650) = 0"),
             (call(task, "clone", 0x11, 0, 0, 0, 0), "clone(child_stack=NULL, flags=SIGCHLD <unfinished ...>",
              "<... clone resumed>) = 0"),
             (call(task, "ioctl", 0, 0x5401, USER_BUF), "ioctl(0, TCGETS <unfinished ...>", None),
             (call(task, "prctl", 15, USER_BUF, 0, 0, 0), 'prctl(PR_SET_NAME, "\\1" <unfinished ...>', None)]
    task.mm.write(USER_BUF, b"\x01\0")
    a = f"[pid {task.tid:5d}] "
    for c, cut, resumed in cases:
        out.seek(0)
        out.truncate()
        tr.enter(c)
        g = call(b, "getuid")
        tr.enter(g)
        done(tr, g, 0)
        done(tr, c, 0 if resumed else -25)
        lines = out.getvalue().splitlines()
        assert lines[0] == a + cut
        if resumed is not None:
            text, result = resumed.rsplit(" = ", 1)
            assert lines[2] == pad(a + text, result)
