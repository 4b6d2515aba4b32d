"""`-c` / `-C`: strace's table of system-call counts, errors and times.

Counterpart: strace's count.c (count_syscall, call_summary_pers, set_sortby,
set_count_summary_columns). The times are measured inside sysgate around each handler:
by default the CPU time sysgate's thread spent in the call (strace counts the system CPU
time the kernel spent), with -w the wall-clock time. They say how long sysgate's kernel
took, not how long a real one would; the table's columns, widths, sorting and the
`total` row are strace's.

    % time     seconds  usecs/call     calls    errors syscall
    ------ ----------- ----------- --------- --------- ----------------
     52.17    0.000012          12         1           write
    ...
    ------ ----------- ----------- --------- --------- ----------------
    100.00    0.000023           1        19         1 total
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sysgate.trace.qualify import usage_error

COLUMN_ALIASES: dict[str, str] = {
    "time": "time_100s", "time_percent": "time_100s", "time-percent": "time_100s",
    "time_total": "time_total", "time-total": "time_total", "total_time": "time_total", "total-time": "time_total",
    "min_time": "time_min", "min-time": "time_min", "shortest": "time_min", "time_min": "time_min",
    "time-min": "time_min",
    "longest": "time_max", "max_time": "time_max", "max-time": "time_max", "time_max": "time_max",
    "time-max": "time_max",
    "avg_time": "time_avg", "avg-time": "time_avg", "time_avg": "time_avg", "time-avg": "time_avg",
    "calls": "calls", "count": "calls", "error": "errors", "errors": "errors",
    "name": "name", "syscall": "name", "syscall_name": "name", "syscall-name": "name",
    "none": "none", "nothing": "none",
}
"""count.c's column_aliases: the names -S and -U accept."""
DEFAULT_COLUMNS = ("time_100s", "time_total", "time_avg", "calls", "errors", "name")
HEADERS = {"time_100s": ("% time", 6), "time_min": ("shortest", 8), "time_max": ("longest", 7),
           "time_total": ("seconds", 11), "time_avg": ("usecs/call", 11), "calls": ("calls", 9),
           "errors": ("errors", 9), "name": ("syscall", 16)}
"""Each column's header and its historical minimum width."""


def sort_key(value: str) -> str:
    """-S: the column to sort by ("none": the order of system-call numbers)."""
    column = COLUMN_ALIASES.get(value)
    if column is None:
        raise usage_error(f"invalid sortby: '{value}'")
    return column


def summary_columns(value: str) -> tuple[str, ...]:
    """-U: the columns to show, in order; the name column is always there."""
    columns: list[str] = []
    for name in value.split(","):
        column = COLUMN_ALIASES.get(name)
        if column is None or column == "none":
            raise usage_error(f"unknown column name: '{name}'")
        if column in columns:
            raise usage_error(f"call summary column has been provided more than once: '{name}'")
        columns.append(column)
    if "name" not in columns:
        columns.append("name")
    return tuple(columns)


@dataclass(slots=True)
class Counts:
    """One system call's line (count.c's struct call_counts); times in nanoseconds."""

    calls: int = 0
    errors: int = 0
    time_ns: int = 0
    min_ns: int = 1 << 62
    max_ns: int = 0

    @property
    def avg_ns(self) -> int:
        return self.time_ns // self.calls if self.calls else 0


def _seconds(ns: int) -> float:
    return ns / 1e9


class Summary:
    """Counts by system call (number, name)."""

    def __init__(self, overhead_ns: int = 0) -> None:
        self.counts: dict[tuple[int, str], Counts] = {}
        self.overhead_ns = overhead_ns  # -O: subtracted from each call's time

    def add(self, nr: int, name: str, duration_ns: int, failed: bool) -> None:
        """count_syscall: one call that returned."""
        c = self.counts.get((nr, name))
        if c is None:
            c = self.counts[(nr, name)] = Counts()
        c.calls += 1
        c.errors += failed
        t = max(duration_ns - self.overhead_ns, 0)
        c.time_ns += t
        c.min_ns = min(c.min_ns, t)
        c.max_ns = max(c.max_ns, t)

    def rows(self, sort_by: str) -> list[tuple[str, Counts]]:
        """The rows in number order, then stably sorted (glibc's qsort is a merge sort)."""
        rows = [(key[1], c) for key, c in sorted(self.counts.items(), key=lambda kv: kv[0][0])]
        keys: dict[str, Callable[[tuple[str, Counts]], int | str]] = {
            "time_100s": lambda r: -r[1].time_ns, "time_total": lambda r: -r[1].time_ns,
            "time_min": lambda r: -r[1].min_ns, "time_max": lambda r: -r[1].max_ns,
            "time_avg": lambda r: -r[1].avg_ns, "calls": lambda r: -r[1].calls,
            "errors": lambda r: -r[1].errors, "name": lambda r: r[0],
        }
        if sort_by in keys:
            rows.sort(key=keys[sort_by])
        return rows

    def render(self, sort_by: str = "time_100s", columns: tuple[str, ...] = DEFAULT_COLUMNS) -> str:
        """call_summary_pers: the table."""
        rows = self.rows(sort_by)
        total_ns = sum(c.time_ns for _, c in rows)
        calls = sum(c.calls for _, c in rows)
        errors = sum(c.errors for _, c in rows)
        min_all = min((c.min_ns for _, c in rows), default=1 << 62)
        min_max = max((c.min_ns for _, c in rows), default=0)
        max_all = max((c.max_ns for _, c in rows), default=0)
        avg_max = max((c.avg_ns for _, c in rows), default=0)
        longest = max((len(n) for n, _ in rows), default=0)
        wanted = {
            "time_100s": 6, "time_total": len(f"{_seconds(total_ns):.6f}"),
            "time_min": len(f"{min_max // 10**9}.000000"), "time_max": len(f"{max_all // 10**9}.000000"),
            "time_avg": len(str(int(_seconds(avg_max) * 1e6))), "calls": len(str(calls)),
            "errors": len(str(errors)), "name": longest + 1,
        }
        width = {c: max(HEADERS[c][1], wanted[c]) for c in HEADERS}

        def line(cells: dict[str, str]) -> str:
            out = []
            for i, c in enumerate(columns):
                last = i == len(columns) - 1
                text = cells[c]
                out.append(text if c == "name" and last else text.ljust(width[c]) if c == "name"
                           else text.rjust(width[c]))
            return " ".join(out)

        rule = " ".join("-" * width[c] for c in columns)
        lines = [line({c: HEADERS[c][0] for c in HEADERS}), rule]
        for name, c in rows:
            pct = 100.0 * c.time_ns / total_ns if c.time_ns else 0.0
            lines.append(line(self._cells(name, pct, c.time_ns, c.min_ns, c.max_ns, c.avg_ns, c.calls, c.errors)))
        lines.append(rule)
        avg_total = int(_seconds(total_ns) / calls * 1e6) if calls else 0
        lines.append(line(self._cells("total", 100.0, total_ns, min_all, max_all, None, calls, errors,
                                      avg_us=avg_total)))
        return "\n".join(lines) + "\n"

    @staticmethod
    def _cells(name: str, pct: float, time_ns: int, min_ns: int, max_ns: int, avg_ns: int | None, calls: int,
               errors: int, avg_us: int | None = None) -> dict[str, str]:
        if avg_us is None:
            assert avg_ns is not None
            avg_us = int(_seconds(avg_ns) * 1e6)
        if min_ns == 1 << 62:
            min_ns = 0
        return {
            "time_100s": f"{pct:.2f}", "time_total": f"{_seconds(time_ns):.6f}",
            "time_min": f"{_seconds(min_ns):.6f}", "time_max": f"{_seconds(max_ns):.6f}",
            "time_avg": str(avg_us), "calls": str(calls), "errors": str(errors) if errors else "", "name": name,
        }
