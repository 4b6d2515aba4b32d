"""`sysgate rootfs`: what a loader would find, copied to the same paths (sysgate.rootfs)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sysgate.errors import SysgateError
from sysgate.rootfs import _musl_self, populate, read_elf, read_ld_so_cache


def test_the_cache_reader_agrees_with_ldconfig() -> None:
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    if not os.path.exists("/etc/ld.so.cache") or not os.path.exists(ldconfig):
        pytest.skip("no ld.so.cache or ldconfig on this host")
    out = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, check=True).stdout
    expected = {}
    for line in out.splitlines()[1:]:
        name, _, rest = line.strip().partition(" (")
        if "x86-64" in rest and "hwcap" not in rest:
            expected.setdefault(name, rest.rpartition("=> ")[2])
    cache = read_ld_so_cache()
    assert cache["libc.so.6"] == expected["libc.so.6"]
    assert {k: v for k, v in cache.items() if k in expected} == expected


def test_a_file_that_is_not_a_cache_gives_nothing(tmp_path: Path) -> None:
    (tmp_path / "c").write_bytes(b"not a cache")
    assert read_ld_so_cache(str(tmp_path / "c")) == {}
    assert read_ld_so_cache(str(tmp_path / "none")) == {}


def test_links_on_the_way_are_made_again(tmp_path: Path) -> None:
    host = tmp_path / "h"
    (host / "real").mkdir(parents=True)
    (host / "real/f").write_text("data")
    os.symlink("real", host / "alias")
    os.symlink("f", host / "real/g")
    dest = tmp_path / "d"
    log = populate(str(dest), [], [str(host / "alias/g")])
    inside = Path(str(dest) + str(host))
    assert os.readlink(inside / "alias") == "real"
    assert os.readlink(inside / "real/g") == "f"
    assert (inside / "real/f").read_text() == "data"
    assert {"made /dev/", "made /proc/", "made /tmp/"} <= set(log)
    assert (dest / "tmp").stat().st_mode & 0o7777 == 0o1777
    assert populate(str(dest), [], [str(host / "alias/g")]) == []  # again: nothing to do


def test_a_conflicting_folder_is_refused(tmp_path: Path) -> None:
    host = tmp_path / "h"
    host.mkdir()
    (host / "f").write_text("x")
    os.symlink("f", host / "l")
    dest = tmp_path / "d"
    (Path(str(dest) + str(host)) / "l").mkdir(parents=True)
    with pytest.raises(SysgateError, match="exists, where the host has a link to f"):
        populate(str(dest), [], [str(host / "l")])


def test_a_missing_program(tmp_path: Path) -> None:
    with pytest.raises(SysgateError) as exc:
        populate(str(tmp_path / "d"), [str(tmp_path / "nope")], [])
    assert exc.value.status == 127


def test_ls_gets_its_loader_and_libraries(tmp_path: Path) -> None:
    ls = os.path.realpath("/bin/ls")
    elf = read_elf(ls)
    assert elf is not None and elf.interp is not None and "libc.so.6" in elf.needed
    dest = tmp_path / "d"
    populate(str(dest), ["/bin/ls"], [])
    assert os.path.exists(str(dest) + elf.interp)  # through the links, as the guest will look
    assert any(p.name == "libc.so.6" for p in dest.rglob("libc.so.6"))


def test_a_script_brings_its_interpreter(tmp_path: Path) -> None:
    script = tmp_path / "s"
    script.write_text("#!/bin/cat -n\nhello\n")
    dest = tmp_path / "d"
    populate(str(dest), [str(script)], [])
    assert os.path.exists(str(dest) + "/bin/cat")
    assert os.path.exists(str(dest) + str(script))


def test_musl_provides_libc_itself() -> None:
    assert _musl_self("libc.so") and _musl_self("libpthread.so.0") and _musl_self("libm.so")
    assert not _musl_self("libcrypto.so.3") and not _musl_self("ld-musl-x86_64.so.1")


def test_a_missing_library_is_named(tmp_path: Path) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("no gcc")
    lib = tmp_path / "libgone.so"
    prog = tmp_path / "prog"
    (tmp_path / "l.c").write_text("int gone(void) { return 1; }\n")
    (tmp_path / "p.c").write_text("int gone(void); int main(void) { return gone(); }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", lib, tmp_path / "l.c"], check=True)
    subprocess.run(["gcc", "-o", prog, tmp_path / "p.c", "-L", tmp_path, "-lgone"], check=True)
    with pytest.raises(SysgateError, match=f"libgone.so \\(needed by {prog}\\): not found"):
        populate(str(tmp_path / "d"), [str(prog)], [])


def test_a_directory_is_copied_whole(tmp_path: Path) -> None:
    host = tmp_path / "data"
    (host / "sub").mkdir(parents=True)
    (host / "sub/f").write_text("f")
    os.symlink("..", host / "sub/up")  # a link inside is made again, never entered
    dest = tmp_path / "d"
    populate(str(dest), [], [str(host)])
    inside = Path(str(dest) + str(host))
    assert (inside / "sub/f").read_text() == "f"
    assert os.readlink(inside / "sub/up") == ".."
