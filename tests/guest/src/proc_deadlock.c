/* Guests that wait forever. `pause`: one thread, and no signal can ever come. `wait`: a
 * parent in waitpid for a child that pauses. `pipes`: two processes each reading a pipe
 * the other holds open for writing and never writes. Natively these hang; sysgate must
 * end them with its deadlock report. */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *mode = argc == 2 ? argv[1] : "";
	if (strcmp(mode, "pause") == 0) {
		pause();
		return 0;
	}
	if (strcmp(mode, "wait") == 0) {
		pid_t pid = fork();
		if (pid == 0) {
			pause();
			return 0;
		}
		return waitpid(pid, NULL, 0) == pid ? 0 : 1;
	}
	int a[2], b[2];
	char c;
	if (pipe(a) != 0 || pipe(b) != 0)
		return 2;
	if (fork() == 0)
		return read(a[0], &c, 1) == 1 ? 0 : 3; /* waits for the parent ... */
	return read(b[0], &c, 1) == 1 ? 0 : 4; /* ... which waits for the child */
}
