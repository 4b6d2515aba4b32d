"""personality: the execution domain of a task, and the flags that change its behaviour.

Counterpart: kernel/exec_domain.c (SYSCALL_DEFINE1(personality)) and the places that
read current->personality: load_elf_binary (ADDR_NO_RANDOMIZE, MMAP_PAGE_ZERO, and
READ_IMPLIES_EXEC cleared for 64-bit programs), mmap and mprotect (READ_IMPLIES_EXEC),
newuname (UNAME26, PER_LINUX32).

Like Linux, personality() stores any value and returns the previous one; 0xffffffff
only asks. The first program's personality is PER_LINUX|ADDR_NO_RANDOMIZE (as under
`setarch -R`), or PER_LINUX with `sysgate run --aslr`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from sysgate.argtypes import Arg
from sysgate.syscall import Support, syscall
from sysgate.uapi.personality import PER_LINUX32, PER_MASK, UNAME26

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

PERSONALITY_QUERY = 0xFFFFFFFF
"""personality(0xffffffff) changes nothing and returns the current personality."""
COMPAT_UTS_MACHINE = b"i686"
"""What uname reports as the machine under PER_LINUX32 (arch/x86/include/asm/compat.h)."""

Persona = Annotated[int, Arg("unsigned int", 32, show="personality")]


@syscall(support=Support.PARTIAL, ret="personality",
         note="every value is stored and returned; ADDR_NO_RANDOMIZE and MMAP_PAGE_ZERO take effect at "
         "the next execve, READ_IMPLIES_EXEC in mmap and mprotect, UNAME26 and PER_LINUX32 in uname; "
         "ADDR_COMPAT_LAYOUT (the legacy bottom-up mmap layout) and STICKY_TIMEOUTS (select) are "
         "stored but not acted on")
def sys_personality(t: Task, personality: Persona) -> int:
    """set the process execution domain"""
    old = t.personality
    if personality != PERSONALITY_QUERY:
        t.personality = personality
    return old


def override_release(personality: int, release: bytes, patchlevel: int) -> bytes:
    """kernel/sys.c: the release under UNAME26, for programs that cannot handle "Linux 3.0":
    the leading version becomes 2.6.(60 + PATCHLEVEL), the rest ("-sysgate") stays."""
    if not personality & UNAME26:
        return release
    i = ndots = 0
    while i < len(release):
        c = release[i : i + 1]
        if c == b"." and (ndots := ndots + 1) >= 3:
            break
        if not c.isdigit() and c != b".":
            break
        i += 1
    return f"2.6.{patchlevel + 60}".encode() + release[i:]


def override_architecture(personality: int, machine: bytes) -> bytes:
    """The machine uname reports: i686 for a PER_LINUX32 task (COMPAT_UTS_MACHINE)."""
    return COMPAT_UTS_MACHINE if personality & PER_MASK == PER_LINUX32 else machine
