/* The signal state a program starts with: which signals are ignored and which are
 * blocked. execve keeps both, so under `nohup` (SIGHUP ignored), in a shell's background
 * job (SIGINT and SIGQUIT ignored) or with a mask set by the parent, a program run
 * through sysgate must see what it sees natively. */
#include <signal.h>
#include <stdio.h>

int main(void)
{
	sigset_t blocked;
	sigprocmask(SIG_BLOCK, NULL, &blocked);
	printf("ignored:");
	for (int s = 1; s < 65; s++) {
		struct sigaction sa;
		if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			printf(" %d", s);
	}
	printf("\nblocked:");
	for (int s = 1; s < 65; s++)
		if (sigismember(&blocked, s) == 1)
			printf(" %d", s);
	printf("\n");
	return 0;
}
