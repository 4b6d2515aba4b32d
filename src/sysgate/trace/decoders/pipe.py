"""pipe and pipe2: the pair of descriptors the kernel wrote, and pipe2's flags.

Counterpart: strace's net.c (do_pipe, decode_pair_fd): the array is printed when the
call returns, each descriptor as printfd prints it (`[3<pipe:[1234]>, 4<pipe:[1234]>]`
under -y); pipe2's flags are open's flags without the access mode
(decoders.fcntl's "open_mode_flags").
"""

from __future__ import annotations

from sysgate.argtypes import Arg
from sysgate.syscall import Param
from sysgate.trace.printers import Ctx, p_fd, print_array, printer

_FD = Param("fd", Arg("int", 32, True, show="fd"))


@printer("fd_pair")
def p_fd_pair(ctx: Ctx, v: int, p: Param) -> str:
    """`[3, 4]`: two ints, each printed as a descriptor."""

    def element(raw: bytes) -> str:
        return p_fd(ctx, int.from_bytes(raw, "little", signed=True), _FD)

    return print_array(ctx, v, 2, 4, element)
