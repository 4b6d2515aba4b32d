/* The checks the lab's graders make, in one program (one run of one kernel):
 * lengths, the 23-character limit, exact sizes for whoami, and bad pointers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NR_IAM 548
#define NR_WHOAMI 549

static int failures;

static void expect(const char *what, long got, long want, int want_errno)
{
	int ok = got == want && (want >= 0 || errno == want_errno);
	printf("[%s] %s = %ld%s%s\n", ok ? "OK" : "FAIL", what, got, got < 0 ? " " : "", got < 0 ? strerror(errno) : "");
	failures += !ok;
}

int main(void)
{
	char buf[64];

	expect("iam(\"lizhijun\")", syscall(NR_IAM, "lizhijun"), 8, 0);
	expect("whoami(buf, 64)", syscall(NR_WHOAMI, buf, 64), 8, 0);
	printf("[%s] name is \"%s\"\n", strcmp(buf, "lizhijun") ? "FAIL" : "OK", buf);
	failures += strcmp(buf, "lizhijun") != 0;
	expect("whoami(buf, 8): no room for the NUL", syscall(NR_WHOAMI, buf, 8), -1, EINVAL);
	expect("whoami(buf, 9): exactly enough", syscall(NR_WHOAMI, buf, 9), 8, 0);
	expect("iam(23 characters)", syscall(NR_IAM, "abcdefghijklmnopqrstuvw"), 23, 0);
	expect("iam(24 characters)", syscall(NR_IAM, "abcdefghijklmnopqrstuvwx"), -1, EINVAL);
	expect("whoami after the refused iam", syscall(NR_WHOAMI, buf, 64), 23, 0);
	expect("iam(\"\")", syscall(NR_IAM, ""), 0, 0);
	expect("iam(NULL)", syscall(NR_IAM, NULL), -1, EFAULT);
	expect("iam(kernel address)", syscall(NR_IAM, (void *)0xffff800000000000UL), -1, EFAULT);
	expect("whoami(NULL, 64)", syscall(NR_WHOAMI, NULL, 64), -1, EFAULT);
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures != 0;
}
