"""Fields of Unicorn's private structs that UnicornCpu must reach, found at run time.

Unicorn 2.1 keeps three things sysgate needs where no API reaches them:

- old_exception, in the saved CPU context: QEMU's record of the exception in flight.
  Unicorn never clears it, so the guest's next exception would become a double fault.
- invalid_addr, in uc_struct: the exact address of a failed access (si_addr), where the
  TLB-fill hook is only told the page.
- no_exit_request, in uc_struct: when false (the default), Unicorn puts an exit check
  after every guest load and store, so a memory hook that calls uc_emu_stop stops at once.
  A stop from *another thread* (the watcher's preemption) then lands in the middle of an
  instruction: the check rewinds RIP to the instruction whose store has already been
  done, and the next run does it again (`lock add [mem], 1` adds twice, `xchg` loses a
  value). With the flag set, the checks are not generated and a stop waits for the next
  block boundary, where the CPU state is exact. sysgate has no memory hooks, so nothing
  needs the per-access checks. (Unicorn's ARM translator sets the flag for IT blocks;
  the x86 one never touches it.)

Each is found by probing the engine, and each fix is checked by its effect before it
is relied on; an offset that cannot be found is -1 and its fix is left out (tests
guard all three on the Unicorn version sysgate pins).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sysgate.cpu.ucffi import check, ffi, lib
from sysgate.mm.mm import Mm

if TYPE_CHECKING:
    from sysgate.cpu.uc import UnicornCpu

# Probes: two loads from unmapped addresses (mov rax, [disp32]), then a divide error.
PROBE_ADDRS = (0x12345, 0x13AB8)
SCAN_LIMIT = 8192  # invalid_addr lies ~1.4 KiB into Unicorn 2.1's uc_struct

# uc_struct (include/uc_priv.h, Unicorn 2.1) from invalid_addr on: invalid_error,
# use_exits, exits[64], ctl_exits, thumb, mapped_blocks, two counts, qemu_thread_data,
# then target_page_size (4096) and target_page_align (4095), the host page sizes,
# qemu_icache_linesize, context_content (1: CPU), cpu_context_size, next_pc, and the
# bools hook_insert, first_tb, no_exit_request, init_done (true once set up).
_PAGE_SIZE_AT = 568
_CONTEXT_CONTENT_AT = 596
_NO_EXIT_REQUEST_AT = 618
_INIT_DONE_AT = 619


@dataclass(frozen=True)
class Offsets:
    old_exception: int  # in the saved context; -1 if not found
    invalid_addr: int  # in uc_struct; -1 if not found
    no_exit_request: int  # in uc_struct; -1 if not found or if setting it did not work


class _StopAtFill(Mm):
    """A probe address space whose TLB fill for one page asks the CPU to stop, as a
    stop from the watcher thread would arrive in the middle of a block."""

    stop_vpn = -1
    engine: object = None  # the uc_engine * to stop

    def fill(self, vaddr: int, access: int) -> int:
        if vaddr >> 12 == self.stop_vpn:
            lib.uc_emu_stop(self.engine)
        return super().fill(vaddr, access)


def calibrate(cpu: UnicornCpu) -> Offsets:
    """Find the three offsets, once per process, with `cpu` before any guest runs on it.

    - old_exception: the one int32 of the saved context that goes from -1 to 0 when a
      divide error is taken (5536 in Unicorn 2.1.4's context);
    - invalid_addr: the uint64 of uc_struct that holds the address of a failed access,
      found as the one offset holding each probe's address after its fault;
    - no_exit_request: at its place after invalid_addr when the fields around it hold
      what they must, and kept only if, once set, a stop requested during a store ends
      the run at the next block rather than rewinding to the store.

    The guest's registers are restored afterwards.
    """
    from sysgate.mm.vma import Vma

    ctx, size = cpu._ctx
    saved = cpu.mm
    snapshots: list[bytes] = []
    probe = _StopAtFill(cpu.phys)
    probe.insert_vma(Vma(0x10000, 0x12000, 7))
    cpu.switch_mm(probe)
    invalid_addr = no_exit = -1
    try:
        check(lib.uc_context_save(cpu.uc, ctx))
        snapshots.append(bytes(ffi.buffer(ctx, size)))
        invalid_addr = _find_invalid_addr(cpu, probe)
        # A divide error is "contributory": QEMU records its vector (0) in old_exception.
        _run(cpu, probe, b"\x31\xc9\x31\xd2\xf7\xf1")
        check(lib.uc_context_save(cpu.uc, ctx))
        snapshots.append(bytes(ffi.buffer(ctx, size)))
        if invalid_addr >= 0:
            no_exit = _set_no_exit_request(cpu, probe, invalid_addr)
    finally:
        probe.destroy()
        cpu.switch_mm(saved)
        cpu.flush_all_code()
        cpu._vector = -1
        if snapshots:  # the guest's registers, as they were before the probes ran
            ffi.buffer(ctx, size)[:] = snapshots[0]
            check(lib.uc_context_restore(cpu.uc, ctx))
    before, after_de = snapshots
    old_exception = [
        off for off in range(0, size - 3, 4)
        if struct.unpack_from("<i", before, off)[0] == -1 and struct.unpack_from("<i", after_de, off)[0] == 0
    ]
    return Offsets(old_exception[0] if len(old_exception) == 1 else -1, invalid_addr, no_exit)


def _run(cpu: UnicornCpu, probe: Mm, code: bytes) -> None:
    probe.write(0x10000, code)
    cpu.flush_all_code()
    lib.uc_emu_start(cpu.uc, 0x10000, 0, 0, 0)


def _find_invalid_addr(cpu: UnicornCpu, probe: Mm) -> int:
    base = ffi.cast("char *", cpu.uc)
    candidates: set[int] | None = None
    for target in PROBE_ADDRS:
        _run(cpu, probe, b"\x48\x8b\x04\x25" + target.to_bytes(4, "little"))
        words = ffi.cast("uint64_t *", base)
        found = {i * 8 for i in range(SCAN_LIMIT // 8)
                 if words[i] == target and (candidates is None or i * 8 in candidates)}
        candidates = found
    return candidates.pop() if candidates is not None and len(candidates) == 1 else -1


def _set_no_exit_request(cpu: UnicornCpu, probe: _StopAtFill, invalid_addr: int) -> int:
    """Set no_exit_request on `cpu` and return its offset, or -1 (flag left as it was)."""
    raw = ffi.buffer(ffi.cast("char *", cpu.uc) + invalid_addr, _INIT_DONE_AT + 1)
    page_size, page_align = struct.unpack_from("<II", raw, _PAGE_SIZE_AT)
    content = struct.unpack_from("<i", raw, _CONTEXT_CONTENT_AT)[0]
    if (page_size, page_align, content) != (4096, 4095, 1) or raw[_NO_EXIT_REQUEST_AT] != b"\0" \
            or raw[_INIT_DONE_AT] != b"\x01":
        return -1
    offset = invalid_addr + _NO_EXIT_REQUEST_AT
    set_no_exit_request(cpu, offset)
    # mov [0x11000], eax (its TLB fill asks for a stop); jmp .+2; hlt. With the flag
    # the run ends at the jump's target, the start of the next block; without it, RIP
    # is rewound to the store that was already done.
    probe.stop_vpn, probe.engine = 0x11, cpu.uc
    try:
        _run(cpu, probe, b"\x89\x04\x25\x00\x10\x01\x00\xeb\x00\xf4")
        rip = cpu.get_reg("rip")
    finally:
        probe.stop_vpn = -1
    if rip == 0x10009:
        return offset
    ffi.cast("char *", cpu.uc)[offset] = b"\0"
    return -1


def set_no_exit_request(cpu: UnicornCpu, offset: int) -> None:
    """Stop generating exit checks after loads and stores; takes effect for blocks
    translated from now on (the caller flushes the translation cache)."""
    if offset >= 0:
        ffi.cast("char *", cpu.uc)[offset] = b"\x01"
