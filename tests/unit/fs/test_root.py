"""A root folder the guest cannot leave: every escape route, tried (sysgate.fs.root).

Each test tries one way out of the root and checks that it lands inside (the guest's
/etc/passwd reads "inside") and that nothing outside was read or changed. Linux's
chroot(2) is the model for what the guest sees; openat2's RESOLVE_IN_ROOT for `..`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sysgate.errors import KernelError, SysgateError
from sysgate.fs.namei import DevicePath, HostPath, KernelPath, lookup
from sysgate.fs.root import check_root_dir
from sysgate.fs.rootwalk import MAXSYMLINKS
from sysgate.fs.vfs import vfs_stat
from sysgate.kernel.kernel import Kernel
from sysgate.uapi import fcntl as o
from sysgate.uapi.errno import Errno
from tests.unit.fs.rootfixture import OUT, Confined, confined_task, make_tree

INSIDE = b"inside\n"


def ino(c: Confined, path: str) -> int:
    st = vfs_stat(c.t, o.AT_FDCWD, path.encode(), follow=True)
    return st.ino


# -- the folder itself ---------------------------------------------------------------------


def test_a_missing_root_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SysgateError) as exc:
        Kernel(root=tmp_path / "nope")
    assert str(exc.value) == f"root folder {tmp_path / 'nope'}: No such file or directory"
    assert exc.value.status == 2


def test_a_file_is_not_a_root_folder(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(SysgateError, match="Not a directory"):
        check_root_dir(tmp_path / "f")


def test_the_guest_starts_at_its_root(box: Confined) -> None:
    assert box.getcwd() == b"/"
    assert ino(box, "/") == ino(box, ".") == (box.root).stat().st_ino


# -- ".." ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/..", "/../..", "/../../../..", "..", "../../a/..", "/proc/.."])
def test_dotdot_at_the_root_stays_there(box: Confined, path: str) -> None:
    assert ino(box, path) == box.root.stat().st_ino


def test_dotdot_then_a_host_path_is_inside(box: Confined) -> None:
    assert box.read("/../../etc/passwd") == INSIDE
    assert box.read("../../../../etc/passwd") == INSIDE
    box.assert_outside_intact()


def test_cd_root_then_dotdot(box: Confined) -> None:
    assert box.call("chdir", "/") == 0
    for _ in range(5):
        assert box.call("chdir", "..") == 0
    assert box.getcwd() == b"/"
    assert box.read("etc/passwd") == INSIDE


def test_fchdir_then_dotdot_repeatedly(box: Confined) -> None:
    fd = box.call("openat", o.AT_FDCWD, "/a/b/c", o.O_RDONLY | o.O_DIRECTORY, 0)
    assert box.call("fchdir", fd) == 0
    assert box.getcwd() == b"/a/b/c"
    for _ in range(6):
        assert box.call("chdir", "..") == 0
    assert box.getcwd() == b"/"
    assert ino(box, ".") == box.root.stat().st_ino


def test_openat_with_a_dirfd_inside(box: Confined) -> None:
    fd = box.call("openat", o.AT_FDCWD, "/a/b", o.O_RDONLY | o.O_DIRECTORY, 0)
    assert box.read("../../../../../etc/passwd", fd) == INSIDE
    assert box.read("rel", fd) == INSIDE
    assert box.read("/etc/passwd", fd) == INSIDE  # an absolute name ignores the dirfd
    assert box.read("../../../secret", fd) == -Errno.ENOENT  # the root's own /secret
    box.assert_outside_intact()


def test_a_directory_moved_out_by_the_host_cannot_lead_out(box: Confined) -> None:
    """openat2 refuses a `..` that would climb out of its root (EXDEV); so does the walk."""
    fd = box.call("openat", o.AT_FDCWD, "/a/b/c", o.O_PATH | o.O_DIRECTORY, 0)
    assert box.call("fchdir", fd) == 0
    os.rename(box.root / "a/b", box.outside / "outdir/b")  # a host process, not the guest
    assert box.read("../../secret", fd) == -Errno.EXDEV
    assert box.call("chdir", "..") == -Errno.EXDEV
    cwd = box.getcwd()
    assert isinstance(cwd, bytes) and cwd.startswith(b"(unreachable)/")  # as getcwd marks it
    box.assert_outside_intact()


# -- symbolic links ----------------------------------------------------------------------------


def test_an_absolute_link_resolves_inside(box: Confined) -> None:
    assert box.read("/abs") == INSIDE
    assert box.readlink("/abs") == b"/etc/passwd"


def test_a_link_to_the_host_path_of_a_file_outside(box: Confined) -> None:
    assert box.read("/hostabs") == -Errno.ENOENT  # that path inside the root does not exist
    box.assert_outside_intact()


def test_a_relative_link_climbing_past_the_root(box: Confined) -> None:
    assert box.read("/a/b/rel") == INSIDE
    assert box.read("a/b/rel") == INSIDE


def test_a_link_loop_is_eloop(box: Confined) -> None:
    assert box.read("/loop1") == -Errno.ELOOP
    assert box.call("stat", "/loop1/x", OUT) == -Errno.ELOOP


def test_forty_links_are_followed_and_forty_one_are_not(box: Confined) -> None:
    for i in range(MAXSYMLINKS + 1):
        os.symlink(f"l{i + 1}" if i < MAXSYMLINKS else "/etc/passwd", box.root / f"l{i}")
    assert box.read(f"/l{1}") == INSIDE  # 40 links
    assert box.read("/l0") == -Errno.ELOOP  # 41


def test_lstat_and_readlink_do_not_follow(box: Confined) -> None:
    st = vfs_stat(box.t, o.AT_FDCWD, b"/hostabs", follow=False)
    assert st.ino == os.lstat(box.root / "hostabs").st_ino
    assert box.readlink("/a/b/rel") == b"../../../../../../etc/passwd"


def test_a_link_made_by_the_guest_resolves_inside(box: Confined) -> None:
    assert box.call("symlink", str(box.secret), "/mine") == 0
    assert box.read("/mine") == -Errno.ENOENT
    assert box.call("symlink", "../../../../etc/passwd", "/a/mine") == 0
    assert box.read("/a/mine") == INSIDE
    box.assert_outside_intact()


def test_trailing_slash_needs_a_directory_and_follows_a_link(box: Confined) -> None:
    assert box.call("stat", "/etc/passwd/", OUT) == -Errno.ENOTDIR
    os.symlink("/a/b", box.root / "tob")
    assert box.call("lstat", "/tob/", OUT) == 0  # a trailing slash follows the link
    assert ino(box, "/tob/") == (box.root / "a/b").stat().st_ino


def test_creating_through_a_dangling_link_creates_inside(box: Confined) -> None:
    made = f"/tmp/{box.outside.name}-made"  # /tmp exists inside and on the host
    os.symlink(made, box.root / "dangling")
    fd = box.call("openat", o.AT_FDCWD, "/dangling", o.O_WRONLY | o.O_CREAT, 0o644)
    assert fd >= 0
    assert (box.root / made.lstrip("/")).exists()
    assert not os.path.lexists(made)
    assert box.call("openat", o.AT_FDCWD, "/dangling", o.O_WRONLY | o.O_CREAT | o.O_EXCL, 0o644) == -Errno.EEXIST
    assert box.call("openat", o.AT_FDCWD, "/abs", o.O_RDONLY | o.O_NOFOLLOW, 0) == -Errno.ELOOP


# -- /proc's links -------------------------------------------------------------------------------


def test_proc_self_root_is_the_guests_root(box: Confined) -> None:
    assert box.readlink("/proc/self/root") == b"/"
    assert box.read("/proc/self/root/etc/passwd") == INSIDE
    assert box.read("/proc/self/root/../../etc/passwd") == INSIDE
    assert ino(box, "/proc/self/root") == box.root.stat().st_ino
    box.assert_outside_intact()


def test_proc_self_cwd(box: Confined) -> None:
    assert box.call("chdir", "/a/b") == 0
    assert box.readlink("/proc/self/cwd") == b"/a/b"
    assert box.read("/proc/self/cwd/rel") == INSIDE
    assert box.read("/proc/self/cwd/../../../../etc/passwd") == INSIDE
    assert box.getcwd() == b"/a/b"


def test_proc_self_fd_links(box: Confined) -> None:
    fd = box.call("openat", o.AT_FDCWD, "/a/b/c", o.O_RDONLY | o.O_DIRECTORY, 0)
    f2 = box.call("openat", o.AT_FDCWD, "/abs", o.O_RDONLY, 0)
    assert box.readlink(f"/proc/self/fd/{fd}") == b"/a/b/c"
    assert box.readlink(f"/proc/self/fd/{f2}") == b"/etc/passwd"  # d_path: the file, not the link
    assert box.read(f"/proc/self/fd/{fd}/../../../../../etc/passwd") == INSIDE
    assert box.read(f"/proc/self/fd/{f2}") == INSIDE
    box.assert_outside_intact()


def test_proc_self_exe(box: Confined) -> None:
    (box.root / "a/prog").write_bytes(b"program")
    box.t.exe_path = "/a/prog"  # what execve records: the path inside the root
    assert box.readlink("/proc/self/exe") == b"/a/prog"
    assert box.read("/proc/self/exe") == b"program"


def test_proc_is_the_kernels_not_the_folders(box: Confined) -> None:
    (box.root / "proc/self").mkdir()
    (box.root / "proc/self/environ").write_text("fake")
    assert isinstance(lookup(box.t, o.AT_FDCWD, b"/proc/self/environ"), KernelPath)
    assert isinstance(lookup(box.t, o.AT_FDCWD, b"/../proc/self/../self/maps"), KernelPath)
    assert box.call("chdir", "/") == 0
    assert isinstance(lookup(box.t, o.AT_FDCWD, b"proc/self/maps"), KernelPath)
    os.symlink("/proc/self/mounts", box.root / "etc/mtab")  # as Debian has it
    assert isinstance(lookup(box.t, o.AT_FDCWD, b"/etc/mtab"), KernelPath)


def test_maps_and_fd_paths_are_the_guests(box: Confined) -> None:
    from sysgate.fs.procfs import show_maps
    from sysgate.mm.mmap import FileMapping, do_mmap
    from sysgate.uapi.mman import MAP_PRIVATE, PROT_READ

    fd = box.call("openat", o.AT_FDCWD, "/abs", o.O_RDONLY, 0)
    f = box.t.files.get(fd)
    do_mmap(box.t.mm, 0x20000000, 4096, PROT_READ, MAP_PRIVATE, FileMapping(f.mapping, True, False), 0)
    maps = show_maps(box.t.mm).decode()
    assert maps.rstrip().splitlines()[-1].endswith(" /etc/passwd")
    assert str(box.root) not in maps


# -- names created, moved and removed ----------------------------------------------------------


def test_rename_across_the_boundary_lands_inside(box: Confined) -> None:
    (box.root / "x").write_text("x")
    assert box.call("rename", "/x", "/../../../moved") == 0
    assert (box.root / "moved").read_text() == "x"
    assert box.call("rename", "/moved", "../outdir/moved") == -Errno.ENOENT  # no /outdir inside
    box.assert_outside_intact()


def test_rename_out_through_a_link_renames_the_link(box: Confined) -> None:
    assert box.call("rename", "/hostabs", "/renamed") == 0  # the link itself, never its target
    assert os.readlink(box.root / "renamed") == str(box.secret)
    box.assert_outside_intact()


def test_link_across_the_boundary_lands_inside(box: Confined) -> None:
    assert box.call("link", "/../../etc/passwd", "/../../hard") == 0
    assert (box.root / "hard").read_bytes() == INSIDE
    assert box.call("linkat", o.AT_FDCWD, "/hostabs", o.AT_FDCWD, "/h2", o.AT_SYMLINK_FOLLOW) == -Errno.ENOENT
    assert box.call("linkat", o.AT_FDCWD, "/abs", o.AT_FDCWD, "/h3", o.AT_SYMLINK_FOLLOW) == 0
    assert os.stat(box.root / "h3").st_ino == os.stat(box.root / "etc/passwd").st_ino
    box.assert_outside_intact()


def test_mkdir_unlink_rmdir_stay_inside(box: Confined) -> None:
    assert box.call("mkdir", "/../../outdir", 0o755) == 0
    assert (box.root / "outdir").is_dir()
    assert box.call("rmdir", "/../outdir") == 0
    assert box.call("unlink", "/../../secret") == -Errno.ENOENT
    assert box.call("unlink", "/hostabs") == 0  # removes the link, not what it names
    assert box.call("mkdir", "/..", 0o755) == -Errno.EEXIST
    assert box.call("rmdir", "/..") == -Errno.ENOTEMPTY
    assert box.call("rmdir", "/") == -Errno.EBUSY
    box.assert_outside_intact()
    assert (box.outside / "outdir").is_dir()


def test_mkfifo_and_mknod_stay_inside(box: Confined) -> None:
    assert box.call("mknod", "/../fifo", 0o010644, 0) == 0
    assert (box.root / "fifo").is_fifo()
    box.assert_outside_intact()


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a device needs root")
def test_a_host_device_made_inside_cannot_be_opened(box: Confined) -> None:
    """The folder is nodev: a device node the guest makes (as root it may) opens nothing."""
    assert box.call("mknod", "/sda", 0o060600, os.makedev(8, 0)) == 0
    assert box.call("mknod", "/mem", 0o020600, os.makedev(1, 1)) == 0
    assert box.call("openat", o.AT_FDCWD, "/sda", o.O_RDONLY, 0) == -Errno.EACCES
    assert box.call("openat", o.AT_FDCWD, "/mem", o.O_RDONLY | o.O_NOFOLLOW, 0) == -Errno.EACCES
    assert box.call("openat", o.AT_FDCWD, "/mem", o.O_PATH, 0) >= 0  # a path is not an open device


def test_the_kernels_mount_points_cannot_be_removed_or_replaced(box: Confined) -> None:
    assert box.call("rmdir", "/proc") == -Errno.EBUSY
    assert box.call("unlink", "/dev/null") == -Errno.EBUSY
    assert box.call("rename", "/etc/passwd", "/dev/null") == -Errno.EBUSY
    assert box.call("mkdir", "/proc", 0o755) == -Errno.EEXIST
    assert box.call("symlink", "x", "/dev/zero") == -Errno.EEXIST
    assert box.call("chmod", "/dev/null", 0o600) == -Errno.EPERM


# -- the stat family and friends ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/../../secret", "/hostabs", "/a/b/../../../secret"])
def test_path_calls_do_not_reach_outside(box: Confined, path: str) -> None:
    assert box.call("stat", path, OUT) == -Errno.ENOENT
    assert box.call("access", path, 0) == -Errno.ENOENT
    assert box.call("chmod", path, 0o777) == -Errno.ENOENT
    assert box.call("chown", path, 1, 1) == -Errno.ENOENT
    assert box.call("truncate", path, 0) == -Errno.ENOENT
    assert box.call("utimensat", o.AT_FDCWD, path, 0, 0) == -Errno.ENOENT
    assert box.call("statfs", path, OUT) == -Errno.ENOENT
    assert box.call("chdir", path) == -Errno.ENOENT
    assert box.call("statx", o.AT_FDCWD, path, 0, 0xFFF, OUT) == -Errno.ENOENT
    box.assert_outside_intact()
    assert os.stat(box.secret).st_mode & 0o777 != 0o777


def test_path_calls_through_links_act_inside(box: Confined) -> None:
    assert box.call("chmod", "/abs", 0o600) == 0
    assert (box.root / "etc/passwd").stat().st_mode & 0o777 == 0o600
    assert box.call("truncate", "/a/b/rel", 2) == 0
    assert (box.root / "etc/passwd").read_bytes() == b"in"
    assert box.call("utimensat", o.AT_FDCWD, "/abs", 0, 0) == 0
    assert box.call("access", "/abs", 4) == 0
    assert box.call("faccessat2", o.AT_FDCWD, "/hostabs", 0, o.AT_SYMLINK_NOFOLLOW) == 0


def test_a_directory_fd_from_outside_cannot_start_a_walk(tmp_path: Path) -> None:
    """fds 0-2 are the only ones sysgate hands over; one that is a directory outside the
    root works as a descriptor (fstat), but no path is looked up from it."""
    root = make_tree(tmp_path)
    outdir = os.open(tmp_path / "outdir", os.O_RDONLY | os.O_DIRECTORY)
    try:
        t = confined_task(root, (outdir, outdir, outdir))
    finally:
        os.close(outdir)
    c = Confined(t, root, tmp_path)
    try:
        assert sorted(t.files.files) == [0, 1, 2]
        assert c.call("fstat", 0, OUT) == 0
        assert c.read("../secret", 0) == -Errno.EXDEV
        assert c.call("mkdirat", 0, "new", 0o755) == -Errno.EXDEV
        assert c.read("/proc/self/fd/0/../secret") == -Errno.EXDEV
        assert c.call("fchdir", 0) == 0  # as on Linux; but then every relative walk fails
        assert c.read("../secret") == -Errno.EXDEV
        assert c.read("/etc/passwd") == INSIDE
        c.assert_outside_intact()
        assert not (tmp_path / "outdir/new").exists()
    finally:
        t.kernel.shutdown()


def test_exec_of_a_path_outside_looks_inside(box: Confined) -> None:
    from sysgate.kernel.exec import open_exec

    with pytest.raises(KernelError) as exc:
        open_exec(box.t, o.AT_FDCWD, b"/../../../bin/ls")  # the host has one, the root not
    assert exc.value.errno == Errno.ENOENT


def test_unix_socket_names_stay_inside(box: Confined) -> None:
    """AF_UNIX bind creates its name through namei.parent_lookup and connect reaches it
    through lookup, so an absolute path, `..` and a link out all land inside the root."""
    import struct

    from sysgate.uapi import socket as sk

    def addr(path: bytes) -> bytes:
        return struct.pack("<H", sk.AF_UNIX) + path + b"\0"

    srv = box.call("socket", sk.AF_UNIX, sk.SOCK_DGRAM, 0)
    a = addr(b"/../../tmp/s")
    assert box.call("bind", srv, a, len(a)) == 0
    assert (box.root / "tmp/s").is_socket()
    assert not (box.outside / "tmp").exists()
    cl = box.call("socket", sk.AF_UNIX, sk.SOCK_DGRAM, 0)
    c = addr(b"/tmp/../tmp/s")
    assert box.call("connect", cl, c, len(c)) == 0
    out = addr(str(box.outside / "nowhere").encode())
    assert box.call("bind", cl, out, len(out)) == -Errno.ENOENT  # that directory is not in the root


# -- openat2's own scoping, inside the root ---------------------------------------------------------


def openat2(c: Confined, dfd: int, path: str, flags: int, resolve: int) -> int:
    how = OUT + 0x800
    c.t.mm.write(how, flags.to_bytes(8, "little") + bytes(8) + resolve.to_bytes(8, "little"))
    return c.call("openat2", dfd, path, how, 24)


def test_openat2_resolve_flags(box: Confined) -> None:
    d = box.call("openat", o.AT_FDCWD, "/a", o.O_PATH | o.O_DIRECTORY, 0)
    assert openat2(box, d, "../etc/passwd", o.O_RDONLY, o.RESOLVE_BENEATH) == -Errno.EXDEV
    assert openat2(box, d, "b/rel", o.O_RDONLY, o.RESOLVE_BENEATH) == -Errno.EXDEV
    assert openat2(box, d, "/etc/passwd", o.O_RDONLY, o.RESOLVE_IN_ROOT) == -Errno.ENOENT  # /a/etc/passwd
    assert openat2(box, d, "b/../b/c", o.O_RDONLY | o.O_DIRECTORY, o.RESOLVE_BENEATH) >= 0
    assert openat2(box, o.AT_FDCWD, "/abs", o.O_RDONLY, o.RESOLVE_NO_SYMLINKS) == -Errno.ELOOP
    assert openat2(box, o.AT_FDCWD, "/proc/self/root/etc/passwd", o.O_RDONLY, o.RESOLVE_NO_MAGICLINKS) == -Errno.ELOOP
    assert openat2(box, o.AT_FDCWD, "/proc/self/maps", o.O_RDONLY, o.RESOLVE_NO_XDEV) == -Errno.EXDEV
    assert openat2(box, o.AT_FDCWD, "/etc/passwd", o.O_RDONLY, o.RESOLVE_IN_ROOT) >= 0


# -- what lookup hands the handlers --------------------------------------------------------------


def test_lookup_forms(box: Confined) -> None:
    """A directory: (its fd, "."); a followed object: its /proc/self/fd link; otherwise
    (parent fd, name), which the host must not follow."""
    d = lookup(box.t, o.AT_FDCWD, b"/a/b")
    assert isinstance(d, HostPath) and d.path == b"." and not d.follow_ok
    f = lookup(box.t, o.AT_FDCWD, b"/abs")
    assert isinstance(f, HostPath) and f.dirfd is None and f.path.startswith(b"/proc/self/fd/") and f.follow_ok
    assert f.guest == b"/etc/passwd"
    n = lookup(box.t, o.AT_FDCWD, b"/abs", follow=False)
    assert isinstance(n, HostPath) and n.path == b"abs" and not n.follow_ok
    assert isinstance(lookup(box.t, o.AT_FDCWD, b"/dev/null"), DevicePath)
    with pytest.raises(KernelError) as exc:
        lookup(box.t, o.AT_FDCWD, b"/new")
    assert exc.value.errno == Errno.ENOENT
    c = lookup(box.t, o.AT_FDCWD, b"/new", create=True)
    assert isinstance(c, HostPath) and c.path == b"new"


def test_a_link_put_there_after_the_walk_is_not_followed(box: Confined) -> None:
    """The walk resolved the name; a host process then swaps in a link to the secret."""
    from sysgate.fs.hostopen import open_host

    where = lookup(box.t, o.AT_FDCWD, b"/late", create=True)
    assert isinstance(where, HostPath)
    os.symlink(str(box.secret), box.root / "late")
    with pytest.raises(KernelError) as exc:
        open_host(where.dirfd, where.path, o.O_WRONLY | o.O_CREAT | o.O_TRUNC, 0o644, "/late", 0, where.root)
    assert exc.value.errno == Errno.ELOOP
    box.assert_outside_intact()


def test_lookups_leave_no_descriptors_open(box: Confined) -> None:
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        assert box.read("/a/b/rel") == INSIDE
        assert box.call("stat", "/a/b/c/../../../../etc/passwd", OUT) == 0
        assert box.call("stat", "/nope/x", OUT) == -Errno.ENOENT
    assert len(os.listdir("/proc/self/fd")) == before


PATHS = ["/etc/passwd", "/a/b/c", "/a/b/c/", "a/b/c/../../b", "/a/b/rel", "/a/./b/./c", "/etc/passwd/x",
         "/nope/x", "/a/nope/c", "/proc/self/maps", "/dev/null", "/abs", "/loop1/x", "/a/b/c/."]


@pytest.mark.parametrize("path", PATHS)
def test_the_one_call_fast_path_walks_as_the_slow_one(box: Confined, path: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """fast_dirs hands plain paths to one host openat2: same answer as the step-by-step walk."""
    from sysgate.fs import rootwalk

    def describe() -> object:
        try:
            where = lookup(box.t, o.AT_FDCWD, path.encode())
        except KernelError as exc:
            return exc.errno
        if isinstance(where, HostPath):
            st = os.stat(where.path, dir_fd=where.dirfd, follow_symlinks=where.follow_ok)
            return ("host", st.st_ino, where.guest, where.ftype)
        return where

    fast = describe()
    monkeypatch.setattr(rootwalk.Walk, "fast_dirs", lambda self, pos, comps: pos)
    assert describe() == fast


def test_a_walk_from_an_open_proc_directory(box: Confined) -> None:
    d = box.call("openat", o.AT_FDCWD, "/proc/self", o.O_RDONLY | o.O_DIRECTORY, 0)
    assert d >= 0
    assert box.read("root/etc/passwd", d) == INSIDE
    assert box.read("../../etc/passwd", d) == INSIDE  # /proc/<pid>/../.. is the root
    assert box.call("fchdir", d) == 0
    assert box.read("cwd/etc/passwd") == -Errno.ENOENT  # cwd is /proc/<pid> now
    assert box.read("root/abs") == INSIDE


def test_chmod_through_a_proc_fd_link_changes_the_file(box: Confined) -> None:
    """What glibc's fchmodat(fd, "", AT_EMPTY_PATH) falls back to: the magic link is followed."""
    fd = box.call("openat", o.AT_FDCWD, "/a/b", o.O_PATH | o.O_DIRECTORY, 0)
    assert box.call("chmod", f"/proc/self/fd/{fd}", 0o700) == 0
    assert (box.root / "a/b").stat().st_mode & 0o777 == 0o700
    assert box.call("chmod", "/proc/self/root", 0o750) == 0
    assert box.root.stat().st_mode & 0o777 == 0o750
    assert box.call("chmod", "/proc/self/maps", 0o600) == -Errno.EPERM
    box.assert_outside_intact()


def test_chmod_through_a_proc_fd_link_without_a_root(tmp_path: Path) -> None:
    from tests.conftest import make_task, put_str, sys

    (tmp_path / "d").mkdir()
    t = make_task(tmp_path)
    try:
        fd = sys(t, "openat", o.AT_FDCWD, put_str(t, "d"), o.O_PATH | o.O_DIRECTORY, 0)
        assert sys(t, "chmod", put_str(t, f"/proc/self/fd/{fd}"), 0o711) == 0
        assert (tmp_path / "d").stat().st_mode & 0o777 == 0o711
    finally:
        t.kernel.shutdown()


def test_guest_paths_of_host_paths(box: Confined) -> None:
    root = box.t.fs.root
    assert root is not None
    top = root.host
    assert root.guest_path(top) == "/"
    assert root.guest_path(top + "/a/b") == "/a/b"
    assert root.guest_path(top + "/f (deleted)") == "/f (deleted)"
    assert root.guest_path(top + " (deleted)") == "/ (deleted)"
    assert root.guest_path(top + "x/a") is None  # a sibling folder whose name starts the same
    assert root.guest_path("/etc/passwd") is None


def test_xattr_calls_stay_inside(box: Confined) -> None:
    try:
        os.setxattr(box.root / "etc/passwd", "user.probe", b"1")
    except OSError:
        pytest.skip("the host file system has no user extended attributes")
    box.t.mm.write(OUT, b"val")
    assert box.call("setxattr", "/abs", "user.k", OUT, 3, 0) == 0
    assert os.getxattr(box.root / "etc/passwd", "user.k") == b"val"
    assert box.call("getxattr", "/../../secret", "user.k", OUT, 8) == -Errno.ENOENT
    assert box.call("setxattr", "/hostabs", "user.k", OUT, 3, 0) == -Errno.ENOENT
    assert box.call("lsetxattr", "/hostabs", "user.k", OUT, 3, 0) == -Errno.EPERM  # a link itself
    with pytest.raises(OSError):
        os.getxattr(box.secret, "user.k")
    box.assert_outside_intact()
