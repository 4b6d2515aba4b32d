"""What sysgate needs from a CPU: run guest code, trap system calls, report faults.

Counterpart: the hardware itself (and arch/x86/kernel/traps.c, which turns CPU
exceptions into signals). Nothing above sysgate.cpu imports unicorn; the kernel talks
to a Cpu through this Protocol, and unit tests use FakeCpu.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sysgate.mm.mm import Mm


class StopKind(enum.Enum):
    """Why run() returned."""

    STOPPED = "stopped"  # the kernel asked (exit, a signal to deliver, a task switch)
    PAGE_FAULT = "page_fault"  # an access the page tables refused
    EXCEPTION = "exception"  # a CPU exception: vector in Stop.vector
    INVALID_OPCODE = "invalid_opcode"  # #UD
    HALT = "halt"  # a privileged instruction that ended emulation (hlt)
    ERROR = "error"  # sysgate raised inside a hook: Stop.error holds it


@dataclass(slots=True)
class Stop:
    """The reason run() returned and what the kernel needs to act on it."""

    kind: StopKind
    pc: int = 0
    vector: int = 0
    error: BaseException | None = None
    where: str = ""  # ERROR: the hook that failed ("syscall", "page fault", "interrupt"); STOPPED: "slice"


# x86 exception vectors (arch/x86/include/asm/trapnr.h)
X86_TRAP_DE = 0
X86_TRAP_DB = 1
X86_TRAP_BP = 3
X86_TRAP_OF = 4
X86_TRAP_BR = 5
X86_TRAP_UD = 6
X86_TRAP_NM = 7
X86_TRAP_GP = 13
X86_TRAP_PF = 14
X86_TRAP_MF = 16
X86_TRAP_AC = 17
X86_TRAP_XF = 19

SyscallEntry = Callable[[list[int]], int]
"""Called on `syscall` with [rax, rdi, rsi, rdx, r10, r8, r9, rip, rflags]; returns rax."""


class Cpu(Protocol):
    """One x86-64 CPU running one address space at a time."""

    mm: Mm
    on_syscall: SyscallEntry
    skip_sysret: bool

    def run(self, pc: int) -> Stop:
        """Run from `pc` until the kernel stops the CPU or the guest faults."""

    def stop(self) -> None:
        """End the current run() at the next instruction boundary."""

    def get_reg(self, name: str) -> int: ...

    def set_regs(self, values: dict[str, int]) -> None:
        """Set registers by name (rax ... r15, rip, rflags, fs_base, gs_base)."""

    def get_regs(self, names: list[str]) -> list[int]: ...

    def set_pc_in_syscall(self, pc: int) -> None:
        """From inside a system call: make the guest resume at `pc`."""

    def switch_mm(self, mm: Mm) -> None:
        """Run `mm` from now on (load CR3): forget cached translations."""
