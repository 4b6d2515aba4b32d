"""-c / -C against the host's strace: the table's layout, rows, counts, errors and order.

The time columns are measured by each tracer on its own kernel, so they are replaced
by `T` (keeping the column's width); the rest of the table must be the same. Sorting by
time gives an order that depends on the times, so those runs compare the rows as a set.
"""

from __future__ import annotations

import re

import pytest

from tests.trace.conftest import Compare
from tests.trace.harness import Normaliser

TIME_HEADERS = ("% time", "seconds", "usecs/call", "shortest", "longest")


def table_columns(lines: list[str]) -> list[tuple[int, int | None, str]]:
    """(start, end, header) of each column, from the dashes of the rule under the header."""
    for i, line in enumerate(lines):
        if re.fullmatch(r"-+( -+)*", line) and i > 0:
            spans = [(m.start(), m.end()) for m in re.finditer(r"-+", line)]
            header = lines[i - 1]
            return [(a, b if k < len(spans) - 1 else None, header[a:b].strip() if k < len(spans) - 1
                     else header[a:].strip()) for k, (a, b) in enumerate(spans)]
    return []


class SummaryNormaliser(Normaliser):
    """Keeps the trace lines as Normaliser does; in the table, time cells become T."""

    def lines(self, trace: str) -> list[str]:
        raw = trace.splitlines()
        cols = table_columns(raw)
        rule = next((i for i, line in enumerate(raw) if re.fullmatch(r"-+( -+)*", line)), len(raw) + 1)
        start = rule - 1
        out = super().lines("\n".join(raw[:start]))
        for i, line in enumerate(raw[start:]):
            if i == 0 or re.fullmatch(r"-+( -+)*", line) or not cols:
                out.append(line)
                continue
            cells = []
            for a, b, header in cols:
                cell = line[a:b] if b is not None else line[a:]
                total = line.rstrip().endswith(" total") and header == "% time"  # always 100.00
                if header in TIME_HEADERS and cell.strip() and not cell.strip()[0].isalpha() and not total:
                    cell = "T".rjust(len(cell))
                cells.append(cell)
            out.append(" ".join(cells) if cols else line)
        return out


@pytest.mark.guest
@pytest.mark.parametrize("opts", [
    ("-c", "-S", "calls"), ("-c", "-S", "name"), ("-c", "-S", "nothing"), ("-c", "-S", "errors"),
    ("-c", "-w", "-S", "calls"), ("-C", "-S", "calls"), ("-C", "-S", "name", "-e", "trace=write,close"),
    ("-c", "-S", "name", "-U", "name,calls,errors"), ("-c", "-S", "calls", "-U", "calls,errors,name,shortest,longest"),
    ("-c", "-S", "name", "-U", "time,time_total,calls"), ("-c", "-S", "syscall", "-e", "trace=%desc"),
    ("-c", "-S", "count", "-Z"), ("-c", "-S", "calls", "-e", "inject=close:error=EBADF"),
])
def test_summary_table(opts: tuple[str, ...], compare: Compare) -> None:
    compare("tracee", opts, norm=SummaryNormaliser())


class SortedRows(SummaryNormaliser):
    """The table's lines in any order (the default sort is by the measured times)."""

    def lines(self, trace: str) -> list[str]:
        return sorted(super().lines(trace))


@pytest.mark.guest
@pytest.mark.parametrize("name", ["hello", "files"])
def test_summary_sorted_by_time(name: str, compare: Compare) -> None:
    compare(name, ("-c",), norm=SortedRows())


@pytest.mark.guest
def test_summary_empty_table_is_not_printed(compare: Compare) -> None:
    theirs, ours = compare("hello", ("-c", "-e", "trace=none"))
    assert ours.trace == theirs.trace == ""
