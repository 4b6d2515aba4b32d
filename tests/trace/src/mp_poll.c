/* poll, ppoll, select, pselect6, epoll, eventfd, timerfd and signalfd on a pipe, with
 * results that do not depend on timing: what is ready is ready before each call. */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
	int p[2];
	char c;
	uint64_t v = 0;

	if (pipe(p) != 0)
		return 1;
	write(p[1], "x", 1);
	struct pollfd pf[3] = {{p[0], POLLIN, 0}, {p[1], POLLOUT | POLLIN, 0}, {-1, POLLIN, 0}};
	printf("poll %d\n", poll(pf, 3, 0));
	struct timespec ts = {5, 0};
	sigset_t none;
	sigemptyset(&none);
	printf("ppoll %d\n", ppoll(pf, 1, &ts, &none));
	read(p[0], &c, 1);
	printf("poll timeout %d\n", poll(pf, 1, 0));

	fd_set rd, wr;
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_SET(p[0], &rd);
	FD_SET(p[1], &wr);
	struct timeval tv = {0, 0};
	printf("select %d\n", select(p[1] + 1, &rd, &wr, NULL, &tv));
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	struct timespec zero = {0, 0};
	printf("pselect6 %d\n", pselect(p[0] + 1, &rd, NULL, NULL, &zero, &none));

	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = 0x100000003ULL};
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	ev.events = EPOLLOUT;
	ev.data.fd = p[1];
	epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev);
	struct epoll_event out[4];
	printf("epoll_wait %d\n", epoll_wait(ep, out, 4, 0));
	write(p[1], "y", 1);
	printf("epoll_pwait %d\n", epoll_pwait(ep, out, 4, -1, &none));
	epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL);

	int efd = eventfd(3, EFD_CLOEXEC | EFD_NONBLOCK);
	read(efd, &v, sizeof v);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	struct itimerspec its = {{0, 0}, {100, 0}}, old;
	timerfd_settime(tfd, 0, &its, &old);
	its.it_value.tv_sec = 0;
	timerfd_settime(tfd, 0, &its, NULL);
	timerfd_gettime(tfd, &old);
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	int sfd = signalfd(-1, &usr1, SFD_NONBLOCK | SFD_CLOEXEC);
	printf("fds %d %d %d %d\n", ep > 2, efd > 2, tfd > 2, sfd > 2);
	return 0;
}
