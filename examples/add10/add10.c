/* Calls the "add ten" system call and exits with its result: 20 when sysgate runs it
 * with add10.py, -1 & 0xff = 255 (ENOSYS) when nothing declares the number. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long nr = argc > 1 ? atol(argv[1]) : 548;
	long r = syscall(nr, 10);
	printf("syscall(%ld, 10) = %ld\n", nr, r);
	return (int)r;
}
