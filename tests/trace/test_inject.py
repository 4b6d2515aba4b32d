"""-e inject= and -e fault= against the host's strace: the trace, and what the program saw.

tests/trace/src/inject.c prints each call's result and errno, so a call that was not
executed, a `when=` selection or a signal shows in its output as well as in the trace;
both must be the same as under strace's own injection, natively.
"""

from __future__ import annotations

import pytest

from tests.trace.conftest import Compare

INJECTIONS = [
    ("-e", "inject=umask:retval=42:when=2"),
    ("-e", "inject=umask:error=EPERM:when=2+2"),
    ("-e", "inject=umask:error=eperm:when=2..3"),
    ("-e", "inject=umask:error=1:when=2..5+2"),
    ("-e", "inject=umask:retval=0x10:when=3+"),
    ("-e", "inject=openat:error=EACCES"),
    ("-e", "inject=openat:retval=7:when=1"),
    ("-e", "fault=write:when=2"),
    ("-e", "fault=write:error=EIO:when=1+"),
    ("-e", "inject=getuid:retval=0"),
    ("-e", "inject=umask:error=ENOSYS:syscall=getpid"),
    ("-e", "inject=umask:error=EPERM", "-e", "inject=umask:retval=7"),
    ("-e", "inject=umask,write:error=EINTR:when=3"),
    ("-e", "inject=%desc:error=EBADF:when=2"),
    ("-e", "trace=write", "-e", "inject=umask:error=EPERM"),
    ("-e", "inject=umask:delay_enter=1ms:when=2"),
    ("-e", "inject=umask:delay_exit=500us:when=1..2"),
    ("-e", "inject=umask:delay_enter=0.001:delay_exit=1000ns:retval=3:when=4"),
    ("-e", "inject=umask:signal=SIGUSR1:when=3"),
    ("-e", "inject=getuid:signal=usr2:error=EPERM"),
    ("-e", "inject=write:signal=SIGPIPE:when=2"),
    ("-e", "inject=faccessat:poke_enter=@arg2=2f00"),
    ("-e", "inject=read:poke_exit=@arg2=58595a:when=1"),
    ("-e", "inject=read:poke_exit=@arg2=58595a:retval=3"),
    ("-e", "inject=umask:error=EPERM:when=2", "-z"),
    ("-e", "inject=umask:error=EPERM:when=2", "-Z"),
    ("-e", "inject=umask:retval=42", "-e", "raw=umask"),
    ("-e", "inject=umask:error=EPERM:when=2", "-T"),
    ("-e", "inject=all:error=ENOSYS:when=40"),
]


@pytest.mark.guest
@pytest.mark.parametrize("opts", INJECTIONS, ids=" ".join)
def test_injection(opts: tuple[str, ...], compare: Compare) -> None:
    compare("inject", opts)
