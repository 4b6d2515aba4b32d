"""The declaration machinery: @syscall, SyscallSpec, compiled stubs, declaration errors.

Counterpart: include/linux/syscalls.h. SYSCALL_DEFINEn's __se_sys_* step casts each
register to the declared C type: a 32-bit type keeps the low 32 bits (and is
sign-extended when signed), umode_t keeps 16, loff_t is a signed 64-bit value. The
oracle for that cast is C itself, through ctypes.
"""

from __future__ import annotations

import ctypes
import dataclasses
import importlib
from typing import Annotated

import pytest
from hypothesis import given
from hypothesis import strategies as st

import sysgate.handlers  # noqa: F401 - registers the built-in handlers
from sysgate.argtypes import (
    U32,
    Arg,
    BufIn,
    Fd,
    Int,
    LoffT,
    Long,
    ModeT,
    PidT,
    SizeT,
    UInt,
    ULong,
    UserPtr,
)
from sysgate.syscall import (
    MAX_ARGS,
    REGISTRY,
    Support,
    SyscallDeclarationError,
    make_spec,
    syscall,
)

syscall_mod = importlib.import_module("sysgate.syscall")  # `sysgate.syscall` is also the decorator's name
U64 = (1 << 64) - 1
seen: list[tuple[int, ...]] = []


def sys_probe(t: object, a: Int, b: UInt, c: ModeT, d: LoffT, e: Long, f: ULong) -> int:
    """probe the decoders"""
    seen.append((a, b, c, d, e, f))
    return 0


def frame(*args: int) -> list[int]:
    """A raw frame: [nr, six argument registers, ip, flags]."""
    regs = [a & U64 for a in args] + [0] * (6 - len(args))
    return [999, *regs, 0x401000, 0x202]


def decode(word_bits: int, *args: int) -> tuple[int, ...]:
    seen.clear()
    make_spec(sys_probe).stub(word_bits)(None, frame(*args))  # type: ignore[arg-type]
    return seen[0]


# -- decoding ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, want",
    [
        (0, 0),
        (5, 5),
        (0x7FFFFFFF, 0x7FFFFFFF),
        (0x80000000, -(1 << 31)),
        (0xFFFFFFFF, -1),
        (0x1_00000005, 5),  # the upper half is ignored
        (0xFFFFFFFF_FFFFFFFE, -2),
        (0x12345678_FFFFFFFF, -1),
    ],
)
def test_int_is_low_32_bits_sign_extended(raw: int, want: int) -> None:
    assert decode(64, raw)[0] == want


@pytest.mark.parametrize("raw, want", [(0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF_00000007, 7), (1 << 32, 0)])
def test_unsigned_int_is_low_32_bits(raw: int, want: int) -> None:
    assert decode(64, 0, raw)[1] == want


@pytest.mark.parametrize("raw, want", [(0o755, 0o755), (0x1_000101ED, 0x1ED), (0xFFFFFFFF, 0xFFFF), (0x10000, 0)])
def test_umode_t_is_16_bits(raw: int, want: int) -> None:
    assert decode(64, 0, 0, raw)[2] == want


@pytest.mark.parametrize("raw, want", [(5, 5), (U64, -1), (1 << 63, -(1 << 63)), ((1 << 63) - 1, (1 << 63) - 1)])
def test_loff_t_is_signed_64_bits(raw: int, want: int) -> None:
    assert decode(64, 0, 0, 0, raw)[3] == want


def test_word_sized_types_on_64_bits() -> None:
    assert decode(64, 0, 0, 0, 0, U64, U64)[4:] == (-1, U64)
    assert decode(64, 0, 0, 0, 0, 1 << 32, 1 << 32)[4:] == (1 << 32, 1 << 32)


def test_word_sized_types_on_32_bits() -> None:
    # On a 32-bit ABI, long and unsigned long are 32 bits wide; loff_t stays 64.
    assert decode(32, 0, 0, 0, 0, 0xFFFFFFFF, 0xFFFFFFFF)[4:] == (-1, 0xFFFFFFFF)
    assert decode(32, 0, 0, 0, 0, 0x1_00000001, 0x1_00000001)[4:] == (1, 1)
    assert decode(32, 0, 0, 0, U64)[3] == -1


@given(st.lists(st.integers(0, U64), min_size=6, max_size=6))
def test_decoding_is_the_c_cast(raw: list[int]) -> None:
    assert decode(64, *raw) == (
        ctypes.c_int32(raw[0]).value,
        ctypes.c_uint32(raw[1]).value,
        ctypes.c_uint16(raw[2]).value,
        ctypes.c_int64(raw[3]).value,
        ctypes.c_int64(raw[4]).value,
        ctypes.c_uint64(raw[5]).value,
    )


@given(st.lists(st.integers(0, U64), min_size=6, max_size=6))
def test_decoding_on_32_bits_is_the_c_cast(raw: list[int]) -> None:
    assert decode(32, *raw) == (
        ctypes.c_int32(raw[0]).value,
        ctypes.c_uint32(raw[1]).value,
        ctypes.c_uint16(raw[2]).value,
        ctypes.c_int64(raw[3]).value,
        ctypes.c_int32(raw[4]).value,
        ctypes.c_uint32(raw[5]).value,
    )


def sys_none(t: object) -> int:
    """take nothing"""
    return 42


def sys_two(t: object, fd: Fd, pid: PidT) -> int:
    """take two"""
    return fd * 1000 + pid


def test_stub_passes_the_task_and_only_declared_arguments() -> None:
    got: list[object] = []

    def sys_task(t: object) -> int:
        got.append(t)
        return 7

    task = object()
    assert make_spec(sys_task).stub(64)(task, frame(1, 2, 3)) == 7  # type: ignore[arg-type]
    assert got == [task]
    assert make_spec(sys_none).stub(64)(None, frame()) == 42  # type: ignore[arg-type]
    assert make_spec(sys_two).stub(64)(None, frame(3, -1, 99)) == 3000 - 1  # type: ignore[arg-type]


def test_stub_is_compiled_once_per_word_size() -> None:
    spec = make_spec(sys_two)
    s64 = spec.stub(64)
    assert spec.stub(64) is s64
    assert spec.stub(32) is not s64


def test_stub_lets_exceptions_through() -> None:
    def sys_boom(t: object) -> int:
        raise ValueError("boom")

    with pytest.raises(ValueError):
        make_spec(sys_boom).stub(64)(None, frame())  # type: ignore[arg-type]


# -- declaration errors ---------------------------------------------------------------------------


def sys_seven(t: object, a: Int, b: Int, c: Int, d: Int, e: Int, f: Int, g: Int) -> int:
    return 0


def sys_unannotated(t: object, fd) -> int:  # type: ignore[no-untyped-def]
    return 0


def sys_plain_int(t: object, fd: int) -> int:
    return 0


def sys_foreign_annotated(t: object, fd: Annotated[int, "fd"]) -> int:
    return 0


def sys_two_args_meta(t: object, fd: Annotated[int, Arg("int"), Arg("long")]) -> int:
    return 0


def sys_bad_size(t: object, buf: Annotated[int, UserPtr("char __user *", size="count")], len: SizeT) -> int:  # noqa: A002
    return 0


def sys_ret_size(t: object, buf: Annotated[int, UserPtr("char __user *", size="ret")]) -> int:
    return 0


def sys_buf_in_without_count(t: object, buf: BufIn) -> int:
    return 0


def sys_varargs(t: object, *args: Int) -> int:
    return 0


def sys_kwonly(t: object, *, fd: Fd) -> int:
    return 0


def sys_no_task() -> int:
    return 0


@pytest.mark.parametrize(
    "fn, words",
    [
        (sys_seven, "at most 6 arguments"),
        (sys_unannotated, "needs a type from sysgate.argtypes"),
        (sys_plain_int, "needs a type from sysgate.argtypes"),
        (sys_foreign_annotated, "needs a type from sysgate.argtypes"),
        (sys_two_args_meta, "needs a type from sysgate.argtypes"),
        (sys_bad_size, "'count', which is not declared"),
        (sys_buf_in_without_count, "'count', which is not declared"),
        (sys_varargs, "must be positional"),
        (sys_kwonly, "must be positional"),
        (sys_no_task, "the first parameter must be the task"),
    ],
)
def test_bad_declarations_are_refused(fn: object, words: str) -> None:
    with pytest.raises(SyscallDeclarationError, match=words):
        make_spec(fn)  # type: ignore[arg-type]


def test_declaration_error_is_a_type_error() -> None:
    assert issubclass(SyscallDeclarationError, TypeError)
    assert MAX_ARGS == 6


def test_size_may_be_ret() -> None:
    assert make_spec(sys_ret_size).params[0].arg.is_pointer


def test_unresolvable_annotation_is_refused() -> None:
    def sys_nowhere(t: object, x: Nowhere) -> int:  # type: ignore[name-defined]  # noqa: F821
        return x

    with pytest.raises(SyscallDeclarationError, match="cannot resolve the type of 'x'"):
        make_spec(sys_nowhere)


def test_a_local_annotation_resolves_in_the_declaring_scope() -> None:
    """A user system call declared inside a function may use types imported there."""
    Local = Annotated[int, Arg("int", 32, True)]

    def sys_local(t: object, x: Local) -> int:
        return x

    assert make_spec(sys_local).params[0].arg.ctype == "int"


def test_partial_needs_a_note_and_missing_is_refused() -> None:
    with pytest.raises(SyscallDeclarationError, match="must say what is missing"):
        make_spec(sys_none, support=Support.PARTIAL)
    assert make_spec(sys_none, support=Support.PARTIAL, note="no flags").note == "no flags"
    with pytest.raises(SyscallDeclarationError, match="cannot be 'missing'"):
        make_spec(sys_none, support=Support.MISSING, note="x")


def test_syscall_registers_once(monkeypatch: pytest.MonkeyPatch) -> None:
    registry: dict[str, object] = {}
    monkeypatch.setattr(syscall_mod, "REGISTRY", registry)
    assert syscall()(sys_none) is sys_none  # the decorator returns the function unchanged
    assert syscall(symbol="sys_other")(sys_two) is sys_two
    assert set(registry) == {"sys_none", "sys_other"}
    with pytest.raises(SyscallDeclarationError, match="sys_none is declared twice"):
        syscall()(sys_none)
    with pytest.raises(SyscallDeclarationError):
        syscall()(sys_seven)  # checked when declared, never per call
    assert "sys_seven" not in registry


# -- the spec ------------------------------------------------------------------------------------------


def test_spec_fields() -> None:
    spec = make_spec(sys_two, symbol="sys_pair")
    assert spec.symbol == "sys_pair"
    assert spec.name == "pair"
    assert spec.summary == "take two"
    assert spec.support is Support.FULL
    assert [(p.name, p.arg.ctype, p.arg.bits, p.arg.signed) for p in spec.params] == [
        ("fd", "unsigned int", 32, False),
        ("pid", "pid_t", 32, True),
    ]
    assert spec.fn is sys_two
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.symbol = "x"  # type: ignore[misc]


def test_summary_is_the_first_docstring_line() -> None:
    def sys_doc(t: object) -> int:
        """  first line

        more text
        """
        return 0

    def sys_nodoc(t: object) -> int:
        return 0

    assert make_spec(sys_doc).summary == "first line"
    assert make_spec(sys_nodoc).summary == ""


def test_signature_is_the_c_prototype() -> None:
    assert make_spec(sys_none).signature() == "long none(void)"
    assert make_spec(sys_two).signature() == "long two(unsigned int fd, pid_t pid)"
    assert make_spec(sys_ret_size).signature("r") == "long r(char __user *buf)"


def test_signatures_of_built_in_handlers() -> None:
    assert REGISTRY["sys_read"].signature() == "long read(unsigned int fd, char __user *buf, size_t count)"
    assert REGISTRY["sys_getpid"].signature() == "long getpid(void)"
    assert REGISTRY["sys_newuname"].signature("uname").startswith("long uname(")
    assert REGISTRY["sys_newuname"].name == "newuname"
    assert REGISTRY["sys_lseek"].params[0].arg.ctype == "unsigned int"


def test_argtypes_aliases() -> None:
    u32 = U32.__metadata__[0]
    assert (u32.ctype, u32.bits, u32.signed) == ("u32", 32, False)
    assert not UInt.__metadata__[0].is_pointer
    assert BufIn.__metadata__[0].is_pointer
