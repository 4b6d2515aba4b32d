/* fork, exit and wait as Linux does them: trees of processes and their exit statuses,
 * children killed by signals (SIGKILL, SIGTERM, a segfault and its core bit), wait4 with
 * WNOHANG, pid -1 / 0 / -pgid, __WCLONE and __WALL, ECHILD; waitid with P_ALL, P_PID,
 * P_PGID, WNOWAIT and the siginfo it fills; a zombie in /proc until it is reaped; an
 * orphan reparented; SIGCHLD ignored (children reaped at once, wait gives ECHILD).
 *
 * `proc_wait exit N` just exits with N (a child execs it). Children report to the parent
 * through pipes, never through timing, so the output does not depend on the schedule. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "selftest.h"

#ifndef __WALL
#define __WALL 0x40000000
#define __WCLONE 0x80000000
#endif

static const char *self;

static void msleep(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* A child that waits until the parent writes to (or closes) its pipe, then exits with `code`. */
static pid_t held_child(int code, int *release)
{
	int p[2];
	if (pipe(p) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(p[1]);
		while (read(p[0], &c, 1) < 0)
			;
		_exit(code);
	}
	close(p[0]);
	*release = p[1];
	return pid;
}

static void exit_statuses(void)
{
	int codes[] = {0, 1, 7, 255, 256 + 3};
	pid_t pids[5];
	for (int i = 0; i < 5; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			_exit(codes[i]);
	}
	for (int i = 4; i >= 0; i--) {
		int st = -1;
		pid_t r = waitpid(pids[i], &st, 0);
		printf("child %d: waitpid returns its pid %d, exited %d, status %d\n", i, r == pids[i], WIFEXITED(st),
		       WEXITSTATUS(st));
	}
	CHECK(wait(NULL) == -1 && errno == ECHILD);
}

static void tree(void)
{
	/* child -> grandchild -> great-grandchild; each exits with its child's status + 1 */
	pid_t pid = fork();
	if (pid == 0) {
		for (int depth = 1; depth < 3; depth++) {
			pid_t c = fork();
			if (c != 0) {
				int st;
				if (waitpid(c, &st, 0) != c || !WIFEXITED(st))
					_exit(100);
				_exit(WEXITSTATUS(st) + 1);
			}
		}
		_exit(10);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 12);
}

static void exec_child(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		char *argv[] = {(char *)self, "exit", "42", NULL};
		execv(self, argv);
		_exit(99);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 42);
}

static void killed(void)
{
	int release;
	int sigs[] = {SIGKILL, SIGTERM, SIGUSR1, SIGQUIT};
	for (int i = 0; i < 4; i++) {
		pid_t pid = held_child(0, &release);
		CHECK(kill(pid, sigs[i]) == 0);
		int st;
		CHECK(waitpid(pid, &st, 0) == pid);
		printf("killed by %d: signaled %d termsig %d exited %d\n", sigs[i], WIFSIGNALED(st), WTERMSIG(st),
		       WIFEXITED(st));
		close(release);
	}
	pid_t pid = fork();
	if (pid == 0) {
		*(volatile int *)0 = 1;
		_exit(0);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	/* The core bit follows RLIMIT_CORE and core_pattern: the native run is the oracle. */
	printf("segfault: signaled %d termsig %d core %d\n", WIFSIGNALED(st), WTERMSIG(st), WCOREDUMP(st) ? 1 : 0);
	pid = fork();
	if (pid == 0) {
		struct rlimit rl = {0, 0};
		setrlimit(RLIMIT_CORE, &rl);
		abort();
	}
	CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}

static void nohang(void)
{
	int release;
	pid_t pid = held_child(5, &release);
	int st = 12345;
	CHECK(waitpid(pid, &st, WNOHANG) == 0 && st == 12345);
	CHECK(waitpid(-1, &st, WNOHANG) == 0);
	close(release);
	CHECK(waitpid(pid, &st, 0) == pid && WEXITSTATUS(st) == 5);
	CHECK(waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD);
	CHECK(waitpid(pid, &st, 0) == -1 && errno == ECHILD);
	CHECK(waitpid(getpid(), &st, 0) == -1 && errno == ECHILD);
	CHECK(waitpid(-1, &st, 0x100) == -1 && errno == EINVAL);
}

static void by_group(void)
{
	int r1, r2;
	pid_t a = held_child(1, &r1);
	pid_t b = held_child(2, &r2);
	CHECK(setpgid(a, a) == 0);
	CHECK(getpgid(a) == a && getpgid(b) == getpgrp());
	close(r1);
	close(r2);
	int st;
	/* -pgid: only a; 0: only b (our group); -1: anyone */
	CHECK(waitpid(-a, &st, 0) == a && WEXITSTATUS(st) == 1);
	CHECK(waitpid(-a, &st, 0) == -1 && errno == ECHILD);
	CHECK(waitpid(0, &st, 0) == b && WEXITSTATUS(st) == 2);
	pid_t c = held_child(3, &r1);
	CHECK(setpgid(c, c) == 0);
	CHECK(waitpid(0, &st, WNOHANG) == -1 && errno == ECHILD);
	close(r1);
	CHECK(waitpid(-1, &st, 0) == c && WEXITSTATUS(st) == 3);
	CHECK(waitpid(-2147483647 - 1, &st, 0) == -1 && errno == ESRCH);
}

static void clone_children(void)
{
	/* A child whose exit signal is not SIGCHLD is a "clone" child: only __WCLONE or __WALL see it. */
	for (int i = 0; i < 3; i++) {
		pid_t pid = syscall(SYS_clone, (long)(i == 2 ? SIGURG : 0), 0L, 0L, 0L, 0L);
		if (pid == 0)
			_exit(20 + i);
		int st = 0;
		errno = 0;
		pid_t plain = waitpid(pid, &st, WNOHANG);
		printf("clone child %d: plain wait %d errno %d\n", i, plain == pid, plain < 0 ? errno : 0);
		if (i == 0) {
			CHECK(waitpid(pid, &st, __WCLONE) == pid && WEXITSTATUS(st) == 20);
		} else {
			CHECK(waitpid(pid, &st, __WALL) == pid && WEXITSTATUS(st) == 20 + i);
		}
	}
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	int st;
	CHECK(waitpid(pid, &st, __WCLONE) == -1 && errno == ECHILD);
	CHECK(waitpid(pid, &st, __WALL) == pid);
}

static void show_info(const char *what, int r, siginfo_t *si)
{
	printf("%s: ret %d signo %d code %d pid-ok %d uid-ok %d status %d\n", what, r, si->si_signo, si->si_code,
	       si->si_pid != 0, si->si_uid == getuid(), si->si_status);
}

static void with_waitid(void)
{
	int release;
	siginfo_t si;
	pid_t pid = held_child(9, &release);
	memset(&si, 0xff, sizeof si);
	int r = waitid(P_PID, pid, &si, WEXITED | WNOHANG);
	printf("nohang: ret %d pid %d signo %d\n", r, si.si_pid, si.si_signo);
	close(release);
	memset(&si, 0, sizeof si);
	r = waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
	show_info("P_PID WNOWAIT", r, &si);
	CHECK(si.si_pid == pid);
	memset(&si, 0, sizeof si);
	r = waitid(P_ALL, 0, &si, WEXITED);
	show_info("P_ALL", r, &si);
	CHECK(si.si_pid == pid);
	CHECK(waitid(P_ALL, 0, &si, WEXITED) == -1 && errno == ECHILD);

	pid = held_child(0, &release);
	CHECK(setpgid(pid, pid) == 0);
	kill(pid, SIGTERM);
	memset(&si, 0, sizeof si);
	r = waitid(P_PGID, pid, &si, WEXITED);
	show_info("P_PGID killed", r, &si);
	close(release);

	CHECK(waitid(P_ALL, 0, &si, 0) == -1 && errno == EINVAL);
	CHECK(waitid(P_PID, 0, &si, WEXITED) == -1 && errno == EINVAL);
	CHECK(waitid(7, 0, &si, WEXITED) == -1 && errno == EINVAL);
	CHECK(waitid(P_PID, 1, &si, WEXITED) == -1 && errno == ECHILD);
}

static char proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return '-';
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

static void zombie(void)
{
	int release;
	pid_t pid = held_child(4, &release);
	printf("running child state %c\n", proc_state(pid) == 'Z' ? 'Z' : 'A');
	close(release);
	siginfo_t si;
	CHECK(waitid(P_PID, pid, &si, WEXITED | WNOWAIT) == 0);
	printf("exited child state %c\n", proc_state(pid));
	CHECK(kill(pid, 0) == 0);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WEXITSTATUS(st) == 4);
	printf("reaped child state %c\n", proc_state(pid));
	CHECK(kill(pid, 0) == -1 && errno == ESRCH);
}

static void orphan(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	pid_t child = fork();
	if (child == 0) {
		pid_t me = getpid();
		if (fork() == 0) {
			/* the grandchild: wait until our parent is gone, then tell who adopted us */
			int ppid = getppid();
			for (int i = 0; i < 20000 && ppid == me; i++) {
				msleep(1);
				ppid = getppid();
			}
			int report[2] = {ppid != me, ppid == 1};
			write(p[1], report, sizeof report);
			_exit(0);
		}
		_exit(0);
	}
	close(p[1]);
	int st;
	CHECK(waitpid(child, &st, 0) == child);
	int report[2] = {0, 0};
	CHECK(read(p[0], report, sizeof report) == sizeof report);
	CHECK(report[0]);
	printf("orphan adopted by pid 1: %s\n", report[1] ? "yes" : "no");
	close(p[0]);
	CHECK(waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD);
}

static void ignored_sigchld(void)
{
	struct sigaction sa = {.sa_handler = SIG_IGN}, old;
	CHECK(sigaction(SIGCHLD, &sa, &old) == 0);
	int release;
	pid_t pid = held_child(3, &release);
	close(release);
	int st;
	/* wait blocks until the child has exited, then there is nothing to report */
	CHECK(waitpid(pid, &st, 0) == -1 && errno == ECHILD);
	CHECK(kill(pid, 0) == -1 && errno == ESRCH);
	sa.sa_handler = SIG_DFL;
	sa.sa_flags = SA_NOCLDWAIT;
	CHECK(sigaction(SIGCHLD, &sa, NULL) == 0);
	pid = held_child(3, &release);
	close(release);
	CHECK(wait(&st) == -1 && errno == ECHILD);
	CHECK(sigaction(SIGCHLD, &old, NULL) == 0);
	pid = held_child(6, &release);
	close(release);
	CHECK(wait(&st) == pid && WEXITSTATUS(st) == 6);
}

static void ids(void)
{
	pid_t parent = getpid(), pgrp = getpgrp(), sid = getsid(0);
	int p[2];
	CHECK(pipe(p) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		int ok = getppid() == parent && getpgrp() == pgrp && getsid(0) == sid && gettid() == getpid() &&
			 getpgid(0) == pgrp && getpgid(parent) == pgrp && getsid(parent) == sid;
		ok = ok << 1 | (setsid() == getpid());
		ok = ok << 1 | (getsid(0) == getpid() && getpgrp() == getpid());
		ok = ok << 1 | (setsid() == -1 && errno == EPERM);
		ok = ok << 1 | (setpgid(0, 0) == -1 && errno == EPERM); /* a session leader */
		ok = ok << 1 | (setpgid(0, pgrp) == -1 && errno == EPERM);
		write(p[1], &ok, sizeof ok);
		_exit(0);
	}
	int ok = 0;
	CHECK(read(p[0], &ok, sizeof ok) == sizeof ok);
	printf("child ids: %x\n", ok);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);

	int release;
	pid = held_child(0, &release);
	CHECK(setpgid(pid, 0) == 0 && getpgid(pid) == pid);
	CHECK(setpgid(pid, pgrp) == 0 && getpgid(pid) == pgrp);
	CHECK(setpgid(pid, -1) == -1 && errno == EINVAL);
	CHECK(setpgid(pid, 999999) == -1 && errno == EPERM);
	CHECK(setpgid(999999, 0) == -1 && errno == ESRCH);
	CHECK(getpgid(999999) == -1 && errno == ESRCH);
	CHECK(getsid(999999) == -1 && errno == ESRCH);
	close(release);
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(setpgid(pid, 0) == -1 && errno == ESRCH);

	/* after the child execs, its parent may no longer move it */
	CHECK(pipe(p) == 0);
	pid = fork();
	if (pid == 0) {
		close(p[1]);
		dup2(p[0], 0);
		char *argv[] = {(char *)self, "wait-stdin", NULL};
		execv(self, argv);
		_exit(99);
	}
	close(p[0]);
	char c;
	int q[2];
	(void)q;
	/* wait-stdin writes nothing: poll until the exec happened (its comm changes) */
	for (int i = 0; i < 20000; i++) {
		char path[64], buf[64] = {0};
		snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
		int fd = open(path, O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
		if (fd >= 0)
			close(fd);
		if (n > 0 && memmem(buf, n, "wait-stdin", 10))
			break;
		msleep(1);
	}
	CHECK(setpgid(pid, pid) == -1 && errno == EACCES);
	(void)c;
	close(p[1]);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(int argc, char **argv)
{
	self = argv[0];
	if (argc == 3 && strcmp(argv[1], "exit") == 0)
		return atoi(argv[2]);
	if (argc == 2 && strcmp(argv[1], "wait-stdin") == 0) {
		char c;
		return read(0, &c, 1) == 0 ? 0 : 1;
	}
	selftest_start("proc_wait");
	exit_statuses();
	tree();
	exec_child();
	killed();
	nohang();
	by_group();
	clone_children();
	with_waitid();
	zombie();
	orphan();
	ignored_sigchld();
	ids();
	return selftest_end();
}
