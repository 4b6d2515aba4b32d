"""The C interface of libunicorn, through cffi's ABI mode (no compiler needed).

Counterpart: unicorn's include/unicorn/unicorn.h and x86.h (the facts below: function
prototypes, enum values and register numbers of Unicorn 2.1). The library is the one
the `unicorn` PyPI package ships; it is found without importing the package's Python
binding, which sysgate does not use.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import cffi

ffi = cffi.FFI()
ffi.cdef(
    """
    typedef struct uc_struct uc_engine;
    typedef size_t uc_hook;
    typedef struct { uint64_t paddr; int perms; } uc_tlb_entry;
    int uc_open(int arch, int mode, uc_engine **uc);
    int uc_close(uc_engine *uc);
    int uc_ctl(uc_engine *uc, int control, ...);
    const char *uc_strerror(int code);
    int uc_mem_map_ptr(uc_engine *uc, uint64_t address, size_t size, uint32_t perms, void *ptr);
    int uc_mem_unmap(uc_engine *uc, uint64_t address, size_t size);
    int uc_hook_add(uc_engine *uc, uc_hook *hh, int type, void *callback, void *user_data,
                    uint64_t begin, uint64_t end, ...);
    int uc_emu_start(uc_engine *uc, uint64_t begin, uint64_t until, uint64_t timeout, size_t count);
    int uc_emu_stop(uc_engine *uc);
    int uc_reg_read(uc_engine *uc, int regid, void *value);
    int uc_reg_write(uc_engine *uc, int regid, const void *value);
    int uc_reg_read_batch(uc_engine *uc, int *regs, void **vals, int count);
    int uc_reg_write_batch(uc_engine *uc, int *regs, void *const *vals, int count);
    typedef struct uc_context uc_context;
    int uc_context_alloc(uc_engine *uc, uc_context **context);
    int uc_context_save(uc_engine *uc, uc_context *context);
    int uc_context_restore(uc_engine *uc, uc_context *context);
    size_t uc_context_size(uc_engine *uc);
    int uc_context_free(uc_context *context);
    """
)


def _library_path() -> str:
    spec = importlib.util.find_spec("unicorn")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the 'unicorn' package (PyPI unicorn 2.1) is not installed")
    for folder in spec.submodule_search_locations:
        for name in ("libunicorn.so.2", "libunicorn.so", "libunicorn.2.dylib", "libunicorn.dylib"):
            path = Path(folder) / "lib" / name
            if path.exists():
                return str(path)
    raise ImportError("the 'unicorn' package has no libunicorn library")


lib: Any = ffi.dlopen(_library_path())

UC_ARCH_X86 = 4
UC_MODE_64 = 8
UC_HOOK_INTR = 1 << 0
UC_HOOK_INSN = 1 << 1
UC_HOOK_TLB_FILL = 1 << 17
UC_X86_INS_SYSCALL = 699
UC_TLB_VIRTUAL = 1
UC_CTL_TLB_TYPE = 12
UC_CTL_IO_WRITE = 1

UC_ERR_OK = 0
UC_ERR_READ_UNMAPPED = 6
UC_ERR_WRITE_UNMAPPED = 7
UC_ERR_FETCH_UNMAPPED = 8
UC_ERR_INSN_INVALID = 10
UC_ERR_WRITE_PROT = 12
UC_ERR_READ_PROT = 13
UC_ERR_FETCH_PROT = 14
UC_ERR_EXCEPTION = 21

REG: dict[str, int] = {
    "rax": 35, "rbp": 36, "rbx": 37, "rcx": 38, "rdi": 39, "rdx": 40, "rip": 41,
    "rsi": 43, "rsp": 44, "r8": 106, "r9": 107, "r10": 108, "r11": 109, "r12": 110,
    "r13": 111, "r14": 112, "r15": 113, "rflags": 25, "cs": 11, "ds": 17, "es": 28,
    "fs": 32, "gs": 33, "ss": 49, "fs_base": 250, "gs_base": 251, "mxcsr": 249,
    "fpcw": 246, "fpsw": 31, "fptag": 247,
}
"""Unicorn's x86 register numbers (unicorn/x86.h, UC_X86_REG_*); "rflags" is EFLAGS."""


class UnicornError(Exception):
    """Unicorn refused a request that sysgate made (a sysgate bug, not a guest error)."""

    def __init__(self, code: int) -> None:
        super().__init__(f"unicorn error {code}: {ffi.string(lib.uc_strerror(code)).decode()}")
        self.code = code


def check(rc: int) -> None:
    if rc != UC_ERR_OK:
        raise UnicornError(rc)


def ctl_write(control: int, nargs: int) -> int:
    """UC_CTL_WRITE(control, nargs) from unicorn.h."""
    return control | (nargs << 26) | (UC_CTL_IO_WRITE << 30)


def new_engine() -> Any:
    """A fresh x86-64 engine in virtual-TLB mode (translations come from our page table)."""
    ucp = ffi.new("uc_engine **")
    check(lib.uc_open(UC_ARCH_X86, UC_MODE_64, ucp))
    uc = ucp[0]
    check(lib.uc_ctl(uc, ctl_write(UC_CTL_TLB_TYPE, 1), ffi.cast("int", UC_TLB_VIRTUAL)))
    return uc
