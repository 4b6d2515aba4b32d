/* pthreads as issue 4 lists them: create/join with results, a mutex+condvar ping-pong
 * 10^4 times, 64 threads adding to one atomic counter, thread-local storage per thread,
 * a barrier, and pthread_cancel of a thread blocked in a cancellation point. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (c) printf("[OK] %s\n", #c); else { printf("[FAIL] %s\n", #c); failures++; } } while (0)

static __thread long tls = 100;
static atomic_long counter;

static void *add(void *arg) {
    tls += (long)arg;  /* each thread starts from its own copy */
    for (int i = 0; i < 1000; i++)
        atomic_fetch_add(&counter, 1);
    return (void *)tls;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn, rounds;

static void *pong(void *arg) {
    (void)arg;
    pthread_mutex_lock(&mu);
    while (rounds < 10000) {
        while (turn != 1)
            pthread_cond_wait(&cv, &mu);
        turn = 0;
        rounds++;
        pthread_cond_signal(&cv);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

static pthread_barrier_t barrier;
static atomic_int before, after_;

static void *meet(void *arg) {
    (void)arg;
    atomic_fetch_add(&before, 1);
    int r = pthread_barrier_wait(&barrier);
    if (atomic_load(&before) == 4)
        atomic_fetch_add(&after_, 1);
    return (void *)(long)(r == PTHREAD_BARRIER_SERIAL_THREAD);
}

static void *sleeper(void *arg) {
    int *fds = arg;
    char c;
    read(fds[0], &c, 1);  /* blocks forever: a cancellation point */
    return (void *)1;
}

int main(void) {
    pthread_t t[64];
    for (long i = 0; i < 64; i++)
        pthread_create(&t[i], NULL, add, (void *)i);
    long sum = 0;
    for (int i = 0; i < 64; i++) {
        void *r;
        pthread_join(t[i], &r);
        sum += (long)r;
    }
    CHECK(atomic_load(&counter) == 64000);
    CHECK(sum == 64 * 100 + 63 * 64 / 2);
    CHECK(tls == 100);

    pthread_t p;
    pthread_create(&p, NULL, pong, NULL);
    pthread_mutex_lock(&mu);
    int sent = 0;
    while (rounds < 10000) {
        turn = 1;
        sent++;
        pthread_cond_signal(&cv);
        while (turn != 0)
            pthread_cond_wait(&cv, &mu);
    }
    pthread_mutex_unlock(&mu);
    pthread_join(p, NULL);
    CHECK(rounds == 10000 && sent == 10000);

    pthread_barrier_init(&barrier, NULL, 4);
    long serial = 0;
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, meet, NULL);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        serial += (long)r;
    }
    CHECK(atomic_load(&after_) == 4 && serial == 1);

    int fds[2];
    pipe(fds);
    pthread_create(&p, NULL, sleeper, fds);
    usleep(20000);
    CHECK(pthread_cancel(p) == 0);
    void *r;
    pthread_join(p, &r);
    CHECK(r == PTHREAD_CANCELED);
    printf("%d failure(s)\n", failures);
    return failures != 0;
}
