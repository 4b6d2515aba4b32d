/* Shared by the guest programs: [OK]/[FAIL] lines, and a failure count for the exit status.
 *
 * Each program checks one behaviour and prints what it checked, so a mismatch between the
 * native run and the sysgate run points at the line that differs. stdout is unbuffered so
 * that what was printed before a fatal signal is seen in both runs. */
#ifndef SELFTEST_H
#define SELFTEST_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(cond) check_((cond), #cond, __LINE__)

static inline void check_(int ok, const char *what, int line)
{
	if (ok) {
		printf("[OK] %s\n", what);
	} else {
		printf("[FAIL] %s (line %d, errno %d %s)\n", what, line, errno, strerror(errno));
		failures++;
	}
}

static inline void selftest_start(const char *name)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	printf("[RUN] %s\n", name);
}

static inline int selftest_end(void)
{
	printf("%s %d failure(s)\n", failures ? "[FAIL]" : "[OK]", failures);
	return failures ? 1 : 0;
}

#endif
