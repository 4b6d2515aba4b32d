/* Prints four bytes from getrandom() and the kernel release from uname(). */
#include <stdio.h>
#include <sys/random.h>
#include <sys/utsname.h>

int main(void)
{
	unsigned char b[4];
	struct utsname u;
	if (getrandom(b, sizeof b, 0) != sizeof b || uname(&u) != 0)
		return 1;
	printf("random %02x%02x%02x%02x\nrelease %s\n", b[0], b[1], b[2], b[3], u.release);
	return 0;
}
