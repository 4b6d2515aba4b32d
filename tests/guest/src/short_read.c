/* read() into a buffer whose second page is PROT_NONE stops at the page: a short count.
 * write() from such a buffer to a file writes what can be read. Pipes differ: a pipe buffer
 * copied only in part is not transferred at all, so read() from and write() to a pipe give
 * EFAULT (pipe_read leaves the data in the pipe; pipe_write drops the partial page).
 * stdin must be a pipe holding exactly 300 bytes, from a single write. */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "selftest.h"

int main(void)
{
	unsigned char data[8192];
	unsigned char *p;
	int fd;
	ssize_t n;

	selftest_start("short_read");
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7);
	fd = open("data.bin", O_CREAT | O_RDWR | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, data, sizeof(data)) == sizeof(data));
	p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	CHECK(mprotect(p + 4096, 4096, PROT_NONE) == 0);

	/* 100 bytes fit before the PROT_NONE page. */
	n = pread(fd, p + 4096 - 100, 1000, 0);
	printf("pread returned %zd\n", n);
	CHECK(n == 100);
	CHECK(memcmp(p + 4096 - 100, data, 100) == 0);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	n = read(fd, p + 4096 - 100, 1000);
	printf("read returned %zd\n", n);
	CHECK(n == 100);
	CHECK(lseek(fd, 0, SEEK_CUR) == 100);
	/* Nothing fits: EFAULT, and the offset does not move. */
	CHECK(read(fd, p + 4096, 10) == -1 && errno == EFAULT);
	CHECK(lseek(fd, 0, SEEK_CUR) == 100);

	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	n = write(fd, p + 4096 - 50, 1000);
	printf("write returned %zd\n", n);
	CHECK(n == 50);
	CHECK(write(fd, p + 4096, 10) == -1 && errno == EFAULT);
	CHECK(lseek(fd, 0, SEEK_CUR) == 50);
	n = read(0, p + 4096 - 100, 1000);
	printf("read from stdin returned %zd\n", n);
	CHECK(n == -1 && errno == EFAULT);
	memset(data, 0, sizeof(data));
	CHECK(read(0, data, sizeof(data)) == 300);  /* all of it is still there */
	CHECK(data[0] == 'x' && data[299] == 'x');
	n = write(1, p + 4096 - 20, 1000);  /* stdout is a pipe */
	printf("write to stdout returned %zd\n", n);
	CHECK(n == -1 && errno == EFAULT);
	CHECK(close(fd) == 0);
	CHECK(unlink("data.bin") == 0);
	return selftest_end();
}
