/* getrandom fills the buffer; unknown flags give EINVAL. */
#include <sys/syscall.h>
#include <unistd.h>
#include "selftest.h"

#ifndef GRND_NONBLOCK
#define GRND_NONBLOCK 1
#define GRND_RANDOM 2
#endif

static long getrandom_(void *buf, size_t len, unsigned flags)
{
	return syscall(SYS_getrandom, buf, len, flags);
}

int main(void)
{
	unsigned char a[256], b[256];
	int zeros = 0;

	selftest_start("getrandom");
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	CHECK(getrandom_(a, sizeof(a), 0) == sizeof(a));
	CHECK(getrandom_(b, sizeof(b), GRND_NONBLOCK) == sizeof(b));
	for (size_t i = 0; i < sizeof(a); i++)
		zeros += a[i] == 0;
	CHECK(zeros < 16);  /* about 1 expected; a zero-filled buffer would have 256 */
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	CHECK(getrandom_(a, 0, 0) == 0);
	CHECK(getrandom_(a, 16, GRND_RANDOM) == 16);
	CHECK(getrandom_(a, 16, 0x100) == -1 && errno == EINVAL);
	CHECK(getrandom_(a, 16, 0xffffffff) == -1 && errno == EINVAL);
	CHECK(getrandom_((void *)16, 16, 0) == -1 && errno == EFAULT);
	return selftest_end();
}
