/* mmap, mprotect, munmap, MAP_FIXED and mremap on anonymous memory (no faults taken). */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "selftest.h"

#define PG 4096UL

int main(void)
{
	unsigned char *p, *q;

	selftest_start("mmap");
	p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	CHECK(((unsigned long)p & (PG - 1)) == 0);
	CHECK(p[0] == 0 && p[4 * PG - 1] == 0);
	for (unsigned long i = 0; i < 4 * PG; i++)
		p[i] = (unsigned char)i;
	CHECK(p[PG + 7] == 7 && p[3 * PG + 255] == 255);

	/* Read-only: reads still work (the write that must fault is mprotect_segv). */
	CHECK(mprotect(p, 2 * PG, PROT_READ) == 0);
	CHECK(p[PG + 7] == 7);
	CHECK(mprotect(p, 2 * PG, PROT_READ | PROT_WRITE) == 0);
	p[0] = 42;
	CHECK(p[0] == 42);
	/* The raw call: musl's mprotect() rounds the address down itself. */
	CHECK(syscall(SYS_mprotect, p + 1, PG, PROT_READ) == -1 && errno == EINVAL);

	/* MAP_FIXED replaces the third page with a fresh zero page. */
	q = mmap(p + 2 * PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	CHECK(q == p + 2 * PG);
	CHECK(q[0] == 0 && q[PG - 1] == 0);
	CHECK(p[3 * PG + 255] == 255);

	/* Unmapping the middle leaves both sides in place. */
	CHECK(munmap(p + PG, PG) == 0);
	CHECK(p[0] == 42 && p[3 * PG + 1] == 1);
	CHECK(munmap(p + 1, PG) == -1 && errno == EINVAL);
	CHECK(munmap(p, 4 * PG) == 0);

	/* mremap grows a mapping, moving it if needed, and keeps the contents. */
	p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	memcpy(p, "mremap", 7);
	q = mremap(p, PG, 64 * PG, MREMAP_MAYMOVE);
	CHECK(q != MAP_FAILED);
	CHECK(memcmp(q, "mremap", 7) == 0);
	CHECK(q[64 * PG - 1] == 0);
	q[64 * PG - 1] = 1;
	q = mremap(q, 64 * PG, 2 * PG, 0);
	CHECK(q != MAP_FAILED && memcmp(q, "mremap", 7) == 0);
	CHECK(munmap(q, 2 * PG) == 0);

	CHECK(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EINVAL);
	CHECK(mmap(NULL, PG, PROT_READ, MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EINVAL);
	return selftest_end();
}
