/* A program whose output shows what fault injection did to it: each call's result and
 * errno, several times over, so `when=` selections and the calls that were not executed
 * are visible in its output as well as in the trace. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *what, long r)
{
	printf("%s = %ld%s%s\n", what, r, r < 0 ? " " : "", r < 0 ? strerror(errno) : "");
}

int main(void)
{
	char buf[16];
	int i, fd;

	setvbuf(stdout, NULL, _IONBF, 0);
	for (i = 0; i < 5; i++)
		report("umask", syscall(SYS_umask, 022));
	fd = syscall(SYS_openat, AT_FDCWD, "made-by-inject.txt", O_CREAT | O_WRONLY, 0644);
	report("openat creat", fd);
	report("access after", syscall(SYS_faccessat, AT_FDCWD, "made-by-inject.txt", F_OK));
	for (i = 0; i < 3; i++)
		report("write", syscall(SYS_write, fd, "abc", 3));
	report("close", syscall(SYS_close, fd));
	memset(buf, 0, sizeof(buf));
	fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/comm", O_RDONLY);
	report("read", syscall(SYS_read, fd, buf, sizeof(buf) - 1));
	report("getuid", syscall(SYS_getuid) == (long)getuid());
	return 0;
}
