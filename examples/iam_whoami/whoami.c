/* whoami: print the name iam() stored. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	char name[24];
	long r = syscall(549, name, sizeof name);
	if (r < 0) {
		printf("whoami: %s\n", strerror(errno));
		return 1;
	}
	printf("%s\n", name);
	return 0;
}
