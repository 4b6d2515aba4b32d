/* Writing to a page made read-only by mprotect is killed by SIGSEGV. */
#include <sys/mman.h>
#include "selftest.h"

int main(void)
{
	volatile unsigned char *p;

	selftest_start("mprotect_segv");
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	p[0] = 1;
	CHECK(mprotect((void *)p, 4096, PROT_READ) == 0);
	CHECK(p[0] == 1);
	printf("[RUN] writing to the read-only page\n");
	p[0] = 2;
	printf("[FAIL] the write did not fault\n");
	return 1;
}
