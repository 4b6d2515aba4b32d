/* A thread spins on a flag without a system call; the main thread, which must get the
 * CPU for the spinner to stop, counts and sets it. Only preemption at the end of a time
 * slice lets this finish on one CPU. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

static atomic_int stop;
static atomic_long spins;

static void *spin(void *arg) {
    (void)arg;
    while (!atomic_load(&stop))
        atomic_fetch_add(&spins, 1);
    return NULL;
}

int main(void) {
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, spin, NULL);
    for (volatile long i = 0; i < 2000000; i++)
        ;
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("joined, spun: %s\n", atomic_load(&spins) > 0 ? "yes" : "no");
    return 0;
}
