/* Faults and traps whose signal lines carry the kernel's account of them: the exact
 * address of the byte that faulted, the code of each kind (SEGV_MAPERR, SEGV_ACCERR,
 * SI_KERNEL for a #GP or int3, BUS_ADRERR past the end of a file mapping). */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "";
	volatile long *p;

	if (!strcmp(how, "unmapped")) {
		p = (long *)0x1234;
		return (int)*p;
	}
	if (!strcmp(how, "readonly")) {
		char *page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		page[123] = 1;
	}
	if (!strcmp(how, "straddle")) {
		char *two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		munmap(two + 4096, 4096);
		p = (long *)(two + 4092);
		return (int)*p;
	}
	if (!strcmp(how, "noncanonical")) {
		p = (long *)0x0000900000000000UL;
		return (int)*p;
	}
	if (!strcmp(how, "kernel")) {
		p = (long *)0xffff900000000000UL;
		return (int)*p;
	}
	if (!strcmp(how, "int3"))
		__asm__ volatile("int3");
	if (!strcmp(how, "bus")) {
		int fd = open("small", O_RDWR | O_CREAT | O_TRUNC, 0600);
		char *map;

		if (fd < 0 || write(fd, "x", 1) != 1)
			return 2;
		map = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
		return map[4096 + 5];
	}
	return 1;
}
