/* Signal handlers: they run and return, with SA_SIGINFO's fields, SA_RESETHAND,
 * SA_NODEFER, sa_mask, blocked and pending signals, and rt_sigreturn putting back every
 * general register and every XMM register the handler clobbered. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include "selftest.h"

static volatile int hits, depth, maxdepth, nested_blocked, calls;
static volatile int info_signo, info_code, info_pid_ok, uc_ok;

static void on_info(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	hits++;
	info_signo = si->si_signo;
	info_code = si->si_code;
	info_pid_ok = si->si_pid == getpid() && si->si_uid == getuid();
	/* The frame's fpstate pointer is set and the mask saved is the one before the handler. */
	uc_ok = uc->uc_mcontext.fpregs != NULL && !sigismember(&uc->uc_sigmask, sig) && (uc->uc_flags & 1);
	(void)sig;
}

static void on_nested(int sig)
{
	sigset_t now;
	depth++;
	if (depth > maxdepth)
		maxdepth = depth;
	sigprocmask(SIG_BLOCK, NULL, &now);
	nested_blocked = sigismember(&now, SIGUSR2);
	if (depth < 3 && ++calls < 3)
		raise(sig);
	depth--;
}

static void on_plain(int sig) { hits++; (void)sig; }

static void clobber(int sig)
{
	(void)sig;
	__asm__ volatile("pcmpeqb %%xmm0, %%xmm0\n\tmovdqa %%xmm0, %%xmm1\n\tmovdqa %%xmm0, %%xmm7\n\t"
			 "movdqa %%xmm0, %%xmm8\n\tmovdqa %%xmm0, %%xmm15\n\t"
			 "mov $-1, %%rbx\n\tmov $-1, %%r12\n\tmov $-1, %%r15" ::: "xmm0", "xmm1", "xmm7", "xmm8", "xmm15",
			 "rbx", "r12", "r15");
	hits++;
}

uint64_t g_out[16];
uint8_t g_xmm[5][16];
uint64_t g_pid;

static int regs_survive(void)
{
	/* Load known values, send the signal with a raw kill syscall, and check the registers. */
	g_pid = getpid();
	__asm__ volatile(
		"push %%rbp\n\t"
		"mov g_pid(%%rip), %%rdi\n\tmov $10, %%esi\n\t"
		"mov $0x1111111111111111, %%rbx\n\tmov $0x2222222222222222, %%rbp\n\t"
		"mov $0x8888888888888888, %%r8\n\tmov $0x9999999999999999, %%r9\n\t"
		"mov $0x1212121212121212, %%r12\n\tmov $0x1313131313131313, %%r13\n\t"
		"mov $0x1414141414141414, %%r14\n\tmov $0x1515151515151515, %%r15\n\t"
		"mov $0x0101010101010101, %%rax\n\tmovq %%rax, %%xmm0\n\tpinsrq $1, %%rax, %%xmm0\n\t"
		"paddb %%xmm0, %%xmm0\n\tmovdqa %%xmm0, %%xmm1\n\tpaddb %%xmm0, %%xmm1\n\t"
		"movdqa %%xmm1, %%xmm7\n\tpaddb %%xmm0, %%xmm7\n\tmovdqa %%xmm7, %%xmm8\n\tpaddb %%xmm0, %%xmm8\n\t"
		"movdqa %%xmm8, %%xmm15\n\tpaddb %%xmm0, %%xmm15\n\t"
		"mov $62, %%eax\n\tsyscall\n\t"
		"lea g_out(%%rip), %%rcx\n\t"
		"mov %%rbx, 0(%%rcx)\n\tmov %%rbp, 8(%%rcx)\n\tmov %%r8, 16(%%rcx)\n\tmov %%r9, 24(%%rcx)\n\t"
		"mov %%r12, 32(%%rcx)\n\tmov %%r13, 40(%%rcx)\n\tmov %%r14, 48(%%rcx)\n\tmov %%r15, 56(%%rcx)\n\t"
		"mov %%rax, 64(%%rcx)\n\t"
		"lea g_xmm(%%rip), %%rcx\n\t"
		"movdqu %%xmm0, 0(%%rcx)\n\tmovdqu %%xmm1, 16(%%rcx)\n\tmovdqu %%xmm7, 32(%%rcx)\n\t"
		"movdqu %%xmm8, 48(%%rcx)\n\tmovdqu %%xmm15, 64(%%rcx)\n\t"
		"pop %%rbp\n\t"
		: : : "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
		  "xmm0", "xmm1", "xmm7", "xmm8", "xmm15", "memory");
	uint64_t *out = g_out;
	int ok = out[0] == 0x1111111111111111 && out[1] == 0x2222222222222222 && out[2] == 0x8888888888888888 &&
		 out[3] == 0x9999999999999999 && out[4] == 0x1212121212121212 && out[5] == 0x1313131313131313 &&
		 out[6] == 0x1414141414141414 && out[7] == 0x1515151515151515 && out[8] == 0;
	static const uint8_t want[5] = {2, 4, 6, 8, 10};
	for (int r = 0; r < 5; r++)
		for (int i = 0; i < 16; i++)
			ok &= g_xmm[r][i] == want[r];
	return ok;
}

int main(void)
{
	struct sigaction sa = {0};
	sigset_t set, pend;
	selftest_start("sig_handlers");

	sa.sa_sigaction = on_info;
	sa.sa_flags = SA_SIGINFO;
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	CHECK(kill(getpid(), SIGUSR1) == 0);
	CHECK(hits == 1 && info_signo == SIGUSR1 && info_code == SI_USER && info_pid_ok && uc_ok);
	CHECK(raise(SIGUSR1) == 0 && hits == 2 && info_code == SI_TKILL);
	union sigval v = {.sival_int = 42};
	CHECK(sigqueue(getpid(), SIGUSR1, v) == 0 && hits == 3 && info_code == SI_QUEUE);

	/* Blocked: pending until unblocked; rt_sigpending reports it. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	raise(SIGUSR1);
	CHECK(hits == 3);
	CHECK(sigpending(&pend) == 0 && sigismember(&pend, SIGUSR1));
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	CHECK(hits == 4);

	/* SA_RESETHAND: the second one takes the default action (ignored for SIGURG's default... use SIGWINCH). */
	sa.sa_handler = on_plain;
	sa.sa_flags = SA_RESETHAND;
	sigaction(SIGWINCH, &sa, NULL);
	hits = 0;
	raise(SIGWINCH);
	raise(SIGWINCH);
	struct sigaction old;
	sigaction(SIGWINCH, NULL, &old);
	CHECK(hits == 1 && old.sa_handler == SIG_DFL);

	/* Without SA_NODEFER the signal is blocked in its handler; with it, handlers nest. */
	sa.sa_handler = on_nested;
	sa.sa_flags = SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	sigaction(SIGHUP, &sa, NULL);
	raise(SIGHUP);
	CHECK(maxdepth == 3 && nested_blocked);
	sa.sa_flags = 0;
	maxdepth = depth = calls = 0;
	sigaction(SIGHUP, &sa, NULL);
	raise(SIGHUP);
	/* The raise inside is blocked until the handler returns: never nested, ran twice. */
	CHECK(maxdepth == 1 && depth == 0);
	sigprocmask(SIG_BLOCK, NULL, &set);
	CHECK(!sigismember(&set, SIGHUP) && !sigismember(&set, SIGUSR2));  /* mask restored */

	/* rt_sigreturn restores the general and the XMM registers. */
	sa.sa_handler = clobber;
	sa.sa_flags = 0;
	sigaction(SIGUSR1, &sa, NULL);
	hits = 0;
	CHECK(regs_survive() && hits == 1);

	/* SIGKILL and SIGSTOP cannot be caught. */
	CHECK(sigaction(SIGKILL, &sa, NULL) == -1 && errno == EINVAL);
	CHECK(sigaction(SIGSTOP, &sa, NULL) == -1 && errno == EINVAL);
	return selftest_end();
}
