"""statx: its flags (a sync type, then AT_* flags), its mask, and struct statx.

Counterpart: strace's statx.c and the tables xlat/at_statx_sync_types.in,
statx_masks.in (STATX_ALL and STATX_BASIC_STATS first, so they name their bits when all
are set) and statx_attrs.in. Without -v the structure shows the mask, the attributes,
the mode and the size, then `...`; the fields the mask does not announce are left out.
"""

from __future__ import annotations

import struct

from sysgate.syscall import Param
from sysgate.trace.decoders.stat import AT_FLAGS, hexval, symbolic_mode, time_comment
from sysgate.trace.printers import Ctx, addr, flags_printer, printer
from sysgate.trace.xlat import Xlat, printflags
from sysgate.uapi import fcntl as o
from sysgate.uapi import stat as s

AT_STATX_SYNC_TYPES = Xlat.names(
    o, "AT_STATX_SYNC_AS_STAT AT_STATX_FORCE_SYNC AT_STATX_DONT_SYNC AT_STATX_SYNC_TYPE"
)
STATX_MASKS = Xlat.names(
    s,
    "STATX_ALL STATX_BASIC_STATS STATX_TYPE STATX_MODE STATX_NLINK STATX_UID STATX_GID STATX_ATIME"
    " STATX_MTIME STATX_CTIME STATX_INO STATX_SIZE STATX_BLOCKS STATX_BTIME STATX_MNT_ID STATX_DIOALIGN",
)
STATX_ATTRS = Xlat.names(
    s,
    "STATX_ATTR_COMPRESSED STATX_ATTR_IMMUTABLE STATX_ATTR_APPEND STATX_ATTR_NODUMP STATX_ATTR_ENCRYPTED"
    " STATX_ATTR_AUTOMOUNT STATX_ATTR_MOUNT_ROOT STATX_ATTR_VERITY STATX_ATTR_DAX",
)

STATX = struct.Struct("<IIQIIIH2xQQQQ64xIIIIQII")
"""struct statx up to stx_dio_offset_align: stx_mask, stx_blksize, stx_attributes,
stx_nlink, stx_uid, stx_gid, stx_mode, stx_ino, stx_size, stx_blocks,
stx_attributes_mask, (four timestamps, read with STATX_TIMESTAMP), stx_rdev_major,
stx_rdev_minor, stx_dev_major, stx_dev_minor, stx_mnt_id, stx_dio_mem_align,
stx_dio_offset_align."""
STATX_TIMESTAMP = struct.Struct("<qI4x")
STATX_TIMES_AT = 64
STATX_SIZE = 256


@printer("statx_flags")
def p_statx_flags(ctx: Ctx, v: int, p: Param) -> str:
    """The sync type (AT_STATX_SYNC_AS_STAT when none), then `|` and the other AT_* flags."""
    style = ctx.opts.xlat_style
    flags = v & 0xFFFFFFFF
    text = printflags(style, AT_STATX_SYNC_TYPES, flags & o.AT_STATX_SYNC_TYPE)
    rest = flags & ~o.AT_STATX_SYNC_TYPE
    if rest:
        text += "|" + printflags(style, AT_FLAGS, rest)
    return text


flags_printer("statx_mask", STATX_MASKS, "STATX_???")


def _id(v: int) -> str:
    """PRINT_VAL_ID: -1 as -1, any other id unsigned."""
    return "-1" if v == 0xFFFFFFFF else str(v)


def _timestamp(raw: bytes, offset: int) -> str:
    sec, nsec = STATX_TIMESTAMP.unpack_from(raw, offset)
    return f"{{tv_sec={sec}, tv_nsec={nsec}}}{time_comment(sec, nsec)}"


def print_statx(ctx: Ctx, raw: bytes) -> str:
    (mask, blksize, attributes, nlink, uid, gid, mode, ino, size, blocks, attributes_mask,
     rdev_major, rdev_minor, dev_major, dev_minor, mnt_id, dio_mem_align, dio_offset_align) = STATX.unpack_from(raw)
    style, verbose = ctx.opts.xlat_style, ctx.opts.verbose
    fields = [f"stx_mask={printflags(style, STATX_MASKS, mask, 'STATX_???')}"]
    if verbose:
        fields.append(f"stx_blksize={blksize}")
    fields.append(f"stx_attributes={printflags(style, STATX_ATTRS, attributes, 'STATX_ATTR_???')}")
    if verbose:
        if mask & s.STATX_NLINK:
            fields.append(f"stx_nlink={nlink}")
        if mask & s.STATX_UID:
            fields.append(f"stx_uid={_id(uid)}")
        if mask & s.STATX_GID:
            fields.append(f"stx_gid={_id(gid)}")
    if mask & (s.STATX_TYPE | s.STATX_MODE):
        fields.append(f"stx_mode={symbolic_mode(style, mode)}")
    if verbose and mask & s.STATX_INO:
        fields.append(f"stx_ino={ino}")
    if mask & s.STATX_SIZE:
        fields.append(f"stx_size={size}")
    if not verbose:
        return "{" + ", ".join(fields) + ", ...}"
    if mask & s.STATX_BLOCKS:
        fields.append(f"stx_blocks={blocks}")
    fields.append(f"stx_attributes_mask={printflags(style, STATX_ATTRS, attributes_mask, 'STATX_ATTR_???')}")
    # The timestamps come in the order atime, btime, ctime, mtime, as in the structure.
    for i, (bit, name) in enumerate(((s.STATX_ATIME, "atime"), (s.STATX_BTIME, "btime"),
                                     (s.STATX_CTIME, "ctime"), (s.STATX_MTIME, "mtime"))):
        if mask & bit:
            fields.append(f"stx_{name}={_timestamp(raw, STATX_TIMES_AT + 16 * i)}")
    fields += [f"stx_rdev_major={rdev_major}", f"stx_rdev_minor={rdev_minor}",
               f"stx_dev_major={dev_major}", f"stx_dev_minor={dev_minor}"]
    if mask & s.STATX_MNT_ID:
        fields.append(f"stx_mnt_id={hexval(mnt_id)}")
    if mask & s.STATX_DIOALIGN:
        fields += [f"stx_dio_mem_align={dio_mem_align}", f"stx_dio_offset_align={dio_offset_align}"]
    return "{" + ", ".join(fields) + "}"


@printer("struct statx")
def p_statx(ctx: Ctx, v: int, p: Param) -> str:
    raw = ctx.read(v, STATX_SIZE)
    return addr(v) if raw is None else print_statx(ctx, raw)
