"""CPU exceptions become signals; sysgate's own failures become one-line errors.

Counterpart: arch/x86/kernel/traps.c (do_trap, do_int3_user, exc_general_protection,
exc_invalid_op, math errors) and arch/x86/mm/fault.c (do_user_addr_fault,
bad_area_nosemaphore): which signal, si_code and si_addr each exception gives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sysgate.cpu.base import X86_TRAP_BP, X86_TRAP_DB, X86_TRAP_DE, X86_TRAP_MF, X86_TRAP_XF, Stop, StopKind
from sysgate.errors import SysgateError
from sysgate.kernel.signal import force_sig_fault
from sysgate.uapi import signal as sig
from sysgate.vdso.vsyscall import emulate_vsyscall, is_vsyscall_vaddr

if TYPE_CHECKING:
    from sysgate.kernel.kernel import Kernel
    from sysgate.kernel.task import Task

INTERNAL_ERROR_STATUS = 125
"""Exit status of `sysgate run` when sysgate (or a user system call) fails, not the guest."""


def do_trap(k: Kernel, t: Task, stop: Stop) -> None:
    """Turn a CPU event into a signal for the task (arch/x86/kernel/traps.c, fault.c)."""
    kind = stop.kind
    if kind is StopKind.STOPPED:
        return
    if kind is StopKind.ERROR:
        assert stop.error is not None
        raise describe_error(k, t, stop)
    if kind is StopKind.PAGE_FAULT:
        fault = t.mm.last_fault
        assert fault is not None
        if t.mm.vsyscall and is_vsyscall_vaddr(fault.addr) and emulate_vsyscall(t, fault, stop.pc):
            return  # a call of the vsyscall page, served (or its own SIGSEGV queued)
        if fault.bus:
            force_sig_fault(t, sig.SIGBUS, sig.BUS_ADRERR, fault.addr)
        elif (1 << 47) <= fault.addr < 0xFFFF800000000000:
            # A non-canonical address is a #GP, not a page fault: no address is told.
            force_sig_fault(t, sig.SIGSEGV, sig.SI_KERNEL, 0)
        else:
            code = sig.SEGV_ACCERR if fault.mapped else sig.SEGV_MAPERR
            force_sig_fault(t, sig.SIGSEGV, code, fault.addr)
    elif kind is StopKind.INVALID_OPCODE:
        force_sig_fault(t, sig.SIGILL, sig.ILL_ILLOPN, stop.pc)
    elif kind is StopKind.HALT:
        force_sig_fault(t, sig.SIGSEGV, sig.SI_KERNEL, 0)  # hlt in user mode is a #GP
    elif stop.vector == X86_TRAP_DE:
        force_sig_fault(t, sig.SIGFPE, sig.FPE_INTDIV, stop.pc)
    elif stop.vector == X86_TRAP_BP:
        force_sig_fault(t, sig.SIGTRAP, sig.SI_KERNEL, 0)  # do_int3_user: do_trap, no address
    elif stop.vector == X86_TRAP_DB:
        force_sig_fault(t, sig.SIGTRAP, sig.TRAP_BRKPT, stop.pc)  # icebp: send_sigtrap, get_si_code(0)
    elif stop.vector in (X86_TRAP_MF, X86_TRAP_XF):
        force_sig_fault(t, sig.SIGFPE, 0, stop.pc)
    else:
        force_sig_fault(t, sig.SIGSEGV, sig.SI_KERNEL, 0)

def describe_error(k: Kernel, t: Task, stop: Stop) -> BaseException:
    """What to raise for an exception that escaped a hook: a SysgateError as it is,
    a user system call's failure as a one-line SysgateError, and sysgate's own bugs
    with the system call named (the original exception stays chained)."""
    err = stop.error
    assert err is not None
    if isinstance(err, SysgateError) or stop.where != "syscall":
        return err
    nr = t.regs.orig_ax & 0xFFFFFFFF
    slot = k.table64.slots.get(nr)
    name = slot.name if slot is not None else f"syscall_{nr:#x}"
    if slot is not None and slot.user:
        wrapped = SysgateError(f"the user system call {name} ({nr}) raised {type(err).__name__}: {err}",
                               INTERNAL_ERROR_STATUS)
    else:
        wrapped = SysgateError(f"internal error in {name} ({nr}): {type(err).__name__}: {err}",
                               INTERNAL_ERROR_STATUS)
    wrapped.__cause__ = err
    return wrapped
