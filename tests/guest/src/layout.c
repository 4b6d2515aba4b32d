/* Where the kernel put things: the auxiliary vector's addresses, main, the initial break,
 * and /proc/self/maps. Run with randomisation off (setarch -R natively), every address
 * is Linux's choice; tests/guest/test_layout.py compares them with a native run.
 *
 * The break is read before anything can allocate (stdout is unbuffered and maps is read
 * with read(2) into a static buffer), so it is where execve left it. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <unistd.h>

static char maps[1 << 16];

static void aux(const char *name, unsigned long type)
{
	printf("%s=%#lx\n", name, getauxval(type));
}

int main(int argc, char **argv)
{
	void *brk0 = sbrk(0);
	setvbuf(stdout, NULL, _IONBF, 0);
	aux("AT_BASE", AT_BASE);
	aux("AT_ENTRY", AT_ENTRY);
	aux("AT_PHDR", AT_PHDR);
	aux("AT_PHENT", AT_PHENT);
	aux("AT_PHNUM", AT_PHNUM);
	aux("AT_PAGESZ", AT_PAGESZ);
	aux("AT_FLAGS", AT_FLAGS);
	aux("AT_CLKTCK", AT_CLKTCK);
	aux("AT_SECURE", AT_SECURE);
	aux("AT_RANDOM", AT_RANDOM);
	aux("AT_EXECFN", AT_EXECFN);
	aux("AT_PLATFORM", AT_PLATFORM);
	printf("execfn=%s\n", (char *)getauxval(AT_EXECFN));
	printf("platform=%s\n", (char *)getauxval(AT_PLATFORM));
	printf("argv0=%s\n", argc > 0 ? argv[0] : "(none)");
	printf("main=%p\n", (void *)main);
	printf("brk=%p\n", brk0);
	int fd = open("/proc/self/maps", O_RDONLY);
	if (fd < 0) {
		perror("/proc/self/maps");
		return 1;
	}
	size_t len = 0;
	ssize_t n;
	while (len < sizeof(maps) - 1 && (n = read(fd, maps + len, sizeof(maps) - 1 - len)) > 0)
		len += n;
	close(fd);
	fwrite(maps, 1, len, stdout);
	return 0;
}
