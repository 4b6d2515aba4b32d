"""The vDSO image, read back with pyelftools as a C library's loader reads it.

Checks what glibc's setup_vdso / dl_vdso_vsym and musl's vdso.c rely on: one PT_LOAD
at vaddr 0, PT_DYNAMIC with SONAME, both hash tables, the symbol versions (LINUX_2.6 in
.gnu.version_d, every exported symbol versioned with it), the Linux version note, and
the unwind tables; and that the image is rebuilt identically from the source.
"""

from __future__ import annotations

import struct
from io import BytesIO

import pytest
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import Symbol

from sysgate.kernel.kernel import UTS_RELEASE
from sysgate.vdso import image as im
from sysgate.vdso.image import VDSO_SIZE, build, elf_hash, gnu_hash, vdso_image

FUNCTIONS = ("clock_gettime", "gettimeofday", "time", "getcpu", "clock_getres")
EXPORTS = {f"__vdso_{f}" for f in FUNCTIONS} | set(FUNCTIONS)


@pytest.fixture(scope="module")
def elf() -> ELFFile:
    return ELFFile(BytesIO(vdso_image().data))


def dynsym(elf: ELFFile) -> list[Symbol]:
    return list(elf.get_section_by_name(".dynsym").iter_symbols())


def test_header_and_segments(elf: ELFFile) -> None:
    assert (elf.elfclass, elf.little_endian, elf["e_type"], elf["e_machine"]) == (64, True, "ET_DYN", "EM_X86_64")
    segs = {s["p_type"]: s for s in elf.iter_segments()}
    assert list(segs) == ["PT_LOAD", "PT_DYNAMIC", "PT_NOTE", "PT_GNU_EH_FRAME"]
    load = segs["PT_LOAD"]
    assert (load["p_offset"], load["p_vaddr"], load["p_flags"]) == (0, 0, 5)  # R+X, prelinked at 0
    text = elf.get_section_by_name(".text")
    assert load["p_filesz"] == load["p_memsz"] >= text["sh_offset"] + text["sh_size"]
    for seg, sec in (("PT_DYNAMIC", ".dynamic"), ("PT_NOTE", ".note"), ("PT_GNU_EH_FRAME", ".eh_frame_hdr")):
        s = elf.get_section_by_name(sec)
        assert (segs[seg]["p_offset"], segs[seg]["p_vaddr"], segs[seg]["p_filesz"]) == \
            (s["sh_offset"], s["sh_addr"], s["sh_size"])
    assert len(vdso_image().data) == VDSO_SIZE == 8192


def test_dynamic_section_names_linux_vdso(elf: ELFFile) -> None:
    dyn = elf.get_section_by_name(".dynamic")
    tags = {t.entry.d_tag: t for t in dyn.iter_tags()}
    assert tags["DT_SONAME"].soname == "linux-vdso.so.1"
    for tag, section in (("DT_HASH", ".hash"), ("DT_GNU_HASH", ".gnu.hash"), ("DT_STRTAB", ".dynstr"),
                         ("DT_SYMTAB", ".dynsym"), ("DT_VERSYM", ".gnu.version"), ("DT_VERDEF", ".gnu.version_d")):
        assert tags[tag].entry.d_val == elf.get_section_by_name(section)["sh_addr"], tag
    assert tags["DT_VERDEFNUM"].entry.d_val == 2
    assert tags["DT_STRSZ"].entry.d_val == elf.get_section_by_name(".dynstr")["sh_size"]
    assert tags["DT_SYMENT"].entry.d_val == 24
    assert list(tags)[-1] == "DT_NULL"
    assert "DT_NEEDED" not in tags and "DT_RELA" not in tags  # nothing to load or relocate


def test_exports_each_function_and_its_weak_alias(elf: ELFFile) -> None:
    syms = {s.name: s for s in dynsym(elf)[1:]}
    assert set(syms) == EXPORTS | {"LINUX_2.6"}
    text = elf.get_section_by_name(".text")
    text_ndx = next(i for i, s in enumerate(elf.iter_sections()) if s.name == ".text")
    for f in FUNCTIONS:
        main, alias = syms[f"__vdso_{f}"], syms[f]
        assert main["st_info"]["bind"] == "STB_GLOBAL" and alias["st_info"]["bind"] == "STB_WEAK"
        assert main["st_info"]["type"] == alias["st_info"]["type"] == "STT_FUNC"
        assert (main["st_value"], main["st_size"], main["st_shndx"]) == \
            (alias["st_value"], alias["st_size"], alias["st_shndx"])
        assert main["st_shndx"] == text_ndx
        assert text["sh_addr"] <= main["st_value"] < main["st_value"] + main["st_size"] <= \
            text["sh_addr"] + text["sh_size"]
    version = syms["LINUX_2.6"]
    assert (version["st_shndx"], version["st_info"]["type"], version["st_value"]) == ("SHN_ABS", "STT_OBJECT", 0)
    assert vdso_image().symbols["__vdso_clock_gettime"] == syms["__vdso_clock_gettime"]["st_value"]


def test_every_symbol_is_versioned_linux_2_6(elf: ELFFile) -> None:
    verdefs = {v.entry.vd_ndx: (v.entry, [a.name for a in aux])
               for v, aux in elf.get_section_by_name(".gnu.version_d").iter_versions()}
    base, base_names = verdefs[1]
    assert base.vd_flags == 1 and base_names == ["linux-vdso.so.1"]  # VER_FLG_BASE: the file itself
    linux, names = verdefs[2]
    assert (linux.vd_flags, names) == (0, ["LINUX_2.6"])
    assert linux.vd_hash == elf_hash(b"LINUX_2.6") == 61765110  # glibc's VDSO_HASH
    versym = elf.get_section_by_name(".gnu.version")
    ndx = [versym.get_symbol(i)["ndx"] for i in range(versym.num_symbols())]
    assert ndx[0] == "VER_NDX_LOCAL" and ndx[1:] == [2] * (len(ndx) - 1)  # not hidden (no 0x8000)


@pytest.mark.parametrize("section", [".gnu.hash", ".hash"])
def test_hash_tables_find_every_symbol_and_nothing_else(elf: ELFFile, section: str) -> None:
    table = elf.get_section_by_name(section)
    for name in EXPORTS | {"LINUX_2.6"}:
        sym = table.get_symbol(name)
        assert sym is not None and sym.name == name, name
    for name in ("__vdso_getrandom", "clock_gettime2", "", "__vdso_sgx_enter_enclave"):
        assert table.get_symbol(name) is None


def test_gnu_hash_bloom_filter_admits_every_symbol(elf: ELFFile) -> None:
    """glibc checks the Bloom filter before the buckets: a missing bit hides a symbol."""
    sec = elf.get_section_by_name(".gnu.hash")
    data = sec.data()
    _, symoffset, bloom_size, shift = struct.unpack_from("<IIII", data)
    assert symoffset == 1
    bloom = struct.unpack_from(f"<{bloom_size}Q", data, 16)
    for name in EXPORTS:
        h = gnu_hash(name.encode())
        word = bloom[(h // 64) % bloom_size]
        assert word >> (h % 64) & 1 and word >> ((h >> shift) % 64) & 1


def test_musl_style_lookup(elf: ELFFile) -> None:
    """musl's __vdsosym: walk DT_HASH's nchain symbols, match name, check the version."""
    nchain = struct.unpack_from("<II", elf.get_section_by_name(".hash").data())[1]
    syms = dynsym(elf)
    assert nchain == len(syms)
    versym = elf.get_section_by_name(".gnu.version")
    found = [i for i in range(nchain) if syms[i].name == "__vdso_clock_gettime"
             and syms[i]["st_shndx"] != "SHN_UNDEF" and versym.get_symbol(i)["ndx"] == 2]
    assert len(found) == 1


def test_linux_version_note(elf: ELFFile) -> None:
    notes = list(elf.get_section_by_name(".note").iter_notes())
    assert len(notes) == 1
    note = notes[0]
    assert (note.n_name, note.n_type, note.n_descsz) == ("Linux", 0, 4)
    code = struct.unpack("<I", bytes(note.n_desc, "latin-1") if isinstance(note.n_desc, str) else note.n_desc)[0]
    major, minor, patch = (int(x) for x in UTS_RELEASE.split("-")[0].split("."))
    assert code == im.LINUX_VERSION_CODE == (major << 16) | (minor << 8) | min(patch, 255)


def test_unwind_tables_cover_each_function_as_a_leaf(elf: ELFFile) -> None:
    syms = {s.name: s for s in dynsym(elf)}
    fdes = {}
    for entry in elf.get_dwarf_info().EH_CFI_entries():
        if type(entry).__name__ == "FDE":
            fdes[entry.header["initial_location"]] = entry
    assert len(fdes) == len(FUNCTIONS)
    for f in FUNCTIONS:
        sym = syms[f"__vdso_{f}"]
        fde = fdes[sym["st_value"]]
        assert fde.header["address_range"] == sym["st_size"]
        row = fde.get_decoded().table[0]
        assert (row["cfa"].reg, row["cfa"].offset) == (7, 8)  # CFA = rsp + 8
        assert row[16].arg == -8  # the return address at CFA - 8
    hdr = elf.get_section_by_name(".eh_frame_hdr")
    version, _, _, table_enc, _, count = struct.unpack_from("<BBBBiI", hdr.data())
    assert (version, table_enc, count) == (1, 0x3B, len(FUNCTIONS))
    pcs = [hdr["sh_addr"] + struct.unpack_from("<i", hdr.data(), 12 + 8 * i)[0] for i in range(count)]
    assert pcs == sorted(fdes)


def test_rebuilt_from_source_identically() -> None:
    assert build().data == build().data == vdso_image().data
    assert vdso_image() is vdso_image()  # built once per process
