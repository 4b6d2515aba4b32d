"""/proc seen by real programs: busybox (static) and Debian's dynamic coreutils read it
natively and under sysgate, and the two outputs must have Linux's format.

The host kernel is the oracle for the format: the same lines, in the same order, with
the same field names. Values that differ by nature are masked: pids and times, the
machine (CPUs, memory, the CPU model), and the lines a kernel prints only for some
configurations (CONFIG_OPTIONAL below: sysgate follows Debian's 6.12 configuration; the
host may be built otherwise or be a newer Linux).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.guest.build import VARIANTS
from tests.guest.conftest import GuestRunner, assert_same

BUSYBOX = "/bin/busybox"
CAT = "/bin/cat"
LS = "/bin/ls"

CONFIG_OPTIONAL = {
    "status": {"x86_Thread_features", "x86_Thread_features_locked"},  # CONFIG_X86_USER_SHADOW_STACK
    "meminfo": {"Balloon", "HardwareCorrupted", "Unaccepted", "CmaTotal", "CmaFree", "ShadowCallStack",
                "Zswap", "Zswapped", "SecPageTables", "FileHugePages", "FilePmdMapped", "EarlyMemtestBad",
                "Hugetlb", "DirectMap1G"},
    "cpuinfo": {"microcode", "TLB size", "vmx flags"},  # only with a microcode revision, AMD, VMX
    "maps": {"[vvar_vclock]"},  # Linux 6.13 and later split the vvar area
}

pytestmark = pytest.mark.guest


def need(path: str) -> None:
    if not os.path.exists(path):
        pytest.skip(f"{path} is missing")


def both(guest: GuestRunner, argv: list[str]) -> tuple[str, str]:
    """The program's stdout natively and under sysgate; both must succeed."""
    native = guest.native(argv)
    assert native.returncode == 0, f"native run failed:\n{native}"
    ours = guest.sysgate(argv)
    assert ours.returncode == 0, f"sysgate run failed:\n{ours}"
    return native.stdout.decode(), ours.stdout.decode()


def names(text: str, sep: str = ":", optional: set[str] | None = None) -> list[str]:
    out = [line.split(sep, 1)[0].rstrip("\t ") for line in text.splitlines() if sep in line]
    return [n for n in out if n not in (optional or set())]


PROGRAMS = [pytest.param([BUSYBOX, "cat"], id="busybox"), pytest.param([CAT], id="coreutils")]


@pytest.mark.parametrize("cat", PROGRAMS)
def test_status_has_linuxs_fields(cat: list[str], guest: GuestRunner) -> None:
    need(cat[0])
    native, ours = both(guest, [*cat, "/proc/self/status"])
    optional = CONFIG_OPTIONAL["status"] | {"Kthread"}  # Kthread: since Linux 6.11
    assert names(ours, optional=optional) == names(native, optional=optional)

    def fields(text: str) -> dict[str, str]:
        return dict(line.split(":\t", 1) for line in text.splitlines())

    n, o = fields(native), fields(ours)
    same = ["Name", "Umask", "State", "Uid", "Gid", "Groups", "Threads", "SigPnd", "ShdPnd", "SigBlk", "SigIgn",
            "SigCgt", "NoNewPrivs", "Seccomp", "CoreDumping", "THP_enabled", "untag_mask", "TracerPid", "Ngid"]
    assert {k: o[k] for k in same} == {k: n[k] for k in same}
    for key in ("VmSize", "VmRSS", "VmData", "VmStk", "VmExe"):
        assert re.fullmatch(r" *\d+ kB", o[key]), key


@pytest.mark.parametrize("cat", PROGRAMS)
def test_stat_has_52_fields(cat: list[str], guest: GuestRunner) -> None:
    need(cat[0])
    native, ours = both(guest, [*cat, "/proc/self/stat"])
    for text in (native, ours):
        rest = text.rsplit(") ", 1)[1]
        assert len(rest.split()) + 2 == 52
    n_rest, o_rest = native.rsplit(") ", 1)[1].split(), ours.rsplit(") ", 1)[1].split()
    assert native.split(" (")[1].split(")")[0] == ours.split(" (")[1].split(")")[0]  # comm
    assert (o_rest[0], o_rest[35]) == (n_rest[0], n_rest[35]) == ("R", "17")  # state, exit_signal


@pytest.mark.parametrize("cat", PROGRAMS)
def test_limits_are_the_inherited_ones(cat: list[str], guest: GuestRunner) -> None:
    need(cat[0])
    native, ours = both(guest, [*cat, "/proc/self/limits"])
    assert ours == native


def maps_shape(text: str) -> list[tuple[str, str]]:
    """(permissions, name) of each mapping: addresses and inodes differ by nature."""
    out = []
    for line in text.splitlines():
        fields = line.split(None, 5)
        name = fields[5] if len(fields) == 6 else ""
        assert re.fullmatch(r"[0-9a-f]{8,16}-[0-9a-f]{8,16} [r-][w-][x-][ps] [0-9a-f]{8} [0-9a-f]{2}:[0-9a-f]{2} \d+ ",
                            line[: len(line) - len(name)].rstrip(" ") + " "), line
        if name:
            assert line.index(name) == max(73, len(line) - len(name)), line  # seq_pad: column 74
        if name not in CONFIG_OPTIONAL["maps"]:
            out.append((fields[1], name))
    return out


@pytest.mark.parametrize("cat", PROGRAMS)
def test_maps_lines_as_linux_prints_them(cat: list[str], guest: GuestRunner) -> None:
    need(cat[0])
    native, ours = both(guest, [*cat, "/proc/self/maps"])
    assert maps_shape(ours) == maps_shape(native)
    assert ours.splitlines()[-1].endswith(" [vsyscall]")


@pytest.mark.parametrize("ls", [pytest.param([BUSYBOX, "ls"], id="busybox"), pytest.param([LS], id="coreutils")])
def test_ls_of_the_fd_directory(ls: list[str], guest: GuestRunner) -> None:
    need(ls[0])
    native, ours = both(guest, [*ls, "/proc/self/fd"])
    assert ours == native == "0\n1\n2\n3\n"


@pytest.mark.parametrize("ls", [pytest.param([BUSYBOX, "ls"], id="busybox"), pytest.param([LS], id="coreutils")])
def test_ls_l_of_proc_self(ls: list[str], guest: GuestRunner) -> None:
    """Every entry sysgate has, Linux has, with the same type and permissions."""
    need(ls[0])
    native, ours = both(guest, [*ls, "-l", "/proc/self/"])

    def entries(text: str) -> dict[str, str]:
        out = {}
        for line in text.splitlines()[1:]:
            fields = line.split()
            name = fields[-3] if fields[0].startswith("l") else fields[-1]
            out[name] = fields[0]
        return out

    n, o = entries(native), entries(ours)
    assert set(o) <= set(n)
    assert {k: n[k] for k in o} == o
    assert {"status", "stat", "statm", "maps", "fd", "fdinfo", "cwd", "exe", "root", "comm", "cmdline",
            "environ", "auxv", "limits", "mounts", "task"} <= set(o)


def test_proc_lists_only_the_guest(guest: GuestRunner) -> None:
    need(BUSYBOX)
    ours = guest.sysgate([BUSYBOX, "ls", "/proc"]).stdout.decode().split()
    pids = [name for name in ours if name.isdigit()]
    assert len(pids) == 1  # the guest alone in sysgate's kernel
    assert {"self", "thread-self", "cpuinfo", "meminfo", "version", "sys"} <= set(ours)


def test_cpuinfo_and_meminfo_fields(guest: GuestRunner) -> None:
    need(CAT)
    native, ours = both(guest, [CAT, "/proc/cpuinfo", "/proc/meminfo"])
    cpu_n, mem_n = native.split("\n\n", 1) if native.count("processor\t:") == 1 else (
        native.split("\n\n")[0], native.split("\n\n")[-1])
    cpu_o, mem_o = ours.split("\n\n", 1)
    optional = CONFIG_OPTIONAL["cpuinfo"]
    assert names(cpu_o, optional=optional) == names(cpu_n, optional=optional)
    assert names(mem_o, optional=CONFIG_OPTIONAL["meminfo"]) == names(mem_n, optional=CONFIG_OPTIONAL["meminfo"])


@pytest.mark.parametrize("path", ["/proc/version", "/proc/uptime", "/proc/loadavg", "/proc/self/statm",
                                  "/proc/sys/kernel/osrelease", "/proc/sys/kernel/pid_max"])
def test_one_line_files_have_linuxs_shape(path: str, guest: GuestRunner) -> None:
    need(BUSYBOX)
    native, ours = both(guest, [BUSYBOX, "cat", path])

    def shape(text: str) -> str:
        return re.sub(r"[^\s().#/]+", "x", text)

    if path == "/proc/version":  # the compiler's banner has words of its own
        assert re.fullmatch(r"Linux version \S+ \(\S+@\S+\) \(.+\) #\d+ .+\n", ours)
    else:
        assert shape(ours) == shape(native)


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("program", ["proc_consistency", "proc_comm"])
def test_guest_program(program: str, variant: str, guest: GuestRunner) -> None:
    exe = guest.build(program, variant)
    native = guest.native([str(exe)])
    assert native.returncode == 0, f"the host disagrees with Linux:\n{native}"
    assert_same(guest.sysgate([str(exe)]), native)


def test_proc_inside_a_root_folder(guest: GuestRunner, tmp_path: Path) -> None:
    """With --root, /proc is the same kernel procfs; the mount table is what a chrooted
    process sees (only mounts inside the folder, here just /proc), and the links name
    paths inside the folder."""
    need(BUSYBOX)
    folder = tmp_path / "root"
    (folder / "bin").mkdir(parents=True)
    shutil.copy(BUSYBOX, folder / "bin/busybox")

    def run(*args: str) -> str:
        r = guest.cli(["run", "--root", str(folder), "/bin/busybox", *args])
        assert r.returncode == 0, r
        return r.stdout.decode()

    assert run("cat", "/proc/self/mounts") == "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
    assert run("readlink", "/proc/self/exe") == "/bin/busybox\n"
    assert run("readlink", "/proc/self/root") == "/\n"
    assert run("ls", "/proc/self/fd") == "0\n1\n2\n3\n"
    assert run("cat", "/proc/self/status").startswith("Name:\tbusybox\n")
    assert run("cat", "/proc/sys/kernel/ostype") == "Linux\n"
