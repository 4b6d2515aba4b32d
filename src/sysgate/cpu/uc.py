"""UnicornCpu: the x86-64 CPU, on the Unicorn engine. The only module that uses it.

Counterpart: the hardware, plus the parts of arch/x86/entry and arch/x86/mm that the
hardware does for the kernel (the page walker, the trap into entry_SYSCALL_64).

How it is wired (figures and quirks in ../shared/UNICORN-NOTES.md and docs/):
- Every hook is registered through cffi directly on the libunicorn the `unicorn`
  package ships; the stock Python binding's wrappers cost tens of µs per call.
- `syscall` traps into on_syscall with one uc_reg_read_batch of nine registers
  (rax, the six argument registers, rip, rflags) and returns with one
  uc_reg_write_batch of rax, rcx and r11: SYSRET semantics (rcx = return address,
  r11 = rflags) as the guest sees them on Linux.
- Memory is the TLB_VIRTUAL mode with a TLB-fill hook that reads the current Mm's
  page table: physical memory is a few large host mappings (sysgate.mm.physmem).
- Nothing is hooked per instruction or per block.
"""

from __future__ import annotations

from typing import Any

from sysgate.cpu.base import Stop, StopKind, SyscallEntry
from sysgate.cpu.ucffi import (
    REG,
    UC_ERR_EXCEPTION,
    UC_ERR_FETCH_PROT,
    UC_ERR_FETCH_UNMAPPED,
    UC_ERR_INSN_INVALID,
    UC_ERR_OK,
    UC_ERR_READ_PROT,
    UC_ERR_READ_UNMAPPED,
    UC_ERR_WRITE_PROT,
    UC_ERR_WRITE_UNMAPPED,
    UC_HOOK_INSN,
    UC_HOOK_INTR,
    UC_HOOK_TLB_FILL,
    UC_X86_INS_SYSCALL,
    UnicornError,
    check,
    ctl_write,
    ffi,
    lib,
    new_engine,
)
from sysgate.cpu.ucquirks import Offsets, calibrate, set_no_exit_request
from sysgate.mm.mm import Mm
from sysgate.mm.physmem import CHUNK_SHIFT, Chunk, PhysMem

_MASK64 = (1 << 64) - 1
_SYSCALL_REGS = ["rax", "rdi", "rsi", "rdx", "r10", "r8", "r9", "rip", "rflags"]
_SYSRET_REGS = ["rax", "rcx", "r11"]
_UC_CTL_TB_REMOVE_CACHE = 9
# unicorn/x86.h register numbers of the x87 and SSE state (get_fxsave/set_fxsave)
_FPSW, _FPCW, _FPTAG, _FIP, _FDP, _FOP, _ST0, _XMM0 = 31, 246, 247, 254, 256, 258, 114, 122
_UC_CTL_TB_FLUSH = 10
_UC_CTL_TLB_FLUSH = 11

IntrHandler = Any  # Callable[[int], bool]: True = handled, keep running


class UnicornCpu:
    """One emulated x86-64 CPU."""

    def __init__(self, phys: PhysMem, mm: Mm) -> None:
        self.uc = new_engine()
        self.phys = phys
        self.mm = mm
        mm.mmu = self
        self.on_syscall: SyscallEntry = _no_kernel
        self.on_interrupt: IntrHandler = None
        self.skip_sysret = False
        self._identity_fill = False  # see _unmap_chunk
        self._stop_requested = False
        self._vector = -1
        self._error: BaseException | None = None
        self._error_where = ""
        self._keep: list[Any] = []  # cffi objects that must outlive the engine's use of them
        phys.add_listener(self._map_chunk, self._unmap_chunk)
        self._setup_buffers()
        self._install_hooks()
        ctxp = ffi.new("uc_context **")
        check(lib.uc_context_alloc(self.uc, ctxp))
        self._ctx = (ctxp[0], lib.uc_context_size(self.uc))
        self._prepare()

    # -- setup ------------------------------------------------------------------

    def _map_chunk(self, chunk: Chunk) -> None:
        check(lib.uc_mem_map_ptr(self.uc, chunk.index << CHUNK_SHIFT, chunk.size, 7,
                                 ffi.cast("void *", chunk.host_addr)))

    def _unmap_chunk(self, chunk: Chunk) -> None:
        if self.uc is not None:
            # uc_mem_unmap drops the chunk's translated code (uc_invalidate_tb), taking its
            # physical address for a virtual one and asking the TLB-fill hook for it: the
            # hook answers with the identity while this runs, or the failed fill would be
            # taken for the running guest's page fault (an exec that releases a MAP_SHARED
            # file chunk died of SIGSEGV at the chunk's address).
            self._identity_fill = True
            try:
                check(lib.uc_mem_unmap(self.uc, chunk.index << CHUNK_SHIFT, chunk.size))
            finally:
                self._identity_fill = False
                self.flush_tlb()

    def _setup_buffers(self) -> None:
        n = len(_SYSCALL_REGS)
        self._rregs = ffi.new("int[]", [REG[r] for r in _SYSCALL_REGS])
        self._rvals = ffi.new("uint64_t[]", n)
        self._rptrs = ffi.new("void *[]", [self._rvals + i for i in range(n)])
        self._wregs = ffi.new("int[]", [REG[r] for r in _SYSRET_REGS])
        self._wvals = ffi.new("uint64_t[]", 3)
        self._wptrs = ffi.new("void *[]", [self._wvals + i for i in range(3)])
        self._scratch = ffi.new("uint64_t *")

    def _install_hooks(self) -> None:
        uc = self.uc
        unpack = ffi.unpack
        read_batch, write_batch = lib.uc_reg_read_batch, lib.uc_reg_write_batch
        rregs, rptrs, rvals = self._rregs, self._rptrs, self._rvals
        wregs, wptrs, wvals = self._wregs, self._wptrs, self._wvals
        nregs = len(_SYSCALL_REGS)
        cpu = self

        def syscall_hook(handle: Any, user_data: Any) -> None:
            # The hot path: one batched read, the kernel's entry, one batched write.
            try:
                read_batch(handle, rregs, rptrs, nregs)
                r = unpack(rvals, nregs)
                ax = cpu.on_syscall(r)
                if cpu.skip_sysret:
                    cpu.skip_sysret = False
                    return
                wvals[0] = ax & _MASK64
                wvals[1] = r[7] + 2  # rcx: the return address (rip still points at `syscall`)
                wvals[2] = r[8]  # r11: rflags
                write_batch(handle, wregs, wptrs, 3)
            except BaseException as exc:  # noqa: BLE001 - carried out of the C callback
                cpu._fail(exc, "syscall")

        def tlb_fill(handle: Any, vaddr: int, access_type: int, result: Any, user_data: Any) -> bool:
            if cpu._identity_fill:
                result.paddr = vaddr & ~0xFFF
                result.perms = 7
                return True
            try:
                pte = cpu.mm.fill(vaddr, 1 << (access_type - 16))
            except BaseException as exc:  # noqa: BLE001
                cpu._fail(exc, "page fault")
                return False
            if not pte:
                return False
            result.paddr = pte & ~0xFFF
            result.perms = pte & 7
            return True

        def intr_hook(handle: Any, intno: int, user_data: Any) -> None:
            try:
                if cpu.on_interrupt is not None and cpu.on_interrupt(intno):
                    return
                cpu._vector = intno
                lib.uc_emu_stop(handle)
            except BaseException as exc:  # noqa: BLE001
                cpu._fail(exc, "interrupt")

        c_syscall = ffi.callback("void(uc_engine *, void *)", syscall_hook)
        c_fill = ffi.callback("bool(uc_engine *, uint64_t, int, uc_tlb_entry *, void *)", tlb_fill)
        c_intr = ffi.callback("void(uc_engine *, uint32_t, void *)", intr_hook)
        self._keep += [c_syscall, c_fill, c_intr]
        hh = ffi.new("uc_hook *")
        check(lib.uc_hook_add(uc, hh, UC_HOOK_TLB_FILL, c_fill, ffi.NULL, 1, 0))
        check(lib.uc_hook_add(uc, hh, UC_HOOK_INSN, c_syscall, ffi.NULL, 1, 0,
                              ffi.cast("int", UC_X86_INS_SYSCALL)))
        check(lib.uc_hook_add(uc, hh, UC_HOOK_INTR, c_intr, ffi.NULL, 1, 0))

    def _fail(self, exc: BaseException, where: str) -> None:
        if self._error is None:
            self._error = exc
            self._error_where = where
        lib.uc_emu_stop(self.uc)

    # -- running ----------------------------------------------------------------

    def run(self, pc: int, count: int = 0) -> Stop:
        """Run from `pc` until stop(), a fault, or an exception; with `count`, at most
        that many instructions (then the Stop is STOPPED with where="slice"). A count
        makes Unicorn hook every instruction: it is for reproducible schedules only."""
        self._stop_requested = False
        self._vector = -1
        self.mm.last_fault = None
        rc = lib.uc_emu_start(self.uc, pc, 0, 0, count)
        rip = self.get_reg("rip")
        if self._error is not None:
            error, self._error = self._error, None
            return Stop(StopKind.ERROR, rip, error=error, where=self._error_where)
        if self._vector >= 0:
            vector = self._vector
            self._forget_exception()
            return Stop(StopKind.EXCEPTION, rip, vector=vector)
        if rc == UC_ERR_OK:
            if self._stop_requested or not self._after_hlt(rip):
                # A stop from the watcher thread can land in the next run, after that run
                # cleared the flag: a run that ended anywhere but after `hlt` was stopped.
                return Stop(StopKind.STOPPED, rip, where="" if self._stop_requested or not count else "slice")
            return Stop(StopKind.HALT, rip)
        if rc in (UC_ERR_EXCEPTION, UC_ERR_READ_UNMAPPED, UC_ERR_WRITE_UNMAPPED,
                  UC_ERR_FETCH_UNMAPPED, UC_ERR_READ_PROT, UC_ERR_WRITE_PROT, UC_ERR_FETCH_PROT):
            self._forget_exception()
            fault = self.mm.last_fault
            if fault is not None:
                exact = self._fault_address()
                if exact is not None and exact >> 12 == fault.addr >> 12:
                    fault.addr = exact  # si_addr: the byte accessed, not its page
                return Stop(StopKind.PAGE_FAULT, rip)
            return Stop(StopKind.EXCEPTION, rip, vector=13)  # an exception Unicorn did not name: #GP
        if rc == UC_ERR_INSN_INVALID:
            return Stop(StopKind.INVALID_OPCODE, rip)
        return Stop(StopKind.ERROR, rip, error=UnicornError(rc))

    def _after_hlt(self, rip: int) -> bool:
        """Whether the instruction just before `rip` is `hlt` (where Unicorn ends a run
        for it). Read through the page table without faulting anything in."""
        try:
            pte = self.mm.pt.get((rip - 1) >> 12)
            if pte is None:
                return False
            return bool(self.phys.page(pte >> 12)[(rip - 1) & 0xFFF] == 0xF4)
        except (KeyError, IndexError):
            return False

    # -- the exception state Unicorn leaves behind ----------------------------------

    def _forget_exception(self) -> None:
        """Clear QEMU's record of the exception in flight (CPUX86State.old_exception).

        A real CPU finishes delivering an exception through the IDT, and QEMU then
        resets old_exception to -1. Unicorn hands the exception to us instead, so the
        field keeps its value and the *next* exception is taken for a double fault
        (vector 8). Its offset in the saved context is found once (ucquirks).
        """
        offset = self._offsets().old_exception
        if offset < 0:
            return
        ctx, size = self._ctx
        check(lib.uc_context_save(self.uc, ctx))
        # Only exceptions QEMU raised itself set the field; our page faults do not.
        ffi.buffer(ctx, size)[offset : offset + 4] = b"\xff\xff\xff\xff"
        check(lib.uc_context_restore(self.uc, ctx))

    def _fault_address(self) -> int | None:
        """The exact address of the access that failed (uc_struct.invalid_addr, which no
        API returns): the TLB-fill hook is only told its page. None if not calibrated."""
        offset = self._offsets().invalid_addr
        if offset < 0:
            return None
        return int(ffi.cast("uint64_t *", ffi.cast("char *", self.uc) + offset)[0])

    _calibrated: Offsets | None = None

    def _offsets(self) -> Offsets:
        if UnicornCpu._calibrated is None:
            UnicornCpu._calibrated = calibrate(self)
        return UnicornCpu._calibrated

    def _prepare(self) -> None:
        """Before this engine runs a guest and before any thread can stop it: find
        Unicorn's hidden fields (once per process; the probes overwrite invalid_addr
        and registers) and turn off the exit checks after memory accesses, which would
        otherwise let a stop from the watcher thread re-run an instruction."""
        set_no_exit_request(self, self._offsets().no_exit_request)
        self.flush_all_code()

    def stop(self) -> None:
        """End run() at the next block boundary (also from another thread: preemption)."""
        self._stop_requested = True
        uc = self.uc
        if uc is not None:
            lib.uc_emu_stop(uc)

    # -- task switches --------------------------------------------------------------

    def save_context(self) -> bytes:
        """The CPU state of the task leaving the CPU: registers, FS/GS base, x87/SSE."""
        ctx, size = self._ctx
        check(lib.uc_context_save(self.uc, ctx))
        return bytes(ffi.buffer(ctx, size))

    def restore_context(self, blob: bytes) -> None:
        """Load a state save_context() returned (the task coming onto the CPU)."""
        ctx, size = self._ctx
        ffi.buffer(ctx, size)[:] = blob
        check(lib.uc_context_restore(self.uc, ctx))

    # -- registers ----------------------------------------------------------------

    def get_reg(self, name: str) -> int:
        check(lib.uc_reg_read(self.uc, REG[name], self._scratch))
        return int(self._scratch[0])

    def get_regs(self, names: list[str]) -> list[int]:
        n = len(names)
        vals = ffi.new("uint64_t[]", n)
        ptrs = ffi.new("void *[]", [vals + i for i in range(n)])
        check(lib.uc_reg_read_batch(self.uc, ffi.new("int[]", [REG[x] for x in names]), ptrs, n))
        return list(ffi.unpack(vals, n))

    def set_regs(self, values: dict[str, int]) -> None:
        n = len(values)
        vals = ffi.new("uint64_t[]", [v & _MASK64 for v in values.values()])
        ptrs = ffi.new("void *[]", [vals + i for i in range(n)])
        regs = ffi.new("int[]", [REG[x] for x in values])
        check(lib.uc_reg_write_batch(self.uc, regs, ptrs, n))

    # -- x87/SSE state (the FXSAVE image a signal frame holds) -----------------------

    def get_fxsave(self) -> bytes:
        """The 512-byte FXSAVE64 image of the x87 and SSE registers, as `fxsave64` stores it.

        Read register by register through the C API with 16-byte buffers (the binding's
        XMM reads keep only 64 bits: UNICORN-NOTES). The tag word is stored abridged
        (one bit per physical register, set when it is not empty); MXCSR_MASK is 0xffff,
        the mask of a CPU with DAZ; bytes 416-511 are left zero for the kernel to fill.
        """
        buf = ffi.new("uint8_t[16]")

        def read(reg: int, n: int) -> bytes:
            check(lib.uc_reg_read(self.uc, reg, buf))
            return bytes(ffi.buffer(buf, n))

        def word(reg: int) -> int:
            buf[0:16] = bytes(16)
            return int.from_bytes(read(reg, 8), "little")

        fcw, fsw, ftw = word(_FPCW), word(_FPSW), word(_FPTAG)
        abridged = sum(1 << i for i in range(8) if (ftw >> 2 * i) & 3 != 3)
        image = bytearray(512)
        image[0:24] = (fcw.to_bytes(2, "little") + fsw.to_bytes(2, "little") + bytes((abridged, 0))
                       + (word(_FOP) & 0x7FF).to_bytes(2, "little") + word(_FIP).to_bytes(8, "little")
                       + word(_FDP).to_bytes(8, "little"))
        image[24:32] = (word(REG["mxcsr"]) & 0xFFFFFFFF).to_bytes(4, "little") + (0xFFFF).to_bytes(4, "little")
        for i in range(8):
            buf[0:16] = bytes(16)
            image[32 + 16 * i : 42 + 16 * i] = read(_ST0 + i, 10)
        for i in range(16):
            image[160 + 16 * i : 176 + 16 * i] = read(_XMM0 + i, 16)
        return bytes(image)

    def set_fxsave(self, image: bytes) -> None:
        """Load the x87 and SSE registers from a 512-byte FXSAVE64 image (`fxrstor64`).

        The status word goes first: it holds TOP, and ST(i) are written relative to it.
        """
        buf = ffi.new("uint8_t[16]")

        def write(reg: int, data: bytes) -> None:
            buf[0:16] = data.ljust(16, b"\0")
            check(lib.uc_reg_write(self.uc, reg, buf))

        def le(a: int, b: int) -> bytes:
            return image[a:b]

        write(_FPSW, le(2, 4))
        write(_FPCW, le(0, 2))
        abridged = image[4]
        write(_FPTAG, sum((0 if abridged >> i & 1 else 3) << 2 * i for i in range(8)).to_bytes(2, "little"))
        write(_FOP, le(6, 8))
        write(_FIP, le(8, 16))
        write(_FDP, le(16, 24))
        write(REG["mxcsr"], le(24, 28))
        for i in range(8):
            write(_ST0 + i, le(32 + 16 * i, 42 + 16 * i))
        for i in range(16):
            write(_XMM0 + i, le(160 + 16 * i, 176 + 16 * i))

    def set_pc_in_syscall(self, pc: int) -> None:
        # Unicorn adds the length of `syscall` (2) to RIP after the hook returns.
        self.set_regs({"rip": pc - 2})

    # -- the MMU (sysgate.mm.mm.Mmu) ---------------------------------------------

    def switch_mm(self, mm: Mm) -> None:
        self.mm = mm
        mm.mmu = self
        self.flush_tlb()

    def flush_tlb(self) -> None:
        lib.uc_ctl(self.uc, ctl_write(_UC_CTL_TLB_FLUSH, 0))

    def flush_code(self, start: int, end: int) -> None:
        lib.uc_ctl(self.uc, ctl_write(_UC_CTL_TB_REMOVE_CACHE, 2),
                   ffi.cast("uint64_t", start), ffi.cast("uint64_t", end))

    def flush_all_code(self) -> None:
        lib.uc_ctl(self.uc, ctl_write(_UC_CTL_TB_FLUSH, 0))

    def cpuid(self, leaf: int, subleaf: int) -> tuple[int, int, int, int]:
        """What `cpuid` answers on this CPU: run it once in a scratch address space."""
        from sysgate.mm.vma import Vma

        saved = self.mm
        probe = Mm(self.phys)
        probe.insert_vma(Vma(0x10000, 0x11000, 7))
        probe.write(0x10000, b"\x0f\xa2\xf4")  # cpuid; hlt
        self.switch_mm(probe)
        try:
            self.set_regs({"rax": leaf, "rcx": subleaf})
            self.run(0x10000)
            a, b, c, d = self.get_regs(["rax", "rbx", "rcx", "rdx"])
        finally:
            probe.destroy()
            self.switch_mm(saved)
            self.flush_all_code()
        return a & 0xFFFFFFFF, b & 0xFFFFFFFF, c & 0xFFFFFFFF, d & 0xFFFFFFFF

    def close(self) -> None:
        if self._unmap_chunk in self.phys.remove_listeners:
            self.phys.remove_listeners.remove(self._unmap_chunk)
        if self._map_chunk in self.phys.listeners:
            self.phys.listeners.remove(self._map_chunk)
        if self.uc is not None:
            lib.uc_context_free(self._ctx[0])
            lib.uc_close(self.uc)
            self.uc = None


def _no_kernel(r: list[int]) -> int:
    raise RuntimeError("UnicornCpu.on_syscall is not connected to a kernel")
