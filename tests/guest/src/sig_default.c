/* Default actions: `sig_default SIG HOW` sends SIG to itself with raise, kill(0, ...),
 * kill(getpid(), ...) or tgkill; the exit status (signal, core bit) is compared with the
 * native run's. An ignored-by-default signal comes back, and the program says so. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include "selftest.h"

int main(int argc, char **argv)
{
	selftest_start("sig_default");
	if (argc < 3)
		return 2;
	int sig = atoi(argv[1]);
	const char *how = argv[2];
	int r;
	if (!strcmp(how, "raise"))
		r = raise(sig);
	else if (!strcmp(how, "kill0"))
		r = kill(0, sig);
	else if (!strcmp(how, "tgkill"))
		r = syscall(SYS_tgkill, getpid(), gettid(), sig);
	else
		r = kill(getpid(), sig);
	CHECK(r == 0);
	printf("still alive after signal %d\n", sig);
	return selftest_end();
}
