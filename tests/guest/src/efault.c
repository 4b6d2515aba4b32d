/* Bad user pointers give EFAULT instead of a signal. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "selftest.h"

/* volatile, so the compiler cannot see (and warn about) the bad pointers */
static volatile unsigned long kernel_addr = 0xffff800000000000UL;
static volatile unsigned long low_addr = 16;

int main(void)
{
	int fd;

	selftest_start("efault");
	errno = 0;
	CHECK(write(1, (void *)kernel_addr, 4) == -1 && errno == EFAULT);
	CHECK(write(1, (void *)low_addr, 4) == -1 && errno == EFAULT);
	CHECK(read(0, (void *)kernel_addr, 4) == -1 && errno == EFAULT);
	CHECK(open((char *)low_addr, O_RDONLY) == -1 && errno == EFAULT);
	/* Raw calls for the stat family: musl converts struct stat in user space, where a bad
	 * pointer is a SIGSEGV instead of EFAULT. */
	CHECK(syscall(SYS_stat, ".", (struct stat *)low_addr) == -1 && errno == EFAULT);
	fd = open(".", O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0);
	CHECK(syscall(SYS_fstat, fd, (struct stat *)kernel_addr) == -1 && errno == EFAULT);
	CHECK(close(fd) == 0);
	return selftest_end();
}
