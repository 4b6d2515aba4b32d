"""Tests of `sysgate trace` against the host's strace."""  # noqa: A005 - tests.trace, not the stdlib's trace
