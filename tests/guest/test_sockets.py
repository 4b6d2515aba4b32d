"""Sockets: guest programs run natively and under sysgate, compared whole.

sock_errno checks the order of checks and errnos of every socket call in one task;
sock_unix socketpairs (stream, datagram, seqpacket), SCM_RIGHTS and SCM_CREDENTIALS,
named, abstract and autobound AF_UNIX sockets; sock_inet TCP and UDP on the loopback
with non-blocking calls and poll; sock_fork blocking sockets across two processes (a
TCP echo of 100000 bytes with MSG_WAITALL, a pipe's end passed to a child);
sock_block SO_RCVTIMEO, SIGPIPE and a blocking recv interrupted by a handler.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.guest.build import VARIANTS
from tests.guest.conftest import GuestRunner, assert_same

PROGRAMS = ["sock_errno", "sock_unix", "sock_inet", "sock_fork", "sock_block"]


@pytest.mark.guest
@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("program", PROGRAMS)
def test_sockets_match_native(program: str, variant: str, guest: GuestRunner) -> None:
    exe = guest.build(program, variant)
    native = guest.native([str(exe)])
    assert native.returncode == 0, f"the host disagrees with Linux:\n{native}"
    assert_same(guest.sysgate([str(exe)]), native)


@pytest.mark.guest
def test_sockets_in_root_folder(guest: GuestRunner, tmp_path: object) -> None:
    """A named AF_UNIX socket inside --root is made inside the folder, and the guest sees
    its own name back (getsockname, getpeername, recvfrom)."""
    exe = guest.build("sock_unix", "glibc-static")
    root = guest.fresh_dir("root")
    shutil.copy(exe, root / "sock_unix")
    native = guest.native([str(exe)])
    ours = guest.cli(["run", "--root", str(root), "/sock_unix"])
    assert_same(ours, native, "sysgate run --root")


@pytest.mark.guest
def test_python_socketpair(guest: GuestRunner) -> None:
    python = shutil.which("python3")
    if python is None:
        pytest.skip("no python3")
    code = ("import socket, os\n"
            "a, b = socket.socketpair()\n"
            "a.sendall(b'ping' * 1000)\n"
            "print(len(b.recv(8192)), a.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE))\n"
            "r, w = os.pipe()\n"
            "socket.send_fds(a, [b'fd'], [w])\n"
            "msg, fds, flags, addr = socket.recv_fds(b, 10, 1)\n"
            "os.write(fds[0], b'through'); print(msg, os.read(r, 10), flags)\n")
    real = subprocess.run(["readlink", "-f", python], capture_output=True, text=True, check=True).stdout.strip()
    native = guest.native([real, "-S", "-c", code])
    assert native.returncode == 0, native
    assert_same(guest.sysgate([real, "-S", "-c", code]), native)
