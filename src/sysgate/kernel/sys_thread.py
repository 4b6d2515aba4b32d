"""Per-thread registrations glibc and musl make at start-up: set_tid_address,
set_robust_list, get_robust_list, rseq.

Counterpart: kernel/fork.c (set_tid_address), kernel/futex/syscalls.c (robust lists)
and kernel/rseq.c.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Annotated

from sysgate.arch.x86_64.structs import ROBUST_LIST_HEAD_SIZE
from sysgate.argtypes import INOUT, OUT, Arg, Int, SizeT, UserPtr, struct_in
from sysgate.errors import KernelError
from sysgate.mm.uaccess import access_ok, copy_to_user, get_user_u64, put_user_u64
from sysgate.syscall import Support, syscall
from sysgate.uapi.errno import Errno

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

TidPtr = Annotated[int, UserPtr("int __user *", show="printargs", direction=OUT)]
RobustHead = Annotated[int, struct_in("struct robust_list_head __user *", "robust_list_head")]
RobustHeadPtr = Annotated[int, UserPtr("struct robust_list_head __user * __user *", show="printnum_ptr",
                                       direction=OUT)]
LenPtr = Annotated[int, UserPtr("size_t __user *", show="printnum_ulong", direction=OUT)]
# strace 6.1 prints rseq's arguments as bare numbers (printargs), the structure included.
RseqPtr = Annotated[int, UserPtr("struct rseq __user *", show="printargs", direction=INOUT, struct="rseq")]
RseqU32 = Annotated[int, Arg("u32", 32, show="printargs")]
RseqFlags = Annotated[int, Arg("int", 32, True, show="printargs")]

ORIG_RSEQ_SIZE = 32
RSEQ_FEATURE_SIZE = 28  # offsetof(struct rseq, end)
RSEQ_FLAG_UNREGISTER = 1


@syscall()
def sys_set_tid_address(t: Task, tidptr: TidPtr) -> int:
    """set pointer to thread ID"""
    t.clear_child_tid = tidptr
    return t.tid


@syscall()
def sys_set_robust_list(t: Task, head: RobustHead, len: SizeT) -> int:  # noqa: A002 - the kernel's name
    """set list of robust futexes"""
    if len != ROBUST_LIST_HEAD_SIZE:
        raise KernelError(Errno.EINVAL)
    t.robust_list = head
    t.robust_list_len = len
    return 0


@syscall()
def sys_get_robust_list(t: Task, pid: Int, head_ptr: RobustHeadPtr, len_ptr: LenPtr) -> int:
    """get list of robust futexes"""
    target = t if pid == 0 else t.kernel.task_by_pid(pid)
    if target is None:
        raise KernelError(Errno.ESRCH)
    put_user_u64(t.mm, len_ptr, ROBUST_LIST_HEAD_SIZE)
    put_user_u64(t.mm, head_ptr, target.robust_list)
    return 0


@syscall(support=Support.PARTIAL,
         note="registration as Linux checks it; with one CPU and no preemption yet, critical "
         "sections are never aborted")
def sys_rseq(t: Task, rseq: RseqPtr, rseq_len: RseqU32, flags: RseqFlags, sig: RseqU32) -> int:
    """restartable sequences"""
    if flags & RSEQ_FLAG_UNREGISTER:
        if flags & ~RSEQ_FLAG_UNREGISTER:
            raise KernelError(Errno.EINVAL)
        if t.rseq != rseq or not t.rseq:
            raise KernelError(Errno.EINVAL)
        if rseq_len != t.rseq_len:
            raise KernelError(Errno.EINVAL)
        if t.rseq_sig != sig:
            raise KernelError(Errno.EPERM)
        # rseq_reset_rseq_cpu_node_id: cpu_id_start 0, cpu_id RSEQ_CPU_ID_UNINITIALIZED,
        # node_id 0, mm_cid 0.
        copy_to_user(t.mm, rseq, struct.pack("<Ii", 0, -1))
        copy_to_user(t.mm, rseq + 20, struct.pack("<II", 0, 0))
        t.rseq = t.rseq_len = t.rseq_sig = 0
        return 0
    if flags:
        raise KernelError(Errno.EINVAL)
    if t.rseq:
        if t.rseq != rseq or rseq_len != t.rseq_len:
            raise KernelError(Errno.EINVAL)
        if t.rseq_sig != sig:
            raise KernelError(Errno.EPERM)
        raise KernelError(Errno.EBUSY)
    if (
        rseq_len < ORIG_RSEQ_SIZE
        or (rseq_len == ORIG_RSEQ_SIZE and rseq % ORIG_RSEQ_SIZE)
        or (rseq_len != ORIG_RSEQ_SIZE and (rseq % 32 or rseq_len < RSEQ_FEATURE_SIZE))
    ):
        raise KernelError(Errno.EINVAL)
    if not access_ok(rseq, rseq_len):
        raise KernelError(Errno.EFAULT)
    # A stale rseq_cs pointer is cleared so that the return to user space cannot fault on
    # it; reading it is what makes an unmapped area EFAULT here (rseq_get_rseq_cs_ptr_val).
    if get_user_u64(t.mm, rseq + 8):
        put_user_u64(t.mm, rseq + 8, 0)
    t.rseq, t.rseq_len, t.rseq_sig = rseq, rseq_len, sig
    # On the way back to user mode the kernel fills in the CPU (rseq_update_cpu_node_id):
    # cpu_id_start, cpu_id, then node_id and mm_cid after rseq_cs and flags. A fault there
    # kills the task with SIGSEGV (rseq_handle_notify_resume -> force_sigsegv).
    try:
        copy_to_user(t.mm, rseq, struct.pack("<II", 0, 0))
        copy_to_user(t.mm, rseq + 20, struct.pack("<II", 0, 0))
    except KernelError:
        from sysgate.kernel.signal import force_sig_fault
        from sysgate.uapi.signal import SI_KERNEL, SIGSEGV

        force_sig_fault(t, SIGSEGV, SI_KERNEL, 0)
    return 0
