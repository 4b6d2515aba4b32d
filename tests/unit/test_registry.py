"""Every declaration in sysgate.syscall.REGISTRY, checked from its spec alone.

These tests iterate over whatever is registered, so a handler added later is covered
without touching this file: its parameters, its summary, its support note, the .tbl
row it implements, and what `sysgate syscalls` says about it.
"""

from __future__ import annotations

import json
import re

import pytest

import sysgate.handlers  # noqa: F401 - registers every built-in handler
from sysgate.argtypes import Arg, UserPtr
from sysgate.cli import main
from sysgate.syscall import MAX_ARGS, REGISTRY, Support, SyscallSpec
from sysgate.tables.tbl import NI_SYSCALL, SyscallTable, TblRow, read_tbl, x86_64_table

TBL = read_tbl("syscall_64.tbl")
ROWS_64 = [r for r in TBL if r.abi in ("common", "64")]
ENTRY_POINTS = {r.entry for r in TBL if r.entry}
SPECS = sorted(REGISTRY.values(), key=lambda s: s.symbol)


def spec_id(spec: SyscallSpec) -> str:
    return spec.symbol


def expected_support(row: TblRow) -> str:
    spec = REGISTRY.get(row.entry or NI_SYSCALL)
    return spec.support.value if spec is not None else Support.MISSING.value


def test_there_are_specs() -> None:
    assert len(SPECS) > 100


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_at_most_six_annotated_parameters(spec: SyscallSpec) -> None:
    assert len(spec.params) <= MAX_ARGS
    names = [p.name for p in spec.params]
    assert len(set(names)) == len(names)
    for p in spec.params:
        assert isinstance(p.arg, Arg), p.name
        assert p.arg.ctype, p.name
        assert p.arg.bits in (0, 8, 16, 32, 64), p.name
        if isinstance(p.arg, UserPtr):
            assert p.arg.ctype.endswith("*"), f"{p.name}: a user pointer's C type is a pointer"
            assert p.arg.size in (None, "ret", *names), p.name
        else:
            assert not p.arg.ctype.endswith("*"), f"{p.name}: a pointer must be declared with UserPtr"


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_handler_signature_matches_the_spec(spec: SyscallSpec) -> None:
    """The spec's parameters are the function's, after the task, in order."""
    code = spec.fn.__code__
    args = code.co_varnames[: code.co_argcount]
    assert list(args[1:]) == [p.name for p in spec.params]


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_summary_is_one_line(spec: SyscallSpec) -> None:
    assert spec.summary, f"{spec.symbol} has no docstring summary (the man page NAME line)"
    assert "\n" not in spec.summary
    assert spec.summary == spec.summary.strip()
    assert not spec.summary.endswith(".")
    assert len(spec.summary) <= 100


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_support_level_and_note(spec: SyscallSpec) -> None:
    assert spec.support in (Support.FULL, Support.PARTIAL)
    if spec.support is Support.PARTIAL:
        assert spec.note.strip(), f"{spec.symbol} is partial: its note must say what is missing"


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_symbol_is_an_entry_point_of_the_tbl(spec: SyscallSpec) -> None:
    assert re.fullmatch(r"sys_[a-z0-9_]+", spec.symbol)
    assert spec.symbol in ENTRY_POINTS, f"{spec.symbol} is no entry point of syscall_64.tbl"


@pytest.fixture(scope="module")
def table() -> SyscallTable:
    return x86_64_table()


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_spec_is_reachable_from_the_64_bit_table(spec: SyscallSpec, table: SyscallTable) -> None:
    """Each handler is dispatched by at least one row of the x86-64 table, to this very spec."""
    slots = [s for s in table.slots.values() if s.entry == spec.symbol]
    assert slots, f"{spec.symbol} appears only in rows of other ABIs"
    for slot in slots:
        assert slot.spec is spec
        assert table.stubs[slot.nr] is spec.stub(64)


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_signature_renders(spec: SyscallSpec) -> None:
    sig = spec.signature()
    assert sig.startswith(f"long {spec.name}(")
    assert sig.count(",") == max(len(spec.params) - 1, 0)


def test_sysgate_syscalls_json_lists_every_row_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["syscalls", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)["syscalls"]
    assert [(e["nr"], e["name"], e["entry"]) for e in listing] == \
        [(r.nr, r.name, r.entry or NI_SYSCALL) for r in ROWS_64]
    for entry, row in zip(listing, ROWS_64, strict=True):
        assert entry["support"] == expected_support(row), row.name
        spec = REGISTRY.get(entry["entry"])
        assert entry["note"] == (spec.note if spec is not None else entry["note"])
        assert entry["signature"] == (spec.signature(row.name) if spec is not None else "")
        assert entry["user"] is False


def test_sysgate_syscalls_text_lists_every_row_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["syscalls"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("#")]
    seen = []
    for line in lines:
        nr, name, entry, support = line.split()[:4]
        seen.append((int(nr), name, entry, support))
    assert seen == [(r.nr, r.name, r.entry or NI_SYSCALL, expected_support(r)) for r in ROWS_64]
    assert len({s[0] for s in seen}) == len(seen)


def test_x32_rows_are_not_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["syscalls", "--json"]) == 0
    numbers = {e["nr"] for e in json.loads(capsys.readouterr().out)["syscalls"]}
    assert not numbers & {r.nr for r in TBL if r.abi == "x32"}


def test_counts_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["syscalls"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    levels = [expected_support(r) for r in ROWS_64]
    assert last == (f"# {levels.count('full')} full, {levels.count('partial')} partial, "
                    f"{levels.count('missing')} missing")
