/* A 200 MB allocation: touch every page, check a few, free it. */
#include <stdlib.h>
#include "selftest.h"

#define SIZE (200UL << 20)

int main(void)
{
	unsigned char *p;
	unsigned long sum = 0;

	selftest_start("malloc_big");
	p = malloc(SIZE);
	CHECK(p != NULL);
	if (!p)
		return selftest_end();
	for (unsigned long i = 0; i < SIZE; i += 4096)
		p[i] = (unsigned char)(i >> 12);
	for (unsigned long i = 0; i < SIZE; i += 4096)
		sum += p[i];
	printf("sum=%lu\n", sum);
	CHECK(sum == (SIZE >> 20) * 32640);  /* each MiB: pages marked 0..255 */
	free(p);
	p = malloc(16);
	CHECK(p != NULL);
	free(p);
	return selftest_end();
}
