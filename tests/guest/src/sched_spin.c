/* Two threads spin on a flag without a system call while the main thread spins until they
 * have counted, then sets the flag. On one CPU only preemption at the end of a time slice,
 * in both directions, lets this finish. */
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
    while (atomic_load(&spins) < 1000)  /* the spinners must get the CPU from this loop */
        ;
    atomic_store(&stop, 1);  /* and this thread must get it back from theirs */
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("joined, spun: %s\n", atomic_load(&spins) > 0 ? "yes" : "no");
    return 0;
}
