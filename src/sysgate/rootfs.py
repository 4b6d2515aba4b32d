"""`sysgate rootfs DIR PROG...`: a minimal root folder for dynamically linked programs.

Counterpart: what the dynamic loaders do to find a program's libraries (glibc's
elf/dl-load.c and elf/dl-cache.c, musl's ldso/dynlink.c), done ahead of time on the
host, so that `sysgate run --root DIR PROG` finds the same files inside DIR.

For each program it copies, at the same paths inside DIR:
  - the program (and, for a `#!` script, its interpreter, recursively);
  - its ELF interpreter (PT_INTERP: ld-linux-x86-64.so.2, ld-musl-x86_64.so.1);
  - every shared library it needs, transitively (DT_NEEDED), found as its loader finds
    it. glibc: the requester's DT_RPATH and those of the objects that loaded it (unless
    it has DT_RUNPATH), its DT_RUNPATH, then /etc/ld.so.cache, then the system
    directories. musl: the DT_RPATH/DT_RUNPATH of the requester and of the objects
    that loaded it, then the directories of /etc/ld-musl-x86_64.path (or musl's
    default), and libc.so, libpthread.so ... are the loader itself. $ORIGIN is expanded;
    LD_LIBRARY_PATH is not used (DIR should not depend on the caller's environment).
Symbolic links on the way are made again as links with the same target (so /lib64 ->
usr/lib64 and libc.so.6 -> libc-2.x.so stay links), and the files they lead to copied.

It also makes the empty directories /dev and /proc (the kernel provides their
contents inside a root folder) and /tmp (mode 1777). Nothing else from /etc is copied
unless asked with --file (for example --file /etc/passwd --file /etc/group for user
names, which DIR does not get by default; a directory is copied whole, such as a
program's data: --file /usr/lib/python3.11), except the loader's own configuration when
a library was found only through it: /etc/ld.so.cache for a library outside glibc's
system directories, /etc/ld-musl-x86_64.path for musl.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections import deque
from dataclasses import dataclass, field

from elftools.elf.dynamic import DynamicSection, DynamicTag
from elftools.elf.elffile import ELFFile
from elftools.elf.segments import InterpSegment

from sysgate.errors import SysgateError

GLIBC_SYSTEM_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib",
                     "/usr/lib")
"""Where glibc's ld.so looks last: Debian's multiarch directories, then the generic ones."""
MUSL_DEFAULT_PATH = "/lib:/usr/local/lib:/usr/lib"
MUSL_PATH_FILE = "/etc/ld-musl-x86_64.path"
MUSL_SELF = (b"c", b"pthread", b"rt", b"m", b"dl", b"util", b"xnet")
"""musl's `reserved` names: lib<name>.so... is libc, which is the loader itself."""
LD_SO_CACHE = "/etc/ld.so.cache"
MAX_LINKS = 40


def populate(dest: str, programs: list[str], files: list[str]) -> list[str]:
    """Fill `dest` for `programs` (host paths) and extra `files`; returns what was done,
    one line each. A missing program or library is a SysgateError."""
    root = Tree(os.path.abspath(dest))
    for name in ("dev", "proc"):
        root.mkdir("/" + name, 0o755)
    root.mkdir("/tmp", 0o1777)
    for prog in programs:
        root.program(os.path.abspath(prog))
    for extra in files:
        root.install_tree(os.path.abspath(extra))
    if root.missing:
        raise SysgateError("; ".join(root.missing), 1)
    return root.log


@dataclass(slots=True)
class Elf:
    """What a loader reads from an ELF object."""

    interp: str | None
    needed: list[str]
    rpath: list[str]
    runpath: list[str]


def read_elf(path: str) -> Elf | None:
    """The loader's view of `path`, or None if it is not an ELF file."""
    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            interp = None
            for seg in elf.iter_segments():
                if isinstance(seg, InterpSegment):
                    interp = seg.get_interp_name()
            info = Elf(interp, [], [], [])
            for sec in elf.iter_sections():
                if isinstance(sec, DynamicSection):
                    for tag in sec.iter_tags():
                        kind = tag.entry.d_tag
                        if kind == "DT_NEEDED":
                            info.needed.append(_tag_text(tag, "needed"))
                        elif kind in ("DT_RPATH", "DT_RUNPATH"):
                            dirs = _tag_text(tag, kind[3:].lower()).split(":")
                            (info.rpath if kind == "DT_RPATH" else info.runpath).extend(dirs)
            return info
    except Exception:  # noqa: BLE001 - pyelftools raises many kinds on a damaged file: not an ELF for us
        return None


def _tag_text(tag: DynamicTag, name: str) -> str:
    """The string pyelftools attaches to a string-valued tag (DT_NEEDED's `needed` ...)."""
    value = vars(tag).get(name)
    return value if isinstance(value, str) else ""


def read_ld_so_cache(path: str = LD_SO_CACHE) -> dict[str, str]:
    """soname -> path of the x86-64 libraries in glibc's cache (the "glibc-ld.so.cache1.1"
    format, after the old format's part if there is one); empty if there is none."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return {}
    start = data.find(b"glibc-ld.so.cache1.1")
    if start < 0:
        return {}
    nlibs = int.from_bytes(data[start + 20:start + 24], "little")
    out: dict[str, str] = {}
    entries = start + 48
    for i in range(nlibs):
        e = entries + 24 * i
        flags = int.from_bytes(data[e:e + 4], "little", signed=True)
        key = int.from_bytes(data[e + 4:e + 8], "little")
        value = int.from_bytes(data[e + 8:e + 12], "little")
        hwcap = int.from_bytes(data[e + 16:e + 24], "little")
        if flags & 0xFFFF != 0x0303 or hwcap:  # FLAG_ELF_LIBC6 | FLAG_X8664_LIB64, no hwcaps
            continue
        name = _cstr(data, start + key)
        out.setdefault(name, _cstr(data, start + value))
    return out


def _cstr(data: bytes, off: int) -> str:
    end = data.find(b"\0", off)
    return os.fsdecode(data[off:end if end >= 0 else len(data)])


@dataclass
class Tree:
    """The folder being filled, with a log of what was done."""

    dest: str
    log: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    done: set[str] = field(default_factory=set)
    cache: dict[str, str] | None = None

    def at(self, path: str) -> str:
        return self.dest + path

    def mkdir(self, path: str, mode: int) -> None:
        target = self.at(path)
        if os.path.isdir(target) and not os.path.islink(target):
            return
        if os.path.lexists(target):
            raise SysgateError(f"{target}: exists and is not a directory", 1)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.mkdir(target)
        os.chmod(target, mode)
        self.log.append(f"made {path}/")

    # -- files -------------------------------------------------------------------------

    def install(self, path: str) -> str:
        """Copy the host's `path` to the same path inside the folder, making its links
        again; returns the host path of the file it leads to."""
        queue = deque(p for p in path.split("/") if p)
        cur = "/"
        links = 0
        while queue:
            comp = queue.popleft()
            if comp == ".":
                continue
            if comp == "..":
                cur = os.path.dirname(cur) or "/"
                continue
            host = os.path.join(cur, comp)
            try:
                st = os.lstat(host)
            except OSError as exc:
                raise SysgateError(f"{host}: {exc.strerror}", 1) from None
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > MAX_LINKS:
                    raise SysgateError(f"{path}: Too many levels of symbolic links", 1)
                target = os.readlink(host)
                self.link(host, target)
                queue.extendleft(reversed([p for p in target.split("/") if p]))
                if target.startswith("/"):
                    cur = "/"
                continue
            if stat.S_ISDIR(st.st_mode):
                self.mkdir(host, stat.S_IMODE(st.st_mode))
            elif queue:
                raise SysgateError(f"{host}: Not a directory", 1)
            else:
                self.copy(host)
            cur = host
        return cur

    def install_tree(self, path: str) -> None:
        """install(), and for a directory everything in it (links inside are made again,
        not entered)."""
        real = self.install(path)
        if not os.path.isdir(real):
            return
        for entry in sorted(os.scandir(real), key=lambda e: e.name):
            if entry.is_dir(follow_symlinks=False):
                self.install_tree(entry.path)
            else:
                self.install(entry.path)

    def link(self, host: str, target: str) -> None:
        dest = self.at(host)
        if os.path.islink(dest):
            if os.readlink(dest) != target:
                raise SysgateError(f"{dest}: a link to {os.readlink(dest)}, where the host's leads to {target}", 1)
            return
        if os.path.lexists(dest):
            raise SysgateError(f"{dest}: exists, where the host has a link to {target}", 1)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        os.symlink(target, dest)
        self.log.append(f"linked {host} -> {target}")

    def copy(self, host: str) -> None:
        if host in self.done:
            return
        self.done.add(host)
        dest = self.at(host)
        src = os.stat(host)
        try:
            old = os.lstat(dest)
        except OSError:
            pass
        else:
            if stat.S_ISREG(old.st_mode) and (old.st_size, old.st_mtime_ns) == (src.st_size, src.st_mtime_ns):
                return  # copied before (copy2 keeps the time)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy2(host, dest)
        self.log.append(f"copied {host}")

    # -- programs and their libraries --------------------------------------------------

    def program(self, path: str, depth: int = 0) -> None:
        if not os.path.exists(path):
            raise SysgateError(f"{path}: No such file or directory", 127)
        real = self.install(path)
        with open(real, "rb") as f:
            head = f.read(256)
        if head.startswith(b"#!") and depth < 4:
            words = head[2:].split(b"\n", 1)[0].split()
            if words:
                self.program(os.fsdecode(words[0]), depth + 1)
            return
        elf = read_elf(real)
        if elf is None or elf.interp is None:
            return  # not dynamically linked: the file is enough
        interp = self.install(elf.interp)
        musl = os.path.basename(elf.interp).startswith("ld-musl")
        self.libraries(real, elf, interp, musl)

    def libraries(self, program: str, elf: Elf, interp: str, musl: bool) -> None:
        """Breadth-first over DT_NEEDED, as both loaders load them."""
        loaded: dict[str, str] = {os.path.basename(interp): interp}
        queue: deque[tuple[str, Elf, list[Elf]]] = deque([(program, elf, [])])
        while queue:
            path, obj, chain = queue.popleft()
            for name in obj.needed:
                if name in loaded:
                    continue
                if musl and _musl_self(name):
                    loaded[name] = interp
                    continue
                found = self.search(name, path, obj, chain, musl)
                if found is None:
                    self.missing.append(f"{name} (needed by {path}): not found")
                    loaded[name] = ""
                    continue
                real = self.install(found)
                loaded[name] = real
                lib = read_elf(real)
                if lib is not None:
                    queue.append((real, lib, [*chain, obj]))

    def search(self, name: str, requester: str, obj: Elf, chain: list[Elf], musl: bool) -> str | None:
        if "/" in name:
            return name if os.path.exists(name) else None
        origin = os.path.dirname(requester)
        dirs: list[str] = []
        if musl:
            for o in [obj, *reversed(chain)]:
                dirs += _expand(o.rpath + o.runpath, origin)
            dirs += _musl_path()
        else:
            if not obj.runpath:
                for o in [obj, *reversed(chain)]:
                    dirs += _expand(o.rpath, origin)
            dirs += _expand(obj.runpath, origin)
        for d in dirs:
            candidate = os.path.join(d, name)
            if os.path.isfile(candidate):
                if musl and d in _musl_path() and os.path.exists(MUSL_PATH_FILE):
                    self.install(MUSL_PATH_FILE)
                return candidate
        if musl:
            return None
        if self.cache is None:
            self.cache = read_ld_so_cache()
        cached = self.cache.get(name)
        if cached is not None and os.path.isfile(cached):
            if os.path.dirname(cached) not in GLIBC_SYSTEM_DIRS:
                self.install(LD_SO_CACHE)  # found only through the cache: ld.so needs it too
            return cached
        for d in GLIBC_SYSTEM_DIRS:
            candidate = os.path.join(d, name)
            if os.path.isfile(candidate):
                return candidate
        return None


def _expand(dirs: list[str], origin: str) -> list[str]:
    """$ORIGIN (and ${ORIGIN}) in DT_RPATH/DT_RUNPATH: the requesting object's directory."""
    return [d.replace("${ORIGIN}", origin).replace("$ORIGIN", origin) for d in dirs if d]


def _musl_path() -> list[str]:
    try:
        with open(MUSL_PATH_FILE) as f:
            text = f.read()
    except OSError:
        text = MUSL_DEFAULT_PATH
    return [d for d in text.replace("\n", ":").split(":") if d]


def _musl_self(name: str) -> bool:
    """musl's loader provides libc.so, libpthread.so.0, libm.so ... itself."""
    raw = os.fsencode(name)
    if not raw.startswith(b"lib") or b".so" not in raw:
        return False
    return raw[3:raw.index(b".so")] in MUSL_SELF
