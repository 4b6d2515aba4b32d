"""The command line: `sysgate run`, `sysgate trace` and `sysgate syscalls`.

Parses arguments and wires objects; the behaviour lives in the kernel. Errors reach
the user as one line on stderr with a non-zero status, never as a traceback (set
SYSGATE_DEBUG=1 to see the traceback of an internal error).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from sysgate.api import guest_environ
from sysgate.errors import SysgateError
from sysgate.kernel.kernel import Kernel
from sysgate.kernel.traps import INTERNAL_ERROR_STATUS
from sysgate.uapi.signal import SIGINT, SIGPIPE, describe


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sysgate", description="Run Linux programs on a user-space kernel.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a program", description="Run an x86-64 Linux program.")
    run.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                     help="set a variable in the guest's environment")
    run.add_argument("--unset-env", action="append", default=[], metavar="NAME",
                     help="remove a variable from the guest's environment")
    run.add_argument("--syscalls", action="append", default=[], metavar="FILE",
                     help="a Python file declaring system calls with @kernel.syscall(nr=...)")
    run.add_argument("--aslr", action="store_true",
                     help="randomise the address space as Linux does (default: off, as under setarch -R)")
    run.add_argument("--aslr-seed", type=int, metavar="N",
                     help="seed --aslr's random numbers, to reproduce a layout (implies --aslr)")
    run.add_argument("--seed", type=int, metavar="N",
                     help="reproducible scheduling: choices drawn from a generator seeded with N and time "
                     "slices counted in instructions (slower compute; default: first come, first served, 10 ms slices)")
    run.add_argument("--root", metavar="DIR",
                     help="run with DIR as the program's / (the program is looked up there); "
                     "nothing outside it is reached")
    run.add_argument("program", help="the program (searched in PATH if it has no '/')")
    run.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    tr = sub.add_parser("trace", add_help=False, help="run a program and trace its system calls as strace does",
                        description="sysgate trace [strace options] PROG [ARGS...]")
    tr.add_argument("rest", nargs=argparse.REMAINDER)
    rf = sub.add_parser("rootfs", help="make a root folder holding a program and the libraries it needs",
                        description="Copy PROG, its ELF interpreter and the shared libraries it needs (as ld.so "
                        "finds them) into DIR at the same paths, and make DIR/dev, DIR/proc and DIR/tmp, so "
                        "that `sysgate run --root DIR PROG` runs it.")
    rf.add_argument("--file", action="append", default=[], metavar="PATH",
                    help="copy another host file too, at the same path (e.g. /etc/passwd)")
    rf.add_argument("dir", metavar="DIR", help="the folder to fill (made if missing)")
    rf.add_argument("programs", metavar="PROG", nargs="+", help="a program (searched in PATH if it has no '/')")
    sc = sub.add_parser("syscalls", help="list the x86-64 system call table and its support")
    sc.add_argument("--json", action="store_true", help="print JSON for tools")
    sc.add_argument("--syscalls", action="append", default=[], metavar="FILE",
                    help="include the system calls a Python file declares")
    return p


def _find_program(name: str) -> str:
    if "/" in name:
        return name
    found = shutil.which(name)
    if found is None:
        raise SysgateError(f"{name}: command not found", 127)
    return found


def _find_in_root(root_dir: str, name: str, env: dict[bytes, bytes]) -> str:
    """The program inside a root folder: a name without '/' is searched in the guest's
    PATH there (a shell inside would find it the same way)."""
    if "/" in name:
        return name
    from sysgate.fs.root import Root

    root = Root(root_dir)
    try:
        found = root.find_program(os.fsencode(name), env.get(b"PATH", b"/usr/local/bin:/usr/bin:/bin"))
    finally:
        root.close()
    if found is None:
        raise SysgateError(f"{name}: command not found", 127)
    return os.fsdecode(found)


def initial_environ() -> dict[bytes, bytes]:
    """The environment sysgate was started with.

    Python may change its own environment at start-up (PEP 538 sets LC_CTYPE when the
    locale is C), so the guest gets the block the kernel gave sysgate, from
    /proc/self/environ where there is one.
    """
    try:
        with open("/proc/self/environ", "rb") as f:
            block = f.read()
    except OSError:
        return dict(os.environb)
    env: dict[bytes, bytes] = {}
    for item in block.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep and key:
            env.setdefault(key, value)
    return env


def load_user_syscalls(kernel: Kernel, paths: list[str]) -> None:
    """Run each file with `kernel` in its globals, so `@kernel.syscall(nr=...)` declares."""
    from sysgate.syscall import SyscallDeclarationError

    for path in paths:
        try:
            source = Path(path).read_text()
        except OSError as exc:
            raise SysgateError(f"--syscalls {path}: {exc.strerror}", 2) from None
        scope = {"__name__": "__sysgate_syscalls__", "__file__": path, "kernel": kernel}
        try:
            exec(compile(source, path, "exec"), scope)  # noqa: S102 - the user's own declarations
        except SyscallDeclarationError as exc:
            raise SysgateError(f"--syscalls {path}: {exc}", 2) from None
        except Exception as exc:  # noqa: BLE001 - any error in the user's file is reported in one line
            where = traceback.extract_tb(exc.__traceback__)[-1]
            raise SysgateError(f"--syscalls {path}:{where.lineno}: {type(exc).__name__}: {exc}", 2) from None


def guest_env(sets: list[str], unsets: list[str]) -> dict[bytes, bytes]:
    env = initial_environ()
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SysgateError(f"--env {item!r}: expected NAME=VALUE", 2)
        env[os.fsencode(key)] = os.fsencode(value)
    for key in unsets:
        env.pop(os.fsencode(key), None)
    return env


def cmd_run(ns: argparse.Namespace) -> int:
    env = guest_env(ns.env, ns.unset_env)
    kernel = Kernel(aslr=ns.aslr or ns.aslr_seed is not None, aslr_seed=ns.aslr_seed, root=ns.root, seed=ns.seed)
    load_user_syscalls(kernel, ns.syscalls)
    return run_program(kernel, ns.program, ns.args, env)


def run_program(kernel: Kernel, program: str, args: list[str], env: dict[bytes, bytes]) -> int:
    path = _find_program(program) if kernel.root_dir is None else _find_in_root(kernel.root_dir, program, env)
    argv = [os.fsencode(program)] + [os.fsencode(a) for a in args]
    # Ctrl-C is the guest's: the run loop passes it on. Before and after the loop, the
    # default action, not a KeyboardInterrupt traceback. Ignored at start (a background
    # job), it stays ignored, and the guest inherits that.
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    status = kernel.run(argv, guest_environ(env), (0, 1, 2), os.fsencode(path))
    if status.signal is not None:
        if status.signal not in (SIGINT, SIGPIPE):
            sys.stderr.write(describe(status.signal) + "\n")
        return 128 + status.signal
    return status.code or 0


TRACE_USAGE = """\
usage: sysgate trace [-ACcfhiknqrtTvVwxyzZ] [-a COLUMN] [-e EXPR]... [-o FILE] [-s STRSIZE]
                     [-S SORTBY] [-U COLUMNS] [-O OVERHEAD] [-X raw|abbrev|verbose]
                     [-E VAR=VAL]... [--unset-env VAR]... [--syscalls FILE]...
                     [--trace-format=text|json] PROG [ARGS...]

Runs PROG under sysgate and prints its system calls as strace 6.1 does; the options
have strace's meaning (see strace(1)), long forms included. -e takes trace=, abbrev=,
verbose=, raw=, signal=, status=, quiet=, read=, write=, decode-fds=, inject= and
fault=. The times of -c are measured inside sysgate: the CPU time its kernel spent in
each call, or with -w the wall-clock time. Options that need a tracer apart from the
program (-p, -u, -D, -b, -I, -d) or a feature sysgate lacks (-P, -Y, --secontext)
are refused.

sysgate's own options:
  --syscalls FILE          a Python file declaring system calls with @kernel.syscall(nr=...)
  --unset-env VAR          remove VAR from the program's environment (as -E VAR)
  --trace-format=json      one JSON object a line instead of strace's lines
  --aslr                   randomise the address space as Linux does (default: off)
  --aslr-seed N            seed --aslr's random numbers (implies --aslr)
  --root DIR               run with DIR as the program's / (see sysgate run --root)
  --seed N                 schedule tasks with choices seeded by N (see sysgate run --seed)
"""


def trace_environ(changes: list[str], unsets: list[str]) -> dict[bytes, bytes]:
    """The guest's environment after -E VAR=VAL (set) and -E VAR / --unset-env VAR (remove), in order."""
    env = initial_environ()
    for item in changes:
        key, sep, value = item.partition("=")
        if sep:
            env[os.fsencode(key)] = os.fsencode(value)
        else:
            env.pop(os.fsencode(key), None)
    for key in unsets:
        env.pop(os.fsencode(key), None)
    return env


def cmd_trace(rest: list[str]) -> int:
    from sysgate import __version__
    from sysgate.trace import options
    from sysgate.trace.qualify import SyscallNames

    pairs, program = options.scan(rest)
    aslr, aslr_seed = aslr_options(pairs)
    roots = [v for k, v in pairs if k == "root" and v is not None]
    seeds = [v for k, v in pairs if k == "seed" and v is not None]
    try:
        seed = int(seeds[-1]) if seeds else None
    except ValueError:
        raise SysgateError(f"trace: invalid --seed argument: '{seeds[-1]}' (an integer)", 1) from None
    kernel = Kernel(aslr=aslr, aslr_seed=aslr_seed, root=roots[-1] if roots else None, seed=seed)
    load_user_syscalls(kernel, [v for k, v in pairs if k == "syscalls" and v is not None])
    names = SyscallNames({nr: s.name for nr, s in kernel.table64.slots.items()})
    opts = options.build(pairs, names, bool(program))
    if opts.show_help:
        sys.stdout.write(TRACE_USAGE)
        return 0
    if opts.show_version:
        sys.stdout.write(f"sysgate trace -- the strace 6.1 output of sysgate {__version__}\n")
        return 0
    if not program:
        raise SysgateError("trace: must have PROG [ARGS]; see 'sysgate trace -h'", 1)
    env = trace_environ(opts.env, opts.unset_env)
    kernel.trace(opts)
    return run_program(kernel, program[0], program[1:], env)


def aslr_options(pairs: list[tuple[str, str | None]]) -> tuple[bool, int | None]:
    """Whether trace's --aslr or --aslr-seed N asks for randomisation, and the seed."""
    seeds = [v for k, v in pairs if k == "aslr-seed" and v is not None]
    try:
        seed = int(seeds[-1]) if seeds else None
    except ValueError:
        raise SysgateError(f"trace: invalid --aslr-seed argument: '{seeds[-1]}' (an integer)", 1) from None
    return seed is not None or any(k == "aslr" for k, _ in pairs), seed


def cmd_rootfs(ns: argparse.Namespace) -> int:
    from sysgate.rootfs import populate

    for line in populate(ns.dir, [_find_program(p) for p in ns.programs], ns.file):
        sys.stdout.write(line + "\n")
    return 0


def cmd_syscalls(ns: argparse.Namespace) -> int:
    from sysgate.tables.listing import render_json, render_text

    kernel = Kernel()
    load_user_syscalls(kernel, ns.syscalls)
    table = kernel.table64
    sys.stdout.write(render_json(table) if ns.json else render_text(table))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["trace"]:
            return cmd_trace(args[1:])
        ns = _parser().parse_args(args)
        if ns.command == "run":
            return cmd_run(ns)
        if ns.command == "rootfs":
            return cmd_rootfs(ns)
        return cmd_syscalls(ns)
    except SysgateError as exc:
        if os.environ.get("SYSGATE_DEBUG") and exc.__cause__ is not None:
            traceback.print_exception(exc.__cause__)
        sys.stderr.write(f"sysgate: {exc}\n")
        return exc.status
    except BrokenPipeError:
        return 128 + SIGPIPE
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        if os.environ.get("SYSGATE_DEBUG"):
            traceback.print_exc()
        sys.stderr.write(f"sysgate: internal error: {type(exc).__name__}: {exc}\n")
        return INTERNAL_ERROR_STATUS
