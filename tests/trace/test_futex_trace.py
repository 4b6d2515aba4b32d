"""futex lines against strace 6.1: every operation's arguments as strace picks and decodes
them (tests/guest/src/futex.c in one thread), and futex_waitv's vector."""

from __future__ import annotations

import pytest

from tests.trace.conftest import Compare
from tests.trace.harness import Normaliser

TIMES = Normaliser(extra=[(r"tv_sec=\d+, tv_nsec=\d+", "tv_sec=S, tv_nsec=N")])
"""The absolute deadlines are the moment's clock plus a millisecond."""


@pytest.mark.guest
@pytest.mark.parametrize("opts", [(), ("-X", "raw"), ("-X", "verbose"), ("-v",)],
                         ids=lambda o: " ".join(o) or "default")
def test_futex_lines(opts: tuple[str, ...], compare: Compare) -> None:
    compare("futex", ("-e", "trace=futex,futex_waitv", *opts), ("no-futex2",), norm=TIMES)
