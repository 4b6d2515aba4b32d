/* The process figures of bench.py.
 *   proc_bench forkexec N PROGRAM   fork, execve PROGRAM (no arguments) and wait, N times
 *   proc_bench pingpong N           two processes send one byte back and forth N times
 *                                   over two pipes (each round trip: two blocking reads) */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	long n = atol(argv[2]);
	if (strcmp(argv[1], "forkexec") == 0 && argc == 4) {
		for (long i = 0; i < n; i++) {
			pid_t pid = fork();
			if (pid == 0) {
				char *args[] = {argv[3], NULL};
				execv(argv[3], args);
				_exit(127);
			}
			int st;
			if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
				return 1;
		}
		return 0;
	}
	if (strcmp(argv[1], "pingpong") == 0) {
		int ping[2], pong[2];
		char c = 'x';
		if (pipe(ping) || pipe(pong))
			return 1;
		pid_t pid = fork();
		if (pid == 0) {
			for (long i = 0; i < n; i++)
				if (read(ping[0], &c, 1) != 1 || write(pong[1], &c, 1) != 1)
					_exit(1);
			_exit(0);
		}
		for (long i = 0; i < n; i++)
			if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
				return 1;
		int st;
		return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
	}
	return 2;
}
