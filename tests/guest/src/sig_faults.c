#define _GNU_SOURCE
/* Faults reach handlers: SIGSEGV with si_addr and si_code left by siglongjmp, stack
 * overflow caught on a sigaltstack, SIGFPE on division by zero, SIGILL on ud2, SIGTRAP
 * on int3 (handlers that return past the instruction through the ucontext). */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>
#include "selftest.h"

static sigjmp_buf env;
static volatile void *fault_addr;
static volatile int fault_code, fault_signo, on_alt;
static char *alt;

static void on_fault(int sig, siginfo_t *si, void *ucv)
{
	fault_signo = sig;
	fault_code = si->si_code;
	fault_addr = si->si_addr;
	char here;
	on_alt = &here >= alt && &here < alt + 65536;
	(void)ucv;
	siglongjmp(env, 1);
}

static void skip(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	fault_signo = sig;
	fault_code = si->si_code;
	if (sig != SIGTRAP)
		uc->uc_mcontext.gregs[REG_RIP] += 2;  /* past ud2, or past the 2-byte idiv */
}

static int recurse(int n)
{
	volatile char pad[4096];
	pad[0] = (char)n;
	return recurse(n + 1) + pad[0];
}

int main(void)
{
	struct sigaction sa = {0};
	selftest_start("sig_faults");
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigaction(SIGSEGV, &sa, NULL);

	char *page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!sigsetjmp(env, 1))
		page[10] = 1;
	CHECK(fault_signo == SIGSEGV && fault_code == SEGV_ACCERR && fault_addr == page + 10);
	munmap(page, 4096);
	if (!sigsetjmp(env, 1))
		*(volatile int *)(page + 8) = 1;
	CHECK(fault_signo == SIGSEGV && fault_code == SEGV_MAPERR && fault_addr == page + 8);

	/* The mask is restored by siglongjmp: SIGSEGV is not blocked now. */
	sigset_t now;
	sigprocmask(SIG_BLOCK, NULL, &now);
	CHECK(!sigismember(&now, SIGSEGV));

	/* A stack overflow, caught on the alternate stack. */
	alt = malloc(65536);
	stack_t ss = {.ss_sp = alt, .ss_size = 65536, .ss_flags = 0};
	CHECK(sigaltstack(&ss, NULL) == 0);
	fault_signo = 0;
	if (!sigsetjmp(env, 1))
		recurse(0);
	CHECK(fault_signo == SIGSEGV && on_alt);
	stack_t old;
	CHECK(sigaltstack(NULL, &old) == 0 && old.ss_flags == 0 && old.ss_size == 65536);
	ss.ss_size = 1024;
	CHECK(sigaltstack(&ss, NULL) == -1 && errno == ENOMEM);

	/* Division by zero, ud2, int3: the handler returns, adjusting rip where needed. */
	sa.sa_sigaction = skip;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGFPE, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGTRAP, &sa, NULL);
	int q;
	__asm__ volatile("xor %%ecx, %%ecx\n\tmov $7, %%eax\n\tcltd\n\tidiv %%ecx\n\tmov %%eax, %0"
			 : "=r"(q) : : "eax", "ecx", "edx");
	CHECK(fault_signo == SIGFPE && fault_code == FPE_INTDIV);
	__asm__ volatile("ud2");
	CHECK(fault_signo == SIGILL && fault_code == ILL_ILLOPN);
	__asm__ volatile("int3");
	CHECK(fault_signo == SIGTRAP && fault_code == SI_KERNEL);
	(void)q;
	return selftest_end();
}
