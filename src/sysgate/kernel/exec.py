"""execve: replacing a process's program.

Counterpart: fs/exec.c (do_execveat_common, bprm_execve, begin_new_exec,
setup_new_exec), fs/binfmt_script.c, and the ELF part in sysgate.exec.binfmt_elf.
Everything load_elf_binary checks before begin_new_exec (the file, its format, its
interpreter, E2BIG) is checked before the point of no return and fails execve with
its errno; after it the old address space is gone, and a failure to map the new
program (a segment out of range, an interpreter of the wrong type, a file cut short)
kills the process with SIGSEGV, as bprm_execve does.
"""

from __future__ import annotations

import os
import stat as host_stat
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sysgate.errors import KernelError
from sysgate.exec.binfmt_elf import (
    BINPRM_BUF_SIZE,
    ExecImage,
    interp_path,
    load_elf_binary,
    parse_image,
    parse_interp_image,
    read_file_at,
)
from sysgate.exec.stack import check_limits
from sysgate.fs.file import File
from sysgate.fs.vfs import vfs_open
from sysgate.mm.mm import Mm
from sysgate.uapi.errno import Errno
from sysgate.uapi.fcntl import AT_FDCWD, AT_SYMLINK_NOFOLLOW, O_LARGEFILE, O_NOFOLLOW, O_RDONLY
from sysgate.uapi.personality import READ_IMPLIES_EXEC
from sysgate.uapi.resource import RLIMIT_STACK
from sysgate.uapi.signal import SIG_DFL, SIG_IGN

if TYPE_CHECKING:
    from sysgate.kernel.task import Task

MAX_SCRIPT_DEPTH = 4  # binfmt_script recursion, as fs/exec.c's depth limit allows


@dataclass(slots=True)
class ExecResult:
    """Where the new program starts; or, if mapping it failed after the point of no
    return, `fatal`: the errno execve ends with while SIGSEGV kills the process."""

    entry: int
    sp: int
    fatal: Errno | None = None


def may_exec(t: Task, st: os.stat_result) -> bool:
    """generic_permission(MAY_EXEC) with the guest's credentials (fsuid, fsgid, groups):
    the owner's, the group's or the others' execute bit; a task with CAP_DAC_OVERRIDE
    (fsuid 0) needs any execute bit on a regular file."""
    c = t.cred
    mode = st.st_mode
    if c.fsuid == 0:
        return bool(mode & 0o111)
    if c.fsuid == st.st_uid:
        return bool(mode & 0o100)
    if st.st_gid == c.fsgid or st.st_gid in c.groups:
        return bool(mode & 0o010)
    return bool(mode & 0o001)


def open_exec(t: Task, dfd: int, name: bytes, flags: int = 0) -> File:
    """Open a file to execute (do_open_execat): a regular file with exec permission.
    execveat's AT_SYMLINK_NOFOLLOW makes a final symlink ELOOP, as open's O_NOFOLLOW."""
    nofollow = O_NOFOLLOW if flags & AT_SYMLINK_NOFOLLOW else 0
    file = vfs_open(t, dfd, name, O_RDONLY | O_LARGEFILE | nofollow, 0)
    try:
        fd = file.host_fd
        st = os.fstat(fd) if fd is not None else None
        if st is None or not host_stat.S_ISREG(st.st_mode) or not may_exec(t, st):
            raise KernelError(Errno.EACCES)
        # The host's own answer as well: a file system mounted noexec.
        kwargs = {"effective_ids": True} if os.access in os.supports_effective_ids else {}
        if not os.access(f"/proc/self/fd/{fd}", os.X_OK, **kwargs):
            raise KernelError(Errno.EACCES)
    except BaseException:
        file.get()
        file.put()
        raise
    return file


def _script(t: Task, file: File, filename: bytes, argv: list[bytes]) -> tuple[bytes, list[bytes]]:
    """binfmt_script: `#!interp [arg]` runs `interp [arg] filename argv[1:]`."""
    head = read_file_at(file, 0, BINPRM_BUF_SIZE)
    line = head[2:].split(b"\n", 1)[0]
    if b"\n" not in head[2:] and len(head) == BINPRM_BUF_SIZE:
        # The interpreter name must end within the first BINPRM_BUF_SIZE bytes.
        rest = line.lstrip(b" \t")
        if not rest or (b" " not in rest and b"\t" not in rest):
            raise KernelError(Errno.ENOEXEC)
    line = line.strip(b" \t")
    if not line:
        raise KernelError(Errno.ENOEXEC)
    parts = line.split(None, 1)
    interp = parts[0]
    new_argv = [interp] + ([parts[1].strip(b" \t")] if len(parts) > 1 else []) + [filename] + argv[1:]
    return interp, new_argv


def prepare(t: Task, filename: bytes, argv: list[bytes], envp: list[bytes],
            dfd: int = AT_FDCWD, flags: int = 0) -> tuple[ExecImage, bytes, list[bytes]]:
    """Open the program (following #! scripts) and its interpreter; nothing changes yet.
    `flags` (execveat's AT_SYMLINK_NOFOLLOW) applies to the program, not to a #! interpreter."""
    name = filename
    for _ in range(MAX_SCRIPT_DEPTH + 1):
        file = open_exec(t, dfd, name, flags)
        dfd = AT_FDCWD  # an interpreter named by #! is looked up from the cwd
        flags = 0
        file.get()
        try:
            head = read_file_at(file, 0, 2)
            if head == b"#!":
                name, argv = _script(t, file, name, argv)
                file.put()
                continue
            elf = parse_image(file, t.abi.elf_machine)
            image = ExecImage(file, elf)
            ipath = interp_path(file, elf)
            if ipath is not None:
                try:
                    ifile = open_exec(t, AT_FDCWD, ipath)
                except KernelError as exc:
                    # A missing interpreter is ENOENT from execve itself.
                    raise KernelError(exc.errno) from None
                ifile.get()
                try:
                    image.interp = ExecImage(ifile, parse_interp_image(ifile, t.abi.elf_machine))
                except BaseException:
                    ifile.put()
                    raise
            return image, name, argv
        except BaseException:
            file.put()
            raise
    raise KernelError(Errno.ELOOP)


def do_execve(t: Task, filename: bytes, argv: list[bytes], envp: list[bytes], dfd: int = AT_FDCWD,
              flags: int = 0) -> ExecResult:
    """Replace t's program; raise KernelError before the point of no return."""
    stack_limit = t.group.rlimits[RLIMIT_STACK][0]
    check_limits(argv, envp, stack_limit)
    image, _final_name, argv = prepare(t, filename, argv, envp, dfd, flags)
    try:
        check_limits(argv, envp, stack_limit)
        mm = Mm(t.kernel.phys, t.abi.task_size)
        mm.stack_limit = min(stack_limit, 1 << 62)
        mm.may_map_low = t.cred.capable()
    except BaseException:
        image.file.put()
        if image.interp is not None:
            image.interp.file.put()
        raise
    # The point of no return (begin_new_exec); then SET_PERSONALITY (a 64-bit program
    # drops READ_IMPLIES_EXEC) and load_elf_binary's mapping.
    t.personality &= ~READ_IMPLIES_EXEC
    c = t.cred
    try:
        result = load_elf_binary(
            mm, image, filename, argv, envp, (c.uid, c.euid, c.gid, c.egid),
            t.kernel.hwcap, t.kernel.hwcap2, t.kernel.minsigstksz, t.kernel.random_bytes(16),
            t.personality, t.kernel.rng,
        )
    except KernelError as exc:
        result = None
        fatal: Errno | None = exc.errno
    else:
        fatal = None
    old = t.mm
    t.mm = mm
    t.kernel.switch_mm(mm)
    if old is not None:
        old.users -= 1  # a vfork parent still uses it
        if old.users == 0:
            old.destroy()
    t.exe_path = image.file.path
    t.saved_auxv = _read_auxv(mm, result.sp) if result is not None else b""
    t.files.close_on_exec()
    for action in t.sighand.action[1:]:
        if action.handler not in (SIG_DFL, SIG_IGN):
            action.handler, action.flags, action.mask, action.restorer = SIG_DFL, 0, 0, 0
    t.sas_ss_sp, t.sas_ss_size, t.sas_ss_flags = 0, 0, 2
    t.comm = os.path.basename(filename)[:15]
    t.group.did_exec = True
    t.robust_list = t.robust_list_len = 0
    t.rseq = t.rseq_len = t.rseq_sig = 0
    t.clear_child_tid = 0
    image.file.put()
    if image.interp is not None:
        image.interp.file.put()
    if result is None:
        return ExecResult(0, 0, fatal)
    return ExecResult(result.entry, result.sp)


def _read_auxv(mm: Mm, sp: int) -> bytes:
    """The auxiliary vector as written on the stack, for /proc/PID/auxv."""
    import struct

    argc = struct.unpack("<Q", mm.read(sp, 8))[0]
    p = sp + 8 * (argc + 2)
    while struct.unpack("<Q", mm.read(p, 8))[0]:
        p += 8
    p += 8
    start = p
    while True:
        key = struct.unpack("<Q", mm.read(p, 8))[0]
        p += 16
        if key == 0:
            return mm.read(start, p - start)
