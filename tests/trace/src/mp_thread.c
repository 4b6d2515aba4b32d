/* One thread besides main: it writes, wakes a futex nobody waits on and exits; main
 * tries to wait on a futex whose value has changed (EAGAIN), then joins. */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static int word = 1;

static void *run(void *arg)
{
	(void)arg;
	write(1, "thread\n", 7);
	syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	return NULL;
}

int main(void)
{
	pthread_t th;

	if (pthread_create(&th, NULL, run, NULL) != 0)
		return 1;
	syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0); /* word is 1: EAGAIN */
	if (pthread_join(th, NULL) != 0)
		return 2;
	write(1, "joined\n", 7);
	return 0;
}
