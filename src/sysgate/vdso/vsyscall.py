"""The legacy vsyscall page at 0xffffffffff600000, emulated as Linux's default
vsyscall=xonly does.

Counterpart: arch/x86/entry/vsyscall/vsyscall_64.c (emulate_vsyscall, the gate VMA) and
the call to it at the top of do_user_addr_fault in arch/x86/mm/fault.c. Nothing is
mapped at the page: every access to it faults. A fault that is the fetch of an entry
(gettimeofday at +0x0, time at +0x400, getcpu at +0x800) runs that system call's
handler with the caller's registers and returns as a `ret` would (rip = the return
address on the stack, rsp + 8); everything else about the page gives SIGSEGV as Linux
does:

- reading or writing it: not emulated, so an ordinary SEGV_MAPERR at the address;
- calling any other offset, or with an unreadable stack: SIGSEGV, SI_KERNEL;
- a pointer argument outside user space (access_ok): SIGSEGV, SEGV_MAPERR at it;
- a pointer that faults while the call runs (the syscall's EFAULT): SIGSEGV, SI_KERNEL.

/proc/PID/maps shows the gate area as its last line when mm.vsyscall is set (at exec,
for every x86-64 program). As in Linux, the emulated calls make no system-call stops:
`sysgate trace` does not show them, and hooks do not see them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sysgate.errors import GuestFault, KernelError
from sysgate.kernel.signal import force_sig_fault
from sysgate.mm.mm import TASK_SIZE_MAX, WRITE
from sysgate.mm.uaccess import get_user_u64
from sysgate.uapi import signal as sig
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

VSYSCALL_ADDR = 0xFFFFFFFFFF600000
NR_GETTIMEOFDAY, NR_TIME, NR_GETCPU = 96, 201, 309
_ENTRIES = (  # (system call, the sizes of the pointers it writes, in argument order)
    (NR_GETTIMEOFDAY, (16, 8)),  # struct __kernel_old_timeval, struct timezone
    (NR_TIME, (8,)),  # __kernel_old_time_t
    (NR_GETCPU, (4, 4)),  # unsigned cpu, unsigned node
)


def is_vsyscall_vaddr(addr: int) -> bool:
    return addr & ~0xFFF == VSYSCALL_ADDR


def addr_to_vsyscall_nr(addr: int) -> int:
    """0, 1 or 2 for the three entries; -1 for any other address."""
    if addr & ~0xC00 != VSYSCALL_ADDR:
        return -1
    nr = (addr & 0xC00) >> 10
    return nr if nr < 3 else -1


def access_ok(ptr: int, size: int) -> bool:
    return ptr <= TASK_SIZE_MAX and size <= TASK_SIZE_MAX - ptr


def emulate_vsyscall(t: Task, fault: GuestFault, ip: int) -> bool:
    """Handle a fault at the vsyscall page; False when it is an ordinary bad access
    (the caller then reports SIGSEGV for it as for any unmapped address)."""
    if fault.access == WRITE or fault.addr != ip:
        return False  # a data access: "vsyscall read attempt denied"
    cpu = t.kernel.cpu
    assert cpu is not None
    nr = addr_to_vsyscall_nr(fault.addr)
    if nr < 0:
        force_sig_fault(t, sig.SIGSEGV, sig.SI_KERNEL, 0)  # misaligned vsyscall
        return True
    sp, di, si, dx, flags = cpu.get_regs(["rsp", "rdi", "rsi", "rdx", "rflags"])
    try:
        caller = get_user_u64(t.mm, sp)
    except KernelError:
        force_sig_fault(t, sig.SIGSEGV, sig.SI_KERNEL, 0)  # vsyscall with bad stack
        return True
    syscall_nr, sizes = _ENTRIES[nr]
    for ptr, size in zip((di, si), sizes, strict=False):
        if not access_ok(ptr, size):
            force_sig_fault(t, sig.SIGSEGV, sig.SEGV_MAPERR, ptr)  # write_ok_or_segv
            return True
    # __x64_sys_*(regs) with the caller's registers; getcpu's third argument is 0.
    frame = [syscall_nr, di, si, 0 if syscall_nr == NR_GETCPU else dx, 0, 0, 0, ip, flags]
    try:
        ret = t.kernel.table64.stubs[syscall_nr](t, frame)
    except KernelError as exc:
        ret = -exc.errno
    if ret == -Errno.EFAULT:
        force_sig_fault(t, sig.SIGSEGV, sig.SI_KERNEL, 0)  # "vsyscall fault (exploit attempt?)"
        return True
    cpu.set_regs({"rax": ret, "rip": caller, "rsp": sp + 8})  # emulate a ret instruction
    return True
