"""What differs between the ABIs sysgate serves: registers, sizes, the table.

Counterpart: arch/x86/include/asm/syscall.h and the per-ABI parts of arch/x86/entry.
Generic code asks `t.abi` instead of testing the architecture.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Abi:
    """One user ABI."""

    name: str  # "x86_64"
    word_bits: int  # 64
    arg_regs: tuple[str, ...]  # registers of arguments 0..5, in order
    nr_reg: str  # the register that holds the system call number
    elf_machine: int  # e_machine of its executables (EM_X86_64 = 62)
    elf_class: int  # ELFCLASS64 = 2
    platform: bytes  # AT_PLATFORM
    task_size: int  # TASK_SIZE for its processes
