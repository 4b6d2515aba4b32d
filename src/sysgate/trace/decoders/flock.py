"""flock's operation.

Counterpart: strace's flock.c and xlat/flockcmds.in (LOCK_MAND and the LOCK_READ,
LOCK_WRITE, LOCK_RW bits of the removed mandatory locks included).
"""

from __future__ import annotations

from sysgate.trace.printers import flags_printer
from sysgate.trace.xlat import Xlat
from sysgate.uapi import fcntl as o

FLOCK_CMDS = Xlat.names(o, "LOCK_SH LOCK_EX LOCK_NB LOCK_UN LOCK_MAND LOCK_RW LOCK_READ LOCK_WRITE")

flags_printer("flock_cmd", FLOCK_CMDS, "LOCK_???")
