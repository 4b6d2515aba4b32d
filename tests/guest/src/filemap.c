/* File mappings as shared libraries and programs use them: MAP_PRIVATE is copy-on-write,
 * MAP_SHARED writes reach the file, offsets must be page-aligned, code runs from a
 * PROT_EXEC mapping, zeros fill the last page past the end of the file, and a page wholly
 * past the end is SIGBUS. The program ends by touching such a page: it dies of SIGBUS
 * (BUS_ADRERR at the address printed last, as a tracer shows). */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "selftest.h"

#define P 4096

static int make_file(const char *name, size_t size, char fill)
{
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
	char buf[P];
	memset(buf, fill, sizeof(buf));
	for (size_t done = 0; done < size;) {
		size_t n = size - done < P ? size - done : P;
		done += write(fd, buf, n);
	}
	return fd;
}

int main(void)
{
	char c;
	selftest_start("filemap");

	/* MAP_PRIVATE: the process sees its writes, the file never does. */
	int fd = make_file("private.dat", 2 * P, 'a');
	char *p = mmap(NULL, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(p != MAP_FAILED);
	CHECK(p[0] == 'a' && p[P] == 'a');
	memcpy(p + 10, "mine", 4);
	CHECK(memcmp(p + 10, "mine", 4) == 0);
	CHECK(pread(fd, &c, 1, 10) == 1 && c == 'a');
	CHECK(munmap(p, 2 * P) == 0);
	CHECK(pread(fd, &c, 1, 10) == 1 && c == 'a');

	/* A read-only descriptor maps privately writable, but not shared writable. */
	int ro = open("private.dat", O_RDONLY);
	p = mmap(NULL, P, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
	CHECK(p != MAP_FAILED && (p[0] = 'z') == 'z');
	errno = 0;
	CHECK(mmap(NULL, P, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED && errno == EACCES);
	int wo = open("private.dat", O_WRONLY);
	errno = 0;
	CHECK(mmap(NULL, P, PROT_READ, MAP_PRIVATE, wo, 0) == MAP_FAILED && errno == EACCES);
	close(wo);

	/* MAP_SHARED: writes reach the file, and the file's writes reach the mapping. */
	int sfd = make_file("shared.dat", 2 * P, 's');
	char *s = mmap(NULL, 2 * P, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
	CHECK(s != MAP_FAILED);
	memcpy(s + P + 5, "through", 7);
	char buf[8] = {0};
	CHECK(pread(sfd, buf, 7, P + 5) == 7 && memcmp(buf, "through", 7) == 0);
	CHECK(pwrite(sfd, "back", 4, 100) == 4 && memcmp(s + 100, "back", 4) == 0);
	CHECK(msync(s, 2 * P, MS_SYNC) == 0);
	errno = 0;
	CHECK(msync(s + 1, P, MS_SYNC) == -1 && errno == EINVAL);
	CHECK(munmap(s, 2 * P) == 0);
	CHECK(pread(sfd, buf, 7, P + 5) == 7 && memcmp(buf, "through", 7) == 0);

	/* Offsets must be page-aligned. */
	errno = 0;
	CHECK(mmap(NULL, P, PROT_READ, MAP_PRIVATE, fd, 100) == MAP_FAILED && errno == EINVAL);
	CHECK(mmap(NULL, P, PROT_READ, MAP_PRIVATE, fd, P) != MAP_FAILED);

	/* Code runs from a PROT_EXEC file mapping: mov eax, 42; ret. */
	int cfd = open("code.bin", O_RDWR | O_CREAT | O_TRUNC, 0700);
	static const unsigned char code[] = {0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3};
	CHECK(write(cfd, code, sizeof(code)) == sizeof(code));
	int (*fn)(void) = (int (*)(void))mmap(NULL, P, PROT_READ | PROT_EXEC, MAP_PRIVATE, cfd, 0);
	CHECK((void *)fn != MAP_FAILED && fn() == 42);

	/* Past the end of the file: zeros to the end of its last page, then SIGBUS. */
	int tfd = make_file("tail.dat", 10, 't');
	char *t = mmap(NULL, 3 * P, PROT_READ, MAP_SHARED, tfd, 0);
	CHECK(t != MAP_FAILED && t[9] == 't' && t[10] == 0 && t[P - 1] == 0);
	/* A file cut short under a shared mapping loses the pages past its new end. */
	CHECK(ftruncate(sfd, P) == 0);
	s = mmap(NULL, 2 * P, PROT_READ, MAP_SHARED, sfd, 0);
	CHECK(s[P - 1] == 's');
	printf("touching %p\n", (void *)(t + P + 123));
	c = t[P + 123];
	printf("[FAIL] no SIGBUS (read %d)\n", c);
	return 1;
}
