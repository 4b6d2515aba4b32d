"""The time-stamp counter as the guest's `rdtsc` sees it, read from the kernel's side.

Counterpart: arch/x86/include/asm/msr.h (rdtsc_ordered) as the kernel uses it to pair
the TSC with its clocks. Unicorn's rdtsc returns the host's counter (on x86-64 hosts the
host TSC itself; see ../shared/UNICORN-NOTES.md, "Time and CPU identity"). Reading it
through a second, tiny engine that executes `rdtsc` gives exactly the guest's counter
on any host, costs about 1 µs, and never disturbs the CPU running the guest: no
context is saved and no translation is flushed. One engine serves the whole process,
behind a lock, since the vDSO's timekeeping thread reads it while the guest runs.
"""

from __future__ import annotations

import threading
from typing import Any

from sysgate.cpu.ucffi import REG, UC_ARCH_X86, UC_MODE_64, check, ctl_write, ffi, lib

_CODE_ADDR = 0x1000
_CODE = bytes([
    0x0F, 0x31,              # rdtsc
    0x48, 0xC1, 0xE2, 0x20,  # shl rdx, 32
    0x48, 0x09, 0xD0,        # or rax, rdx
    0xF4,                    # hlt: ends emu_start (the engine runs at CPL 0)
])
_UC_CTL_TCG_BUFFER_SIZE = 13
_TCG_BUFFER = 1 << 20
"""Translated-code space for the reader (the default reserves 1 GiB of address space)."""


class TscReader:
    """A minimal x86-64 engine whose only code is `rdtsc; hlt`."""

    def __init__(self) -> None:
        ucp = ffi.new("uc_engine **")
        check(lib.uc_open(UC_ARCH_X86, UC_MODE_64, ucp))
        self._uc: Any = ucp[0]
        lib.uc_ctl(self._uc, ctl_write(_UC_CTL_TCG_BUFFER_SIZE, 1), ffi.cast("uint32_t", _TCG_BUFFER))
        self._page = ffi.new("char[]", 4096)
        ffi.memmove(self._page, _CODE, len(_CODE))
        check(lib.uc_mem_map_ptr(self._uc, _CODE_ADDR, 4096, 5, self._page))
        self._value = ffi.new("uint64_t *")
        self._lock = threading.Lock()

    def read(self) -> int:
        """The counter now, as a guest `rdtsc` would read it."""
        with self._lock:
            check(lib.uc_emu_start(self._uc, _CODE_ADDR, 0, 0, 0))
            check(lib.uc_reg_read(self._uc, REG["rax"], self._value))
            return int(self._value[0])


_readers: list[TscReader] = []
_readers_lock = threading.Lock()


def read_tsc() -> int:
    """The guest's TSC now (one process-wide reader, made at first use)."""
    if not _readers:
        with _readers_lock:
            if not _readers:
                _readers.append(TscReader())
    return _readers[0].read()
