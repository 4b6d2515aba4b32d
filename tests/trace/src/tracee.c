/* Calls for the tracer's own options, each made once with known arguments: strings with
 * every kind of byte (-x, -xx, -s), descriptors of several kinds (-y, -yy), vector and
 * plain I/O on a pipe (-e read=, -e write=), failing calls (-Z, -e status=), numbers no
 * table names (syscall_0x3e8), and identity calls. Prints what it got, so an injected
 * result shows in the program's output too. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static void report(const char *what, long r)
{
	printf("%s = %ld%s%s\n", what, r, r < 0 ? " " : "", r < 0 ? strerror(errno) : "");
}

int main(void)
{
	static const char bytes[] = "plain text\t\"quoted\"\n\x01\x7f\xff end";
	static char big[300];
	char buf[64];
	int p[2];
	struct iovec iov[2];

	setvbuf(stdout, NULL, _IONBF, 0);
	report("getpid", syscall(SYS_getpid) > 0);
	report("getuid", syscall(SYS_getuid) >= 0);
	report("write bytes", syscall(SYS_write, 1, bytes, sizeof(bytes) - 1));
	memset(big, 'x', sizeof(big));
	report("write big", syscall(SYS_write, 1, big, sizeof(big)));
	report("pipe2", syscall(SYS_pipe2, p, O_CLOEXEC));
	report("write pipe", syscall(SYS_write, p[1], "0123456789abcdefghijklmnopqrstuvwxyz\n", 37));
	report("read pipe", syscall(SYS_read, p[0], buf, 20));
	iov[0].iov_base = buf;
	iov[0].iov_len = 5;
	iov[1].iov_base = buf + 5;
	iov[1].iov_len = 40;
	report("readv pipe", syscall(SYS_readv, p[0], iov, 2));
	iov[0].iov_base = "head";
	iov[0].iov_len = 4;
	iov[1].iov_base = "tail\n";
	iov[1].iov_len = 5;
	report("writev pipe", syscall(SYS_writev, p[1], iov, 2));
	report("read pipe", syscall(SYS_read, p[0], buf, sizeof(buf)));
	report("dup", syscall(SYS_dup, p[0]));
	report("close", syscall(SYS_close, p[0]));
	report("close bad", syscall(SYS_close, 1000));
	report("read bad", syscall(SYS_read, 1000, buf, 1));
	report("lseek pipe", syscall(SYS_lseek, p[1], 0, SEEK_CUR));
	report("openat", syscall(SYS_openat, AT_FDCWD, "/dev/null", O_WRONLY));
	report("openat missing", syscall(SYS_openat, AT_FDCWD, "missing-file", O_RDONLY));
	report("syscall 1000", syscall(1000, 1, 2, 3));
	report("syscall -1", syscall(-1L, 0, 0, 0));
	report("getppid", syscall(SYS_getppid) > 0);
	return 0;
}
