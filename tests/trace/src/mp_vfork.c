/* vfork, then the child runs this program again (execve) with "child": it writes and
 * exits 5; the parent waits for it. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	int status = 0;
	sigset_t chld;

	if (argc > 1 && strcmp(argv[1], "child") == 0) {
		write(1, "exec'd\n", 7);
		return 5;
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	char *args[] = {argv[0], "child", NULL};
	pid_t pid = vfork();
	if (pid == 0) {
		execve(argv[0], args, environ);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return 1;
	printf("child status %d\n", WEXITSTATUS(status));
	return 0;
}
