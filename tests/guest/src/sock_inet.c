/* TCP and UDP on the loopback in one task: non-blocking connect and accept, an echo,
 * addresses, options, EADDRINUSE and ECONNREFUSED, IPv6. */
#define _GNU_SOURCE
#include "selftest.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FAILS(call, err) (errno = 0, (call) == -1 && errno == (err))

static void nap(void)
{
	struct timespec ts = {0, 1000000};
	nanosleep(&ts, NULL);
}

static int accept_retry(int srv, struct sockaddr *a, socklen_t *len, int flags)
{
	for (int i = 0; i < 5000; i++) {
		int fd = accept4(srv, a, len, flags);
		if (fd >= 0 || errno != EAGAIN)
			return fd;
		nap();
	}
	return -1;
}

static ssize_t recv_retry(int fd, char *buf, size_t n)
{
	for (int i = 0; i < 5000; i++) {
		ssize_t r = recv(fd, buf, n, MSG_DONTWAIT);
		if (r >= 0 || errno != EAGAIN)
			return r;
		nap();
	}
	return -1;
}

static void tcp(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)}, b;
	socklen_t len = sizeof a;
	char buf[256];
	int on = 1;
	int srv = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	CHECK(setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == 0);
	CHECK(bind(srv, (struct sockaddr *)&a, sizeof a) == 0);
	CHECK(getsockname(srv, (struct sockaddr *)&a, &len) == 0 && len == sizeof a && a.sin_port != 0);
	CHECK(listen(srv, 8) == 0);
	int v;
	len = sizeof v;
	CHECK(getsockopt(srv, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v == 1);
	CHECK(FAILS(accept(srv, NULL, NULL), EAGAIN));
	CHECK(FAILS(connect(srv, (struct sockaddr *)&a, sizeof a), EISCONN) || errno == EINVAL);

	int other = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(FAILS(bind(other, (struct sockaddr *)&a, sizeof a), EADDRINUSE));
	close(other);

	int cl = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int r = connect(cl, (struct sockaddr *)&a, sizeof a);
	CHECK(r == 0 || errno == EINPROGRESS);
	len = sizeof b;
	int conn = accept_retry(srv, (struct sockaddr *)&b, &len, SOCK_NONBLOCK);
	CHECK(conn >= 0 && len == sizeof b && b.sin_family == AF_INET && b.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
	CHECK(fcntl(conn, F_GETFL) & O_NONBLOCK);
	struct pollfd pfd = {.fd = cl, .events = POLLOUT};
	for (int i = 0; i < 5000 && poll(&pfd, 1, 0) == 0; i++)
		nap();
	len = sizeof v;
	CHECK(getsockopt(cl, SOL_SOCKET, SO_ERROR, &v, &len) == 0 && v == 0);
	CHECK(connect(cl, (struct sockaddr *)&a, sizeof a) == 0); /* reports the completed connect once */
	CHECK(FAILS(connect(cl, (struct sockaddr *)&a, sizeof a), EISCONN));
	len = sizeof b;
	CHECK(getpeername(cl, (struct sockaddr *)&b, &len) == 0 && b.sin_port == a.sin_port);
	CHECK(setsockopt(cl, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) == 0);
	len = sizeof v;
	CHECK(getsockopt(cl, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0 && v == 1);

	CHECK(send(cl, "echo me", 7, 0) == 7);
	ssize_t n = recv_retry(conn, buf, sizeof buf);
	CHECK(n == 7 && memcmp(buf, "echo me", 7) == 0);
	CHECK(write(conn, buf, n) == n);
	CHECK(recv_retry(cl, buf, sizeof buf) == 7);
	CHECK(FAILS(recv(cl, buf, sizeof buf, 0), EAGAIN));

	/* Blocking calls that need not wait. */
	int fl = fcntl(cl, F_GETFL);
	CHECK(fcntl(cl, F_SETFL, fl & ~O_NONBLOCK) == 0);
	CHECK(send(conn, "xyz", 3, 0) == 3);
	for (int i = 0; i < 5000; i++) {
		int q = 0;
		ioctl(cl, FIONREAD, &q);
		if (q == 3)
			break;
		nap();
	}
	CHECK(read(cl, buf, sizeof buf) == 3);
	CHECK(shutdown(conn, SHUT_WR) == 0);
	CHECK(recv_retry(cl, buf, sizeof buf) == 0);
	close(conn);
	close(cl);
	close(srv);

	cl = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	r = connect(cl, (struct sockaddr *)&a, sizeof a);
	CHECK(r == -1 && (errno == ECONNREFUSED || errno == EINPROGRESS));
	if (errno == EINPROGRESS) {
		pfd.fd = cl;
		for (int i = 0; i < 5000 && poll(&pfd, 1, 0) == 0; i++)
			nap();
		len = sizeof v;
		CHECK(getsockopt(cl, SOL_SOCKET, SO_ERROR, &v, &len) == 0 && v == ECONNREFUSED);
	} else {
		CHECK(1);
	}
	close(cl);
}

static void udp(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)}, b;
	socklen_t len = sizeof a;
	char buf[64];
	int s1 = socket(AF_INET, SOCK_DGRAM, 0), s2 = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	CHECK(bind(s1, (struct sockaddr *)&a, sizeof a) == 0);
	CHECK(getsockname(s1, (struct sockaddr *)&a, &len) == 0);
	CHECK(sendto(s2, "udp!", 4, 0, (struct sockaddr *)&a, sizeof a) == 4);
	len = sizeof b;
	CHECK(recv_retry(s1, buf, 2) == 2);
	CHECK(sendto(s2, "again", 5, 0, (struct sockaddr *)&a, sizeof a) == 5);
	for (int i = 0; i < 5000; i++) {
		int q = 0;
		ioctl(s1, FIONREAD, &q);
		if (q)
			break;
		nap();
	}
	CHECK(recvfrom(s1, buf, sizeof buf, 0, (struct sockaddr *)&b, &len) == 5 && b.sin_family == AF_INET);
	CHECK(connect(s2, (struct sockaddr *)&b, sizeof b) == 0 || 1);
	struct mmsghdr mm[2];
	struct iovec iov[2] = {{"m1", 2}, {"m22", 3}};
	memset(mm, 0, sizeof mm);
	mm[0].msg_hdr.msg_name = &a;
	mm[0].msg_hdr.msg_namelen = sizeof a;
	mm[0].msg_hdr.msg_iov = &iov[0];
	mm[0].msg_hdr.msg_iovlen = 1;
	mm[1] = mm[0];
	mm[1].msg_hdr.msg_iov = &iov[1];
	CHECK(sendmmsg(s2, mm, 2, 0) == 2 && mm[0].msg_len == 2 && mm[1].msg_len == 3);
	char r1[8], r2[8];
	struct iovec riov[2] = {{r1, 8}, {r2, 8}};
	memset(mm, 0, sizeof mm);
	mm[0].msg_hdr.msg_iov = &riov[0];
	mm[0].msg_hdr.msg_iovlen = 1;
	mm[1].msg_hdr.msg_iov = &riov[1];
	mm[1].msg_hdr.msg_iovlen = 1;
	int got = 0;
	for (int i = 0; i < 5000 && got < 2; i++) {
		int k = recvmmsg(s1, mm + got, 2 - got, MSG_DONTWAIT, NULL);
		if (k > 0)
			got += k;
		else
			nap();
	}
	CHECK(got == 2 && mm[got - 1].msg_len == 3);
	CHECK(FAILS(recv(s2, buf, sizeof buf, MSG_DONTWAIT), EAGAIN));
	int v = 1;
	CHECK(setsockopt(s1, SOL_SOCKET, SO_BROADCAST, &v, sizeof v) == 0);
	v = 7;
	CHECK(setsockopt(s1, IPPROTO_IP, IP_TTL, &v, sizeof v) == 0);
	len = sizeof v;
	CHECK(getsockopt(s1, IPPROTO_IP, IP_TTL, &v, &len) == 0 && v == 7);
	struct timeval tv = {0, 200000};
	CHECK(setsockopt(s1, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
	len = sizeof tv;
	CHECK(getsockopt(s1, SOL_SOCKET, SO_RCVTIMEO, &tv, &len) == 0 && tv.tv_usec == 200000);
	close(s1);
	close(s2);
}

static void inet6(void)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (fd < 0) {
		CHECK(errno == EAFNOSUPPORT);
		return;
	}
	int v = 1;
	CHECK(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof v) == 0);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0) {
		CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0 && len == sizeof a && a.sin6_port);
		CHECK(sendto(fd, "6", 1, 0, (struct sockaddr *)&a, sizeof a) == 1);
		char c;
		CHECK(recv_retry(fd, &c, 1) == 1 && c == '6');
	} else {
		CHECK(errno == EADDRNOTAVAIL);
	}
	close(fd);
}

int main(void)
{
	selftest_start("sock_inet");
	tcp();
	udp();
	inet6();
	return selftest_end();
}
