"""Character devices the kernel provides itself, and the /dev nodes that name them.

Counterpart: drivers/char (mem.c, random.c) and drivers/base/devtmpfs.c. They are used
inside a root folder (`sysgate run --root DIR`), whose /dev holds no host devices;
without a root folder the guest sees the host's /dev, as under QEMU user mode.
"""
