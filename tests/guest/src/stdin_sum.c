/* Reads stdin to EOF and prints its length and a checksum. */
#include <unistd.h>
#include "selftest.h"

int main(void)
{
	unsigned char buf[4096];
	unsigned long len = 0, sum = 0;
	ssize_t n;

	selftest_start("stdin_sum");
	while ((n = read(0, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			sum = (sum * 31 + buf[i]) % 1000000007UL;
		len += (unsigned long)n;
	}
	CHECK(n == 0);
	CHECK(read(0, buf, sizeof(buf)) == 0);
	printf("length=%lu checksum=%lu\n", len, sum);
	return selftest_end();
}
