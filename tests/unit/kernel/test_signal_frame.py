"""The x86-64 rt_sigframe as Linux 6.12 lays it out (arch/x86_64/signal.py), and the
dequeue order of kernel/signal.py: sizes and offsets checked against the kernel's
structs (sizeof(struct rt_sigframe) = 440, uc_mcontext at 40, ...), without a CPU."""

from __future__ import annotations

import struct

from sysgate.arch.x86_64 import signal as fr
from sysgate.kernel.signal import SigAction, next_signal
from sysgate.kernel.task import Task
from sysgate.uapi import signal as ls


def test_struct_sizes_and_offsets() -> None:
    assert fr.RT_SIGFRAME_SIZE == 8 + fr.UCONTEXT_SIZE + fr.SIGINFO_SIZE == 440
    assert fr.SIGCONTEXT.size == 256
    assert fr.UCONTEXT_HEAD.size == fr.UC_MCONTEXT == 40
    assert fr.UC_SIGMASK == fr.UC_MCONTEXT + fr.SIGCONTEXT.size == 296
    assert fr.INFO_OFFSET == 312
    assert fr.SIGCONTEXT_COPY == 192  # offsetof(struct sigcontext, reserved1)
    assert fr.FPX_SW_BYTES.size == 48 and fr.SW_RESERVED + 48 == fr.FXSAVE_SIZE


def test_xsave_image_has_the_software_bytes_header_and_magic2() -> None:
    image = fr.xsave_image(fr.init_fxsave(), 576)
    assert len(image) == fr.xstate_sigframe_size(576) == 580
    assert fr.FPX_SW_BYTES.unpack_from(image, 464) == (fr.FP_XSTATE_MAGIC1, 580, 3, 576)
    assert struct.unpack_from("<Q", image, 512)[0] == 3  # xstate_bv: FP|SSE
    assert struct.unpack_from("<I", image, 576)[0] == fr.FP_XSTATE_MAGIC2
    assert struct.unpack_from("<HI", image, 0)[0] == 0x37F and struct.unpack_from("<I", image, 24)[0] == 0x1F80


def test_get_sigframe_alignment_red_zone_and_altstack(task: Task) -> None:
    action = SigAction(0x1000, ls.SA_RESTORER, 0x2000)
    sp = 0x7FFF_0000_1235
    where = fr.get_sigframe(task, action, sp, 576)
    assert where is not None
    assert (where.frame + 8) % 16 == 0  # as after a call
    assert where.fpstate % 64 == 0
    assert where.fpstate + 580 <= sp - 128  # below the red zone
    assert where.frame + fr.RT_SIGFRAME_SIZE <= where.fpstate
    task.sas_ss_sp, task.sas_ss_size, task.sas_ss_flags = 0x10000, 0x4000, 0
    onstack = SigAction(0x1000, ls.SA_RESTORER | ls.SA_ONSTACK, 0x2000)
    alt = fr.get_sigframe(task, onstack, sp, 576)
    assert alt is not None and 0x10000 < alt.frame < alt.fpstate < 0x14000
    task.sas_ss_size = 0x400  # too small for the frame: the "always-bogus" frame (SIGSEGV)
    assert fr.get_sigframe(task, onstack, sp, 576) is None


def test_fpu_restore_rules(task: Task) -> None:
    from tests.conftest import USER_BUF

    good = fr.xsave_image(fr.init_fxsave(), 576)
    task.mm.write(USER_BUF, good)
    assert fr.fpu_restore_sig(task, USER_BUF, 576) == (fr.init_fxsave(), True)
    assert fr.fpu_restore_sig(task, 0, 576) == (fr.init_fxsave(), True)  # NULL: the initial state
    bad_mxcsr = bytearray(good)
    struct.pack_into("<I", bad_mxcsr, 24, 0x10000)
    task.mm.write(USER_BUF, bytes(bad_mxcsr))
    assert fr.fpu_restore_sig(task, USER_BUF, 576)[1] is False  # #GP in XRSTOR: SIGSEGV
    bad_bv = bytearray(good)
    struct.pack_into("<Q", bad_bv, 512, 4)  # a feature XCR0 does not have
    task.mm.write(USER_BUF, bytes(bad_bv))
    assert fr.fpu_restore_sig(task, USER_BUF, 576)[1] is False
    fx_only = bytearray(good)
    struct.pack_into("<I", fx_only, 464, 0)  # no magic1: a plain FXSAVE image is taken
    struct.pack_into("<B", fx_only, 160, 0xAB)  # xmm0's first byte
    task.mm.write(USER_BUF, bytes(fx_only))
    image, ok = fr.fpu_restore_sig(task, USER_BUF, 576)
    assert ok and image[160] == 0xAB
    assert fr.fpu_restore_sig(task, 0xFFFF800000000000, 576)[1] is False


def test_next_signal_takes_faults_first_then_the_lowest() -> None:
    m = ls.sigmask
    assert next_signal(m(ls.SIGTERM) | m(ls.SIGSEGV) | m(ls.SIGHUP), 0) == ls.SIGSEGV
    assert next_signal(m(ls.SIGTERM) | m(ls.SIGHUP), 0) == ls.SIGHUP
    assert next_signal(m(ls.SIGTERM) | m(ls.SIGHUP), m(ls.SIGHUP)) == ls.SIGTERM
    assert next_signal(m(40) | m(35), 0) == 35
    assert next_signal(m(ls.SIGHUP), m(ls.SIGHUP)) == 0


def test_siginfo_to_user() -> None:
    from sysgate.kernel.signal import SigInfo

    data = fr.siginfo_to_user(SigInfo(ls.SIGSEGV, ls.SEGV_MAPERR, addr=0x1234))
    assert struct.unpack_from("<iiiiQ", data) == (ls.SIGSEGV, 0, ls.SEGV_MAPERR, 0, 0x1234)
    data = fr.siginfo_to_user(SigInfo(ls.SIGUSR1, ls.SI_USER, 7, 1000))
    assert struct.unpack_from("<iii4xiI", data) == (ls.SIGUSR1, 0, 0, 7, 1000)
    assert fr.siginfo_to_user(SigInfo(1, 0, raw=b"x" * 128)) == b"x" * 128
