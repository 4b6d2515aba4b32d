"""`-c`: strace's summary table of system-call counts, errors and times.

Counterpart: strace's count.c (count_syscall, call_summary_pers). The times are measured
inside sysgate around each handler, so they say how long sysgate's kernel took, not how
long a real one would: the table's columns, widths, sorting and the `total` row are
strace's.

    % time     seconds  usecs/call     calls    errors syscall
    ------ ----------- ----------- --------- --------- ----------------
     52.17    0.000012          12         1           write
    ...
    ------ ----------- ----------- --------- --------- ----------------
    100.00    0.000023           1        19         1 total
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Counts:
    calls: int = 0
    errors: int = 0
    time_ns: int = 0
    min_ns: int = 1 << 62
    max_ns: int = 0

    @property
    def avg_ns(self) -> int:
        return self.time_ns // self.calls if self.calls else 0


class Summary:
    """Counts by system call (number, name); rows start in number order, as strace's
    counts array, and a stable sort keeps that order among equal keys (glibc's qsort
    is a merge sort)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[int, str], Counts] = {}

    def add(self, nr: int, name: str, duration_ns: int, failed: bool) -> None:
        c = self.counts.setdefault((nr, name), Counts())
        c.calls += 1
        c.errors += failed
        c.time_ns += duration_ns
        c.min_ns = min(c.min_ns, duration_ns)
        c.max_ns = max(c.max_ns, duration_ns)

    def rows(self, sort_by: str) -> list[tuple[str, Counts]]:
        rows = [(key[1], c) for key, c in sorted(self.counts.items(), key=lambda kv: kv[0][0])]
        keys = {
            "time": lambda r: -r[1].time_ns,
            "min": lambda r: -r[1].min_ns,
            "max": lambda r: -r[1].max_ns,
            "avg": lambda r: -r[1].avg_ns,
            "calls": lambda r: -r[1].calls,
            "errors": lambda r: -r[1].errors,
            "name": lambda r: r[0],
        }
        if sort_by in keys:
            rows.sort(key=keys[sort_by])
        return rows

    def render(self, sort_by: str = "time") -> str:
        rows = self.rows(sort_by)
        total_ns = sum(c.time_ns for _, c in rows)
        calls = sum(c.calls for _, c in rows)
        errors = sum(c.errors for _, c in rows)
        total = total_ns / 1e9
        max_avg_us = max((c.avg_ns // 1000 for _, c in rows), default=0)
        w_pct = 6
        w_sec = max(11, len(f"{total:.6f}"))
        w_avg = max(11, len(str(max_avg_us)))
        w_calls = max(9, len(str(calls)))
        w_err = max(9, len(str(errors)))
        w_name = max(16, max((len(n) for n, _ in rows), default=0) + 1)
        header = f"{'% time':>{w_pct}} {'seconds':>{w_sec}} {'usecs/call':>{w_avg}} {'calls':>{w_calls}} " \
                 f"{'errors':>{w_err}} syscall"
        rule = " ".join("-" * w for w in (w_pct, w_sec, w_avg, w_calls, w_err, w_name))
        lines = [header, rule]
        for name, c in rows:
            pct = 100.0 * c.time_ns / total_ns if total_ns and c.time_ns else 0.0
            err = str(c.errors) if c.errors else ""
            lines.append(f"{pct:{w_pct}.2f} {c.time_ns / 1e9:{w_sec}.6f} {c.avg_ns // 1000:{w_avg}d} "
                         f"{c.calls:{w_calls}d} {err:>{w_err}} {name}")
        lines.append(rule)
        avg_total = int(total / calls * 1e6) if calls else 0
        err_total = str(errors) if errors else ""
        lines.append(f"{100.0:{w_pct}.2f} {total:{w_sec}.6f} {avg_total:{w_avg}d} {calls:{w_calls}d} "
                     f"{err_total:>{w_err}} total")
        return "\n".join(lines) + "\n"
