"""The vDSO image: a real ELF64 shared object, built from source at first use.

Counterpart: arch/x86/entry/vdso/vdso.lds.S and vdso-layout.lds.S (what the object
exports and how it is laid out), vdso-note.S (the Linux version note) and vdso2c (the
image the kernel maps, with its vvar offsets). The machine code comes from
sysgate.vdso.vclock_gettime; this module writes the ELF around it:

    one PT_LOAD (R+X) from offset 0 at vaddr 0 (the image is prelinked at 0, and the
    C libraries add the address from AT_SYSINFO_EHDR), PT_DYNAMIC, PT_NOTE and
    PT_GNU_EH_FRAME; sections .hash and .gnu.hash (glibc uses either, musl DT_HASH),
    .dynsym/.dynstr, .gnu.version and .gnu.version_d (LINUX_2.6, as glibc's
    dl_vdso_vsym and musl's vdso.c check it), .dynamic with SONAME linux-vdso.so.1,
    .note, .eh_frame_hdr/.eh_frame (unwind rules for debuggers), .text, .shstrtab and
    the section headers; padded to VDSO_SIZE, the two pages Linux 6.12's vDSO takes.

Every exported function has its __vdso_ name (GLOBAL) and the plain name as a WEAK alias,
as Linux's vdso.lds.S exports them.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass

from sysgate.vdso.vclock_gettime import Function, assemble

VDSO_SIZE = 2 * 4096
SONAME = b"linux-vdso.so.1"
VERSION = b"LINUX_2.6"
LINUX_VERSION_CODE = (6 << 16) | (12 << 8) | 117
"""KERNEL_VERSION(6, 12, 117): the release whose behaviour sysgate follows (UTS_RELEASE)."""

EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
PHDR = struct.Struct("<IIQQQQQQ")
SHDR = struct.Struct("<IIQQQQIIQQ")
SYM = struct.Struct("<IBBHQQ")
DYN = struct.Struct("<qQ")
VERDEF = struct.Struct("<HHHHIII")
VERDAUX = struct.Struct("<II")

ET_DYN, EM_X86_64, EV_CURRENT = 3, 62, 1
PT_LOAD, PT_DYNAMIC, PT_NOTE, PT_GNU_EH_FRAME = 1, 2, 4, 0x6474E550
PF_X, PF_R = 1, 4
SHT_PROGBITS, SHT_STRTAB, SHT_HASH, SHT_DYNAMIC, SHT_NOTE, SHT_DYNSYM = 1, 3, 5, 6, 7, 11
SHT_GNU_HASH, SHT_GNU_VERDEF, SHT_GNU_VERSYM = 0x6FFFFFF6, 0x6FFFFFFD, 0x6FFFFFFF
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4
STB_GLOBAL, STB_WEAK, STT_OBJECT, STT_FUNC = 1, 2, 1, 2
SHN_ABS = 0xFFF1
VER_FLG_BASE = 1
DT_NULL, DT_HASH, DT_STRTAB, DT_SYMTAB, DT_STRSZ, DT_SYMENT, DT_SONAME, DT_SYMBOLIC = 0, 4, 5, 6, 10, 11, 14, 16
DT_FLAGS, DT_GNU_HASH, DT_VERSYM, DT_FLAGS_1, DT_VERDEF, DT_VERDEFNUM = 30, 0x6FFFFEF5, 0x6FFFFFF0, 0x6FFFFFFB, \
    0x6FFFFFFC, 0x6FFFFFFD
DF_SYMBOLIC, DF_BIND_NOW, DF_1_NOW = 0x2, 0x8, 0x1
GNU_HASH_BLOOM_SHIFT = 6


def elf_hash(name: bytes) -> int:
    """The SysV ELF hash (DT_HASH and vd_hash)."""
    h = 0
    for c in name:
        h = ((h << 4) + c) & 0xFFFFFFFF
        g = h & 0xF0000000
        if g:
            h ^= g >> 24
        h &= ~g & 0xFFFFFFFF
    return h


def gnu_hash(name: bytes) -> int:
    """The GNU hash (DT_GNU_HASH): h = h * 33 + c from 5381."""
    h = 5381
    for c in name:
        h = (h * 33 + c) & 0xFFFFFFFF
    return h


@dataclass(frozen=True, slots=True)
class Symbol:
    name: bytes
    value: int
    size: int
    bind: int
    type: int
    shndx: int


@dataclass(frozen=True, slots=True)
class VdsoImage:
    """The built image and what the kernel needs to know about it (vdso2c's output)."""

    data: bytes
    symbols: dict[str, int]  # name -> offset in the image

    @property
    def size(self) -> int:
        return len(self.data)


class _Strtab:
    def __init__(self) -> None:
        self.data = bytearray(b"\0")
        self._at: dict[bytes, int] = {}

    def add(self, s: bytes) -> int:
        if s not in self._at:
            self._at[s] = len(self.data)
            self.data += s + b"\0"
        return self._at[s]


def _align(buf: bytearray, n: int) -> None:
    buf += bytes(-len(buf) % n)


def _hash_section(symbols: list[Symbol]) -> bytes:
    """DT_HASH: nbucket, nchain, buckets, chains (symbol 0 is the null symbol)."""
    nbucket = 3
    buckets = [0] * nbucket
    chains = [0] * (len(symbols) + 1)
    for i, sym in enumerate(symbols, start=1):
        b = elf_hash(sym.name) % nbucket
        if buckets[b] == 0:
            buckets[b] = i
        else:
            j = buckets[b]
            while chains[j]:
                j = chains[j]
            chains[j] = i
    words = [nbucket, len(chains), *buckets, *chains]
    return struct.pack(f"<{len(words)}I", *words)


def _gnu_hash_section(symbols: list[Symbol], nbuckets: int) -> bytes:
    """DT_GNU_HASH over `symbols` (already sorted by bucket), which start at dynsym index 1."""
    bloom = 0
    hashes = [gnu_hash(s.name) for s in symbols]
    for h in hashes:
        bloom |= 1 << (h % 64) | 1 << ((h >> GNU_HASH_BLOOM_SHIFT) % 64)
    buckets = [0] * nbuckets
    chain = []
    for i, h in enumerate(hashes):
        b = h % nbuckets
        if buckets[b] == 0:
            buckets[b] = i + 1
        last = i + 1 == len(hashes) or hashes[i + 1] % nbuckets != b
        chain.append((h & ~1) | (1 if last else 0))
    head = struct.pack("<IIII", nbuckets, 1, 1, GNU_HASH_BLOOM_SHIFT)
    return head + struct.pack("<Q", bloom) + struct.pack(f"<{nbuckets}I", *buckets) + \
        struct.pack(f"<{len(chain)}I", *chain)


def _note() -> bytes:
    """vdso-note.S: ELFNOTE_START(Linux, 0, "a") .long LINUX_VERSION_CODE."""
    name = b"Linux\0"
    return struct.pack("<III", len(name), 4, 0) + name + bytes(-len(name) % 4) + \
        struct.pack("<I", LINUX_VERSION_CODE)


def _uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _eh_frame(base: int, text: int, funcs: list[Function]) -> tuple[bytes, list[tuple[int, int]]]:
    """One CIE (CFA = rsp + 8, return address at CFA - 8, for all of each function: they
    are leaves that never touch the stack) and an FDE per function. Returns the section
    and (function address, FDE address) pairs for .eh_frame_hdr."""
    cie_body = b"\0\0\0\0" + b"\x01" + b"zR\0" + _uleb(1) + b"\x78" + b"\x10" + _uleb(1) + b"\x1b" + \
        b"\x0c\x07\x08" + b"\x90\x01"  # DW_CFA_def_cfa rsp+8; DW_CFA_offset rip, cfa-8
    cie_body += bytes(-(len(cie_body) + 4) % 8)
    out = bytearray(struct.pack("<I", len(cie_body)) + cie_body)
    table = []
    for f in funcs:
        fde_at = base + len(out)
        pc = text + f.offset
        body = bytearray(struct.pack("<I", len(out) + 4))  # CIE pointer: back to offset 0
        body += struct.pack("<i", pc - (fde_at + 8)) + struct.pack("<I", f.size) + _uleb(0)
        body += bytes(-(len(body) + 4) % 8)
        out += struct.pack("<I", len(body)) + body
        table.append((pc, fde_at))
    out += b"\0\0\0\0"  # the terminator
    return bytes(out), table


def _eh_frame_hdr(hdr: int, eh_frame: int, table: list[tuple[int, int]]) -> bytes:
    out = struct.pack("<BBBBiI", 1, 0x1B, 0x03, 0x3B, eh_frame - (hdr + 4), len(table))
    for pc, fde in sorted(table):
        out += struct.pack("<ii", pc - hdr, fde - hdr)
    return out


def _symbols(funcs: list[Function], text: int, text_shndx: int) -> list[Symbol]:
    syms = []
    for f in funcs:
        syms.append(Symbol(b"__vdso_" + f.name.encode(), text + f.offset, f.size, STB_GLOBAL, STT_FUNC, text_shndx))
        syms.append(Symbol(f.name.encode(), text + f.offset, f.size, STB_WEAK, STT_FUNC, text_shndx))
    syms.append(Symbol(VERSION, 0, 0, STB_GLOBAL, STT_OBJECT, SHN_ABS))  # the version's own symbol
    return syms


@functools.cache
def vdso_image() -> VdsoImage:
    """The image, built once per process from the source in this package."""
    return build()


def build() -> VdsoImage:
    """Lay out and write the shared object (the work of vdso.lds.S, ld and vdso2c)."""
    # The code's size does not depend on where it goes, so a first pass gives the
    # function sizes that the symbol tables and unwind tables need.
    _, funcs = assemble(0)
    nbuckets = 3
    symbols = sorted(_symbols(funcs, 0, 0), key=lambda s: gnu_hash(s.name) % nbuckets)
    names = ["", ".hash", ".gnu.hash", ".dynsym", ".dynstr", ".gnu.version", ".gnu.version_d",
             ".dynamic", ".note", ".eh_frame_hdr", ".eh_frame", ".text", ".shstrtab"]
    shndx = {n: i for i, n in enumerate(names)}
    dynstr = _Strtab()
    soname = dynstr.add(SONAME)
    verstr = dynstr.add(VERSION)
    for s in symbols:
        dynstr.add(s.name)
    img = bytearray(bytes(EHDR.size + 4 * PHDR.size))
    where: dict[str, tuple[int, int]] = {}

    def section(name: str, data: bytes, align: int) -> int:
        _align(img, align)
        where[name] = (len(img), len(data))
        img.extend(data)
        return where[name][0]

    section(".hash", _hash_section(symbols), 8)
    section(".gnu.hash", _gnu_hash_section(symbols, nbuckets), 8)
    dynsym_size = (len(symbols) + 1) * SYM.size
    dynsym_at = section(".dynsym", bytes(dynsym_size), 8)  # filled in once .text is placed
    dynstr_at = section(".dynstr", bytes(dynstr.data), 1)
    versym_at = section(".gnu.version", struct.pack(f"<{len(symbols) + 1}H", 0, *[2] * len(symbols)), 2)
    verdef = VERDEF.pack(1, VER_FLG_BASE, 1, 1, elf_hash(SONAME), VERDEF.size, VERDEF.size + VERDAUX.size) + \
        VERDAUX.pack(soname, 0) + VERDEF.pack(1, 0, 2, 1, elf_hash(VERSION), VERDEF.size, 0) + VERDAUX.pack(verstr, 0)
    verdef_at = section(".gnu.version_d", verdef, 8)
    dyn = [(DT_SONAME, soname), (DT_SYMBOLIC, 0), (DT_HASH, where[".hash"][0]),
           (DT_GNU_HASH, where[".gnu.hash"][0]), (DT_STRTAB, dynstr_at), (DT_SYMTAB, dynsym_at),
           (DT_STRSZ, len(dynstr.data)), (DT_SYMENT, SYM.size), (DT_VERDEF, verdef_at), (DT_VERDEFNUM, 2),
           (DT_FLAGS, DF_SYMBOLIC | DF_BIND_NOW), (DT_FLAGS_1, DF_1_NOW), (DT_VERSYM, versym_at), (DT_NULL, 0)]
    section(".dynamic", b"".join(DYN.pack(*d) for d in dyn), 8)
    section(".note", _note(), 4)
    # .eh_frame_hdr's and .eh_frame's sizes do not depend on addresses: reserve, then fill.
    hdr_size = 12 + 8 * len(funcs)
    hdr_at = section(".eh_frame_hdr", bytes(hdr_size), 4)
    frame_probe, _ = _eh_frame(0, 0, funcs)
    frame_at = section(".eh_frame", bytes(len(frame_probe)), 8)
    _align(img, 16)
    text_at = len(img)
    code, funcs = assemble(text_at)
    section(".text", code, 16)
    frame, table = _eh_frame(frame_at, text_at, funcs)
    img[frame_at : frame_at + len(frame)] = frame
    img[hdr_at : hdr_at + hdr_size] = _eh_frame_hdr(hdr_at, frame_at, table)
    placed = {s.name: s for s in _symbols(funcs, text_at, shndx[".text"])}
    syms = [placed[s.name] for s in symbols]
    img[dynsym_at : dynsym_at + dynsym_size] = bytes(SYM.size) + b"".join(
        SYM.pack(dynstr.add(s.name), s.bind << 4 | s.type, 0, s.shndx, s.value, s.size) for s in syms)
    load_end = len(img)

    shstr = _Strtab()
    name_at = [shstr.add(n.encode()) if n else 0 for n in names]
    section(".shstrtab", bytes(shstr.data), 1)
    _align(img, 8)
    shoff = len(img)
    img += bytes(SHDR.size)
    specs = {  # type, flags, link, info, align, entsize
        ".hash": (SHT_HASH, SHF_ALLOC, shndx[".dynsym"], 0, 8, 4),
        ".gnu.hash": (SHT_GNU_HASH, SHF_ALLOC, shndx[".dynsym"], 0, 8, 0),
        ".dynsym": (SHT_DYNSYM, SHF_ALLOC, shndx[".dynstr"], 1, 8, SYM.size),
        ".dynstr": (SHT_STRTAB, SHF_ALLOC, 0, 0, 1, 0),
        ".gnu.version": (SHT_GNU_VERSYM, SHF_ALLOC, shndx[".dynsym"], 0, 2, 2),
        ".gnu.version_d": (SHT_GNU_VERDEF, SHF_ALLOC, shndx[".dynstr"], 2, 8, 0),
        ".dynamic": (SHT_DYNAMIC, SHF_WRITE | SHF_ALLOC, shndx[".dynstr"], 0, 8, DYN.size),
        ".note": (SHT_NOTE, SHF_ALLOC, 0, 0, 4, 0),
        ".eh_frame_hdr": (SHT_PROGBITS, SHF_ALLOC, 0, 0, 4, 0),
        ".eh_frame": (SHT_PROGBITS, SHF_ALLOC, 0, 0, 8, 0),
        ".text": (SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, 0, 0, 16, 0),
        ".shstrtab": (SHT_STRTAB, 0, 0, 0, 1, 0),
    }
    for n in names[1:]:
        typ, flags, link, info, align, entsize = specs[n]
        off, size = where[n]
        addr = off if flags & SHF_ALLOC else 0
        img += SHDR.pack(name_at[shndx[n]], typ, flags, addr, off, size, link, info, align, entsize)
    if len(img) > VDSO_SIZE:
        raise RuntimeError(f"the vDSO image ({len(img)} bytes) outgrew its {VDSO_SIZE} bytes")

    phdrs = [
        PHDR.pack(PT_LOAD, PF_R | PF_X, 0, 0, 0, load_end, load_end, 4096),
        PHDR.pack(PT_DYNAMIC, PF_R, *[where[".dynamic"][0]] * 3, *[where[".dynamic"][1]] * 2, 8),
        PHDR.pack(PT_NOTE, PF_R, *[where[".note"][0]] * 3, *[where[".note"][1]] * 2, 4),
        PHDR.pack(PT_GNU_EH_FRAME, PF_R, *[hdr_at] * 3, hdr_size, hdr_size, 4),
    ]
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    img[: EHDR.size] = EHDR.pack(ident, ET_DYN, EM_X86_64, EV_CURRENT, 0, EHDR.size, shoff, 0, EHDR.size,
                                 PHDR.size, len(phdrs), SHDR.size, len(names), shndx[".shstrtab"])
    img[EHDR.size : EHDR.size + 4 * PHDR.size] = b"".join(phdrs)
    img += bytes(VDSO_SIZE - len(img))
    return VdsoImage(bytes(img), {s.name.decode(): s.value for s in syms})
