"""Linux's user ABI: constants by header, as the guest sees them.

Counterpart: include/uapi and arch/x86/include/uapi. Every value here is Linux's,
never the host's; sysgate.host translates where a call is forwarded to the host.
Modules keep the kernel's macro names so the tracer can print what strace prints.
"""
