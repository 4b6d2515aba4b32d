"""The printers of particular system calls' arguments: flag sets, constants, structures.

Each module registers printers (sysgate.trace.printers.printer) under the `show` names
the syscall declarations use; importing this package registers them all. Modules are
named after strace's decoders of the same things (open.c, mem.c, signal.c, ...).
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
