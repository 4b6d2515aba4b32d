"""`sysgate rootfs DIR PROG` and `sysgate run --root DIR PROG`: real programs in a root
folder, compared with the same folder under the host's chroot(2) (when the tests run as
root), and a guest program that tries every way out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.guest.build import HERE, build
from tests.guest.conftest import GUEST_ENV, GuestRunner, Outcome, assert_same

pytestmark = pytest.mark.guest

ROOT_SRC = HERE / "root_src"
AS_ROOT = os.geteuid() == 0


def rootfs(guest: GuestRunner, folder: Path, *progs: str, files: tuple[str, ...] = ()) -> Outcome:
    args = ["rootfs"] + [a for f in files for a in ("--file", f)] + [str(folder), *progs]
    made = guest.cli(args)
    assert made.returncode == 0, made
    return made


def chroot(folder: Path, argv: list[str]) -> Outcome:
    """The oracle: the same program in the same folder under the host kernel's chroot."""
    def enter() -> None:
        os.chroot(folder)
        os.chdir("/")

    r = subprocess.run(argv, env=GUEST_ENV, capture_output=True, timeout=60, check=False,
                       preexec_fn=enter)  # chroot(2) is the oracle
    return Outcome(r.returncode, r.stdout, r.stderr)


def compare(guest: GuestRunner, folder: Path, argv: list[str]) -> Outcome:
    ours = guest.cli(["run", "--root", str(folder), *argv])
    if AS_ROOT:
        assert_same(ours, chroot(folder, argv), "sysgate --root")
    return ours


def test_ls_and_cat(guest: GuestRunner, tmp_path: Path) -> None:
    folder = tmp_path / "r"
    made = rootfs(guest, folder, "/bin/ls", "/bin/cat")
    assert b"copied /usr/bin/ls" in made.stdout or b"copied /bin/ls" in made.stdout
    (folder / "tmp/hello").write_text("hello\n")
    listing = compare(guest, folder, ["/bin/ls", "-la", "/usr/bin", "/tmp"])
    assert listing.returncode == 0 and b"hello" in listing.stdout
    cat = compare(guest, folder, ["/bin/cat", "/tmp/hello", "/../../../tmp/hello"])
    assert cat.stdout == b"hello\nhello\n"
    missing = compare(guest, folder, ["/bin/cat", "/etc/passwd"])
    assert missing.returncode == 1  # nothing of the host's /etc unless asked


def test_a_program_is_found_in_the_roots_path(guest: GuestRunner, tmp_path: Path) -> None:
    folder = tmp_path / "r"
    rootfs(guest, folder, "/bin/ls")
    os.mkdir(folder / "only-inside")
    r = guest.cli(["run", "--root", str(folder), "ls", "/"])
    assert r.returncode == 0 and b"only-inside" in r.stdout.split()


def test_passwd_only_when_asked(guest: GuestRunner, tmp_path: Path) -> None:
    folder = tmp_path / "r"
    rootfs(guest, folder, "/bin/cat", files=("/etc/passwd",))
    r = compare(guest, folder, ["/bin/cat", "/etc/passwd"])
    assert r.stdout == Path("/etc/passwd").read_bytes()


@pytest.mark.parametrize("variant", ["glibc-dynamic-pie", "musl-dynamic"])
def test_dynamic_test_programs(guest: GuestRunner, tmp_path: Path, variant: str) -> None:
    prog = build("files", variant)
    folder = tmp_path / "r"
    rootfs(guest, folder, str(prog))
    os.makedirs(folder / "work", exist_ok=True)
    ours = guest.cli(["run", "--root", str(folder), str(prog)])
    assert ours.returncode == 0, ours
    assert ours == guest.native([str(prog)])


@pytest.mark.parametrize("variant", ["glibc-dynamic-pie", "musl-dynamic"])
def test_every_escape_route_stays_inside(guest: GuestRunner, tmp_path: Path, variant: str) -> None:
    prog = build("escape", variant, source_dir=ROOT_SRC)
    folder = tmp_path / "r"
    rootfs(guest, folder, str(prog))
    shutil.copy2(folder / str(prog).lstrip("/"), folder / "escape")
    (folder / "MARKER").write_text("inside\n")
    secret = tmp_path / "secret"
    secret.write_text("outside\n")
    ours = guest.cli(["run", "--root", str(folder), "/escape", str(secret)])
    assert ours.returncode == 0, ours
    assert b"[FAIL]" not in ours.stdout
    assert b"[RUN] /proc\n" in ours.stdout  # the /proc routes ran
    assert secret.read_text() == "outside\n"
    if AS_ROOT:
        for leftover in ("tmp/abs", "tmp/abs2", "tmp/rel", "tmp/loop1", "tmp/loop2", "tmp/y", "tmp/hard", "tmp/fifo"):
            os.unlink(folder / leftover)
        for d in ("tmp/d/e", "tmp/d"):
            os.rmdir(folder / d)
        native = chroot(folder, ["/escape", str(secret)])
        assert native.returncode == 0, native
        common, _, proc = ours.stdout.partition(b"[RUN] /proc\n")  # a bare chroot has no /proc
        assert common + proc.splitlines(keepends=True)[-1] == native.stdout


def test_errors_are_one_line(guest: GuestRunner, tmp_path: Path) -> None:
    r = guest.cli(["run", "--root", str(tmp_path / "nope"), "/bin/ls"])
    assert (r.returncode, r.stderr) == (2, f"sysgate: root folder {tmp_path / 'nope'}: No such file or directory\n"
                                        .encode())
    (tmp_path / "file").write_text("")
    r = guest.cli(["run", "--root", str(tmp_path / "file"), "/bin/ls"])
    assert r.returncode == 2 and r.stderr.endswith(b": Not a directory\n")
    folder = tmp_path / "r"
    folder.mkdir()
    r = guest.cli(["run", "--root", str(folder), "/bin/ls"])  # the host has one; the root not
    assert (r.returncode, r.stderr) == (127, b"sysgate: /bin/ls: No such file or directory\n")
    r = guest.cli(["run", "--root", str(folder), "ls"])
    assert (r.returncode, r.stderr) == (127, b"sysgate: ls: command not found\n")
    os.makedirs(folder / "usr/bin")
    shutil.copy2("/usr/bin/ls", folder / "usr/bin/ls")  # without its loader
    r = guest.cli(["run", "--root", str(folder), "/usr/bin/ls"])
    assert (r.returncode, r.stderr) == (127, b"sysgate: /usr/bin/ls: cannot execute: required file not found\n")
    (folder / "usr/bin/text").write_text("not a program\n")
    os.chmod(folder / "usr/bin/text", 0o700)
    r = guest.cli(["run", "--root", str(folder), "/usr/bin/text"])  # the file inside is read, not the host's
    assert (r.returncode, r.stderr) == (126, b"sysgate: /usr/bin/text: cannot execute binary file: Exec format error\n")
    r = guest.cli(["run", "--root", str(folder), "/usr"])
    assert (r.returncode, r.stderr) == (126, b"sysgate: /usr: Is a directory\n")


def test_trace_with_a_root(guest: GuestRunner, tmp_path: Path) -> None:
    folder = tmp_path / "r"
    rootfs(guest, folder, "/bin/cat")
    (folder / "tmp/f").write_text("x")
    r = guest.cli(["trace", "--root", str(folder), "-e", "trace=openat", "/bin/cat", "/../tmp/f"])
    assert r.returncode == 0 and r.stdout == b"x"
    assert b'openat(AT_FDCWD, "/../tmp/f", O_RDONLY) = 3\n' in r.stderr


def test_rootfs_refuses_to_replace_what_the_folder_has(guest: GuestRunner, tmp_path: Path) -> None:
    folder = tmp_path / "r"
    (folder / "bin").mkdir(parents=True)  # the host's /bin is a link to usr/bin
    if not os.path.islink("/bin"):
        pytest.skip("the host's /bin is not a link")
    r = guest.cli(["rootfs", str(folder), "/bin/ls"])
    assert r.returncode == 1 and r.stderr.startswith(b"sysgate: ") and b"exists" in r.stderr
    r = guest.cli(["rootfs", str(tmp_path / "s"), "/no/such/prog"])
    assert (r.returncode, r.stderr) == (127, b"sysgate: /no/such/prog: No such file or directory\n")


@pytest.mark.parametrize("compiler, dtags", [("gcc", "--enable-new-dtags"), ("gcc", "--disable-new-dtags"),
                                             ("musl-gcc", "--enable-new-dtags")])
def test_a_library_found_through_origin(guest: GuestRunner, tmp_path: Path, compiler: str, dtags: str) -> None:
    """DT_RUNPATH or DT_RPATH with $ORIGIN: the library outside the system directories."""
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} is not installed")
    app = tmp_path / "app"
    (app / "lib").mkdir(parents=True)
    (app / "bin").mkdir()
    (tmp_path / "l.c").write_text('#include <stdio.h>\nvoid hello(void) { puts("hello from libhello"); }\n')
    (tmp_path / "p.c").write_text("void hello(void);\nint main(void) { hello(); return 3; }\n")
    subprocess.run([compiler, "-shared", "-fPIC", "-o", app / "lib/libhello.so", tmp_path / "l.c"], check=True)
    subprocess.run([compiler, "-o", app / "bin/prog", tmp_path / "p.c", "-L", app / "lib", "-lhello",
                    f"-Wl,{dtags},-rpath,$ORIGIN/../lib"], check=True)
    folder = tmp_path / "r"
    made = rootfs(guest, folder, str(app / "bin/prog"))
    assert f"copied {app}/lib/libhello.so".encode() in made.stdout
    # No chroot oracle: both loaders read $ORIGIN from /proc/self/exe, which a bare chroot lacks.
    ours = guest.cli(["run", "--root", str(folder), str(app / "bin/prog")])
    assert ours == Outcome(3, b"hello from libhello\n", b"")


def test_the_python_api(guest: GuestRunner, tmp_path: Path) -> None:
    import sysgate

    folder = tmp_path / "r"
    rootfs(guest, folder, "/bin/ls")
    (folder / "only-inside").mkdir()
    r = sysgate.run(["/bin/ls", "/"], root=folder, capture_output=True, env=GUEST_ENV)
    assert r.returncode == 0 and r.stdout is not None and b"only-inside" in r.stdout.split()
    k = sysgate.Kernel(root=str(folder))
    assert sysgate.run(["/bin/ls", "/only-inside"], kernel=k, capture_output=True).returncode == 0
    with pytest.raises(TypeError):
        sysgate.run(["/bin/ls"], kernel=k, root=folder)
    with pytest.raises(sysgate.SysgateError):
        sysgate.run(["/bin/ls"], root=tmp_path / "missing")
