/* A system call number that does not exist returns -1 with ENOSYS. */
#include <unistd.h>
#include "selftest.h"

int main(void)
{
	selftest_start("enosys");
	errno = 0;
	CHECK(syscall(1000) == -1 && errno == ENOSYS);
	errno = 0;
	CHECK(syscall(-1L) == -1 && errno == ENOSYS);
	return selftest_end();
}
