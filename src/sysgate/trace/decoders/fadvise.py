"""fadvise64's advice.

Counterpart: strace's fadvise.c and xlat/advise.in: the descriptor, the offset (signed),
the length (unsigned) and the advice by name.
"""

from __future__ import annotations

from sysgate.trace.printers import xval_printer
from sysgate.trace.xlat import Xlat
from sysgate.uapi import fadvise as fa

ADVICE = Xlat.names(fa, "POSIX_FADV_NORMAL POSIX_FADV_RANDOM POSIX_FADV_SEQUENTIAL POSIX_FADV_WILLNEED "
                    "POSIX_FADV_DONTNEED POSIX_FADV_NOREUSE")

xval_printer("fadvise_advice", ADVICE, "POSIX_FADV_???")
