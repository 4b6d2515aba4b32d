"""The x86-64 signal frame: rt_sigframe on the guest stack, and rt_sigreturn's restore.

Counterpart: arch/x86/kernel/signal.c (get_sigframe), signal_64.c (x64_setup_rt_frame,
restore_sigcontext, rt_sigreturn) and fpu/signal.c (copy_fpstate_to_sigframe,
fpu__restore_sig). The layouts are Linux 6.12's for a CPU whose XSAVE features are
x87|SSE (XCR0 = 3, a 576-byte XSAVE area, kernel.XSAVE_SIZE):

    frame + 0     pretcode        sa_restorer: where the handler's `ret` goes
    frame + 8     struct ucontext uc_flags, uc_link, uc_stack, uc_mcontext (sigcontext),
                                  uc_sigmask                              (304 bytes)
    frame + 312   siginfo_t       written only with SA_SIGINFO            (128 bytes)
    fpstate       XSAVE image     FXSAVE (512, sw_reserved = fpx_sw_bytes), header
                                  (64), FP_XSTATE_MAGIC2                 (580 bytes)

`frame` is chosen so that the handler starts with (rsp + 8) 16-byte aligned, as after a
`call`; the fpstate sits above it, 64-byte aligned, below the 128-byte red zone (or at the
top of the alternate stack).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.kernel.sched import TaskState
from sysgate.kernel.signal import (
    NR_RESTART_SYSCALL,
    KSignal,
    force_sigsegv,
    get_ksignal,
    restore_saved_sigmask,
    signal_delivered,
)
from sysgate.mm.uaccess import copy_from_user, copy_to_user
from sysgate.uapi import signal as ls
from sysgate.uapi.errno import Errno
from sysgate.uapi.signal import SA_RESTART

if TYPE_CHECKING:
    from sysgate.kernel.signal import SigAction, SigInfo
    from sysgate.kernel.task import Task

_MASK64 = (1 << 64) - 1

# struct rt_sigframe and struct ucontext (arch/x86/include/asm/sigframe.h, uapi/asm/ucontext.h)
RT_SIGFRAME_SIZE = 440
UC_OFFSET = 8  # rt_sigframe.uc
UC_FLAGS = 0
UC_LINK = 8
UC_STACK = 16
UC_MCONTEXT = 40
UC_SIGMASK = 296
UCONTEXT_SIZE = 304
INFO_OFFSET = UC_OFFSET + UCONTEXT_SIZE  # rt_sigframe.info: 312
SIGINFO_SIZE = 128

UC_FP_XSTATE = 0x1
UC_SIGCONTEXT_SS = 0x2
UC_STRICT_RESTORE_SS = 0x4
UC_FLAGS_64 = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS
"""frame_uc_flags() for 64-bit code on a CPU with XSAVE."""

SIGCONTEXT = struct.Struct("<16QQQHHHHQQQQQ64x")
"""struct sigcontext_64: r8-r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags,
cs, gs, fs, ss, err, trapno, oldmask, cr2, fpstate, reserved1[8] (256 bytes)."""
SIGCONTEXT_COPY = 192  # offsetof(struct sigcontext, reserved1): what restore_sigcontext reads
SC_GPRS = ("r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rdi", "rsi", "rbp", "rbx",
           "rdx", "rax", "rcx", "rsp")
UCONTEXT_HEAD = struct.Struct("<QQQI4xQ")  # uc_flags, uc_link, uc_stack {ss_sp, ss_flags, ss_size}

USER_CS = 0x33
USER_DS = 0x2B  # __USER_DS: what SS holds in 64-bit user mode

# The XSAVE area (arch/x86/include/uapi/asm/sigcontext.h, asm/fpu/types.h)
FXSAVE_SIZE = 512
XSAVE_HEADER_SIZE = 64
FP_XSTATE_MAGIC1 = 0x46505853
FP_XSTATE_MAGIC2 = 0x46505845
FP_XSTATE_MAGIC2_SIZE = 4
SW_RESERVED = 464  # fxregs_state.sw_reserved: struct _fpx_sw_bytes
FPX_SW_BYTES = struct.Struct("<IIQI28x")  # magic1, extended_size, xfeatures, xstate_size, padding
XFEATURE_MASK_FPSSE = 0x3
MXCSR_DEFAULT = 0x1F80
MXCSR_FEATURE_MASK = 0xFFFF
FCW_DEFAULT = 0x37F

# EFLAGS bits (arch/x86/include/uapi/asm/processor-flags.h)
X86_EFLAGS_CF, X86_EFLAGS_PF, X86_EFLAGS_AF, X86_EFLAGS_ZF = 0x1, 0x4, 0x10, 0x40
X86_EFLAGS_SF, X86_EFLAGS_TF, X86_EFLAGS_DF, X86_EFLAGS_OF = 0x80, 0x100, 0x400, 0x800
X86_EFLAGS_RF, X86_EFLAGS_AC = 0x10000, 0x40000
FIX_EFLAGS = (X86_EFLAGS_AC | X86_EFLAGS_OF | X86_EFLAGS_DF | X86_EFLAGS_TF | X86_EFLAGS_SF | X86_EFLAGS_ZF
              | X86_EFLAGS_AF | X86_EFLAGS_PF | X86_EFLAGS_CF | X86_EFLAGS_RF)
"""The flags rt_sigreturn takes from the frame (asm/sighandling.h); the rest are kept."""

FRAME_ALIGNMENT = 16
RED_ZONE = 128

REGS = (*SC_GPRS, "rip", "rflags")
"""The registers a frame saves, in the order get_regs/set_regs use here."""


def xstate_sigframe_size(xsave_size: int) -> int:
    """The fpstate's size in a frame: the XSAVE area and FP_XSTATE_MAGIC2."""
    return xsave_size + FP_XSTATE_MAGIC2_SIZE


def init_fxsave() -> bytes:
    """The FXSAVE image of the FPU's initial state (init_fpstate): fninit, MXCSR 0x1f80."""
    image = bytearray(FXSAVE_SIZE)
    struct.pack_into("<H", image, 0, FCW_DEFAULT)
    struct.pack_into("<I", image, 24, MXCSR_DEFAULT)
    struct.pack_into("<I", image, 28, MXCSR_FEATURE_MASK)
    return bytes(image)


def xsave_image(fxsave: bytes, xsave_size: int) -> bytes:
    """What copy_fpstate_to_sigframe writes: the XSAVE area with the software bytes, the
    header's xstate_bv (FP|SSE always set, save_xstate_epilog) and the second magic."""
    image = bytearray(fxsave[:FXSAVE_SIZE].ljust(FXSAVE_SIZE, b"\0"))
    image[SW_RESERVED:FXSAVE_SIZE] = FPX_SW_BYTES.pack(
        FP_XSTATE_MAGIC1, xstate_sigframe_size(xsave_size), XFEATURE_MASK_FPSSE, xsave_size)
    header = bytearray(XSAVE_HEADER_SIZE)
    struct.pack_into("<Q", header, 0, XFEATURE_MASK_FPSSE)
    image += header
    image = image.ljust(xsave_size, b"\0")
    image += FP_XSTATE_MAGIC2.to_bytes(4, "little")
    return bytes(image)


def siginfo_to_user(info: SigInfo) -> bytes:
    """The 128-byte siginfo_t of a queued signal (copy_siginfo_to_user)."""
    if info.raw is not None:
        return info.raw
    data = bytearray(SIGINFO_SIZE)
    struct.pack_into("<iii", data, 0, info.signo, 0, info.code)
    if info.addr is not None:
        struct.pack_into("<Q", data, 16, info.addr & _MASK64)
    elif info.code != ls.SI_KERNEL:
        struct.pack_into("<iI", data, 16, info.pid, info.uid & 0xFFFFFFFF)
    return bytes(data)


# -- the alternate stack (include/linux/sched/signal.h) ------------------------------------


def __on_sig_stack(t: Task, sp: int) -> bool:
    return sp > t.sas_ss_sp and sp - t.sas_ss_sp <= t.sas_ss_size


def on_sig_stack(t: Task, sp: int) -> bool:
    """Whether `sp` is on the alternate stack; never with SS_AUTODISARM (on_sig_stack)."""
    if t.sas_ss_flags & ls.SS_AUTODISARM:
        return False
    return __on_sig_stack(t, sp)


def sas_ss_flags(t: Task, sp: int) -> int:
    if not t.sas_ss_size:
        return ls.SS_DISABLE
    return ls.SS_ONSTACK if on_sig_stack(t, sp) else 0


# -- building the frame ----------------------------------------------------------------


@dataclass(slots=True)
class SigFrame:
    """Where a frame went: the rt_sigframe and its fpstate."""

    frame: int
    fpstate: int


def get_sigframe(t: Task, action: SigAction, sp: int, xsave_size: int) -> SigFrame | None:
    """Choose the frame's place (get_sigframe); None for Linux's "always-bogus address"
    (an alternate stack the frame would overflow), which ends in SIGSEGV."""
    nested_altstack = on_sig_stack(t, sp)
    entering_altstack = False
    sp -= RED_ZONE
    if action.flags & ls.SA_ONSTACK and sas_ss_flags(t, sp) == 0:
        sp = t.sas_ss_sp + t.sas_ss_size
        entering_altstack = True
    sp = (sp - xstate_sigframe_size(xsave_size)) & ~63  # fpu__alloc_mathframe: 64-byte aligned
    fpstate = sp
    sp -= RT_SIGFRAME_SIZE
    sp = (sp & ~(FRAME_ALIGNMENT - 1)) - 8
    if (nested_altstack or entering_altstack) and not __on_sig_stack(t, sp):
        return None
    return SigFrame(sp & _MASK64, fpstate & _MASK64)


def setup_rt_frame(
    t: Task, sig: int, action: SigAction, info: SigInfo, regs: dict[str, int], fxsave: bytes,
    mask: int, trap: tuple[int, int, int], xsave_size: int,
) -> dict[str, int] | None:
    """Write the frame for a handler of `sig` (x64_setup_rt_frame); return the registers
    the handler starts with, or None when the frame cannot be written (-EFAULT: the
    caller forces SIGSEGV). `regs` are the interrupted registers (REGS), `mask` the
    signal mask to restore, `trap` the thread's (trap_nr, error_code, cr2)."""
    if not action.flags & ls.SA_RESTORER:
        return None  # "x86-64 should always use SA_RESTORER"
    where = get_sigframe(t, action, regs["rsp"], xsave_size)
    if where is None:
        return None
    frame, fp = where.frame, where.fpstate
    trapno, err, cr2 = trap
    try:
        copy_to_user(t.mm, fp, xsave_image(fxsave, xsave_size))
        head = struct.pack("<Q", action.restorer & _MASK64) + UCONTEXT_HEAD.pack(
            UC_FLAGS_64, 0, t.sas_ss_sp & _MASK64, t.sas_ss_flags & 0xFFFFFFFF,
            t.sas_ss_size & _MASK64)
        sc = SIGCONTEXT.pack(*(regs[r] & _MASK64 for r in SC_GPRS), regs["rip"] & _MASK64,
                             regs["rflags"] & _MASK64, USER_CS, 0, 0, USER_DS, err, trapno, mask & _MASK64,
                             cr2 & _MASK64, fp)
        copy_to_user(t.mm, frame, head + sc + (mask & _MASK64).to_bytes(8, "little"))
        if action.flags & ls.SA_SIGINFO:
            copy_to_user(t.mm, frame + INFO_OFFSET, siginfo_to_user(info))
    except KernelError:
        return None
    new = dict(regs)
    new.update(rdi=sig, rax=0, rsi=frame + INFO_OFFSET, rdx=frame + UC_OFFSET, rip=action.handler & _MASK64,
               rsp=frame, rflags=regs["rflags"] & ~(X86_EFLAGS_DF | X86_EFLAGS_RF | X86_EFLAGS_TF))
    return new


# -- rt_sigreturn ----------------------------------------------------------------------


class BadFrame(Exception):
    """The frame rt_sigreturn found cannot be restored: the task gets SIGSEGV."""


@dataclass(slots=True)
class Restored:
    """What rt_sigreturn takes back from a frame."""

    regs: dict[str, int]  # REGS, rflags already merged with FIX_EFLAGS
    fxsave: bytes  # the FPU state to load
    mask: int  # uc_sigmask
    stack: tuple[int, int, int] | None  # uc_stack (ss_sp, ss_flags, ss_size); None: unreadable
    fpu_ok: bool  # False: the registers are restored, but the fpstate was bad (SIGSEGV)


def _read(t: Task, addr: int, size: int) -> bytes:
    try:
        return copy_from_user(t.mm, addr, size)
    except KernelError:
        raise BadFrame from None


def restore_rt_frame(t: Task, sp: int, rflags: int, xsave_size: int) -> tuple[int, Restored | None]:
    """Read the frame rt_sigreturn returns through (`sp` is rsp at the call: the frame
    is 8 below, pretcode having been popped). Returns the mask (set first, as Linux does)
    and what was restored; raises BadFrame before anything changes when the mask or the
    flags cannot be read, and returns (mask, None) when the sigcontext cannot."""
    frame = (sp - 8) & _MASK64
    if not 0 <= frame <= t.abi.task_size - RT_SIGFRAME_SIZE:
        raise BadFrame  # access_ok
    uc = frame + UC_OFFSET
    mask = int.from_bytes(_read(t, uc + UC_SIGMASK, 8), "little")
    _read(t, uc + UC_FLAGS, 8)
    try:
        sc = SIGCONTEXT.unpack(_read(t, uc + UC_MCONTEXT, SIGCONTEXT_COPY) + bytes(64))
    except BadFrame:
        return mask, None
    regs = dict(zip(SC_GPRS, sc[:16], strict=True))
    regs["rip"] = sc[16]
    regs["rflags"] = (rflags & ~FIX_EFLAGS) | (sc[17] & FIX_EFLAGS)
    fxsave, fpu_ok = fpu_restore_sig(t, sc[26], xsave_size)
    try:
        ss_sp, ss_flags, ss_size = struct.unpack("<Qi4xQ", _read(t, uc + UC_STACK, 24))
        stack: tuple[int, int, int] | None = (ss_sp, ss_flags & 0xFFFFFFFF, ss_size)
    except BadFrame:
        stack = None
    return mask, Restored(regs, fxsave, mask, stack, fpu_ok)


def fpu_restore_sig(t: Task, buf: int, xsave_size: int) -> tuple[bytes, bool]:
    """fpu__restore_sig: the FPU state a frame's fpstate gives, and whether it was good.

    A NULL fpstate is the initial state. Without the software bytes and both magics the
    area is taken as a plain FXSAVE image (fx_only). XRSTOR's rules: a component whose
    xstate_bv bit is clear is put in its initial state; MXCSR bits outside the feature
    mask, xstate_bv bits outside XCR0 or a non-zero XCOMP_BV are a #GP, which Linux turns
    into SIGSEGV (and the initial state)."""
    init = init_fxsave()
    if not buf:
        return init, True
    size = xstate_sigframe_size(xsave_size)
    if not 0 <= buf <= t.abi.task_size - size:
        return init, False
    try:
        sw = FPX_SW_BYTES.unpack(_read(t, buf + SW_RESERVED, FPX_SW_BYTES.size))
        magic1, extended_size, xfeatures, xstate_size = sw
        fx_only = (magic1 != FP_XSTATE_MAGIC1 or xstate_size < FXSAVE_SIZE + XSAVE_HEADER_SIZE
                   or xstate_size > xsave_size or xstate_size > extended_size)
        if not fx_only:
            magic2 = int.from_bytes(_read(t, buf + xstate_size, 4), "little")
            fx_only = magic2 != FP_XSTATE_MAGIC2
        if fx_only:
            xfeatures = XFEATURE_MASK_FPSSE
        xrestore = xfeatures & XFEATURE_MASK_FPSSE
        area = _read(t, buf, FXSAVE_SIZE if fx_only else FXSAVE_SIZE + XSAVE_HEADER_SIZE)
    except BadFrame:
        return init, False
    mxcsr = int.from_bytes(area[24:28], "little")
    xstate_bv = XFEATURE_MASK_FPSSE
    if not fx_only:
        xstate_bv = int.from_bytes(area[512:520], "little")
        if xstate_bv & ~XFEATURE_MASK_FPSSE or any(area[520:536]):
            return init, False
    if xrestore & 2 and mxcsr & ~MXCSR_FEATURE_MASK:
        return init, False
    image = bytearray(init)
    if xrestore & 1 and xstate_bv & 1:  # x87: control/status/tag words, pointers, ST0-7
        image[0:24] = area[0:24]
        image[32:160] = area[32:160]
    if xrestore & 2:
        image[24:28] = area[24:28]  # MXCSR comes with RFBM[1], whatever xstate_bv says
        if xstate_bv & 2:
            image[160:416] = area[160:416]
    return bytes(image), True


# -- delivery: arch_do_signal_or_restart -------------------------------------------------


def do_signal(t: Task) -> None:
    """arch_do_signal_or_restart, repeated while signals are pending (exit_to_user_mode_loop).

    The task's registers are live in the CPU; it resumes at t.resume_pc. When it stopped
    on the way out of a system call (t.in_syscall), rax holds the result and
    t.regs.orig_ax the number, and the -ERESTART* results are resolved here."""
    cpu = t.kernel.cpu
    assert cpu is not None
    in_syscall = t.in_syscall and (t.regs.orig_ax & _MASK64) != _MASK64
    first = True
    while first or t.sigpending:
        ksig = get_ksignal(t)
        if t.state is not TaskState.RUNNABLE or t.group.group_exiting:
            if in_syscall and first:
                _restart_without_handler(t)  # resumed after SIGCONT as if no handler ran
            return
        if ksig is not None:
            handle_signal(t, ksig, in_syscall and first)
        else:
            if in_syscall and first:
                _restart_without_handler(t)
            restore_saved_sigmask(t)
            return
        first = False


def _restart_without_handler(t: Task) -> None:
    cpu = t.kernel.cpu
    assert cpu is not None
    ax = cpu.get_reg("rax")
    err = -(ax - (1 << 64)) if ax >> 63 else 0
    if err in (Errno.ERESTARTNOHAND, Errno.ERESTARTSYS, Errno.ERESTARTNOINTR):
        cpu.set_regs({"rax": t.regs.orig_ax})
        t.resume_pc -= 2
    elif err == Errno.ERESTART_RESTARTBLOCK:
        cpu.set_regs({"rax": NR_RESTART_SYSCALL})
        t.resume_pc -= 2


def handle_signal(t: Task, ksig: KSignal, in_syscall: bool) -> None:
    """Resolve a system call's restart for a handler, write the frame, enter the handler."""
    from sysgate.kernel.kernel import XSAVE_SIZE

    cpu = t.kernel.cpu
    assert cpu is not None
    regs = dict(zip(REGS, cpu.get_regs(list(REGS)), strict=True))
    regs["rip"] = t.resume_pc
    if in_syscall:
        ax = regs["rax"]
        err = -(ax - (1 << 64)) if ax >> 63 else 0
        if err in (Errno.ERESTART_RESTARTBLOCK, Errno.ERESTARTNOHAND) or (
                err == Errno.ERESTARTSYS and not ksig.action.flags & SA_RESTART):
            regs["rax"] = -Errno.EINTR & _MASK64
        elif err in (Errno.ERESTARTSYS, Errno.ERESTARTNOINTR):
            regs["rax"] = t.regs.orig_ax & _MASK64
            regs["rip"] -= 2
    mask = t.saved_sigmask if t.saved_sigmask is not None else t.blocked
    new = setup_rt_frame(t, ksig.sig, ksig.action, ksig.info, regs, cpu.get_fxsave(), mask, t.trap_info,
                         XSAVE_SIZE)
    if new is None:
        cpu.set_regs({"rax": regs["rax"]})
        t.resume_pc = regs["rip"]
        force_sigsegv(t, ksig.sig)
        return
    t.resume_pc = new.pop("rip")
    cpu.set_regs(new)
    cpu.set_fxsave(init_fxsave())  # fpu__clear_user_states: the handler starts with a clean FPU
    signal_delivered(t, ksig)
