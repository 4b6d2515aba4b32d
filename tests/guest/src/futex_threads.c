/* futex between threads: a ping-pong, requeue, wake-op waking two queues, waitv, a
 * condition variable broadcast to 8 threads, PI and robust mutexes (EOWNERDEAD after
 * the owner exits), and pthread_join (CLONE_CHILD_CLEARTID's wake).
 *
 * The results printed do not depend on the schedule: a step that needs its waiters
 * queued first counts them with FUTEX_CMP_REQUEUE onto the same word (which moves no
 * one and wakes no one) until they are all there. */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "selftest.h"

#include "futex_uapi.h"

#define ROUNDS 10000
#define NCOND 8

static long fx(_Atomic uint32_t *uaddr, int op, unsigned val, long val2, _Atomic uint32_t *uaddr2, unsigned val3)
{
	return syscall(SYS_futex, uaddr, op, val, val2, uaddr2, val3);
}

/* How many wait on `w` (holding `val`), without waking or moving any. */
static long queued(_Atomic uint32_t *w, uint32_t val)
{
	return fx(w, FUTEX_CMP_REQUEUE_PRIVATE, 0, INT_MAX, w, val);
}

static void wait_queued(_Atomic uint32_t *w, uint32_t val, long n)
{
	while (queued(w, val) < n)
		sched_yield();
}

/* -- ping-pong -------------------------------------------------------------------------- */

static _Atomic uint32_t turn;

static void *pong(void *arg)
{
	for (int i = 0; i < ROUNDS; i++) {
		while (atomic_load(&turn) != 1)
			fx(&turn, FUTEX_WAIT_PRIVATE, 0, 0, NULL, 0);
		atomic_store(&turn, 0);
		fx(&turn, FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0);
	}
	return NULL;
}

static int ping_pong(void)
{
	pthread_t t;
	int rounds = 0;
	pthread_create(&t, NULL, pong, NULL);
	for (int i = 0; i < ROUNDS; i++) {
		atomic_store(&turn, 1);
		fx(&turn, FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0);
		while (atomic_load(&turn) != 0)
			fx(&turn, FUTEX_WAIT_PRIVATE, 1, 0, NULL, 0);
		rounds++;
	}
	pthread_join(t, NULL);
	return rounds;
}

/* -- requeue and wake-op ------------------------------------------------------------------- */

static _Atomic uint32_t w1, w2;
static _Atomic int returned;

static void *waiter(void *arg)
{
	_Atomic uint32_t *w = arg;
	while (syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0) != 0)
		;
	atomic_fetch_add(&returned, 1);
	return NULL;
}

static void requeue(void)
{
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, waiter, (void *)&w1);
	wait_queued(&w1, 0, 3);
	CHECK(fx(&w1, FUTEX_CMP_REQUEUE_PRIVATE, 0, 3, &w2, 1) == -1 && errno == EAGAIN);
	CHECK(fx(&w1, FUTEX_CMP_REQUEUE_PRIVATE, 0, 3, &w2, 0) == 3);
	CHECK(queued(&w1, 0) == 0 && queued(&w2, 0) == 3);
	CHECK(fx(&w2, FUTEX_CMP_REQUEUE_PRIVATE, 1, 1, &w1, 0) == 2); /* wakes one, moves one */
	CHECK(queued(&w1, 0) == 1 && queued(&w2, 0) == 1);
	CHECK(fx(&w1, FUTEX_REQUEUE_PRIVATE, 0, 1, &w2, 0) == 1);
	CHECK(fx(&w2, FUTEX_WAKE_PRIVATE, INT_MAX, 0, NULL, 0) == 2);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	CHECK(atomic_load(&returned) == 3);
}

static void wake_op(void)
{
	pthread_t a, b;
	pthread_create(&a, NULL, waiter, (void *)&w1);
	pthread_create(&b, NULL, waiter, (void *)&w2);
	wait_queued(&w1, 0, 1);
	wait_queued(&w2, 0, 1);
	/* *w2 = 1; wake 1 on w1; and 1 on w2 if the old *w2 == 0 */
	CHECK(fx(&w1, FUTEX_WAKE_OP_PRIVATE, 1, 1, &w2, FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_EQ, 0)) == 2);
	CHECK(atomic_load(&w2) == 1);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	atomic_store(&w2, 0);
}

/* -- futex_waitv ----------------------------------------------------------------------------- */

struct waitv {
	uint64_t val, uaddr;
	uint32_t flags, reserved;
};

static void *waitv_thread(void *arg)
{
	struct waitv v[2] = {{0, (uintptr_t)&w1, 2 | 128, 0}, {0, (uintptr_t)&w2, 2 | 128, 0}};
	long r;
	while ((r = syscall(449, v, 2, 0, NULL, 0)) < 0)
		;
	return (void *)r;
}

static void waitv(void)
{
	pthread_t t;
	void *r;
	pthread_create(&t, NULL, waitv_thread, NULL);
	wait_queued(&w2, 0, 1);
	CHECK(queued(&w1, 0) == 1);
	CHECK(syscall(454, &w2, 1, 1, 2 | 128) == 1); /* futex_wake */
	pthread_join(t, &r);
	CHECK((long)r == 1);
	CHECK(queued(&w1, 0) == 0);
}

/* -- condition variable ---------------------------------------------------------------------- */

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int generation, sleeping, woke;

static void *cond_thread(void *arg)
{
	for (int round = 0; round < 20; round++) {
		pthread_mutex_lock(&m);
		int g = generation;
		sleeping++;
		while (generation == g)
			pthread_cond_wait(&cv, &m);
		woke++;
		pthread_mutex_unlock(&m);
	}
	return NULL;
}

static void condvar(void)
{
	pthread_t t[NCOND];
	for (int i = 0; i < NCOND; i++)
		pthread_create(&t[i], NULL, cond_thread, NULL);
	for (int round = 0; round < 20; round++) {
		pthread_mutex_lock(&m);
		while (sleeping < NCOND) {
			pthread_mutex_unlock(&m);
			sched_yield();
			pthread_mutex_lock(&m);
		}
		sleeping = 0;
		generation++;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&m);
	}
	for (int i = 0; i < NCOND; i++)
		pthread_join(t[i], NULL);
	CHECK(woke == 20 * NCOND);
}

/* -- PI and robust mutexes ------------------------------------------------------------------- */

static pthread_mutex_t pim, rob;
static long counter;
static _Atomic int robust_locked;

static void *pi_thread(void *arg)
{
	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&pim);
		long c = counter;
		if (i % 100 == 0)
			sched_yield(); /* let the other thread find the mutex held */
		counter = c + 1;
		pthread_mutex_unlock(&pim);
	}
	return NULL;
}

static void *robust_owner(void *arg)
{
	pthread_mutex_lock(&rob);
	atomic_store(&robust_locked, 1);
	usleep(20000); /* the main thread may block on the mutex meanwhile: it ends the same */
	return NULL; /* exits holding the mutex */
}

/* A robust mutex whose owner exits holding it: the next locker gets EOWNERDEAD. */
static void robust_round(pthread_mutexattr_t *a)
{
	pthread_t t1;
	pthread_mutex_init(&rob, a);
	atomic_store(&robust_locked, 0);
	pthread_create(&t1, NULL, robust_owner, NULL);
	while (!atomic_load(&robust_locked))
		sched_yield();
	CHECK(pthread_mutex_lock(&rob) == EOWNERDEAD);
	CHECK(pthread_mutex_consistent(&rob) == 0);
	CHECK(pthread_mutex_unlock(&rob) == 0);
	pthread_join(t1, NULL);
}

static void mutexes(void)
{
	pthread_mutexattr_t a;
	pthread_t t1, t2;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
	pthread_mutex_init(&pim, &a);
	pthread_create(&t1, NULL, pi_thread, NULL);
	pthread_create(&t2, NULL, pi_thread, NULL);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	CHECK(counter == 4000);

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	robust_round(&a);
	CHECK(pthread_mutex_lock(&rob) == 0);
	pthread_mutex_unlock(&rob);

	/* the same with a robust PI mutex */
	pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
	robust_round(&a);
}

int main(void)
{
	selftest_start("futex_threads");
	CHECK(ping_pong() == ROUNDS);
	requeue();
	wake_op();
	waitv();
	condvar();
	mutexes();
	return selftest_end();
}
