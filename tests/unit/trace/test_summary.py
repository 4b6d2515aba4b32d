"""-c's table: strace's exact layout for given counts and times (count.c)."""

from __future__ import annotations

import pytest

from sysgate.errors import SysgateError
from sysgate.trace.summary import Summary, sort_key, summary_columns

US = 1000


def sample() -> Summary:
    s = Summary()
    s.add(1, "write", 30 * US, False)
    s.add(1, "write", 10 * US, False)
    s.add(3, "close", 5 * US, True)
    s.add(0, "read", 55 * US, False)
    s.add(257, "openat", 0, True)
    return s


def test_default_layout() -> None:
    assert sample().render() == (
        "% time     seconds  usecs/call     calls    errors syscall\n"
        "------ ----------- ----------- --------- --------- ----------------\n"
        " 55.00    0.000055          55         1           read\n"
        " 40.00    0.000040          20         2           write\n"
        "  5.00    0.000005           5         1         1 close\n"
        "  0.00    0.000000           0         1         1 openat\n"
        "------ ----------- ----------- --------- --------- ----------------\n"
        "100.00    0.000100          20         5         2 total\n"
    )


@pytest.mark.parametrize(("key", "names"), [
    ("calls", ["write", "read", "close", "openat"]),  # ties keep the order of numbers
    ("name", ["close", "openat", "read", "write"]),
    ("none", ["read", "write", "close", "openat"]),
    ("errors", ["close", "openat", "read", "write"]),
    ("time_min", ["read", "write", "close", "openat"]),
    ("time_max", ["read", "write", "close", "openat"]),
    ("time_avg", ["read", "write", "close", "openat"]),
])
def test_sorting_is_stable(key: str, names: list[str]) -> None:
    assert [n for n, _ in sample().rows(key)] == names


def test_sort_key_aliases() -> None:
    assert sort_key("time") == sort_key("time-percent") == "time_100s"
    assert sort_key("count") == "calls" and sort_key("syscall-name") == "name" and sort_key("nothing") == "none"
    assert sort_key("shortest") == "time_min" and sort_key("longest") == "time_max"
    with pytest.raises(SysgateError, match="invalid sortby: 'x'"):
        sort_key("x")


def test_chosen_columns() -> None:
    out = sample().render("name", summary_columns("name,calls,errors,min-time,max-time"))
    assert out.splitlines() == [
        "syscall              calls    errors shortest  longest",
        "---------------- --------- --------- -------- --------",
        "close                    1         1 0.000005 0.000005",
        "openat                   1         1 0.000000 0.000000",
        "read                     1           0.000055 0.000055",
        "write                    2           0.000010 0.000030",
        "---------------- --------- --------- -------- --------",
        "total                    5         2 0.000000 0.000055",
    ]
    assert summary_columns("calls") == ("calls", "name")


def test_widths_grow_with_the_values() -> None:
    s = Summary()
    s.add(1, "a_very_long_system_call_name", 12 * 10**9, False)
    s.counts[(1, "a_very_long_system_call_name")].calls = 12345678901
    lines = s.render().splitlines()
    assert lines[0] == "% time     seconds  usecs/call       calls    errors syscall"
    assert lines[2] == "100.00   12.000000           0 12345678901           a_very_long_system_call_name"
    assert lines[1].endswith(" " + "-" * 29)


def test_overhead_is_subtracted_and_never_negative() -> None:
    s = Summary(overhead_ns=4 * US)
    s.add(0, "read", 10 * US, False)
    s.add(0, "read", 1 * US, False)
    c = s.counts[(0, "read")]
    assert (c.time_ns, c.min_ns, c.max_ns) == (6 * US, 0, 6 * US)


def test_total_average_uses_the_total_time() -> None:
    s = Summary()
    s.add(0, "read", 999, False)
    s.add(1, "write", 2001, False)
    assert s.render().splitlines()[-1] == "100.00    0.000003           1         2           total"
