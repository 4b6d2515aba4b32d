"""membarrier: the same sequence of commands in a fresh host process and on a fresh task
gives the same results (registrations, EPERM before them, EINVAL for bad commands and
flags); the registrations belong to the address space."""

from __future__ import annotations

import json
import subprocess
import sys as pysys

import pytest

from sysgate.kernel.sys_membarrier import CMD_BITMASK, membarrier_state
from sysgate.kernel.task import Task
from sysgate.mm.mm import Mm
from sysgate.uapi import membarrier as mb
from sysgate.uapi.errno import Errno
from tests.conftest import sys
from tests.unit.hostsys import linux_only

Q, G, GE, RGE = 0, 1, 2, 4
PE, RPE, PESC, RPESC, PER, RPER, GR = 8, 16, 32, 64, 128, 256, 512
FLAG_CPU = mb.MEMBARRIER_CMD_FLAG_CPU

SEQUENCE = [
    (Q, 0, 0), (Q, FLAG_CPU, 0), (Q, 2, 0), (GR, 0, 0),
    (PE, 0, 0), (PESC, 0, 0), (PER, 0, 0), (PER, FLAG_CPU, 3),  # not registered: EPERM
    (G, 0, 0), (GE, 0, 0), (G, 1, 0), (GE, FLAG_CPU, 0),
    (RPE, 0, 0), (GR, 0, 0), (PE, 0, 0), (PE, FLAG_CPU, 0), (PESC, 0, 0),
    (RPESC, 0, 0), (PESC, 0, 0), (GR, 0, 0),
    (RPER, 0, 0), (PER, 0, 0), (PER, FLAG_CPU, 0), (PER, FLAG_CPU, 1 << 20), (PER, FLAG_CPU, -1),
    (PER, 2, 0), (PER, FLAG_CPU | 2, 0), (GR, 0, 0),
    (RGE, 0, 0), (RGE, 0, 0), (GR, 0, 0), (RPE, FLAG_CPU, 0),
    (1024, 0, 0), (3, 0, 0), (-1, 0, 0), (1 << 31, 0, 0), (GR, 1, 0),
]

HOST_RUN = """
import ctypes, json, sys
libc = ctypes.CDLL(None, use_errno=True)
out = []
for cmd, flags, cpu in json.loads(sys.argv[1]):
    r = libc.syscall(ctypes.c_long(324), ctypes.c_int(cmd), ctypes.c_uint(flags), ctypes.c_int(cpu))
    out.append(r if r >= 0 else -ctypes.get_errno())
print(json.dumps(out))
"""


SYNC_CORE_FIRST = [(RPESC, 0, 0), (PESC, 0, 0), (PE, 0, 0), (PER, 0, 0), (GR, 0, 0), (RPER, 0, 0), (GR, 0, 0),
                   (PE, 0, 0), (RPE, 0, 0), (PE, 0, 0)]
"""Registering SYNC_CORE first: the private state is marked, but only SYNC_CORE is ready."""


def guest_sequence(task: Task, sequence: list[tuple[int, int, int]]) -> list[int]:
    return [sys(task, "membarrier", cmd & 0xFFFFFFFF, flags, cpu & 0xFFFFFFFF) for cmd, flags, cpu in sequence]


@linux_only
@pytest.mark.parametrize("sequence", [SEQUENCE, SYNC_CORE_FIRST], ids=["all", "sync-core-first"])
def test_sequence_matches_a_fresh_host_process(task: Task, sequence: list[tuple[int, int, int]]) -> None:
    args = [(c - (1 << 32) if c >= 1 << 31 else c, f, p) for c, f, p in sequence]
    r = subprocess.run([pysys.executable, "-c", HOST_RUN, json.dumps(args)], capture_output=True, text=True,
                       check=True)
    host = json.loads(r.stdout)
    ours = guest_sequence(task, sequence)
    if sequence is SEQUENCE and host[0] != CMD_BITMASK:
        # A host kernel with nohz_full CPUs leaves MEMBARRIER_CMD_GLOBAL out of its answer.
        ours[0] = host[0]
    assert ours == host
    assert -Errno.EPERM in ours


def test_query_and_registrations(task: Task) -> None:
    assert sys(task, "membarrier", Q, 0, 0) == CMD_BITMASK == 0x3FF
    assert sys(task, "membarrier", PE, 0, 0) == -Errno.EPERM
    assert sys(task, "membarrier", RPESC, 0, 0) == 0
    # SYNC_CORE's registration marks the private state but makes only SYNC_CORE ready, so
    # the plain command is still refused while the registrations list both.
    assert sys(task, "membarrier", PESC, 0, 0) == 0
    assert sys(task, "membarrier", PE, 0, 0) == -Errno.EPERM
    assert sys(task, "membarrier", PER, 0, 0) == -Errno.EPERM
    assert sys(task, "membarrier", GR, 0, 0) == RPE | RPESC


def test_registrations_belong_to_the_address_space(task: Task) -> None:
    assert sys(task, "membarrier", RPE, 0, 0) == 0
    assert membarrier_state(task.mm) != 0
    assert membarrier_state(Mm(task.mm.phys)) == 0  # what execve starts from
