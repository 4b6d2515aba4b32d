/* /proc/self/syscall shows the call that reads it: read's number, its three arguments,
 * then the stack pointer and the address the call returns to (proc_pid_syscall). */
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>
#include "selftest.h"

int main(void)
{
	static char buf[512];
	char probe;
	unsigned long nr, a[6], sp, pc;
	int fd;
	ssize_t n;

	selftest_start("proc_syscall");
	fd = open("/proc/self/syscall", O_RDONLY);
	CHECK(fd >= 0);
	n = read(fd, buf, sizeof buf - 1);
	CHECK(n > 0);
	CHECK(sscanf(buf, "%lu %lx %lx %lx %lx %lx %lx %lx %lx", &nr, &a[0], &a[1], &a[2], &a[3],
		     &a[4], &a[5], &sp, &pc) == 9);
	CHECK(nr == 0); /* __NR_read */
	CHECK(a[0] == (unsigned long)fd);
	CHECK(a[1] == (unsigned long)buf);
	CHECK(a[2] == sizeof buf - 1);
	/* The stack pointer of the caller is just below this frame's locals. */
	CHECK(sp < (unsigned long)&probe && (unsigned long)&probe - sp < 4096);
	CHECK(pc != 0);
	return selftest_end();
}
