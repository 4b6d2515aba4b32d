"""The x86-64 ABI (arch/x86/include/asm/syscall.h: rdi rsi rdx r10 r8 r9, number in rax)."""

from sysgate.arch.abi import Abi
from sysgate.mm.mm import TASK_SIZE_MAX

X86_64 = Abi(
    name="x86_64",
    word_bits=64,
    arg_regs=("rdi", "rsi", "rdx", "r10", "r8", "r9"),
    nr_reg="rax",
    elf_machine=62,
    elf_class=2,
    platform=b"x86_64",
    task_size=TASK_SIZE_MAX,
)
