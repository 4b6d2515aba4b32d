/* Four threads append their number to a shared log at each of their steps; the order
 * shows the schedule. The same --seed must give the same order. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

static char log_[256];
static int len;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg) {
    for (int i = 0; i < 8; i++) {
        pthread_mutex_lock(&mu);
        log_[len++] = (char)('0' + (int)(long)arg);
        pthread_mutex_unlock(&mu);
        sched_yield();
    }
    return NULL;
}

int main(void) {
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    printf("%d %s\n", len, log_);
    return 0;
}
