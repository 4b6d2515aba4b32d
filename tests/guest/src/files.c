/* Files in the current directory (a fresh temporary folder): create, write, lseek, read,
 * fstat/stat sizes and modes, rename, unlink, and ENOENT once they are gone. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "selftest.h"

int main(void)
{
	static const char data[] = "0123456789abcdefghij";  /* 20 bytes */
	char buf[64];
	struct stat st;
	int fd;

	selftest_start("files");
	umask(022);
	fd = open("a.txt", O_CREAT | O_EXCL | O_RDWR, 0666);
	CHECK(fd >= 0);
	CHECK(write(fd, data, 20) == 20);
	CHECK(lseek(fd, 0, SEEK_CUR) == 20);
	CHECK(lseek(fd, 5, SEEK_SET) == 5);
	memset(buf, 0, sizeof(buf));
	CHECK(read(fd, buf, 4) == 4 && memcmp(buf, "5678", 4) == 0);
	CHECK(lseek(fd, -3, SEEK_END) == 17);
	CHECK(read(fd, buf, sizeof(buf)) == 3 && memcmp(buf, "hij", 3) == 0);
	CHECK(read(fd, buf, sizeof(buf)) == 0);
	CHECK(lseek(fd, 100, SEEK_SET) == 100);
	CHECK(write(fd, "Z", 1) == 1);
	CHECK(pread(fd, buf, 2, 99) == 2 && buf[0] == 0 && buf[1] == 'Z');
	CHECK(fstat(fd, &st) == 0);
	CHECK(st.st_size == 101);
	CHECK(S_ISREG(st.st_mode));
	CHECK((st.st_mode & 07777) == 0644);
	CHECK(st.st_nlink == 1);
	CHECK(lseek(fd, -1, SEEK_SET) == -1 && errno == EINVAL);
	CHECK(close(fd) == 0);
	CHECK(close(fd) == -1 && errno == EBADF);

	CHECK(stat("a.txt", &st) == 0 && st.st_size == 101 && (st.st_mode & 07777) == 0644);
	CHECK(stat("missing.txt", &st) == -1 && errno == ENOENT);
	CHECK(open("missing/x", O_CREAT | O_WRONLY, 0600) == -1 && errno == ENOENT);

	CHECK(mkdir("sub", 0777) == 0);
	CHECK(stat("sub", &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755);
	CHECK(chmod("a.txt", 0600) == 0);
	CHECK(stat("a.txt", &st) == 0 && (st.st_mode & 07777) == 0600);
	CHECK(truncate("a.txt", 10) == 0);
	CHECK(stat("a.txt", &st) == 0 && st.st_size == 10);

	CHECK(rename("a.txt", "sub/b.txt") == 0);
	CHECK(stat("a.txt", &st) == -1 && errno == ENOENT);
	fd = open("sub/b.txt", O_RDONLY);
	CHECK(fd >= 0);
	CHECK(read(fd, buf, sizeof(buf)) == 10 && memcmp(buf, data, 10) == 0);
	CHECK(write(fd, "x", 1) == -1 && errno == EBADF);
	CHECK(close(fd) == 0);

	CHECK(open("sub/b.txt", O_CREAT | O_EXCL | O_WRONLY, 0600) == -1 && errno == EEXIST);
	CHECK(rmdir("sub") == -1 && errno == ENOTEMPTY);
	CHECK(unlink("sub/b.txt") == 0);
	CHECK(open("sub/b.txt", O_RDONLY) == -1 && errno == ENOENT);
	CHECK(unlink("sub/b.txt") == -1 && errno == ENOENT);
	CHECK(rmdir("sub") == 0);
	CHECK(stat("sub", &st) == -1 && errno == ENOENT);
	return selftest_end();
}
