/* The legacy vsyscall page at 0xffffffffff600000 (vsyscall=xonly): calling its three
 * entries works; everything else about the page is a SIGSEGV, whose siginfo the trace
 * tests compare with the host's. argv[1] picks what to do. */
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include "selftest.h"

#define VSYSCALL 0xffffffffff600000UL

typedef long (*gtod_t)(struct timeval *, struct timezone *);
typedef long (*time_fn)(long *);
typedef long (*getcpu_t)(unsigned *, unsigned *, void *);
typedef long (*any_t)(void *, void *);

static int calls(void)
{
	struct timeval tv, before;
	struct timezone tz = {99, 99};
	long t = 0, now;
	unsigned cpu = 99, node = 99;

	selftest_start("vsyscall");
	gettimeofday(&before, NULL);
	CHECK(((gtod_t)VSYSCALL)(&tv, &tz) == 0);
	CHECK(tv.tv_sec - before.tv_sec >= 0 && tv.tv_sec - before.tv_sec <= 2 && tv.tv_usec < 1000000);
	CHECK(tz.tz_minuteswest == 0 && tz.tz_dsttime == 0);
	CHECK(((gtod_t)VSYSCALL)(NULL, NULL) == 0);
	now = ((time_fn)(VSYSCALL + 0x400))(&t);
	CHECK(now == t && now - before.tv_sec >= 0 && now - before.tv_sec <= 2);
	CHECK(((time_fn)(VSYSCALL + 0x400))(NULL) - before.tv_sec >= 0);
	CHECK(((getcpu_t)(VSYSCALL + 0x800))(&cpu, &node, NULL) == 0 && cpu < 4096 && node == 0);
	CHECK(((getcpu_t)(VSYSCALL + 0x800))(NULL, NULL, (void *)1) == 0);
	return selftest_end();
}

int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "calls";

	if (!strcmp(how, "calls"))
		return calls();
	if (!strcmp(how, "read"))
		return *(volatile char *)(VSYSCALL + 0x10);
	if (!strcmp(how, "write"))
		*(volatile char *)(VSYSCALL + 0x400) = 1;
	if (!strcmp(how, "misaligned"))
		((any_t)(VSYSCALL + 0x1))(NULL, NULL);
	if (!strcmp(how, "fourth"))
		((any_t)(VSYSCALL + 0xc00))(NULL, NULL);
	if (!strcmp(how, "badptr"))  /* a user address that faults while the call runs */
		((any_t)VSYSCALL)((void *)0x10, NULL);
	if (!strcmp(how, "kernelptr"))  /* not a user address at all (access_ok) */
		((any_t)(VSYSCALL + 0x800))(NULL, (void *)0xffff800000000000UL);
	if (!strcmp(how, "badstack"))
		__asm__ volatile("mov $0x10, %%rsp\n\tjmp *%0" : : "r"(VSYSCALL + 0x400) : "memory");
	if (!strcmp(how, "nextpage"))
		((any_t)(VSYSCALL + 0x1000))(NULL, NULL);
	return 1;
}
