/* Many clock reads through the C library, between two getppid() calls that mark the
 * stretch in which the vDSO must answer everything without a system call. (Not
 * clock_getres: musl always makes that system call, natively too.) */
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "selftest.h"

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	struct timespec ts, prev = {0, 0};
	struct timeval tv;
	int back = 0;

	selftest_start("vdso_loop");
	getppid();
	for (long i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		back |= ts.tv_sec < prev.tv_sec || (ts.tv_sec == prev.tv_sec && ts.tv_nsec < prev.tv_nsec);
		prev = ts;
	}
	for (long i = 0; i < n / 100; i++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		clock_gettime(CLOCK_BOOTTIME, &ts);
		clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
		gettimeofday(&tv, NULL);
		time(NULL);
	}
	getppid();
	CHECK(!back);
	return selftest_end();
}
