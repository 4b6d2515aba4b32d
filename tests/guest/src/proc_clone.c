/* vfork, clone and clone3 as Linux does them: the vfork parent sleeps until its child
 * exits or execs; a thread made by raw clone with CLONE_VM|CLONE_FS|CLONE_FILES|
 * CLONE_SIGHAND|CLONE_THREAD|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_SETTID|
 * CLONE_CHILD_CLEARTID (its TLS, tids, shared fds, umask, and the futex wake at its
 * exit); clone3 and its argument checks; /proc/PID/task listing threads; execve from a
 * thread of a multithreaded process (the others die, the pid stays the process's).
 *
 * `proc_clone after-exec PID` is what the exec from a thread runs. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "selftest.h"

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef CLONE_CLEAR_SIGHAND
#define CLONE_CLEAR_SIGHAND 0x100000000ULL
#endif

struct clone_args_v0 { /* <linux/sched.h>: musl installs no kernel headers */
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static const char *self;

static void msleep(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* clone(flags, stack, ptid, ctid, tls) and, in the child, fn(arg) then exit(ret):
 * the child must not return into C frames that belong to the parent's stack. */
long raw_clone(unsigned long flags, void *stack, int *ptid, int *ctid, unsigned long tls, int (*fn)(void *),
	       void *arg);
__asm__(".text\n"
	".globl raw_clone\n"
	".type raw_clone,@function\n"
	"raw_clone:\n"
	"	mov 8(%rsp), %rax\n"
	"	and $-16, %rsi\n"
	"	sub $16, %rsi\n"
	"	mov %rax, 8(%rsi)\n"
	"	mov %r9, (%rsi)\n"
	"	mov %rcx, %r10\n"
	"	mov $56, %eax\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 1f\n"
	"	xor %ebp, %ebp\n"
	"	pop %rax\n"
	"	pop %rdi\n"
	"	call *%rax\n"
	"	mov %eax, %edi\n"
	"	mov $60, %eax\n"
	"	syscall\n"
	"	hlt\n"
	"1:	ret\n");

static long sys3(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return ret;
}

static void vfork_suspends(void)
{
	volatile int shared = 0;
	pid_t pid = vfork();
	if (pid == 0) {
		struct timespec ts = {0, 20000000};
		syscall(SYS_nanosleep, &ts, NULL); /* the parent must still be waiting after this */
		shared = 42;
		_exit(3);
	}
	CHECK(shared == 42);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 3);

	shared = 0;
	pid = vfork();
	if (pid == 0) {
		shared = 7;
		char *argv[] = {(char *)self, "exit", "5", NULL};
		execv(self, argv);
		_exit(99);
	}
	CHECK(shared == 7);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 5);

	pid = vfork();
	if (pid == 0) {
		char *argv[] = {"/nonexistent/program", NULL};
		execv(argv[0], argv);
		shared = errno;
		_exit(127);
	}
	CHECK(shared == ENOENT);
	CHECK(waitpid(pid, &st, 0) == pid && WEXITSTATUS(st) == 127);
}

/* -- a thread by raw clone ---------------------------------------------------------- */

static struct {
	long pid, tid, ppid;
	int ctid_seen;
	uintptr_t tls_self;
	int dup_fd;
} seen;
static int ptid, ctid;
static uintptr_t tls_block[64];

static int thread_fn(void *arg)
{
	(void)arg;
	seen.pid = sys3(SYS_getpid, 0, 0, 0);
	seen.tid = sys3(SYS_gettid, 0, 0, 0);
	seen.ppid = sys3(SYS_getppid, 0, 0, 0);
	seen.ctid_seen = *(volatile int *)&ctid;
	uintptr_t v;
	__asm__ volatile("mov %%fs:0, %0" : "=r"(v));
	seen.tls_self = v;
	seen.dup_fd = sys3(SYS_dup, 1, 0, 0);  /* CLONE_FILES: the parent sees it */
	sys3(SYS_umask, 027, 0, 0);            /* CLONE_FS: the parent's umask too */
	return 0;
}

static void raw_thread(void)
{
	size_t size = 1 << 16;
	char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tls_block[0] = (uintptr_t)tls_block; /* x86-64 TLS: %fs:0 points at itself */
	unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
			      CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
	mode_t old = umask(022);
	ctid = -1; /* until the child stores its tid (CLONE_CHILD_SETTID, as it starts) */
	long tid = raw_clone(flags, stack + size, &ptid, &ctid, (unsigned long)tls_block, thread_fn, NULL);
	CHECK(tid > 0);
	CHECK(ptid == tid); /* CLONE_PARENT_SETTID, before clone returned */
	/* CLONE_CHILD_CLEARTID: the tid word becomes 0 and a futex wake follows the exit */
	int v;
	while ((v = *(volatile int *)&ctid) != 0)
		syscall(SYS_futex, &ctid, 0 /* FUTEX_WAIT */, v, NULL, NULL, 0);
	CHECK(seen.pid == getpid());
	CHECK(seen.tid == tid && seen.tid != seen.pid);
	CHECK(seen.ppid == getppid());
	CHECK(seen.ctid_seen == tid); /* CLONE_CHILD_SETTID */
	CHECK(seen.tls_self == (uintptr_t)tls_block);
	CHECK(seen.dup_fd > 2 && fcntl(seen.dup_fd, F_GETFD) == 0 && close(seen.dup_fd) == 0);
	CHECK(umask(old) == 027);
	CHECK(waitpid(-1, NULL, __WALL | WNOHANG) == -1 && errno == ECHILD); /* a thread is no child */
	munmap(stack, size);
}

static int vm_child_fn(void *arg)
{
	*(volatile int *)arg = 77;
	return 4;
}

static void clone_flags(void)
{
	/* CLONE_VM without CLONE_THREAD: a child process sharing our memory */
	size_t size = 1 << 16;
	char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	static int shared;
	long pid = raw_clone(CLONE_VM | SIGCHLD, stack + size, NULL, NULL, 0, vm_child_fn, &shared);
	int st;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WEXITSTATUS(st) == 4);
	CHECK(shared == 77);
	shared = 0;
	pid = raw_clone(CLONE_VM | CLONE_VFORK | SIGCHLD, stack + size, NULL, NULL, 0, vm_child_fn, &shared);
	CHECK(shared == 77); /* CLONE_VFORK: the child has run by now */
	CHECK(waitpid(pid, &st, 0) == pid && WEXITSTATUS(st) == 4);
	munmap(stack, size);

	/* copy_process's checks */
	CHECK(syscall(SYS_clone, CLONE_THREAD | CLONE_VM, 0, 0, 0, 0) == -1 && errno == EINVAL);
	CHECK(syscall(SYS_clone, CLONE_SIGHAND, 0, 0, 0, 0) == -1 && errno == EINVAL);
	CHECK(syscall(SYS_clone, CLONE_FS | CLONE_NEWNS, 0, 0, 0, 0) == -1 && errno == EINVAL);
}

static void with_clone3(void)
{
	struct clone_args_v0 a = {0};
	int parent_tid = 0;
	a.flags = CLONE_PARENT_SETTID;
	a.parent_tid = (uintptr_t)&parent_tid;
	a.exit_signal = SIGCHLD;
	long pid = syscall(SYS_clone3, &a, sizeof a);
	if (pid == 0)
		_exit(getppid() > 0 ? 9 : 1);
	int st;
	CHECK(pid > 0 && parent_tid == pid);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 9);

	/* a bigger struct with zeros past what the kernel knows is fine, non-zero is E2BIG */
	char big[128] = {0};
	memcpy(big, &a, sizeof a);
	((struct clone_args_v0 *)big)->flags = 0;
	pid = syscall(SYS_clone3, big, sizeof big);
	if (pid == 0)
		_exit(0);
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	big[120] = 1;
	CHECK(syscall(SYS_clone3, big, sizeof big) == -1 && errno == E2BIG);
	CHECK(syscall(SYS_clone3, &a, 63) == -1 && errno == EINVAL);
	CHECK(syscall(SYS_clone3, &a, 4097) == -1 && errno == E2BIG);
	CHECK(syscall(SYS_clone3, NULL, sizeof a) == -1 && errno == EFAULT);
	a.flags = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
	CHECK(syscall(SYS_clone3, &a, sizeof a) == -1 && errno == EINVAL); /* exit_signal with a thread */
	a.flags = 0;
	a.exit_signal = 65;
	CHECK(syscall(SYS_clone3, &a, sizeof a) == -1 && errno == EINVAL);
	a.exit_signal = SIGCHLD;
	a.stack_size = 4096; /* a size without a stack */
	CHECK(syscall(SYS_clone3, &a, sizeof a) == -1 && errno == EINVAL);
	a.stack_size = 0;
	a.flags = CLONE_SIGHAND | CLONE_CLEAR_SIGHAND | CLONE_VM;
	CHECK(syscall(SYS_clone3, &a, sizeof a) == -1 && errno == EINVAL);
}

/* -- threads in /proc, and exec from a thread ----------------------------------------- */

static int go[2];

static void *idle_thread(void *arg)
{
	*(pid_t *)arg = gettid();
	char c;
	read(go[0], &c, 1);
	return NULL;
}

static int count_tasks(pid_t pid, pid_t *tids, int ntids, int *found)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	*found = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		n++;
		for (int i = 0; i < ntids; i++)
			if (atoi(e->d_name) == tids[i])
				(*found)++;
	}
	closedir(d);
	return n;
}

static void proc_tasks(void)
{
	pthread_t th[3];
	pid_t tids[4] = {getpid(), 0, 0, 0};
	CHECK(pipe(go) == 0);
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, idle_thread, &tids[i + 1]);
	while (!*(volatile pid_t *)&tids[1] || !*(volatile pid_t *)&tids[2] || !*(volatile pid_t *)&tids[3])
		msleep(1);
	int found;
	CHECK(count_tasks(getpid(), tids, 4, &found) == 4 && found == 4);
	char path[64];
	struct stat sb;
	snprintf(path, sizeof path, "/proc/%d/task/%d/stat", getpid(), tids[2]);
	CHECK(stat(path, &sb) == 0);
	snprintf(path, sizeof path, "/proc/%d", tids[2]); /* a thread's tid is visible as /proc/TID too */
	CHECK(stat(path, &sb) == 0);
	for (int i = 0; i < 3; i++)
		write(go[1], "g", 1);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	CHECK(count_tasks(getpid(), tids, 4, &found) == 1 && found == 1);
	close(go[0]);
	close(go[1]);
}

static void *exec_thread(void *arg)
{
	char pid[16];
	snprintf(pid, sizeof pid, "%d", getpid());
	char *argv[] = {(char *)self, "after-exec", pid, NULL};
	execv(self, argv);
	*(int *)arg = errno;
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void exec_from_thread(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		pthread_t a, b;
		int err = 0;
		pthread_create(&a, NULL, sleeper, NULL);
		pthread_create(&b, NULL, exec_thread, &err);
		pthread_join(b, NULL);
		_exit(100 + err);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	printf("exec from a thread: exited %d status %d\n", WIFEXITED(st), WEXITSTATUS(st));
}

static int after_exec(pid_t expected)
{
	pid_t tids[1] = {getpid()};
	int found;
	int n = count_tasks(getpid(), tids, 1, &found);
	printf("after exec from a thread: same pid %d, tid is pid %d, threads %d\n", getpid() == expected,
	       gettid() == getpid(), n);
	return getpid() == expected && n == 1 ? 0 : 1;
}

int main(int argc, char **argv)
{
	self = argv[0];
	if (argc == 3 && strcmp(argv[1], "exit") == 0)
		return atoi(argv[2]);
	if (argc == 3 && strcmp(argv[1], "after-exec") == 0)
		return after_exec(atoi(argv[2]));
	selftest_start("proc_clone");
	vfork_suspends();
	raw_thread();
	clone_flags();
	with_clone3();
	proc_tasks();
	exec_from_thread();
	return selftest_end();
}
