"""The CPU adapter over Unicorn: the syscall trap, the TLB-fill MMU, faults, and code
invalidation. Each test runs a few hand-assembled instructions in a small address space.

These guard the quirks ../shared/UNICORN-NOTES.md lists (stale translations after host
writes or mprotect, RIP after the syscall hook) and prove that the virtual-TLB mode
keeps page permissions and self-modifying code correct.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest

from sysgate.cpu.base import StopKind
from sysgate.cpu.uc import UnicornCpu
from sysgate.mm.mm import Mm
from sysgate.mm.mmap import do_mprotect, do_munmap
from sysgate.mm.physmem import PhysMem
from sysgate.mm.vma import Vma

CODE = 0x400000
DATA = 0x600000
RO = 0x700000
STACK = 0x7FFF0000
RWX, RX, RW, R = 7, 5, 3, 1


def movabs_rax(value: int) -> bytes:
    return b"\x48\xb8" + struct.pack("<Q", value)


def movabs_rbx(value: int) -> bytes:
    return b"\x48\xbb" + struct.pack("<Q", value)


MOV_EAX = b"\xb8"  # mov eax, imm32
SYSCALL = b"\x0f\x05"
HLT = b"\xf4"
LOAD_RAX = b"\x48\x8b\x00"  # mov rax, [rax]
STORE_RBX_AT_RAX = b"\x48\x89\x18"  # mov [rax], rbx
JMP_RAX = b"\xff\xe0"


@pytest.fixture
def machine() -> Iterator[tuple[UnicornCpu, Mm]]:
    phys = PhysMem(1 << 28)
    mm = Mm(phys)
    mm.insert_vma(Vma(CODE, CODE + 0x2000, RWX))
    mm.insert_vma(Vma(DATA, DATA + 0x1000, RW))
    mm.insert_vma(Vma(RO, RO + 0x1000, R))
    mm.insert_vma(Vma(STACK, STACK + 0x1000, RW))
    cpu = UnicornCpu(phys, mm)
    cpu.set_regs({"rsp": STACK + 0x800})
    yield cpu, mm
    cpu.close()
    phys.close()


def load(mm: Mm, code: bytes, at: int = CODE) -> None:
    mm.write(at, code)


def test_syscall_trap_sets_rax_and_sysret_registers(machine: tuple[UnicornCpu, Mm]) -> None:
    cpu, mm = machine
    seen: list[list[int]] = []

    def entry(frame: list[int]) -> int:
        seen.append(frame)
        return 1234

    cpu.on_syscall = entry
    cpu.set_regs({"rflags": 0x202, "rdi": 7, "r10": 9})
    load(mm, MOV_EAX + struct.pack("<I", 39) + SYSCALL + HLT)
    stop = cpu.run(CODE)
    assert stop.kind is StopKind.HALT
    assert seen[0][0] == 39 and seen[0][1] == 7 and seen[0][4] == 9
    assert seen[0][7] == CODE + 5  # rip reads as the address of `syscall` inside the hook
    rax, rcx, r11 = cpu.get_regs(["rax", "rcx", "r11"])
    assert rax == 1234
    assert rcx == CODE + 7  # SYSRET semantics: rcx is the return address
    assert r11 == seen[0][8]  # and r11 the flags


def test_negative_result_is_twos_complement(machine: tuple[UnicornCpu, Mm]) -> None:
    cpu, mm = machine
    cpu.on_syscall = lambda frame: -38
    load(mm, MOV_EAX + struct.pack("<I", 1000) + SYSCALL + HLT)
    cpu.run(CODE)
    assert cpu.get_reg("rax") == (1 << 64) - 38


@pytest.mark.parametrize(
    "code, addr, access, mapped",
    [
        (movabs_rax(0x900123) + LOAD_RAX + HLT, 0x900123, 1, False),  # nothing mapped: the exact byte
        (movabs_rax(RO + 0x10) + STORE_RBX_AT_RAX + HLT, RO + 0x10, 2, True),  # write to read-only
        (movabs_rax(DATA) + JMP_RAX, DATA, 4, True),  # execute non-executable data
        (movabs_rax(DATA + 0xFFC) + LOAD_RAX + HLT, DATA + 0x1000, 1, False),  # crosses into a hole
    ],
    ids=["unmapped-read", "ro-write", "nx-fetch", "straddling-read"],
)
def test_faults_report_address_access_and_kind(
    machine: tuple[UnicornCpu, Mm], code: bytes, addr: int, access: int, mapped: bool
) -> None:
    cpu, mm = machine
    load(mm, code)
    stop = cpu.run(CODE)
    assert stop.kind is StopKind.PAGE_FAULT
    fault = mm.last_fault
    assert fault is not None
    assert (fault.addr, fault.access, fault.mapped) == (addr, access, mapped)


def test_mprotect_removing_exec_stops_code_that_already_ran(machine: tuple[UnicornCpu, Mm]) -> None:
    cpu, mm = machine
    load(mm, MOV_EAX + struct.pack("<I", 5) + HLT)
    assert cpu.run(CODE).kind is StopKind.HALT
    do_mprotect(mm, CODE, 0x1000, R)
    stop = cpu.run(CODE)
    assert stop.kind is StopKind.PAGE_FAULT
    assert mm.last_fault is not None and mm.last_fault.access == 4


def test_kernel_write_to_code_is_seen_by_the_cpu(machine: tuple[UnicornCpu, Mm]) -> None:
    cpu, mm = machine
    load(mm, MOV_EAX + struct.pack("<I", 1) + HLT)
    cpu.run(CODE)
    assert cpu.get_reg("rax") == 1
    load(mm, MOV_EAX + struct.pack("<I", 2) + HLT)  # as read() into an executed page does
    cpu.run(CODE)
    assert cpu.get_reg("rax") == 2


def test_self_modifying_code_runs_the_new_bytes(machine: tuple[UnicornCpu, Mm]) -> None:
    cpu, mm = machine
    target = CODE + 0x100
    load(mm, MOV_EAX + struct.pack("<I", 1) + HLT, target)
    # call target; then patch its immediate to 2 through the CPU; call target again
    patch_addr = target + 1
    code = (
        movabs_rax(target) + b"\xff\xd0"  # call rax
        + movabs_rax(patch_addr) + b"\xc7\x00" + struct.pack("<I", 2)  # mov dword [rax], 2
        + movabs_rax(target) + JMP_RAX
    )
    load(mm, MOV_EAX + struct.pack("<I", 1) + b"\xc3", target)  # mov eax, 1; ret
    load(mm, code)
    cpu.run(CODE)
    assert cpu.get_reg("rax") & 0xFFFFFFFF == 2


def test_munmap_drops_cached_translations(machine: tuple[UnicornCpu, Mm]) -> None:
    cpu, mm = machine
    load(mm, movabs_rax(DATA) + LOAD_RAX + HLT)
    assert cpu.run(CODE).kind is StopKind.HALT
    do_munmap(mm, DATA, 0x1000)
    stop = cpu.run(CODE)
    assert stop.kind is StopKind.PAGE_FAULT
    assert mm.last_fault is not None and not mm.last_fault.mapped


def test_remapped_page_shows_new_contents(machine: tuple[UnicornCpu, Mm]) -> None:
    cpu, mm = machine
    mm.write(DATA, struct.pack("<Q", 111))
    load(mm, movabs_rax(DATA) + LOAD_RAX + HLT)
    cpu.run(CODE)
    assert cpu.get_reg("rax") == 111
    do_munmap(mm, DATA, 0x1000)
    mm.insert_vma(Vma(DATA, DATA + 0x1000, RW))
    cpu.run(CODE)
    assert cpu.get_reg("rax") == 0  # a fresh demand-zero page, not the old frame


@pytest.mark.parametrize(
    "code, kind, vector",
    [
        (b"\x31\xc9\x31\xd2\xf7\xf1", StopKind.EXCEPTION, 0),  # xor ecx,ecx; xor edx,edx; div ecx
        (b"\xcc", StopKind.EXCEPTION, 3),  # int3
        (b"\xcd\x81", StopKind.EXCEPTION, 0x81),  # int 0x81
        (b"\x0f\x0b", StopKind.INVALID_OPCODE, 0),  # ud2
        (HLT, StopKind.HALT, 0),
    ],
    ids=["divide-error", "int3", "int-0x81", "ud2", "hlt"],
)
def test_cpu_exceptions(machine: tuple[UnicornCpu, Mm], code: bytes, kind: StopKind, vector: int) -> None:
    cpu, mm = machine
    load(mm, code)
    stop = cpu.run(CODE)
    assert stop.kind is kind
    if kind is StopKind.EXCEPTION:
        assert stop.vector == vector


def test_an_exception_in_a_hook_ends_the_run_with_it(machine: tuple[UnicornCpu, Mm]) -> None:
    cpu, mm = machine

    def entry(frame: list[int]) -> int:
        raise RuntimeError("boom")

    cpu.on_syscall = entry
    load(mm, MOV_EAX + struct.pack("<I", 39) + SYSCALL + HLT)
    stop = cpu.run(CODE)
    assert stop.kind is StopKind.ERROR
    assert isinstance(stop.error, RuntimeError)


def test_cpuid_reports_the_baseline_the_loader_needs(machine: tuple[UnicornCpu, Mm]) -> None:
    cpu, _ = machine
    _, _, ecx, edx = cpu.cpuid(1, 0)
    assert edx & (1 << 26)  # SSE2, part of the x86-64 baseline glibc requires
    assert ecx & (1 << 20)  # SSE4.2


def test_consecutive_exceptions_are_each_reported(machine: tuple[UnicornCpu, Mm]) -> None:
    cpu, mm = machine
    load(mm, b"\x31\xc9\x31\xd2\xf7\xf1")
    vectors = [cpu.run(CODE).vector for _ in range(3)]
    load(mm, movabs_rax(0x900000) + LOAD_RAX + HLT)
    kinds = [cpu.run(CODE).kind for _ in range(2)]
    assert vectors == [0, 0, 0]
    assert kinds == [StopKind.PAGE_FAULT, StopKind.PAGE_FAULT]


def test_calibration_finds_the_fields_unicorn_does_not_expose(machine: tuple[UnicornCpu, Mm]) -> None:
    """old_exception (double faults), invalid_addr (si_addr) and no_exit_request (exact
    preemption): without them sysgate would still run, but wrongly; a new Unicorn
    release that moves them must fail here."""
    cpu, _ = machine
    offsets = cpu._offsets()
    assert offsets.old_exception >= 0
    assert offsets.invalid_addr >= 0
    assert offsets.no_exit_request >= 0


def test_a_stop_from_another_thread_never_runs_an_instruction_twice(machine: tuple[UnicornCpu, Mm]) -> None:
    """Preemption stops the CPU from the watcher thread at any moment. Unicorn's default
    exit check after each store would rewind RIP to a read-modify-write that was already
    done, and the next run would add again (64 threads lost the exact atomic total).
    Counted: `lock add qword [DATA], 1; add qword [DATA+8], 1` a million times, stopped
    every half millisecond and resumed at RIP."""
    import threading
    import time

    cpu, mm = machine
    n = 1_000_000
    load(mm, b"\xb9" + n.to_bytes(4, "little")  # mov ecx, n
         + b"\xf0\x48\x83\x04\x25" + DATA.to_bytes(4, "little") + b"\x01"  # lock add qword [DATA], 1
         + b"\x48\x83\x04\x25" + (DATA + 8).to_bytes(4, "little") + b"\x01"  # add qword [DATA+8], 1
         + b"\xff\xc9\x75\xe8" + HLT)  # dec ecx; jnz (back to the lock add); hlt
    done = threading.Event()

    def pester() -> None:
        while not done.is_set():
            time.sleep(0.0005)
            cpu.stop()

    threading.Thread(target=pester, daemon=True).start()
    pc, stops = CODE, 0
    try:
        while True:
            stop = cpu.run(pc)
            pc = stop.pc
            if stop.kind is StopKind.HALT:
                break
            assert stop.kind is StopKind.STOPPED
            stops += 1
    finally:
        done.set()
    assert struct.unpack("<QQ", mm.read(DATA, 16)) == (n, n)
    assert stops > 0  # the stops did land (else the test proves nothing)


def test_calibrating_keeps_the_guest_registers(machine: tuple[UnicornCpu, Mm]) -> None:
    cpu, mm = machine
    saved = UnicornCpu._calibrated
    UnicornCpu._calibrated = None  # as in a new process: the probes run on this engine
    try:
        cpu.set_regs({"rbx": 0x1122334455667788, "rcx": 7})
        cpu._prepare()
        load(mm, movabs_rax(0x900008) + LOAD_RAX + HLT)
        stop = cpu.run(CODE)
    finally:
        UnicornCpu._calibrated = saved if UnicornCpu._calibrated is None else UnicornCpu._calibrated
    assert stop.kind is StopKind.PAGE_FAULT
    assert stop.pc == CODE + 10  # the faulting instruction
    assert mm.last_fault is not None and mm.last_fault.addr == 0x900008
    assert cpu.get_reg("rbx") == 0x1122334455667788
    assert cpu.get_reg("rcx") == 7
    assert cpu.get_reg("rip") == CODE + 10


def test_a_stop_that_lands_after_the_flag_was_cleared_is_not_a_halt(machine: tuple[UnicornCpu, Mm]) -> None:
    """The watcher thread's stop may reach the next run, which has cleared the flag: the
    run must still count as stopped (it did not end after `hlt`), not as a #GP."""
    import threading
    import time

    from sysgate.cpu.ucffi import lib

    cpu, mm = machine
    load(mm, b"\xeb\xfe")  # jmp . : spins until stopped
    timer = threading.Timer(0.05, lambda: lib.uc_emu_stop(cpu.uc))  # the flag is never set
    timer.start()
    started = time.monotonic()
    stop = cpu.run(CODE)
    timer.join()
    assert stop.kind is StopKind.STOPPED
    assert time.monotonic() - started < 30
