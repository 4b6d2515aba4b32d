/* Reading a page after munmap is killed by SIGSEGV. */
#include <sys/mman.h>
#include "selftest.h"

int main(void)
{
	volatile unsigned char *p;

	selftest_start("munmap_segv");
	p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	p[4096] = 1;
	CHECK(munmap((void *)(p + 4096), 4096) == 0);
	CHECK(p[0] == 0);
	printf("[RUN] reading the unmapped page\n");
	printf("read %d\n", p[4096]);
	printf("[FAIL] the read did not fault\n");
	return 1;
}
