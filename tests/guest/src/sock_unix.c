/* AF_UNIX in one task: socketpair stream/dgram/seqpacket, SCM_RIGHTS, SO_PEERCRED,
 * SO_PASSCRED, named and abstract sockets with non-blocking connect/accept. */
#define _GNU_SOURCE
#include "selftest.h"
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define FAILS(call, err) (errno = 0, (call) == -1 && errno == (err))

static int send_fds(int sock, const int *fds, int n, const char *data)
{
	char ctl[CMSG_SPACE(sizeof(int) * 4)] = {0};
	struct iovec iov = {.iov_base = (void *)data, .iov_len = strlen(data)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			     .msg_controllen = CMSG_SPACE(sizeof(int) * n)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	return sendmsg(sock, &msg, 0);
}

static void pairs(void)
{
	int sv[2];
	char buf[64];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(fcntl(sv[0], F_GETFD) == FD_CLOEXEC);
	CHECK(write(sv[0], "hello", 5) == 5);
	CHECK(write(sv[0], " world", 6) == 6);
	int avail = 0;
	CHECK(ioctl(sv[1], FIONREAD, &avail) == 0 && avail == 11);
	CHECK(recv(sv[1], buf, 3, MSG_PEEK) == 3 && memcmp(buf, "hel", 3) == 0);
	CHECK(read(sv[1], buf, sizeof buf) == 11 && memcmp(buf, "hello world", 11) == 0);
	CHECK(FAILS(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), EAGAIN));
	struct ucred cr;
	socklen_t len = sizeof cr;
	CHECK(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 && cr.pid == getpid()
	      && cr.uid == geteuid() && cr.gid == getegid() && len == sizeof cr);
	struct sockaddr_un sun;
	len = sizeof sun;
	CHECK(getsockname(sv[0], (struct sockaddr *)&sun, &len) == 0 && len == 2 && sun.sun_family == AF_UNIX);
	CHECK(shutdown(sv[0], SHUT_WR) == 0);
	CHECK(read(sv[1], buf, sizeof buf) == 0);
	CHECK(FAILS(send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE));
	close(sv[0]);
	close(sv[1]);

	CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv) == 0);
	CHECK(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
	CHECK(send(sv[0], "abc", 3, 0) == 3);
	CHECK(send(sv[0], "defgh", 5, 0) == 5);
	CHECK(recv(sv[1], buf, 2, 0) == 2 && memcmp(buf, "ab", 2) == 0);
	CHECK(recv(sv[1], buf, 2, MSG_TRUNC) == 5);
	CHECK(FAILS(recv(sv[1], buf, 2, 0), EAGAIN));
	struct iovec iov = {.iov_base = buf, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	CHECK(send(sv[0], "xyz", 3, 0) == 3);
	CHECK(recvmsg(sv[1], &msg, 0) == 1 && msg.msg_flags == MSG_TRUNC);
	close(sv[0]);
	close(sv[1]);

	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
	CHECK(send(sv[0], "one", 3, 0) == 3 && send(sv[0], "two", 3, 0) == 3);
	CHECK(recv(sv[1], buf, sizeof buf, 0) == 3 && memcmp(buf, "one", 3) == 0);
	close(sv[0]);
	CHECK(recv(sv[1], buf, sizeof buf, 0) == 3 && memcmp(buf, "two", 3) == 0);
	CHECK(recv(sv[1], buf, sizeof buf, 0) == 0);
	close(sv[1]);
}

static void rights(void)
{
	int sv[2], p[2];
	char buf[64];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(pipe(p) == 0);
	int fds[2] = {p[1], p[0]};
	CHECK(send_fds(sv[0], fds, 2, "F") == 1);
	close(p[0]);
	close(p[1]);

	char ctl[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
	CHECK(recvmsg(sv[1], &msg, MSG_CMSG_CLOEXEC) == 1 && buf[0] == 'F');
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	CHECK(c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(8));
	CHECK(msg.msg_controllen == CMSG_SPACE(8) && msg.msg_flags == MSG_CMSG_CLOEXEC);
	int got[2];
	memcpy(got, CMSG_DATA(c), sizeof got);
	CHECK(fcntl(got[0], F_GETFD) == FD_CLOEXEC);
	CHECK(write(got[0], "through", 7) == 7);
	CHECK(read(got[1], buf, sizeof buf) == 7 && memcmp(buf, "through", 7) == 0);

	/* A file, and a control buffer with room for one of two descriptors: MSG_CTRUNC. */
	int f = open("/proc/self/status", O_RDONLY);
	CHECK(f >= 0);
	int two[2] = {f, got[0]};
	CHECK(send_fds(sv[0], two, 2, "G") == 1);
	char small[CMSG_SPACE(sizeof(int))];
	msg.msg_control = small;
	msg.msg_controllen = CMSG_LEN(sizeof(int));
	CHECK(recvmsg(sv[1], &msg, 0) == 1 && msg.msg_flags == MSG_CTRUNC && msg.msg_controllen == CMSG_LEN(4));
	c = CMSG_FIRSTHDR(&msg);
	int one;
	memcpy(&one, CMSG_DATA(c), sizeof one);
	CHECK(c->cmsg_len == CMSG_LEN(4) && read(one, buf, 5) == 5 && memcmp(buf, "Name:", 5) == 0);
	close(one);
	close(f);

	/* No room at all, and read() dropping passed descriptors. */
	CHECK(send_fds(sv[0], &got[0], 1, "H") == 1);
	msg.msg_control = NULL;
	msg.msg_controllen = 0;
	CHECK(recvmsg(sv[1], &msg, 0) == 1 && msg.msg_flags == MSG_CTRUNC);
	CHECK(send_fds(sv[0], &got[0], 1, "I") == 1);
	CHECK(read(sv[1], buf, sizeof buf) == 1 && buf[0] == 'I');
	int bad = 999;
	CHECK(FAILS(send_fds(sv[0], &bad, 1, "J"), EBADF));

	/* SO_PASSCRED: SCM_CREDENTIALS with our ids. */
	int on = 1;
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0);
	CHECK(write(sv[0], "K", 1) == 1);
	char cbuf[CMSG_SPACE(sizeof(struct ucred))];
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof cbuf;
	CHECK(recvmsg(sv[1], &msg, 0) == 1);
	c = CMSG_FIRSTHDR(&msg);
	struct ucred cr;
	memcpy(&cr, CMSG_DATA(c), sizeof cr);
	CHECK(c->cmsg_type == SCM_CREDENTIALS && cr.pid == getpid() && cr.uid == getuid() && cr.gid == getgid());
	close(got[0]);
	close(got[1]);
	close(sv[0]);
	close(sv[1]);
}

static void named(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX}, b;
	socklen_t len;
	char buf[64];
	strcpy(a.sun_path, "sock-test");
	unlink(a.sun_path);
	int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK(bind(srv, (struct sockaddr *)&a, sizeof a) == 0);
	CHECK(FAILS(bind(srv, (struct sockaddr *)&a, sizeof a), EADDRINUSE));
	strcpy(b.sun_path, "sock-test2");
	b.sun_family = AF_UNIX;
	CHECK(FAILS(bind(srv, (struct sockaddr *)&b, sizeof b), EINVAL));
	CHECK(access("sock-test2", F_OK) == -1);
	struct stat st;
	CHECK(stat("sock-test", &st) == 0 && S_ISSOCK(st.st_mode));
	len = sizeof b;
	CHECK(getsockname(srv, (struct sockaddr *)&b, &len) == 0 && len == offsetof(struct sockaddr_un, sun_path) + 10
	      && strcmp(b.sun_path, "sock-test") == 0);
	CHECK(listen(srv, 4) == 0);
	CHECK(FAILS(accept(srv, NULL, NULL), EAGAIN));
	int cl = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(cl, (struct sockaddr *)&a, sizeof a) == 0);
	CHECK(FAILS(connect(cl, (struct sockaddr *)&a, sizeof a), EISCONN));
	len = sizeof b;
	CHECK(getpeername(cl, (struct sockaddr *)&b, &len) == 0 && strcmp(b.sun_path, "sock-test") == 0);
	len = sizeof b;
	int conn = accept4(srv, (struct sockaddr *)&b, &len, SOCK_CLOEXEC);
	CHECK(conn >= 0 && len == 2);
	struct ucred cr;
	len = sizeof cr;
	CHECK(getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 && cr.pid == getpid());
	CHECK(getsockopt(cl, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 && cr.pid == getpid());
	CHECK(write(cl, "ping", 4) == 4 && read(conn, buf, sizeof buf) == 4);
	close(cl);
	close(conn);
	close(srv);
	int again = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(FAILS(bind(again, (struct sockaddr *)&a, sizeof a), EADDRINUSE));
	CHECK(FAILS(connect(again, (struct sockaddr *)&a, sizeof a), ECONNREFUSED));
	close(again);
	unlink(a.sun_path);

	/* Datagrams between two named sockets: the sender's name comes back. */
	struct sockaddr_un d1 = {.sun_family = AF_UNIX, .sun_path = "dg-one"}, d2 = {.sun_family = AF_UNIX, .sun_path = "dg-two"};
	unlink("dg-one");
	unlink("dg-two");
	int s1 = socket(AF_UNIX, SOCK_DGRAM, 0), s2 = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(bind(s1, (struct sockaddr *)&d1, sizeof d1) == 0 && bind(s2, (struct sockaddr *)&d2, sizeof d2) == 0);
	CHECK(sendto(s1, "dgram", 5, 0, (struct sockaddr *)&d2, sizeof d2) == 5);
	len = sizeof b;
	CHECK(recvfrom(s2, buf, sizeof buf, 0, (struct sockaddr *)&b, &len) == 5 && strcmp(b.sun_path, "dg-one") == 0
	      && len == offsetof(struct sockaddr_un, sun_path) + 7);
	close(s1);
	close(s2);
	unlink("dg-one");
	unlink("dg-two");

	/* Abstract names and autobind. */
	struct sockaddr_un ab = {.sun_family = AF_UNIX};
	snprintf(ab.sun_path + 1, sizeof ab.sun_path - 1, "sysgate-test-%d", getpid());
	socklen_t alen = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(ab.sun_path + 1);
	int as = socket(AF_UNIX, SOCK_DGRAM, 0), ac = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(bind(as, (struct sockaddr *)&ab, alen) == 0);
	len = sizeof b;
	CHECK(getsockname(as, (struct sockaddr *)&b, &len) == 0 && len == alen);
	CHECK(bind(ac, (struct sockaddr *)&ab, offsetof(struct sockaddr_un, sun_path)) == 0);
	len = sizeof b;
	CHECK(getsockname(ac, (struct sockaddr *)&b, &len) == 0 && len == 8 && b.sun_path[0] == 0);
	CHECK(sendto(ac, "abs", 3, 0, (struct sockaddr *)&ab, alen) == 3);
	CHECK(recv(as, buf, sizeof buf, 0) == 3);
	close(as);
	close(ac);
}

int main(void)
{
	selftest_start("sock_unix");
	pairs();
	rights();
	named();
	return selftest_end();
}
