/* A write through a NULL pointer is killed by SIGSEGV. */
#include "selftest.h"

int main(void)
{
	volatile int *p = NULL;

	selftest_start("null_write");
	*p = 42;
	printf("[FAIL] the write did not fault\n");
	return 1;
}
