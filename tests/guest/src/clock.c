/* clock_gettime and gettimeofday: monotonic never goes back, realtime agrees with time(). */
#include <sys/time.h>
#include <time.h>
#include "selftest.h"

static long long ns(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

int main(void)
{
	struct timespec a, b, res;
	struct timeval tv;
	int monotonic = 1, valid = 1;
	time_t t;

	selftest_start("clock");
	CHECK(clock_gettime(CLOCK_MONOTONIC, &a) == 0);
	for (int i = 0; i < 1000; i++) {
		if (clock_gettime(CLOCK_MONOTONIC, &b) != 0 || b.tv_nsec < 0 || b.tv_nsec >= 1000000000L)
			valid = 0;
		if (ns(&b) < ns(&a))
			monotonic = 0;
		a = b;
	}
	CHECK(valid);
	CHECK(monotonic);

	CHECK(clock_gettime(CLOCK_REALTIME, &a) == 0);
	t = time(NULL);
	CHECK(t - a.tv_sec >= 0 && t - a.tv_sec <= 2);
	CHECK(a.tv_sec > 1700000000);  /* after November 2023 */
	CHECK(gettimeofday(&tv, NULL) == 0);
	CHECK(tv.tv_usec >= 0 && tv.tv_usec < 1000000);
	CHECK(tv.tv_sec - a.tv_sec >= 0 && tv.tv_sec - a.tv_sec <= 2);

	CHECK(clock_gettime(CLOCK_BOOTTIME, &a) == 0 && ns(&a) > 0);
	CHECK(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a) == 0);
	CHECK(clock_getres(CLOCK_MONOTONIC, &res) == 0 && res.tv_sec == 0 && res.tv_nsec == 1);
	CHECK(clock_gettime((clockid_t)1234, &a) == -1 && errno == EINVAL);
	return selftest_end();
}
