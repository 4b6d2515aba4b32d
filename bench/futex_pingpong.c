/* The futex ping-pong of bench.py: two threads hand a word back and forth N times with
 * FUTEX_WAIT and FUTEX_WAKE (private), each hand-over a wake of a sleeping thread. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FUTEX_WAIT_PRIVATE 128
#define FUTEX_WAKE_PRIVATE 129

static _Atomic unsigned turn;
static long rounds;

static void hand(unsigned to, unsigned mine)
{
	atomic_store(&turn, to);
	syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	while (atomic_load(&turn) != mine)
		syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, to, NULL, NULL, 0);
}

static void *pong(void *arg)
{
	while (atomic_load(&turn) != 1)
		syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	for (long i = 1; i < rounds; i++)
		hand(0, 1);
	atomic_store(&turn, 0);
	syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	rounds = argc > 1 ? atol(argv[1]) : 0;
	pthread_create(&t, NULL, pong, NULL);
	if (rounds)
		for (long i = 0; i < rounds; i++)
			hand(1, 0);
	else
		atomic_store(&turn, 1), syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	pthread_join(t, NULL);
	return 0;
}
