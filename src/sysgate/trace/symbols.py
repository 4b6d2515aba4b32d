"""-k: the ELF file behind a code mapping, as strace's unwinder reads it.

Counterpart: libunwind 1.6's elfxx.c, which strace 6.1 -k uses (unw_get_proc_name) to
name each frame: get_load_offset (where the file is loaded), lookup_symbol (the nearest
function symbol at or below the address, from every .symtab and .dynsym section, in
section order, the first of equal addresses winning), get_proc_name_in_image (a name is
only given within the file's size of its symbol; MiniDebugInfo, the xz-compressed ELF in
.gnu_debugdata, is searched too) and load_debuglink (a .gnu_debuglink file next to the
module, or in its .debug/ folder, replaces it). The unwind sections (.eh_frame with its
.eh_frame_hdr, .debug_frame) are kept for sysgate.trace.cfi.

A module is parsed once (pyelftools) and kept by the file's identity and modification
time, so every task and every run in this process shares it. Nothing here raises for a
bad file: load_module answers None, and a module without some part simply lacks it.
C++ names are demangled as strace (built with libiberty) prints them.
"""

from __future__ import annotations

import bisect
import ctypes
import ctypes.util
import functools
import io
import lzma
import os
import stat
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from sysgate.trace.cfi import CallFrameTable, find_table

PT_LOAD = 1
PF_X = 1
STT_FUNC = 2
SHN_UNDEF = 0
SHN_ABS = 0xFFF1
_PAGE_MASK = ~0xFFF


@dataclass(frozen=True, slots=True)
class Segment:
    """A PT_LOAD program header: where a part of the file goes in memory."""

    offset: int
    vaddr: int
    filesz: int
    executable: bool


class FunctionSymbols:
    """Function symbols by address, looked up as libunwind's lookup_symbol does.

    libunwind scans every symbol and keeps the first that is strictly closer at or below
    the address; sorting by (address, order of appearance) and keeping the first of each
    address gives the same answer by bisection. Absolute symbols (SHN_ABS) are not moved
    by the load bias, so they are kept apart.
    """

    def __init__(self, symbols: list[tuple[int, bool, str]]) -> None:
        """`symbols`: (st_value, absolute, name) in the order libunwind meets them."""
        rel: dict[int, tuple[int, str]] = {}
        absolute: dict[int, tuple[int, str]] = {}
        for order, (value, is_abs, name) in enumerate(symbols):
            table = absolute if is_abs else rel
            if value not in table:
                table[value] = (order, name)
        self._rel = sorted((v, o, n) for v, (o, n) in rel.items())
        self._rel_keys = [v for v, _, _ in self._rel]
        self._abs = sorted((v, o, n) for v, (o, n) in absolute.items())
        self._abs_keys = [v for v, _, _ in self._abs]

    def __len__(self) -> int:
        return len(self._rel) + len(self._abs)

    def nearest(self, addr: int, bias: int) -> tuple[int, int, str] | None:
        """(distance, order, name) of the nearest symbol at or below `addr`, or None."""
        best: tuple[int, int, str] | None = None
        i = bisect.bisect_right(self._rel_keys, addr - bias) - 1
        if i >= 0:
            value, order, name = self._rel[i]
            best = (addr - bias - value, order, name)
        j = bisect.bisect_right(self._abs_keys, addr) - 1
        if j >= 0:
            value, order, name = self._abs[j]
            cand = (addr - value, order, name)
            if best is None or cand[:2] < best[:2]:
                best = cand
        return best


def _function_symbols(elf: ELFFile) -> list[tuple[int, bool, str]]:
    """Every defined STT_FUNC symbol of the .symtab and .dynsym sections, in section order."""
    out: list[tuple[int, bool, str]] = []
    for section in elf.iter_sections():
        if not isinstance(section, SymbolTableSection) or section["sh_type"] not in ("SHT_SYMTAB", "SHT_DYNSYM"):
            continue
        for sym in section.iter_symbols():
            if sym["st_info"]["type"] != "STT_FUNC":
                continue
            shndx = sym["st_shndx"]
            if shndx in ("SHN_UNDEF", SHN_UNDEF):
                continue
            out.append((sym["st_value"], shndx in ("SHN_ABS", SHN_ABS), sym.name))
    return out


def _section_data(elf: ELFFile, name: str) -> tuple[bytes, int] | None:
    """(contents, address) of a section that has contents in the file, or None."""
    section = elf.get_section_by_name(name)
    if section is None or section["sh_type"] == "SHT_NOBITS":
        return None
    return section.data(), section["sh_addr"]


@dataclass(slots=True)
class SymbolImage:
    """The file libunwind takes names from: the module, or its .gnu_debuglink file."""

    size: int
    segments: list[Segment]
    symbols: FunctionSymbols
    debug_frame: tuple[bytes, int] | None = None


@dataclass(slots=True)
class ElfModule:
    """One ELF file that code is mapped from: its segments, names and unwind tables."""

    size: int
    segments: list[Segment]
    names: SymbolImage
    entry: int = 0  # e_entry: where the program starts, the outermost frame
    eh_frame: CallFrameTable | None = None
    debug_frame: CallFrameTable | None = None
    _names_cache: dict[tuple[int, int], tuple[str, int] | None] = field(default_factory=dict)

    def load_bias(self, map_start: int, map_offset: int, addr: int) -> int:
        """What to add to a link-time address of this file to get where it is mapped.

        `addr` lies in a mapping that starts at `map_start` with file offset
        `map_offset`; the segment that holds addr's file offset decides (0 if none does).
        """
        seg = _segment_at(self.segments, addr - map_start + map_offset)
        return map_start - map_offset - (seg.vaddr - seg.offset) if seg is not None else 0

    def proc_name(self, addr: int, map_start: int, map_offset: int) -> tuple[str, int] | None:
        """(function, offset) naming `addr` as unw_get_proc_name does, or None.

        libunwind's get_load_offset takes the PT_LOAD of the symbol file whose
        page-aligned offset is the offset of the mapping (Linux maps each segment
        apart), from that file's own program headers: a .gnu_debuglink file's, whose
        offsets objcopy rewrites, usually give it 0, and then nothing is named.
        """
        seg = _segment_at(self.segments, addr - map_start + map_offset)
        if seg is not None:  # the mapping Linux would have made of this segment
            map_start += (seg.offset & _PAGE_MASK) - map_offset
            map_offset = seg.offset & _PAGE_MASK
        bias = 0
        for image_seg in self.names.segments:
            if image_seg.offset & _PAGE_MASK == map_offset:
                bias = map_start - image_seg.vaddr + (image_seg.offset & ~_PAGE_MASK)
                break
        key = (addr, bias)
        if key in self._names_cache:
            return self._names_cache[key]
        best = self.names.symbols.nearest(addr, bias)
        answer = None if best is None or best[0] >= self.names.size else (best[2], best[0])
        if len(self._names_cache) < 65536:
            self._names_cache[key] = answer
        return answer

    def find_fde_table(self, pc: int) -> CallFrameTable | None:
        """The unwind table that describes link-time address `pc`: .eh_frame, then .debug_frame."""
        for table in (self.eh_frame, self.debug_frame):
            if table is not None and table.find(pc) is not None:
                return table
        return None


def _segment_at(segments: list[Segment], file_offset: int) -> Segment | None:
    """The PT_LOAD that holds `file_offset`, an executable one first (segments can share
    a page of the file)."""
    found = None
    for seg in segments:
        if seg.offset <= file_offset < seg.offset + seg.filesz:
            if seg.executable:
                return seg
            found = found or seg
    return found


def _segments(elf: ELFFile) -> list[Segment]:
    return [
        Segment(seg["p_offset"], seg["p_vaddr"], seg["p_filesz"], bool(seg["p_flags"] & PF_X))
        for seg in elf.iter_segments()
        if seg["p_type"] in ("PT_LOAD", PT_LOAD)
    ]


def _minidebuginfo_symbols(elf: ELFFile) -> list[tuple[int, bool, str]]:
    """The function symbols of the ELF file compressed into .gnu_debugdata (MiniDebugInfo)."""
    data = _section_data(elf, ".gnu_debugdata")
    if data is None:
        return []
    try:
        inner = ELFFile(io.BytesIO(lzma.decompress(data[0])))
        return _function_symbols(inner)
    except Exception:  # noqa: BLE001 - damaged MiniDebugInfo adds no names
        return []


def _symbol_image(elf: ELFFile, size: int) -> SymbolImage:
    symbols = _function_symbols(elf) + _minidebuginfo_symbols(elf)
    return SymbolImage(size, _segments(elf), FunctionSymbols(symbols), _section_data(elf, ".debug_frame"))


def _debuglink(elf: ELFFile, path: str) -> SymbolImage | None:
    """The separate debug file .gnu_debuglink names, where libunwind 1.6 looks for it."""
    data = _section_data(elf, ".gnu_debuglink")
    if data is None or b"\0" not in data[0]:
        return None
    link = data[0].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    if not link or "/" in link:
        return None
    base = os.path.dirname(path)
    for candidate in (f"{base}/{link}", f"{base}/.debug/{link}"):
        if candidate == path or not os.path.isfile(candidate):
            continue
        try:
            with open(candidate, "rb") as f:
                debug = ELFFile(f)
                return _symbol_image(debug, os.fstat(f.fileno()).st_size)
        except Exception:  # noqa: BLE001, S112 - a damaged debug file is no debug file
            continue
    return None


def parse_module(stream: BinaryIO, size: int, path: str) -> ElfModule | None:
    """Read an ELF file: its segments, names and unwind tables; None if it is not one."""
    try:
        elf = ELFFile(stream)
        if elf.elfclass != 64 or not elf.little_endian:
            return None
        names = _debuglink(elf, path) or _symbol_image(elf, size)
        eh = _section_data(elf, ".eh_frame")
        hdr = _section_data(elf, ".eh_frame_hdr")
        eh_table = find_table(eh, hdr, eh_frame=True) if eh is not None else None
        debug = _section_data(elf, ".debug_frame") or names.debug_frame
        debug_table = find_table(debug, None, eh_frame=False) if debug is not None else None
        return ElfModule(size, _segments(elf), names, elf.header["e_entry"], eh_table, debug_table)
    except Exception:  # noqa: BLE001 - pyelftools raises many kinds on a damaged file
        return None


_DEMANGLED: dict[str, str] = {}


def demangle(name: str) -> str:
    """A C++ name as strace prints it: cplus_demangle(name, DMGL_AUTO | DMGL_PARAMS), here
    through the C++ runtime's __cxa_demangle (the same libiberty demangler). Other names,
    and all names where libstdc++ is not installed, are printed as they are."""
    if not name.startswith("_Z"):
        return name
    text = _DEMANGLED.get(name)
    if text is None:
        text = _cxa_demangle(name) or name
        if len(_DEMANGLED) < 65536:
            _DEMANGLED[name] = text
    return text


@functools.cache
def _demangler() -> tuple[Any, Any] | None:
    path = ctypes.util.find_library("stdc++")
    if path is None:
        return None
    try:
        fn = ctypes.CDLL(path).__cxa_demangle
        free = ctypes.CDLL(None).free
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_void_p
    fn.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
    free.argtypes = [ctypes.c_void_p]
    return fn, free


def _cxa_demangle(name: str) -> str | None:
    found = _demangler()
    if found is None:
        return None
    fn, free = found
    status = ctypes.c_int(-1)
    out = fn(name.encode("utf-8", "surrogateescape"), None, None, ctypes.byref(status))
    if not out:
        return None
    try:
        return ctypes.string_at(out).decode("utf-8", "surrogateescape") if status.value == 0 else None
    finally:
        free(out)


_MODULES: dict[tuple[int, int, int, int], ElfModule | None] = {}
_MAX_MODULES = 64
"""Files kept parsed (the least recently parsed go first): a process maps a few dozen."""


def load_module(fd: int, path: str) -> ElfModule | None:
    """The module read from host descriptor `fd` (the mapping's own), parsed once per
    file version (device, inode, size, modification time)."""
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    if key in _MODULES:
        return _MODULES[key]
    try:
        with os.fdopen(os.dup(fd), "rb") as stream:
            module = parse_module(stream, st.st_size, path)
    except OSError:
        module = None
    if len(_MODULES) >= _MAX_MODULES:
        del _MODULES[next(iter(_MODULES))]
    _MODULES[key] = module
    return module


def load_module_path(path: str) -> ElfModule | None:
    """load_module for a host path (tests, tools)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return load_module(fd, path)
    finally:
        os.close(fd)
