"""The command line: `sysgate run` and `sysgate syscalls`.

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
from sysgate.kernel.kernel import INTERNAL_ERROR_STATUS, Kernel
from sysgate.uapi.signal import SIGINT, SIGPIPE, describe


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sysgate", description="Run Linux programs on a user-space kernel.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a program", description="Run a static x86-64 Linux program.")
    run.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                     help="set a variable in the guest's environment")
    run.add_argument("--unset-env", action="append", default=[], metavar="NAME",
                     help="remove a variable from the guest's environment")
    run.add_argument("--syscalls", action="append", default=[], metavar="FILE",
                     help="a Python file declaring system calls with @kernel.syscall(nr=...)")
    run.add_argument("program", help="the program (searched in PATH if it has no '/')")
    run.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
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


def cmd_run(ns: argparse.Namespace) -> int:
    env = initial_environ()
    for item in ns.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SysgateError(f"--env {item!r}: expected NAME=VALUE", 2)
        env[os.fsencode(key)] = os.fsencode(value)
    for key in ns.unset_env:
        env.pop(os.fsencode(key), None)
    path = _find_program(ns.program)
    argv = [os.fsencode(ns.program)] + [os.fsencode(a) for a in ns.args]
    # The guest, not sysgate, reacts to Ctrl-C; until guest handlers exist, the default
    # action (terminate) is what a native program without a handler would get.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    kernel = Kernel()
    load_user_syscalls(kernel, ns.syscalls)
    status = kernel.run(argv, guest_environ(env), (0, 1, 2), os.fsencode(path))
    if status.signal is not None:
        if status.signal not in (SIGINT, SIGPIPE):
            sys.stderr.write(describe(status.signal) + "\n")
        return 128 + status.signal
    return status.code or 0


def cmd_syscalls(ns: argparse.Namespace) -> int:
    from sysgate.tables.listing import render_json, render_text

    kernel = Kernel()
    load_user_syscalls(kernel, ns.syscalls)
    table = kernel.table64
    sys.stdout.write(render_json(table) if ns.json else render_text(table))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ns = _parser().parse_args(argv)
    try:
        if ns.command == "run":
            return cmd_run(ns)
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
