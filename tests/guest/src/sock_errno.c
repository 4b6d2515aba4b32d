/* Socket calls' errors in Linux's order of checks, in one task. */
#define _GNU_SOURCE
#include "selftest.h"
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static void *volatile bad = (void *)8;

#define FAILS(call, err) (errno = 0, (call) == -1 && errno == (err))

int main(void)
{
	selftest_start("sock_errno");
	int fd, sv[2];
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	socklen_t len;
	int v;

	CHECK(FAILS(socket(AF_INET, SOCK_STREAM | 0x10000000, 0), EINVAL));
	CHECK(FAILS(socket(9999, SOCK_STREAM, 0), EAFNOSUPPORT));
	CHECK(FAILS(socket(AF_INET, 11, 0), EINVAL));
	CHECK(FAILS(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT));
	CHECK(FAILS(socket(AF_UNIX, SOCK_STREAM, 5), EPROTONOSUPPORT));
	CHECK(FAILS(socketpair(AF_INET, SOCK_STREAM, 0, sv), EOPNOTSUPP));
	CHECK(FAILS(socketpair(AF_UNIX, SOCK_STREAM | 0x10000000, 0, sv), EINVAL));
	CHECK(FAILS(socketpair(AF_UNIX, SOCK_STREAM, 0, (int *)bad), EFAULT));
	CHECK(FAILS(bind(99, (struct sockaddr *)&sin, sizeof sin), EBADF));
	CHECK(FAILS(bind(0, (struct sockaddr *)&sin, sizeof sin), ENOTSOCK));
	CHECK(FAILS(listen(0, 1), ENOTSOCK));
	CHECK(FAILS(accept(0, NULL, NULL), ENOTSOCK));
	CHECK(FAILS(syscall(SYS_accept4, 0, NULL, NULL, 0x10000000), EINVAL)); /* musl retries with accept() */
	CHECK(FAILS(shutdown(0, SHUT_RD), ENOTSOCK));

	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(fd >= 0);
	CHECK(FAILS(bind(fd, (struct sockaddr *)&sin, 129), EINVAL));
	CHECK(FAILS(bind(fd, (struct sockaddr *)&sin, -1), EINVAL));
	CHECK(FAILS(bind(fd, (struct sockaddr *)bad, 16), EFAULT));
	CHECK(FAILS(bind(fd, (struct sockaddr *)&sin, 8), EINVAL));
	CHECK(FAILS(connect(fd, (struct sockaddr *)&sin, 8), EINVAL));
	CHECK(FAILS(accept(fd, NULL, NULL), EINVAL));
	CHECK(FAILS(shutdown(fd, SHUT_RD), ENOTCONN));
	CHECK(FAILS(shutdown(fd, 7), EINVAL));
	len = sizeof sin;
	CHECK(FAILS(getpeername(fd, (struct sockaddr *)&sin, &len), ENOTCONN));
	CHECK(FAILS(send(fd, "x", 1, MSG_NOSIGNAL), EPIPE));
	CHECK(recv(fd, &v, 4, MSG_DONTWAIT) == 0);
	len = sizeof v;
	CHECK(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) == 0 && v == SOCK_STREAM && len == 4);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) == 0 && v == AF_INET);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &len) == 0 && v == IPPROTO_TCP);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v == 0);
	v = 4096;
	CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v) == 0);
	len = sizeof v;
	CHECK(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len) == 0 && v == 8192);
	v = 1;
	CHECK(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) == 0);
	CHECK(FAILS(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, 2), EINVAL));
	CHECK(FAILS(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, bad, 4), EFAULT));
	CHECK(FAILS(setsockopt(fd, SOL_SOCKET, 9999, &v, 4), ENOPROTOOPT));
	CHECK(FAILS(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, -1), EINVAL));
	CHECK(FAILS(setsockopt(fd, 9999, 1, &v, 4), EOPNOTSUPP) || errno == ENOPROTOOPT);
	len = -1;
	CHECK(FAILS(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len), EINVAL));
	CHECK(FAILS(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, (socklen_t *)bad), EFAULT));
	struct stat st;
	CHECK(fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode));
	char link[64], want[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, want, sizeof want - 1);
	CHECK(n > 8 && memcmp(want, "socket:[", 8) == 0);
	CHECK(FAILS(lseek(fd, 0, SEEK_SET), ESPIPE));
	close(fd);

	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(FAILS(bind(fd, (struct sockaddr *)&sun, 1), EINVAL));
	sun.sun_family = AF_INET;
	CHECK(FAILS(bind(fd, (struct sockaddr *)&sun, sizeof sun), EINVAL));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, "/nonexistent-dir/sock");
	CHECK(FAILS(bind(fd, (struct sockaddr *)&sun, sizeof sun), ENOENT));
	CHECK(FAILS(connect(fd, (struct sockaddr *)&sun, sizeof sun), ENOENT));
	strcpy(sun.sun_path, "/");
	CHECK(FAILS(connect(fd, (struct sockaddr *)&sun, sizeof sun), ECONNREFUSED));
	CHECK(FAILS(bind(fd, (struct sockaddr *)&sun, sizeof sun), EADDRINUSE));
	CHECK(FAILS(sendto(fd, "x", 1, 0, NULL, 0), ENOTCONN));
	CHECK(FAILS(listen(fd, 1), EINVAL));
	close(fd);
	return selftest_end();
}
