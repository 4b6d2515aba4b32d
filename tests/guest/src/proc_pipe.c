/* Pipes between processes as Linux runs them: a fast writer and a slow reader (every
 * byte arrives, in order), PIPE_BUF writes from two writers never interleave, EOF once
 * the last writer exits, EPIPE and SIGPIPE for a writer without readers (also one
 * blocked on a full pipe when the reader goes), poll and epoll woken by another
 * process's write and by its exit (POLLHUP), a FIFO between two processes. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "selftest.h"

static void msleep(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int wait_status(pid_t pid)
{
	int st = -1;
	waitpid(pid, &st, 0);
	return st;
}

static void slow_reader(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	const int total = 1 << 20;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		static unsigned char buf[100000];
		int sent = 0;
		while (sent < total) {
			int n = total - sent < (int)sizeof buf ? total - sent : (int)sizeof buf;
			for (int i = 0; i < n; i++)
				buf[i] = (unsigned char)((sent + i) * 7);
			if (write(p[1], buf, n) != n) /* a blocking write returns all of it */
				_exit(2);
			sent += n;
		}
		_exit(0);
	}
	close(p[1]);
	unsigned char buf[3000];
	int got = 0, bad = 0, reads = 0;
	ssize_t n;
	while ((n = read(p[0], buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			bad += buf[i] != (unsigned char)((got + i) * 7);
		got += n;
		if (++reads % 64 == 0)
			msleep(1);
	}
	CHECK(n == 0 && got == total && bad == 0);
	CHECK(WEXITSTATUS(wait_status(pid)) == 0);
	close(p[0]);
}

static void atomic_writes(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	const int records = 300;
	pid_t pids[2];
	for (int w = 0; w < 2; w++) {
		pids[w] = fork();
		if (pids[w] == 0) {
			close(p[0]);
			char rec[PIPE_BUF];
			memset(rec, 'A' + w, sizeof rec);
			for (int i = 0; i < records; i++)
				if (write(p[1], rec, sizeof rec) != sizeof rec)
					_exit(2);
			_exit(0);
		}
	}
	close(p[1]);
	static char all[2 * 300 * PIPE_BUF];
	size_t got = 0;
	ssize_t n;
	while ((n = read(p[0], all + got, 1000)) > 0)
		got += n;
	int mixed = 0, count[2] = {0, 0};
	for (size_t r = 0; r < got / PIPE_BUF; r++) {
		char *rec = all + r * PIPE_BUF;
		for (int i = 1; i < PIPE_BUF; i++)
			mixed += rec[i] != rec[0];
		count[rec[0] - 'A']++;
	}
	CHECK(got == sizeof all && mixed == 0 && count[0] == records && count[1] == records);
	for (int w = 0; w < 2; w++)
		CHECK(WEXITSTATUS(wait_status(pids[w])) == 0);
	close(p[0]);
}

static void eof_and_epipe(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		write(p[1], "abc", 3);
		_exit(0);
	}
	close(p[1]);
	char buf[8];
	CHECK(read(p[0], buf, sizeof buf) == 3);
	CHECK(read(p[0], buf, sizeof buf) == 0); /* the child's exit closed the last writer */
	close(p[0]);
	wait_status(pid);

	/* no reader: SIGPIPE kills the writer; ignored, write fails with EPIPE */
	CHECK(pipe(p) == 0);
	close(p[0]);
	pid = fork();
	if (pid == 0) {
		write(p[1], "x", 1);
		_exit(0);
	}
	int st = wait_status(pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE);
	signal(SIGPIPE, SIG_IGN);
	CHECK(write(p[1], "x", 1) == -1 && errno == EPIPE);
	signal(SIGPIPE, SIG_DFL);
	close(p[1]);

	/* a writer blocked on a full pipe gets EPIPE when the reader exits */
	CHECK(pipe(p) == 0);
	int ready[2];
	CHECK(pipe(ready) == 0);
	pid = fork();
	if (pid == 0) { /* the reader: reads a little, then leaves */
		close(p[1]);
		char c;
		read(ready[0], &c, 1);
		_exit(read(p[0], &c, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	close(ready[0]);
	signal(SIGPIPE, SIG_IGN);
	static char big[200000];
	write(ready[1], "go", 1);
	errno = 0;
	ssize_t r = write(p[1], big, sizeof big);
	printf("write to a pipe whose reader left: %s\n", r < 0 ? strerror(errno) : r > 0 ? "partial" : "zero");
	signal(SIGPIPE, SIG_DFL);
	CHECK(WEXITSTATUS(wait_status(pid)) == 0);
	close(p[1]);
	close(ready[1]);
}

static void woken_by_another(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		msleep(20);
		write(p[1], "w", 1);
		msleep(20);
		_exit(0); /* then POLLHUP */
	}
	close(p[1]);
	struct pollfd pfd = {.fd = p[0], .events = POLLIN};
	CHECK(poll(&pfd, 1, -1) == 1 && pfd.revents == POLLIN);
	char c;
	CHECK(read(p[0], &c, 1) == 1 && c == 'w');
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0);
	CHECK(epoll_wait(ep, &out, 1, -1) == 1 && out.events == EPOLLHUP && out.data.u32 == 7);
	CHECK(poll(&pfd, 1, 0) == 1 && pfd.revents == POLLHUP);
	wait_status(pid);
	close(ep);
	close(p[0]);
}

static void fifo(void)
{
	CHECK(mkfifo("fifo", 0600) == 0);
	CHECK(open("fifo", O_WRONLY | O_NONBLOCK) == -1 && errno == ENXIO);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("fifo", O_WRONLY); /* blocks until a reader opens it */
		if (fd < 0)
			_exit(2);
		write(fd, "through the fifo", 16);
		_exit(0);
	}
	int fd = open("fifo", O_RDONLY);
	CHECK(fd >= 0);
	char buf[32];
	size_t got = 0;
	ssize_t n;
	while ((n = read(fd, buf + got, sizeof buf - got)) > 0)
		got += n;
	CHECK(got == 16 && memcmp(buf, "through the fifo", 16) == 0);
	CHECK(WEXITSTATUS(wait_status(pid)) == 0);
	close(fd);
	struct stat sb;
	CHECK(stat("fifo", &sb) == 0 && S_ISFIFO(sb.st_mode));
	unlink("fifo");
}

int main(void)
{
	selftest_start("proc_pipe");
	slow_reader();
	atomic_writes();
	eof_and_epipe();
	woken_by_another();
	fifo();
	return selftest_end();
}
