/* Blocking socket waits: SO_RCVTIMEO and SO_SNDTIMEO deadlines, SIGPIPE on a stream send,
 * a blocking recv interrupted by a signal handler (EINTR without SA_RESTART), a blocking
 * connect refused, and a blocking accept woken by a connecting child. */
#define _GNU_SOURCE
#include "selftest.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t pipes, alarms;

static void on_pipe(int sig) { pipes++; }
static void on_alarm(int sig) { alarms++; }

int main(void)
{
	selftest_start("sock_block");
	int sv[2];
	char buf[64];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct timeval tv = {0, 30000};
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
	errno = 0;
	CHECK(recv(sv[0], buf, sizeof buf, 0) == -1 && errno == EAGAIN);
	CHECK(read(sv[0], buf, sizeof buf) == -1 && errno == EAGAIN);

	struct sigaction sa = {.sa_handler = on_alarm};
	CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
	struct itimerval it = {.it_value = {0, 20000}};
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
	errno = 0;
	CHECK(recv(sv[1], buf, sizeof buf, 0) == -1 && errno == EINTR && alarms == 1);

	sa.sa_handler = on_pipe;
	CHECK(sigaction(SIGPIPE, &sa, NULL) == 0);
	close(sv[1]);
	errno = 0;
	CHECK(send(sv[0], "x", 1, 0) == -1 && errno == EPIPE && pipes == 1);
	CHECK(send(sv[0], "x", 1, MSG_NOSIGNAL) == -1 && errno == EPIPE && pipes == 1);
	close(sv[0]);

	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int srv = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(bind(srv, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(srv, (struct sockaddr *)&a, &len) == 0);
	int cl = socket(AF_INET, SOCK_STREAM, 0);
	errno = 0;
	CHECK(connect(cl, (struct sockaddr *)&a, sizeof a) == -1 && errno == ECONNREFUSED);
	close(cl);
	CHECK(listen(srv, 1) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		usleep(20000);
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&a, sizeof a) != 0)
			_exit(1);
		usleep(20000);
		_exit(send(c, "late", 4, 0) == 4 ? 0 : 2);
	}
	int conn = accept(srv, NULL, NULL);
	CHECK(conn >= 0);
	CHECK(recv(conn, buf, sizeof buf, MSG_WAITALL) == 4 && memcmp(buf, "late", 4) == 0);
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return selftest_end();
}
