"""-k: the guest's call stack at a system call, as strace -k prints it.

Counterpart: strace 6.1's unwind.c (the line formats) and unwind-libunwind.c (the walk:
at most 256 frames, each named from the mapping that holds its address, then one
unw_step), with libunwind 1.6 underneath (x86_64/Gstep.c). After each call's line:

     > /usr/lib/x86_64-linux-gnu/libc.so.6(__write+0x10) [0xf8350]
     > /tmp/t/hello(main+0x1e) [0x1149]

The bracketed number is the address's offset in the file (address - mapping start +
mapping offset); the name is the nearest function symbol (sysgate.trace.symbols); each
caller's registers come from the module's DWARF CFI (sysgate.trace.cfi), or for code
without it from sysgate.trace.nocfi. The first frame's address is the one after
`syscall`; a caller's is its return address, and the name and unwind rules are those
of the address before it (the call), the offset printed one more, as
unw_get_proc_name does.

A frame whose address is in no executable, named mapping ends the stack with
` > unexpected_backtracing_error [0xADDR]`; 256 frames end it with
` > too many stack frames`. Any failure to unwind (unreadable memory, a malformed file,
a rule that cannot be applied) ends the stack quietly where it is, as an unw_step error
ends strace's; nothing in here stops sysgate.

What is known about a code address (its mapping, name, FDE and row) is kept per address
space and checked against the mapping on each use, so a loop's calls cost a few
dictionary look-ups and the stack reads per frame.
"""

from __future__ import annotations

import bisect
import os
import struct
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sysgate.errors import GuestFault
from sysgate.mm.physmem import PAGE_SIZE
from sysgate.trace.cfi import MASK64, RIP, RSP, Fde, Regs, Row, apply_row
from sysgate.trace.nocfi import Unreadable, step_without_cfi
from sysgate.trace.symbols import ElfModule, demangle, load_module
from sysgate.uapi.mman import PROT_EXEC, PROT_READ

if TYPE_CHECKING:
    from sysgate.kernel.task import Task
    from sysgate.mm.mm import Mm
    from sysgate.mm.vma import MappedFile, Vma

MAX_FRAMES = 256
"""unwind-libunwind.c's walk(): the most frames printed."""
DWARF_REGS = ["rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp",
              "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
"""The CPU's registers in DWARF order (0-15); 16 is the return address (rip)."""
CAPTURED_ON_ENTRY = frozenset({59, 60, 231, 322})
"""execve, exit, exit_group, execveat: strace's STACKTRACE_CAPTURE_ON_ENTER (SE) calls,
whose frames are queued at entry and printed with sprint_call_or_error's formats."""
_SITE_CACHE = 8192


def capture_stack(task: Task) -> list[str]:
    """The lines strace -k prints after the call `task` is entering: ` > path(symbol+0xoff) [0xaddr]`.

    Reads the registers from the CPU (only here, so -k costs nothing when off). Empty
    when the task is not the one on the CPU.
    """
    kernel = task.kernel
    cpu = kernel.cpu
    if cpu is None or kernel.current is not task:
        return []
    frame = task.regs.frame
    try:
        regs: Regs = [*cpu.get_regs(DWARF_REGS), (frame[7] + 2) & MASK64]  # regs->ip: past `syscall`
    except Exception:  # noqa: BLE001 - no registers, no stack; the trace goes on
        return []
    return walk(task.mm, regs, queued=(frame[0] & 0xFFFFFFFF) in CAPTURED_ON_ENTRY)


def stack_at(task: Task, pc: int, *, queued: bool = False) -> list[str]:
    """The stack of `task` stopped at `pc`, its other registers the CPU's: the first
    execve's entry point, or where a signal interrupted the task."""
    kernel = task.kernel
    cpu = kernel.cpu
    if cpu is None or kernel.current is not task:
        return []
    try:
        regs: Regs = [*cpu.get_regs(DWARF_REGS), pc & MASK64]
    except Exception:  # noqa: BLE001 - no registers, no stack; the trace goes on
        return []
    return walk(task.mm, regs, queued=queued)


def walk(mm: Mm, regs: Regs, *, queued: bool = False) -> list[str]:
    """The frames from `regs` (DWARF order, [16] the address of the first frame).

    `queued`: the frames strace captures at entry (execve, exit_group) print a frame
    without a symbol as `path(+0x0)`, the others as `path()`.
    """
    mem = GuestMemory(mm)
    lines: list[str] = []
    use_prev = False  # the first frame's address is exact; callers' are return addresses
    cfa = regs[RSP]
    for _ in range(MAX_FRAMES):
        ip = regs[RIP]
        assert ip is not None
        try:
            site = mem.site(ip, use_prev)
        except Exception:  # noqa: BLE001 - nothing here may stop sysgate
            return lines
        if site is None:
            if ip:
                lines.append(f" > unexpected_backtracing_error [0x{ip:x}]")
            return lines
        lines.append(site.line(ip, use_prev, queued))
        try:
            step = _step(mem, site, regs, use_prev, cfa)
        except Exception:  # noqa: BLE001 - as an unw_step error: the stack ends here
            return lines
        if step is None:
            return lines
        regs, use_prev, cfa = step
    lines.append(" > too many stack frames")
    return lines


def _step(mem: GuestMemory, site: Site, regs: Regs, use_prev: bool,
          cfa: int | None) -> tuple[Regs, bool, int] | None:
    """unw_step: the caller's registers, whether its address is a return address, and
    this frame's CFA; None where the stack ends."""
    ip = regs[RIP]
    assert ip is not None
    if site.broken:
        return None
    if site.fde is not None and site.row is not None:
        applied = apply_row(site.fde, site.row, regs, mem.word)
        if applied is None:
            return None
        new, new_cfa = applied
        next_prev = not site.fde.signal_frame
    else:
        fallback = step_without_cfi(mem, regs, cfa, ip - 1 if use_prev else ip)
        if fallback is None:
            return None
        new, new_cfa, next_prev = fallback
    new_ip = new[RIP]
    if not new_ip:
        return None  # libunwind: an address of 0 ends the chain
    if new_ip == ip and new_cfa == cfa:
        return None  # dwarf_step: ip and cfa unchanged, -UNW_EBADFRAME
    return new, next_prev, new_cfa


# -- what is known about one code address --------------------------------------------------


@dataclass(slots=True)
class Site:
    """A frame address's mapping, path, name and unwind row (when it has CFI)."""

    vma: Vma
    start: int
    pgoff: int
    prot: int
    file: MappedFile | None
    path: str
    name: tuple[str, int] | None
    fde: Fde | None
    row: Row | None
    broken: bool = False  # its unwind information could not be read: the last frame

    def valid(self, vma: Vma | None) -> bool:
        return (vma is self.vma and vma.start == self.start and vma.pgoff == self.pgoff
                and vma.prot == self.prot and vma.file is self.file)

    def line(self, ip: int, use_prev: bool, queued: bool) -> str:
        """unwind.c's formats: with a name, without one (exit / entry capture)."""
        true_offset = ip - self.start + self.pgoff
        if self.name is not None:
            symbol, offset = self.name
            return f" > {self.path}({symbol}+0x{offset + (1 if use_prev else 0):x}) [0x{true_offset:x}]"
        if queued:
            return f" > {self.path}(+0x0) [0x{true_offset:x}]"
        return f" > {self.path}() [0x{true_offset:x}]"


_sites: weakref.WeakKeyDictionary[Mm, dict[tuple[int, bool], Site]] = weakref.WeakKeyDictionary()
_paths: weakref.WeakKeyDictionary[MappedFile, str] = weakref.WeakKeyDictionary()
_modules: weakref.WeakKeyDictionary[MappedFile, ElfModule | None] = weakref.WeakKeyDictionary()


def code_path(vma: Vma) -> str | None:
    """The name /proc/PID/maps gives an executable mapping, or None: strace's mmap_cache
    keeps named mappings only, and names frames only in those with PROT_EXEC."""
    if not vma.prot & PROT_EXEC:
        return None
    if vma.file is None:
        return vma.name or None
    path = _paths.get(vma.file)
    if path is None:
        path = vma.file.path
        try:
            # The kernel's d_path: the file's name with symbolic links resolved, as the
            # host, whose files the guest sees, knows it.
            real = os.readlink(f"/proc/self/fd/{vma.file.fd}")
            if real.startswith("/") and not real.startswith("/memfd:"):
                path = real
        except OSError:
            pass
        _paths[vma.file] = path
    return path


def module_of(vma: Vma) -> ElfModule | None:
    """The ELF file a mapping maps, parsed once (None for anonymous memory or non-ELF)."""
    file = vma.file
    if file is None:
        return None
    if file not in _modules:
        try:
            _modules[file] = load_module(file.fd, code_path(vma) or file.path)
        except Exception:  # noqa: BLE001 - pyelftools may raise anything on a damaged file
            _modules[file] = None
    return _modules[file]


def _pgoff(vma: Vma) -> int:
    return vma.pgoff if vma.file is not None else 0


class GuestMemory:
    """The guest as one walk sees it: pages read once, nothing outside a readable VMA
    touched (so no stack grows and no fault is raised), and the per-address Sites."""

    def __init__(self, mm: Mm) -> None:
        self.mm = mm
        self._pages: dict[int, bytes | None] = {}
        self._exec: list[tuple[int, int]] | None = None
        self._pointers: dict[int, tuple[list[int], list[int]] | None] = {}
        self._exec_starts: list[int] = []
        sites = _sites.get(mm)
        if sites is None:
            sites = _sites[mm] = {}
        self._sites = sites

    def _page(self, page: int) -> bytes | None:
        if page in self._pages:
            return self._pages[page]
        vma = self.mm.vma_at(page)
        data = None
        if vma is not None and vma.prot & PROT_READ:
            try:
                data = self.mm.read(page, PAGE_SIZE)
            except GuestFault:
                data = None
        self._pages[page] = data
        return data

    def word(self, addr: int, size: int = 8) -> int:
        page = addr & ~(PAGE_SIZE - 1)
        off = addr - page
        data = self._page(page)
        if data is None:
            raise Unreadable(addr)
        if off + size <= PAGE_SIZE:
            return int.from_bytes(data[off : off + size], "little")
        following = self._page(page + PAGE_SIZE)
        if following is None:
            raise Unreadable(addr)
        return int.from_bytes((data + following)[off : off + size], "little")

    def code(self, addr: int, size: int) -> bytes:
        out = b""
        while size > 0:
            page = addr & ~(PAGE_SIZE - 1)
            data = self._page(page)
            if data is None:
                break
            piece = data[addr - page : addr - page + size]
            out += piece
            addr += len(piece)
            size -= len(piece)
        return out

    def code_pointers(self, addr: int, count: int) -> Iterator[tuple[int, int]]:
        if addr & 7:
            return
        end = addr + 8 * count
        page = addr & ~(PAGE_SIZE - 1)
        while page < end:
            found = self._code_pointers_in(page)
            if found is None:
                return
            slots = found[0]
            for i in range(bisect.bisect_left(slots, addr), len(slots)):
                if slots[i] >= end:
                    return
                yield slots[i], found[1][i]
            page += PAGE_SIZE

    def _code_pointers_in(self, page: int) -> tuple[list[int], list[int]] | None:
        """The slots of a page that hold addresses in executable mappings, and those."""
        if page in self._pointers:
            return self._pointers[page]
        data = self._page(page)
        found = None
        if data is not None:
            ranges, starts = self._exec_ranges()
            low, high = (ranges[0][0], ranges[-1][1]) if ranges else (0, 0)
            words = struct.unpack(f"<{PAGE_SIZE // 8}Q", data)
            hits = [i for i, w in enumerate(words) if low <= w < high]
            slots, values = [], []
            for i in hits:
                k = bisect.bisect_right(starts, words[i]) - 1
                if k >= 0 and words[i] < ranges[k][1]:
                    slots.append(page + 8 * i)
                    values.append(words[i])
            found = (slots, values)
        self._pointers[page] = found
        return found

    def _exec_ranges(self) -> tuple[list[tuple[int, int]], list[int]]:
        if self._exec is None:
            self._exec = [(v.start, v.end) for v in self.mm.vmas if v.prot & PROT_EXEC]
            self._exec_starts = [start for start, _ in self._exec]
        return self._exec, self._exec_starts

    def executable(self, addr: int) -> bool:
        ranges, starts = self._exec_ranges()
        i = bisect.bisect_right(starts, addr) - 1
        return i >= 0 and addr < ranges[i][1]

    def function_start(self, addr: int) -> int | None:
        vma = self.mm.vma_at(addr)
        module = module_of(vma) if vma is not None else None
        if vma is None or module is None:
            return None
        name = module.proc_name(addr, vma.start, _pgoff(vma))
        return addr - name[1] if name is not None else None

    def entry_point(self, addr: int) -> int | None:
        vma = self.mm.vma_at(addr)
        module = module_of(vma) if vma is not None else None
        if vma is None or module is None or not module.entry:
            return None
        return module.entry + module.load_bias(vma.start, _pgoff(vma), addr)

    def site(self, ip: int, use_prev: bool) -> Site | None:
        """What frame address `ip` is (None: no executable named mapping holds it)."""
        vma = self.mm.vma_at(ip)
        key = (ip, use_prev)
        site = self._sites.get(key)
        if site is not None and site.valid(vma):
            return site
        if vma is None:
            return None
        path = code_path(vma)
        if path is None:
            return None
        pc = ip - 1 if use_prev else ip  # where the name and the rules come from
        pc_vma = self.mm.vma_at(pc)
        name = fde = row = None
        broken = False
        module = module_of(pc_vma) if pc_vma is not None else None
        if pc_vma is not None and module is not None:
            try:
                name = module.proc_name(pc, pc_vma.start, _pgoff(pc_vma))
                if name is not None:
                    name = (demangle(name[0]), name[1])
            except Exception:  # noqa: BLE001 - a damaged symbol table: the frame has no name
                name = None
            try:
                bias = module.load_bias(pc_vma.start, _pgoff(pc_vma), pc)
                table = module.find_fde_table(pc - bias)
                fde = table.find(pc - bias) if table is not None else None
                row = fde.row_at(pc - bias) if fde is not None else None
            except Exception:  # noqa: BLE001 - damaged CFI: the stack ends at this frame
                broken = True
        site = Site(vma, vma.start, _pgoff(vma), vma.prot, vma.file, path, name, fde, row, broken)
        if pc_vma is vma:
            if len(self._sites) >= _SITE_CACHE:
                self._sites.clear()
            self._sites[key] = site
        return site
