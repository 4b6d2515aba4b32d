/* /proc/self/comm is writable (comm_write): the name prctl(PR_GET_NAME), comm, stat and
 * status report is what was written, cut to 15 bytes, a newline included; and
 * PR_SET_NAME shows in /proc/self/comm. */
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>
#include "selftest.h"

static char buf[4096];

static const char *slurp(const char *path)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;

	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
	return buf;
}

static int set_comm(const char *name, size_t len)
{
	int fd = open("/proc/self/comm", O_WRONLY);
	ssize_t n = fd >= 0 ? write(fd, name, len) : -1;

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)len;
}

int main(void)
{
	char name[17] = {0};

	selftest_start("proc_comm");
	CHECK(set_comm("renamed", 7));
	CHECK(prctl(PR_GET_NAME, name) == 0 && strcmp(name, "renamed") == 0);
	CHECK(strcmp(slurp("/proc/self/comm"), "renamed\n") == 0);
	CHECK(strcmp(slurp("/proc/thread-self/comm"), "renamed\n") == 0);
	CHECK(strstr(slurp("/proc/self/stat"), " (renamed) ") != NULL);
	CHECK(strncmp(slurp("/proc/self/status"), "Name:\trenamed\n", 14) == 0);
	CHECK(set_comm("a name that is much too long", 28));
	CHECK(strcmp(slurp("/proc/self/comm"), "a name that is \n") == 0);
	CHECK(set_comm("nl\n", 3));
	CHECK(strcmp(slurp("/proc/self/comm"), "nl\n\n") == 0);
	CHECK(strncmp(slurp("/proc/self/status"), "Name:\tnl\\n\n", 11) == 0);
	CHECK(prctl(PR_SET_NAME, "viaprctl") == 0);
	CHECK(strcmp(slurp("/proc/self/comm"), "viaprctl\n") == 0);
	return selftest_end();
}
