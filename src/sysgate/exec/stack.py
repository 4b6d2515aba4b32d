"""The initial stack of a new program: strings, argv, envp and the auxiliary vector.

Counterpart: fs/exec.c (copy_strings, setup_arg_pages, bprm_stack_limits) and
create_elf_tables in fs/binfmt_elf.c. The layout is Linux's, byte for byte when
address randomisation is off:

    STACK_TOP ->  8 zero bytes
                  the file name (AT_EXECFN), then envp strings, then argv strings,
                  growing down, so argv[0] is lowest
                  (16-byte alignment) "x86_64\\0" (AT_PLATFORM), 16 random bytes (AT_RANDOM)
                  (16-byte alignment) argc, argv[], NULL, envp[], NULL, auxv pairs, AT_NULL
    sp        ->  argc
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from sysgate.errors import KernelError
from sysgate.mm.mm import Mm
from sysgate.mm.physmem import PAGE_MASK, PAGE_SIZE
from sysgate.mm.vma import VM_ACCOUNT, VM_GROWSDOWN, VM_MAYEXEC, VM_MAYREAD, VM_MAYWRITE, Vma
from sysgate.uapi.errno import Errno
from sysgate.uapi.mman import PROT_EXEC, PROT_READ, PROT_WRITE

MAX_ARG_STRLEN = 32 * PAGE_SIZE
MAX_ARG_STRINGS = 0x7FFFFFFF
STK_LIM = 8 << 20
VM_STACK_FLAGS = VM_GROWSDOWN | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ACCOUNT
"""The stack VMA's flags (VM_STACK | VM_STACK_DEFAULT_FLAGS | VM_ACCOUNT)."""
STACK_EXPAND = 128 << 10
"""setup_arg_pages: room given below the strings, "randomly 32*4k (or 2*64k) pages"."""


@dataclass(slots=True)
class ArgStrings:
    """The strings of a new program, copied onto its stack (struct linux_binprm's part)."""

    p: int  # lowest byte used
    exec_addr: int  # AT_EXECFN
    arg_start: int
    env_start: int
    env_end: int
    argc: int
    envc: int


def check_limits(argv: list[bytes], envp: list[bytes], stack_limit: int) -> None:
    """E2BIG as bprm_stack_limits and copy_strings would give it."""
    limit = min(STK_LIM // 4 * 3, stack_limit // 4)
    limit = max(limit, 32 * PAGE_SIZE)  # ARG_MAX is at least 32 pages
    ptr_size = (len(argv) + len(envp)) * 8
    if limit <= ptr_size:
        raise KernelError(Errno.E2BIG)
    total = sum(len(s) + 1 for s in argv) + sum(len(s) + 1 for s in envp)
    if total > limit - ptr_size or any(len(s) + 1 > MAX_ARG_STRLEN for s in argv + envp):
        raise KernelError(Errno.E2BIG)


def setup_stack(mm: Mm, stack_top: int, filename: bytes, argv: list[bytes], envp: list[bytes],
                exec_stack: bool) -> ArgStrings:
    """Map the stack VMA and copy the strings to its top (copy_strings + setup_arg_pages)."""
    p = stack_top - 8
    strings = [filename] + envp[::-1] + argv[::-1]
    blob = b"".join(s + b"\0" for s in reversed(strings))
    p -= len(blob)
    vm_start = (p & PAGE_MASK) - STACK_EXPAND
    if stack_top - (p & PAGE_MASK) + STACK_EXPAND > mm.stack_limit:
        vm_start = stack_top - (mm.stack_limit & PAGE_MASK)
    prot = PROT_READ | PROT_WRITE | (PROT_EXEC if exec_stack else 0)
    mm.insert_vma(Vma(vm_start, stack_top, prot, VM_STACK_FLAGS,
                      name="[stack]"))
    mm.write(p, blob + bytes(8))
    arg_start = p
    env_start = arg_start + sum(len(s) + 1 for s in argv)
    env_end = env_start + sum(len(s) + 1 for s in envp)
    return ArgStrings(p, env_end, arg_start, env_start, env_end, len(argv), len(envp))


def create_elf_tables(mm: Mm, strings: ArgStrings, platform: bytes, random16: bytes,
                      auxv: list[tuple[int, int]], p: int | None = None) -> int:
    """Write argc, argv, envp and the auxiliary vector; return the initial stack pointer.

    `auxv` lists the entries in the kernel's order; the values of AT_RANDOM and
    AT_PLATFORM are replaced by the addresses placed here. `p` is where the tables
    start below the strings (arch_align_stack of strings.p: 16-byte aligned, and up to
    8 KiB lower when randomising); by default strings.p aligned.
    """
    p = strings.p & ~0xF if p is None else p
    p -= len(platform) + 1
    u_platform = p
    mm.write(u_platform, platform + b"\0")
    p -= 16
    u_rand = p
    mm.write(u_rand, random16)
    entries = []
    for key, value in auxv:
        if key == 25:  # AT_RANDOM
            value = u_rand
        elif key == 15:  # AT_PLATFORM
            value = u_platform
        entries.append((key, value))
    entries.append((0, 0))
    ei_index = len(entries) * 2
    sp = p - ei_index * 8
    items = (strings.argc + 1) + (strings.envc + 1) + 1
    sp = (sp - items * 8) & ~0xF
    words = [strings.argc]
    addr = strings.arg_start
    blob = mm.read(strings.arg_start, strings.env_end - strings.arg_start)
    offsets = [0]
    for i, byte in enumerate(blob):
        if byte == 0:
            offsets.append(i + 1)
    ptrs = [addr + off for off in offsets[:-1]]
    words += ptrs[: strings.argc] + [0] + ptrs[strings.argc :] + [0]
    for key, value in entries:
        words += [key, value]
    mm.write(sp, struct.pack(f"<{len(words)}Q", *words))
    mm.arg_start, mm.arg_end = strings.arg_start, strings.env_start
    mm.env_start, mm.env_end = strings.env_start, strings.env_end
    mm.start_stack = sp
    return sp
