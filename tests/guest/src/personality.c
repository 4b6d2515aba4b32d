/* personality(2): the value a program starts with, what the call stores and returns, and
 * the flags the kernel acts on: UNAME26 and PER_LINUX32 in uname, READ_IMPLIES_EXEC in
 * mmap and mprotect. Run it natively under `setarch -R` to compare (it starts with
 * ADDR_NO_RANDOMIZE, as sysgate's programs do without --aslr). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/utsname.h>

/* The permissions /proc/self/maps shows for the mapping that starts at `p`. */
static void show_perms(const char *what, void *p)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f) {
		perror("/proc/self/maps");
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long start = strtoul(line, NULL, 16);
		if (start == (unsigned long)p) {
			printf("%s %.4s\n", what, strchr(line, ' ') + 1);
			break;
		}
	}
	fclose(f);
}

int main(void)
{
	struct utsname u;

	setvbuf(stdout, NULL, _IONBF, 0);
	printf("start %#x\n", personality(0xffffffff));
	uname(&u);
	printf("release %s\nmachine %s\n", u.release, u.machine);

	printf("set PER_LINUX32|UNAME26: old %#x\n", personality(PER_LINUX32 | UNAME26));
	printf("now %#x\n", personality(0xffffffff));
	uname(&u);
	printf("release26 %s\nmachine32 %s\n", u.release, u.machine);

	/* Any value is stored and given back, even bits no flag names. */
	printf("set PER_SVR4: old %#x\n", personality(PER_SVR4));
	printf("set 0x12345678: old %#x\n", personality(0x12345678));
	printf("set 0: old %#x\n", personality(0));

	personality(READ_IMPLIES_EXEC);
	void *r = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *w = mmap(NULL, 4096, PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *n = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	show_perms("read-implies-exec mmap(PROT_READ)", r);
	show_perms("read-implies-exec mmap(PROT_WRITE)", w);
	mprotect(n, 4096, PROT_READ | PROT_WRITE);
	show_perms("read-implies-exec mprotect(PROT_READ|PROT_WRITE)", n);
	personality(PER_LINUX);
	mprotect(n, 4096, PROT_READ);
	show_perms("linux mprotect(PROT_READ)", n);
	printf("end %#x\n", personality(0xffffffff));
	return 0;
}
