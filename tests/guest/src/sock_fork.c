/* Blocking sockets across two processes: a TCP echo server and a client after fork, an
 * AF_UNIX socketpair passing a pipe's end, and a blocking recv woken by the peer. */
#define _GNU_SOURCE
#include "selftest.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void tcp_echo(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int srv = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(bind(srv, (struct sockaddr *)&a, sizeof a) == 0 && listen(srv, 4) == 0);
	CHECK(getsockname(srv, (struct sockaddr *)&a, &len) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		int cl = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(cl, (struct sockaddr *)&a, sizeof a) != 0)
			_exit(2);
		char buf[100000];
		memset(buf, 'q', sizeof buf);
		if (send(cl, buf, sizeof buf, 0) != sizeof buf)
			_exit(3);
		if (recv(cl, buf, sizeof buf, MSG_WAITALL) != sizeof buf)
			_exit(4);
		_exit(buf[sizeof buf - 1] == 'Q' ? 0 : 5);
	}
	int conn = accept(srv, NULL, NULL);
	CHECK(conn >= 0);
	static char big[100000];
	CHECK(recv(conn, big, sizeof big, MSG_WAITALL) == sizeof big);
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = 'Q';
	CHECK(send(conn, big, sizeof big, 0) == sizeof big);
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(conn);
	close(srv);
}

static void unix_pass(void)
{
	int sv[2], p[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 && pipe(p) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		char c;
		char ctl[CMSG_SPACE(sizeof(int))];
		struct iovec iov = {.iov_base = &c, .iov_len = 1};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
		if (recvmsg(sv[1], &msg, 0) != 1)
			_exit(2);
		int fd;
		memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof fd);
		struct ucred cr;
		socklen_t len = sizeof cr;
		getsockopt(sv[1], SOL_SOCKET, SO_PEERCRED, &cr, &len);
		if (cr.pid != getppid())
			_exit(4);
		_exit(write(fd, "from child", 10) == 10 ? 0 : 3);
	}
	close(sv[1]);
	char ctl[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = "x", .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &p[1], sizeof(int));
	CHECK(sendmsg(sv[0], &msg, 0) == 1);
	close(p[1]);
	char buf[32];
	CHECK(read(p[0], buf, sizeof buf) == 10 && memcmp(buf, "from child", 10) == 0);
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(sv[0]);
	close(p[0]);
}

int main(void)
{
	selftest_start("sock_fork");
	tcp_echo();
	unix_pass();
	return selftest_end();
}
