"""The Python API: run a program as `subprocess.run` would, or configure a Kernel first.

    >>> import sysgate
    >>> r = sysgate.run(["/bin/busybox", "echo", "hi"], capture_output=True)
    >>> r.returncode, r.stdout
    (0, b'hi\\n')
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sysgate.kernel.kernel import ExitStatus, Kernel

StrOrBytes = str | bytes
Environ = Mapping[str, str] | Mapping[bytes, bytes] | Mapping[StrOrBytes, StrOrBytes]


def _b(s: StrOrBytes) -> bytes:
    return os.fsencode(s)


@dataclass(frozen=True, slots=True)
class RunResult:
    """What `run` returns: like subprocess.CompletedProcess."""

    args: list[bytes]
    returncode: int  # the exit code, or -N if killed by signal N
    stdout: bytes | None
    stderr: bytes | None
    status: ExitStatus


def guest_environ(env: Environ | None) -> list[bytes]:
    """The guest's environment: `env`, or sysgate's own when None."""
    if env is None:
        return [k + b"=" + v for k, v in os.environb.items()]
    return [_b(k) + b"=" + _b(v) for k, v in env.items()]


def run(
    argv: Sequence[StrOrBytes],
    *,
    env: Environ | None = None,
    stdin: bytes | int | None = None,
    capture_output: bool = False,
    kernel: Kernel | None = None,
    executable: StrOrBytes | None = None,
    root: StrOrBytes | os.PathLike[str] | None = None,
) -> RunResult:
    """Run a Linux program under sysgate and wait for it.

    `stdin` is bytes to feed through a pipe, a host fd, or None for sysgate's own
    stdin; with `capture_output` the guest's stdout and stderr are pipes whose contents
    are returned. `kernel` lets a configured Kernel (limits, user syscalls, hooks) run
    the program; by default a new one is made. `root` confines the program to a host
    folder, which it sees as `/` (Kernel(root=...) for a configured kernel); the
    program's path is looked up there.
    """
    args = [_b(a) for a in argv]
    if kernel is not None and root is not None:
        raise TypeError("run(): give the root folder to the Kernel (Kernel(root=...)), not to run()")
    kernel = kernel or Kernel(root=os.fsdecode(root) if root is not None else None)
    closers: list[int] = []
    threads: list[threading.Thread] = []
    outputs: dict[int, bytearray] = {}

    def pipe_in(data: bytes) -> int:
        r, w = os.pipe()

        def feed() -> None:
            try:
                _write_all(w, data)
            except BrokenPipeError:
                pass
            finally:
                os.close(w)

        threads.append(threading.Thread(target=feed, daemon=True))
        closers.append(r)
        return r

    def pipe_out(key: int) -> int:
        r, w = os.pipe()
        outputs[key] = bytearray()

        def drain() -> None:
            with os.fdopen(r, "rb", buffering=0) as f:
                while chunk := f.read(65536):
                    outputs[key] += chunk

        threads.append(threading.Thread(target=drain, daemon=True))
        closers.append(w)
        return w

    fd0 = pipe_in(stdin) if isinstance(stdin, bytes) else (0 if stdin is None else stdin)
    fd1 = pipe_out(1) if capture_output else 1
    fd2 = pipe_out(2) if capture_output else 2
    for th in threads:
        th.start()
    try:
        status = kernel.run(args, guest_environ(env if env is not None else kernel.env), (fd0, fd1, fd2),
                            _b(executable) if executable is not None else None)
    finally:
        for fd in closers:
            os.close(fd)
        for th in threads:
            th.join()
    return RunResult(args, status.returncode, bytes(outputs[1]) if capture_output else None,
                     bytes(outputs[2]) if capture_output else None, status)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
