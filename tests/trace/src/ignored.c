/* Signals the process ignores (SIG_IGN, or ignored by default) still show in a trace:
 * the tracer sees them as a ptrace tracer does, and the process goes on. */
#include <signal.h>
#include <unistd.h>

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	kill(getpid(), SIGPIPE);
	kill(getpid(), SIGCHLD);
	kill(getpid(), SIGWINCH);
	return write(1, "ok\n", 3) != 3;
}
