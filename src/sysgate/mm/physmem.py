"""Physical memory: page frames carved out of a few large host mappings.

Counterpart: mm/page_alloc.c (the frame allocator), much simplified. Guest memory is
not one Unicorn region per mapping: sysgate reserves host memory in 1 GiB chunks
(MAP_NORESERVE, so only touched pages cost RAM), hands them to the CPU once as
"physical" memory, and gives out 4 KiB frames from them. The page table in Mm maps
guest virtual pages to these frames and the CPU's TLB-fill hook reads that table, as
a hardware page walker does. A freed frame is returned to the host with
MADV_DONTNEED, which also guarantees that the next user of the frame sees zeros.

A chunk can also be a host mapping of a file (MAP_SHARED): its frames are the file's
pages in the host page cache, so guest writes reach the file.
"""

from __future__ import annotations

import ctypes
import mmap
from collections.abc import Callable
from dataclasses import dataclass

from sysgate.host import libc_fn

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_MASK = ~(PAGE_SIZE - 1)
CHUNK_SHIFT = 30
CHUNK_SIZE = 1 << CHUNK_SHIFT
PFN_CHUNK_SHIFT = CHUNK_SHIFT - PAGE_SHIFT
PFN_IN_CHUNK = (1 << PFN_CHUNK_SHIFT) - 1
_MAP_NORESERVE = 0x4000  # not exported by Python's mmap module
_libc_mmap = libc_fn("mmap", ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                     ctypes.c_int, ctypes.c_long)
_libc_munmap = libc_fn("munmap", ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t)
_libc_madvise = libc_fn("madvise", ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_MAP_FAILED = ctypes.c_void_p(-1).value


class _HostMapping:
    """A host mapping made with the C library's mmap (Python's refuses to map past EOF)."""

    def __init__(self, addr: int, length: int) -> None:
        self.addr = addr
        self.length = length
        self.buffer = (ctypes.c_char * length).from_address(addr)

    def madvise(self, option: int, start: int, length: int) -> None:
        assert _libc_madvise is not None
        _libc_madvise(self.addr + start, length, option)

    def close(self) -> None:
        if self.length and _libc_munmap is not None:
            _libc_munmap(self.addr, self.length)
            self.length = 0


def page_align(n: int) -> int:
    """Round up to a page boundary (PAGE_ALIGN)."""
    return (n + PAGE_SIZE - 1) & PAGE_MASK


@dataclass(slots=True, eq=False)
class Chunk:
    """One host mapping used as physical memory, at physical address `index << 30`."""

    index: int
    mem: mmap.mmap | _HostMapping
    view: memoryview
    host_addr: int
    size: int
    anon: bool


ChunkListener = Callable[[Chunk], None]


class PhysMem:
    """The frame allocator over host memory chunks.

    `limit` bounds the anonymous memory handed out (bytes); past it alloc() raises
    MemoryError, which the callers turn into ENOMEM or SIGBUS as Linux would on OOM.
    """

    def __init__(self, limit: int = 32 << 30) -> None:
        self.limit = limit
        self.chunks: dict[int, Chunk] = {}
        self.listeners: list[ChunkListener] = []
        self.remove_listeners: list[ChunkListener] = []
        self.free_pfns: list[int] = []
        self._next_index = 0
        self._bump_pfn = 0
        self._bump_end = 0
        self.allocated = 0  # anonymous frames in use
        self.code_pfns: set[int] = set()  # frames the CPU has fetched code from
        self.closed = False

    # -- chunks -----------------------------------------------------------------

    def _add_chunk(self, mem: mmap.mmap | _HostMapping, size: int, anon: bool) -> Chunk:
        nchunks = (size + CHUNK_SIZE - 1) >> CHUNK_SHIFT
        index = self._next_index
        self._next_index += nchunks
        if isinstance(mem, _HostMapping):
            host_addr, view = mem.addr, memoryview(mem.buffer).cast("B")
        else:
            host_addr, view = ctypes.addressof(ctypes.c_char.from_buffer(mem)), memoryview(mem)
        chunk = Chunk(index, mem, view, host_addr, size, anon)
        for i in range(nchunks):
            self.chunks[index + i] = chunk
        for listener in self.listeners:
            listener(chunk)
        return chunk

    def add_listener(self, listener: ChunkListener, on_remove: ChunkListener | None = None) -> None:
        """Call `listener` for every chunk, now and when one is added (the CPU maps it), and
        `on_remove` when a file chunk goes away (the CPU unmaps it)."""
        self.listeners.append(listener)
        if on_remove is not None:
            self.remove_listeners.append(on_remove)
        for chunk in sorted(set(self.chunks.values()), key=lambda c: c.index):
            listener(chunk)

    def map_file(self, fd: int, offset: int, length: int, writable: bool, private: bool = False) -> int:
        """Map `length` bytes of host file `fd` at `offset` shared (or, `private`, copy-on-write);
        return its first pfn.

        The range may run past the end of the file, as on Linux; the page-fault path
        never lets the guest touch a page past the end (SIGBUS instead), since the host
        would raise SIGBUS in sysgate itself.
        """
        prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
        assert _libc_mmap is not None
        addr = _libc_mmap(None, length, prot, mmap.MAP_PRIVATE if private else mmap.MAP_SHARED, fd, offset)
        if addr in (None, _MAP_FAILED):
            raise OSError(ctypes.get_errno(), "mmap of a shared file mapping failed")
        mem = _HostMapping(addr, length)
        return self._add_chunk(mem, length, anon=False).index << PFN_CHUNK_SHIFT

    def unmap_file(self, pfn: int) -> None:
        """Release a chunk made by map_file (no page table points into it any more)."""
        chunk = self.chunks[pfn >> PFN_CHUNK_SHIFT]
        for listener in self.remove_listeners:
            listener(chunk)
        for i in range((chunk.size + CHUNK_SIZE - 1) >> CHUNK_SHIFT):
            del self.chunks[chunk.index + i]
        chunk.view.release()
        chunk.mem.close()

    # -- frames -----------------------------------------------------------------

    def alloc(self) -> int:
        """A zero-filled frame number."""
        if self.allocated << PAGE_SHIFT >= self.limit:
            raise MemoryError("guest memory limit reached")
        self.allocated += 1
        if self.free_pfns:
            return self.free_pfns.pop()
        if self._bump_pfn == self._bump_end:
            mem = mmap.mmap(
                -1,
                CHUNK_SIZE,
                flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_NORESERVE,
                prot=mmap.PROT_READ | mmap.PROT_WRITE,
            )
            chunk = self._add_chunk(mem, CHUNK_SIZE, anon=True)
            self._bump_pfn = chunk.index << PFN_CHUNK_SHIFT
            self._bump_end = self._bump_pfn + (CHUNK_SIZE >> PAGE_SHIFT)
        pfn = self._bump_pfn
        self._bump_pfn += 1
        return pfn

    def free(self, pfns: list[int]) -> None:
        """Give anonymous frames back: their host pages are dropped (and read as zero)."""
        if not pfns:
            return
        pfns.sort()
        run_start = prev = pfns[0]
        for pfn in pfns[1:] + [-2]:
            if pfn != prev + 1 or (pfn >> PFN_CHUNK_SHIFT) != (run_start >> PFN_CHUNK_SHIFT):
                chunk = self.chunks[run_start >> PFN_CHUNK_SHIFT]
                off = (run_start & PFN_IN_CHUNK) << PAGE_SHIFT
                chunk.mem.madvise(mmap.MADV_DONTNEED, off, (prev - run_start + 1) << PAGE_SHIFT)
                run_start = pfn
            prev = pfn
        self.free_pfns.extend(pfns)
        self.allocated -= len(pfns)

    def page(self, pfn: int) -> memoryview:
        """The 4 KiB of host memory behind frame `pfn`."""
        chunk = self.chunks[pfn >> PFN_CHUNK_SHIFT]
        off = (pfn - (chunk.index << PFN_CHUNK_SHIFT)) << PAGE_SHIFT
        return chunk.view[off : off + PAGE_SIZE]

    def is_anon(self, pfn: int) -> bool:
        return self.chunks[pfn >> PFN_CHUNK_SHIFT].anon

    def close(self) -> None:
        """Release every chunk (the CPU using them must be gone)."""
        for chunk in set(self.chunks.values()):
            chunk.view.release()
            chunk.mem.close()
        self.chunks.clear()
        self.free_pfns.clear()
        self.closed = True
