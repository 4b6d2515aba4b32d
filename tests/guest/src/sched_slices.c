/* Where compute-bound threads are preempted: the main thread counts, and notes its count
 * each time it sees that the other thread has run meanwhile. Natively this varies from run
 * to run; under sysgate --seed N it must not (slices are counted in instructions). */
#include <pthread.h>
#include <stdio.h>

static volatile long other;
static volatile int stop;

static void *count(void *arg) {
    (void)arg;
    while (!stop)
        other++;
    return NULL;
}

int main(void) {
    pthread_t t;
    pthread_create(&t, NULL, count, NULL);
    long mine = 0, last = other, seen[5];
    int n = 0;
    while (n < 5) {
        mine++;
        if (other != last) {
            seen[n++] = mine;
            last = other;
        }
    }
    stop = 1;
    pthread_join(t, NULL);
    for (int i = 0; i < 5; i++)
        printf("%ld%c", seen[i], i == 4 ? '\n' : ' ');
    return 0;
}
