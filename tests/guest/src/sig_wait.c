/* Waiting for signals: alarm interrupting pause, sigsuspend's temporary mask, nanosleep
 * interrupted (EINTR and the remaining time), rt_sigtimedwait (a pending signal, EAGAIN
 * on timeout), a POSIX timer's SIGEV_SIGNAL with its value, setitimer/getitimer. */
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <sys/time.h>
#include <unistd.h>
#include "selftest.h"

static volatile int alarms, timer_value, timer_code;

static void on_alarm(int sig) { alarms++; (void)sig; }

static void on_timer(int sig, siginfo_t *si, void *uc)
{
	timer_value = si->si_value.sival_int;
	timer_code = si->si_code;
	(void)sig, (void)uc;
}

int main(void)
{
	struct sigaction sa = {0};
	selftest_start("sig_wait");
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);

	CHECK(alarm(1) == 0);
	CHECK(alarm(1) == 1);  /* the previous alarm's seconds, rounded */
	errno = 0;
	CHECK(pause() == -1 && errno == EINTR && alarms == 1);

	/* sigsuspend: SIGALRM blocked outside, let through while suspended. */
	sigset_t block, empty, now;
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	sigemptyset(&empty);
	sigprocmask(SIG_BLOCK, &block, NULL);
	struct itimerval it = {.it_value = {0, 50000}}, got;
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
	CHECK(getitimer(ITIMER_REAL, &got) == 0 && got.it_value.tv_sec == 0 && got.it_value.tv_usec <= 50000);
	CHECK(sigsuspend(&empty) == -1 && errno == EINTR && alarms == 2);
	sigprocmask(SIG_BLOCK, NULL, &now);
	CHECK(sigismember(&now, SIGALRM));
	sigprocmask(SIG_UNBLOCK, &block, NULL);

	/* nanosleep interrupted by a handler: EINTR and a remaining time. */
	struct timespec req = {5, 0}, rem = {0, 0};
	it.it_value.tv_usec = 50000;
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK(nanosleep(&req, &rem) == -1 && errno == EINTR && rem.tv_sec >= 4 && rem.tv_sec <= 5);

	/* rt_sigtimedwait: a pending signal, then a timeout. */
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	raise(SIGUSR1);
	siginfo_t si;
	struct timespec zero = {0, 0}, short_ = {0, 20000000};
	CHECK(sigtimedwait(&block, &si, &zero) == SIGUSR1 && si.si_signo == SIGUSR1);
	printf("si_code %d\n", si.si_code);  /* compared with the native run's */
	CHECK(sigtimedwait(&block, &si, &zero) == -1 && errno == EAGAIN);
	CHECK(sigtimedwait(&block, &si, &short_) == -1 && errno == EAGAIN);
	it.it_value.tv_usec = 20000;
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK(sigwaitinfo(&block, &si) == SIGALRM && si.si_code == SI_KERNEL);
	sigprocmask(SIG_UNBLOCK, &block, NULL);

	/* A POSIX timer with SIGEV_SIGNAL and a value. */
	sa.sa_sigaction = on_timer;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGRTMIN, &sa, NULL);
	struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN, .sigev_value.sival_int = 77};
	timer_t tid;
	CHECK(timer_create(CLOCK_MONOTONIC, &ev, &tid) == 0);
	struct itimerspec its = {.it_value = {0, 30000000}}, cur;
	CHECK(timer_settime(tid, 0, &its, NULL) == 0);
	CHECK(timer_gettime(tid, &cur) == 0 && cur.it_value.tv_nsec <= 30000000);
	while (!timer_value)
		pause();
	CHECK(timer_value == 77 && timer_code == SI_TIMER);
	CHECK(timer_getoverrun(tid) == 0);
	CHECK(timer_delete(tid) == 0);
	return selftest_end();
}
