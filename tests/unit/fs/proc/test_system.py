"""The system-wide files agree with the system calls: /proc/version and /proc/sys/kernel
with uname, /proc/meminfo, /proc/uptime and /proc/loadavg with sysinfo, /proc/stat with
both (fs/proc/version.c, meminfo.c, uptime.c, loadavg.c, stat.c, proc_sysctl.c)."""

from __future__ import annotations

import time

from sysgate.arch.x86_64.structs import SYSINFO, UTSNAME_FIELD
from sysgate.fs.proc import loadavg, meminfo
from sysgate.kernel.sys_utsname import do_sysinfo
from sysgate.kernel.task import Task
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import O_WRONLY
from tests.conftest import USER_BUF, sys
from tests.unit.fs.proc.conftest import proc_open, read_proc
from tests.unit.fs.proc.test_base import write_file

INFO = USER_BUF + 0x2000


def uname(t: Task) -> list[bytes]:
    assert sys(t, "uname", INFO) == 0
    raw = t.mm.read(INFO, UTSNAME_FIELD * 6)
    return [raw[i * UTSNAME_FIELD : (i + 1) * UTSNAME_FIELD].split(b"\0", 1)[0] for i in range(6)]


def sysinfo(t: Task) -> tuple[int, ...]:
    assert sys(t, "sysinfo", INFO) == 0
    return SYSINFO.unpack(t.mm.read(INFO, SYSINFO.size))


def test_version_is_unames(task: Task) -> None:
    sysname, _node, release, version, _machine, _domain = uname(task)
    text = read_proc(task, "/proc/version")
    assert text.startswith(b"%s version %s (" % (sysname, release))
    assert text.endswith(b") %s\n" % version)


def test_kernel_sysctls_are_unames(task: Task) -> None:
    sysname, node, release, version, _machine, domain = uname(task)
    assert read_proc(task, "/proc/sys/kernel/ostype") == sysname + b"\n"
    assert read_proc(task, "/proc/sys/kernel/osrelease") == release + b"\n"
    assert read_proc(task, "/proc/sys/kernel/version") == version + b"\n"
    assert read_proc(task, "/proc/sys/kernel/hostname") == node + b"\n"
    assert read_proc(task, "/proc/sys/kernel/domainname") == domain + b"\n"
    assert read_proc(task, "/proc/sys/kernel/pid_max") == b"32768\n"
    assert read_proc(task, "/proc/sys/vm/mmap_min_addr") == b"%d\n" % task.mm.mmap_min_addr


def test_writing_hostname_is_sethostname(task: Task) -> None:
    if not task.cred.capable():
        return
    assert write_file(task, "/proc/sys/kernel/hostname", b"guesthost\nignored") == 17
    assert uname(task)[1] == b"guesthost"
    assert read_proc(task, "/proc/sys/kernel/hostname") == b"guesthost\n"


def test_read_only_tunables_refuse_writers(task: Task) -> None:
    assert proc_open(task, "/proc/sys/kernel/osrelease", O_WRONLY) == -Errno.EACCES
    assert proc_open(task, "/proc/sys/vm/overcommit_memory", O_WRONLY) == -Errno.EACCES


def test_boot_id_is_fixed_and_uuid_is_new(task: Task) -> None:
    boot = read_proc(task, "/proc/sys/kernel/random/boot_id")
    assert len(boot) == 37 and boot == read_proc(task, "/proc/sys/kernel/random/boot_id")
    assert read_proc(task, "/proc/sys/kernel/random/uuid") != read_proc(task, "/proc/sys/kernel/random/uuid")


def meminfo_fields(task: Task) -> dict[str, int]:
    out = {}
    for line in read_proc(task, "/proc/meminfo").decode().splitlines():
        name, value = line.split(":")
        out[name] = int(value.split()[0])
    return out


def test_meminfo_agrees_with_sysinfo(task: Task) -> None:
    info = sysinfo(task)
    total, free, shared, buffers, swap_total, swap_free, unit = info[4], info[5], info[6], info[7], info[8], \
        info[9], info[13]
    m = meminfo_fields(task)
    assert m["MemTotal"] == total * unit // 1024
    assert abs(m["MemFree"] - free * unit // 1024) < 64 * 1024  # the host's free memory moves
    assert (m["Buffers"], m["SwapTotal"], m["SwapFree"]) == (buffers, swap_total, swap_free)
    assert m["Shmem"] >= shared // 1024


def test_meminfo_lines(task: Task) -> None:
    lines = read_proc(task, "/proc/meminfo").decode().splitlines()
    assert lines[0].startswith("MemTotal:       ") and lines[0].endswith(" kB")  # "%-16s%8lu kB"
    assert lines[-1].startswith("DirectMap1G:           0 kB")
    assert "HugePages_Total:       0" in lines
    names = [line.split(":")[0] for line in lines]
    assert names.index("Committed_AS") < names.index("VmallocTotal") < names.index("DirectMap4k")


def test_meminfo_counts_the_guests_pages(task: Task) -> None:
    before = meminfo.guest_counters(task.kernel)
    task.mm.write(0x10000000, b"x" * 0x3000)
    assert meminfo.guest_counters(task.kernel).anon == before.anon + 3


def test_uptime_agrees_with_sysinfo(task: Task) -> None:
    up, idle = (float(x) for x in read_proc(task, "/proc/uptime").split())
    info_uptime = sysinfo(task)[0]  # rounded up to whole seconds
    assert info_uptime - 1 <= up <= info_uptime
    assert 0 <= idle <= up
    assert read_proc(task, "/proc/uptime").endswith(b"\n")


def test_loadavg_agrees_with_sysinfo(task: Task) -> None:
    text = read_proc(task, "/proc/loadavg").decode()
    loads = sysinfo(task)[1:4]
    avenrun = do_sysinfo(task.kernel).avenrun
    if tuple(x << 5 for x in avenrun) != loads:
        return  # the host's load moved between the two reads
    assert text.split()[:3] == [loadavg._load(x) for x in avenrun]
    assert text.split()[3:] == [f"1/{len(task.kernel.tasks)}", str(task.kernel.next_pid - 1)]


def test_stat_lines(task: Task) -> None:
    lines = read_proc(task, "/proc/stat").decode().splitlines()
    assert lines[0].split()[0] == "cpu" and lines[0].startswith("cpu  ")
    assert lines[0][5:] == lines[1][5:] and lines[1].startswith("cpu0 ")  # one CPU
    assert [line.split()[0] for line in lines[2:]] == [
        "intr", "ctxt", "btime", "processes", "procs_running", "procs_blocked", "softirq"]
    btime = int(lines[4].split()[1])
    assert abs(btime + sysinfo(task)[0] - time.time()) <= 2


def test_filesystems_lists_proc(task: Task) -> None:
    lines = read_proc(task, "/proc/filesystems").decode().splitlines()
    assert "nodev\tproc" in lines
    assert all(line.startswith(("nodev\t", "\t")) for line in lines)
