"""statfs, fstatfs: struct statfs.

Counterpart: strace's statfs.c, fstatfs.c, print_statfs.c (print_struct_statfs) and the
tables xlat/fsmagic.in and statfs_flags.in: the file-system type by name, the counts,
f_fsid as two hex numbers, and f_flags only when ST_VALID says they are there.
"""

from __future__ import annotations

import struct

from sysgate.syscall import Param
from sysgate.trace.decoders.stat import hexval
from sysgate.trace.printers import Ctx, addr, printer
from sysgate.trace.xlat import Xlat, printflags, printxval
from sysgate.uapi import magic
from sysgate.uapi import statfs as st

FSMAGIC = Xlat.names(
    magic,
    "QNX4_SUPER_MAGIC Z3FOLD_MAGIC AUTOFS_SUPER_MAGIC DEVFS_SUPER_MAGIC EXT_SUPER_MAGIC MINIX_SUPER_MAGIC "
    "MINIX_SUPER_MAGIC2 DEVPTS_SUPER_MAGIC MINIX2_SUPER_MAGIC MINIX2_SUPER_MAGIC2 NILFS_SUPER_MAGIC "
    "HFS_SUPER_MAGIC HFSPLUS_SUPER_MAGIC MSDOS_SUPER_MAGIC MINIX3_SUPER_MAGIC SMB_SUPER_MAGIC "
    "NCP_SUPER_MAGIC EXOFS_SUPER_MAGIC NFS_SUPER_MAGIC ROMFS_MAGIC JFFS2_SUPER_MAGIC ISOFS_SUPER_MAGIC "
    "PROC_SUPER_MAGIC OPENPROM_SUPER_MAGIC USBDEVICE_SUPER_MAGIC ADFS_SUPER_MAGIC AFFS_SUPER_MAGIC "
    "EXT2_OLD_SUPER_MAGIC EXT2_SUPER_MAGIC ECRYPTFS_SUPER_MAGIC UFS_MAGIC CGROUP_SUPER_MAGIC "
    "EFS_SUPER_MAGIC HOSTFS_SUPER_MAGIC CEPH_SUPER_MAGIC TMPFS_MAGIC V9FS_MAGIC GFS2_MAGIC "
    "XIAFS_SUPER_MAGIC XENIX_SUPER_MAGIC SYSV4_SUPER_MAGIC SYSV2_SUPER_MAGIC COH_SUPER_MAGIC "
    "SHMFS_SUPER_MAGIC ANON_INODE_FS_MAGIC FUTEXFS_SUPER_MAGIC MTD_INODE_FS_MAGIC BALLOON_KVM_MAGIC "
    "UDF_SUPER_MAGIC BFS_MAGIC EXFAT_SUPER_MAGIC UBIFS_SUPER_MAGIC CRAMFS_MAGIC ZFS_SUPER_MAGIC "
    "JFS_SUPER_MAGIC BEFS_SUPER_MAGIC BINFMTFS_MAGIC SMACK_MAGIC DMA_BUF_MAGIC CRAMFS_MAGIC_WEND "
    "DEVMEM_MAGIC GPFS_SUPER_MAGIC PIPEFS_MAGIC REISERFS_SUPER_MAGIC SECRETMEM_MAGIC AFS_SUPER_MAGIC "
    "NTFS_SB_MAGIC SOCKFS_MAGIC UFS_CIGAM VZFS_SUPER_MAGIC STACK_END_MAGIC ZSMALLOC_MAGIC XFS_SUPER_MAGIC "
    "AAFS_MAGIC ZONEFS_MAGIC PSTOREFS_MAGIC AUFS_SUPER_MAGIC BDEVFS_MAGIC CONFIGFS_MAGIC SYSFS_MAGIC "
    "CGROUP2_SUPER_MAGIC DEBUGFS_MAGIC DAXFS_MAGIC FUSE_CTL_SUPER_MAGIC FUSE_SUPER_MAGIC QNX6_SUPER_MAGIC "
    "AFS_FS_MAGIC BINDERFS_SUPER_MAGIC NSFS_MAGIC SECURITYFS_MAGIC SQUASHFS_MAGIC BTRFS_TEST_MAGIC "
    "CODA_SUPER_MAGIC OCFS2_SUPER_MAGIC TRACEFS_MAGIC OVERLAYFS_SUPER_MAGIC RAMFS_MAGIC BTRFS_SUPER_MAGIC "
    "HUGETLBFS_MAGIC VXFS_SUPER_MAGIC XENFS_SUPER_MAGIC PPC_CMM_MAGIC LOGFS_MAGIC BPF_FS_MAGIC "
    "EFIVARFS_MAGIC EROFS_SUPER_MAGIC_V1 F2FS_SUPER_MAGIC SELINUX_MAGIC HPFS_SUPER_MAGIC SMB2_SUPER_MAGIC "
    "CIFS_SUPER_MAGIC",
)
STATFS_FLAGS = Xlat.names(
    st,
    "ST_VALID ST_RDONLY ST_NOSUID ST_NODEV ST_NOEXEC ST_SYNCHRONOUS ST_MANDLOCK ST_NOATIME ST_NODIRATIME"
    " ST_RELATIME ST_NOSYMFOLLOW",
)

STATFS = struct.Struct("<QQQQQQQIIQQQ32x")
"""struct statfs (x86-64), every field as strace reads it (unsigned): f_type, f_bsize,
f_blocks, f_bfree, f_bavail, f_files, f_ffree, f_fsid.val[0..1], f_namelen, f_frsize,
f_flags."""


def print_statfs(ctx: Ctx, raw: bytes) -> str:
    (f_type, bsize, blocks, bfree, bavail, files, ffree, fsid0, fsid1,
     namelen, frsize, flags) = STATFS.unpack(raw)
    style = ctx.opts.xlat_style
    fields = [
        f"f_type={printxval(style, FSMAGIC, f_type)}", f"f_bsize={bsize}", f"f_blocks={blocks}",
        f"f_bfree={bfree}", f"f_bavail={bavail}", f"f_files={files}", f"f_ffree={ffree}",
        f"f_fsid={{val=[{hexval(fsid0)}, {hexval(fsid1)}]}}", f"f_namelen={namelen}", f"f_frsize={frsize}",
    ]
    if flags & st.ST_VALID:
        fields.append(f"f_flags={printflags(style, STATFS_FLAGS, flags, 'ST_???')}")
    return "{" + ", ".join(fields) + "}"


@printer("struct statfs")
def p_statfs(ctx: Ctx, v: int, p: Param) -> str:
    raw = ctx.read(v, STATFS.size)
    return addr(v) if raw is None else print_statfs(ctx, raw)
