/* argv, envp and the auxiliary vector as the kernel lays them out at exec. */
#include <stdlib.h>
#include <sys/auxv.h>
#include <unistd.h>
#include "selftest.h"

#ifndef AT_EXECFN
#define AT_EXECFN 31
#endif

int main(int argc, char **argv, char **envp)
{
	const char *v;
	const char *execfn;
	const char *platform;
	int n = 0;

	selftest_start("args");
	printf("argc=%d\n", argc);
	for (int i = 1; i < argc; i++)
		printf("argv[%d]=<%s>\n", i, argv[i]);
	CHECK(argv[argc] == NULL);
	while (envp[n])
		n++;
	printf("envc=%d\n", n);
	v = getenv("SYSGATE_TEST");
	printf("SYSGATE_TEST=<%s>\n", v ? v : "(unset)");

	CHECK(getauxval(AT_PAGESZ) == 4096);
	CHECK(getauxval(AT_RANDOM) != 0);
	CHECK(getauxval(AT_PHDR) != 0);
	CHECK(getauxval(AT_PHNUM) != 0);
	CHECK(getauxval(AT_PHENT) == 56);
	CHECK(getauxval(AT_ENTRY) != 0);
	CHECK(getauxval(AT_UID) == (unsigned long)getuid());
	execfn = (const char *)getauxval(AT_EXECFN);
	CHECK(execfn != NULL && strcmp(execfn, argv[0]) == 0);
	platform = (const char *)getauxval(AT_PLATFORM);
	CHECK(platform != NULL && strcmp(platform, "x86_64") == 0);
	return selftest_end();
}
