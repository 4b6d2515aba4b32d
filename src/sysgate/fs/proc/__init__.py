"""/proc, generated from the kernel's own state: one module per file of Linux's fs/proc
(generic, root, base, array, task_mmu, fd, meminfo, stat, uptime, loadavg, version,
proc_sysctl), plus cpuinfo (arch/x86/kernel/cpu/proc.c) and proc_namespace
(fs/proc_namespace.c). sysgate.fs.procfs is how the VFS walks and opens it."""
