/* A parent forks; the child writes and exits 7; the parent waits with wait4, forks again
 * and waits with waitid, then takes the two SIGCHLDs it kept blocked. For the tracer's
 * -f and -ff lines: clone's flags and tail, wait4's status, waitid's siginfo, SIGCHLD. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	sigset_t chld, old;
	int status = 0;
	siginfo_t si;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old); /* the SIGCHLD lines come where the mask is lifted */
	pid_t pid = fork();
	if (pid == 0) {
		write(1, "child\n", 6);
		_exit(7);
	}
	if (wait4(-1, &status, 0, NULL) != pid)
		return 1;
	if (wait4(-1, &status, WNOHANG, NULL) != -1) /* ECHILD */
		return 2;
	pid = fork();
	if (pid == 0) {
		write(1, "second\n", 7);
		_exit(3);
	}
	memset(&si, 0, sizeof si);
	if (waitid(P_PID, pid, &si, WEXITED) != 0 || si.si_status != 3)
		return 3;
	sigprocmask(SIG_SETMASK, &old, NULL);
	printf("parent %d %d\n", WEXITSTATUS(status), si.si_status);
	return 0;
}
