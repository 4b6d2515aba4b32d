/* futex in one thread, through raw syscall(): each operation's result and errno, the
 * order of its checks, timeouts on both clocks, FUTEX_WAKE_OP's effect on memory, the PI
 * word protocol, and the futex2 calls (futex_waitv, futex_wake, futex_wait). */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "selftest.h"

#include "futex_uapi.h"

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#define NR_futex_wake 454
#define NR_futex_wait 455
#define NR_futex_requeue 456
#define F2_U32 0x02
#define F2_PRIVATE 128

struct waitv {
	uint64_t val, uaddr;
	uint32_t flags, reserved;
};

static long fx(void *uaddr, int op, unsigned val, const void *ts, void *uaddr2, unsigned val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

/* The call's result and errno as one comparable number: -errno, or the result. */
#define R(call) (errno = 0, rv = (call), rv < 0 ? -errno : rv)
static long rv;

static struct timespec after(clockid_t clock, long ns)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	ts.tv_nsec += ns;
	while (ts.tv_nsec >= 1000000000) {
		ts.tv_nsec -= 1000000000;
		ts.tv_sec++;
	}
	return ts;
}

static unsigned wake_op(unsigned word, int op, int oparg, int cmp, int cmparg, long *ret)
{
	static uint32_t w1, w2;
	w2 = word;
	*ret = R(fx(&w1, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, &w2, FUTEX_OP(op, oparg, cmp, cmparg)));
	return w2;
}

int main(int argc, char **argv)
{
	static uint32_t word = 5, w2 = 7;
	int futex2 = argc < 2; /* futex_wake, futex_wait, futex_requeue: newer than strace 6.1 */
	struct timespec rel = {0, 1000000}, bad = {0, 1000000000}, neg = {-1, 0};
	uint32_t *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long ret;

	selftest_start("futex");

	/* FUTEX_WAIT and FUTEX_WAIT_BITSET */
	CHECK(R(fx(&word, FUTEX_WAIT_PRIVATE, 6, NULL, NULL, 0)) == -EAGAIN);
	CHECK(R(fx(&word, FUTEX_WAIT, 6, NULL, NULL, 0)) == -EAGAIN);
	CHECK(R(fx(shared, FUTEX_WAIT, 1, NULL, NULL, 0)) == -EAGAIN);
	CHECK(R(fx(&word, FUTEX_WAIT_PRIVATE, 5, &rel, NULL, 0)) == -ETIMEDOUT);
	CHECK(R(fx(shared, FUTEX_WAIT, 0, &rel, NULL, 0)) == -ETIMEDOUT);
	struct timespec mono = after(CLOCK_MONOTONIC, 1000000), real = after(CLOCK_REALTIME, 1000000);
	CHECK(R(fx(&word, FUTEX_WAIT_BITSET_PRIVATE, 5, &mono, NULL, FUTEX_BITSET_MATCH_ANY)) == -ETIMEDOUT);
	CHECK(R(fx(&word, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 5, &real, NULL, 1)) == -ETIMEDOUT);
	CHECK(R(fx(&word, FUTEX_WAIT_BITSET_PRIVATE, 5, &mono, NULL, 0)) == -EINVAL);
	CHECK(R(fx(&word, FUTEX_WAIT_PRIVATE | FUTEX_CLOCK_REALTIME, 5, &rel, NULL, 0)) == -ENOSYS);
	CHECK(R(fx((char *)&word + 1, FUTEX_WAIT_PRIVATE, 5, &rel, NULL, 0)) == -EINVAL);
	CHECK(R(fx(&word, FUTEX_WAIT_PRIVATE, 5, &bad, NULL, 0)) == -EINVAL);
	CHECK(R(fx(&word, FUTEX_WAIT_PRIVATE, 5, &neg, NULL, 0)) == -EINVAL);
	CHECK(R(fx(&word, FUTEX_WAIT_PRIVATE, 5, (void *)16, NULL, 0)) == -EFAULT);
	CHECK(R(fx((char *)&word + 1, FUTEX_WAIT_PRIVATE, 5, (void *)16, NULL, 0)) == -EFAULT);
	CHECK(R(fx(NULL, FUTEX_WAIT_PRIVATE, 5, &rel, NULL, 0)) == -EFAULT);
	CHECK(R(fx(ro, FUTEX_WAIT_PRIVATE, 0, &rel, NULL, 0)) == -ETIMEDOUT);
	CHECK(R(fx(ro, FUTEX_WAIT, 0, &rel, NULL, 0)) == -EFAULT); /* a read-only anonymous page */

	/* FUTEX_WAKE */
	CHECK(R(fx(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0)) == 0);
	CHECK(R(fx(NULL, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0)) == 0);
	CHECK(R(fx(NULL, FUTEX_WAKE, 1, NULL, NULL, 0)) == -EFAULT);
	CHECK(R(fx(&word, FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, NULL, 0)) == -EINVAL);
	CHECK(R(fx(&word, FUTEX_WAKE_PRIVATE | FUTEX_CLOCK_REALTIME, 1, NULL, NULL, 0)) == -ENOSYS);
	CHECK(R(fx(&word, 14, 1, NULL, NULL, 0)) == -ENOSYS);
	CHECK(R(fx(&word, FUTEX_FD, 1, NULL, NULL, 0)) == -ENOSYS);

	/* FUTEX_REQUEUE and FUTEX_CMP_REQUEUE: val2 is the timeout register */
	CHECK(R(fx(&word, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)1, &w2, 4)) == -EAGAIN);
	CHECK(R(fx(&word, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)1, &w2, 5)) == 0);
	CHECK(R(fx(&word, FUTEX_CMP_REQUEUE_PRIVATE, -1, (void *)1, &w2, 5)) == -EINVAL);
	CHECK(R(fx(&word, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)-1L, &w2, 5)) == -EINVAL);
	CHECK(R(fx(&word, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)1, (char *)&w2 + 2, 4)) == -EINVAL);
	CHECK(R(fx(&word, FUTEX_CMP_REQUEUE, 1, (void *)1, NULL, 4)) == -EFAULT);
	CHECK(R(fx(&word, FUTEX_REQUEUE_PRIVATE, 1, (void *)1, &w2, 0)) == 0);

	/* FUTEX_WAKE_OP: the operations and comparisons, on memory */
	CHECK(wake_op(3, FUTEX_OP_SET, 9, FUTEX_OP_CMP_EQ, 3, &ret) == 9 && ret == 0);
	CHECK(wake_op(3, FUTEX_OP_ADD, -1, FUTEX_OP_CMP_GT, 2, &ret) == 2 && ret == 0);
	CHECK(wake_op(1, FUTEX_OP_OR, 6, FUTEX_OP_CMP_NE, 1, &ret) == 7 && ret == 0);
	CHECK(wake_op(7, FUTEX_OP_ANDN, 2, FUTEX_OP_CMP_LT, 0, &ret) == 5 && ret == 0);
	CHECK(wake_op(7, FUTEX_OP_XOR, 0xfff, FUTEX_OP_CMP_LE, 7, &ret) == 0xfffffff8 && ret == 0);
	CHECK(wake_op(0, FUTEX_OP_SET | FUTEX_OP_OPARG_SHIFT, 31, FUTEX_OP_CMP_GE, 0, &ret) == 0x80000000 && ret == 0);
	CHECK(wake_op(0, FUTEX_OP_OR | FUTEX_OP_OPARG_SHIFT, 33, FUTEX_OP_CMP_GE, 0, &ret) == 2 && ret == 0);
	CHECK(wake_op(4, 5, 1, FUTEX_OP_CMP_EQ, 0, &ret) == 4 && ret == -ENOSYS);
	CHECK(wake_op(4, FUTEX_OP_SET, 1, 6, 0, &ret) == 1 && ret == -ENOSYS);
	CHECK(R(fx(&word, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, ro, 0)) == -EFAULT);
	CHECK(R(fx(&word, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, NULL, 0)) == -EFAULT);

	/* PI futexes: the owner's TID in the word */
	uint32_t pi = 0, tid = gettid();
	CHECK(R(fx(&pi, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0)) == 0 && pi == tid);
	CHECK(R(fx(&pi, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0)) == -EDEADLK);
	CHECK(R(fx(&pi, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0)) == -EDEADLK);
	CHECK(R(fx(&pi, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0)) == 0 && pi == 0);
	CHECK(R(fx(&pi, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0)) == -EPERM);
	CHECK(R(fx(&pi, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0)) == 0 && pi == tid);
	CHECK(R(fx(&pi, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0)) == 0 && pi == 0);
	pi = 0x3fff0000; /* a TID no task has */
	CHECK(R(fx(&pi, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0)) == -ESRCH && pi == (0x3fff0000 | FUTEX_WAITERS));
	CHECK(R(fx(&pi, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0)) == -ESRCH);
	pi = FUTEX_OWNER_DIED;
	CHECK(R(fx(&pi, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0)) == 0 && pi == (FUTEX_OWNER_DIED | tid));
	CHECK(R(fx(&pi, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0)) == 0 && pi == 0);
	CHECK(R(fx(&pi, FUTEX_LOCK_PI2_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &real, NULL, 0)) == 0 && pi == tid);
	CHECK(R(fx(&pi, FUTEX_LOCK_PI_PRIVATE | FUTEX_CLOCK_REALTIME, 0, NULL, NULL, 0)) == -ENOSYS);
	CHECK(R(fx(ro, FUTEX_LOCK_PI, 0, NULL, NULL, 0)) == -EFAULT);
	CHECK(R(fx(&word, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, (void *)1, &word, 5)) == -EINVAL);
	CHECK(R(fx(&word, FUTEX_CMP_REQUEUE_PI_PRIVATE, 2, (void *)1, &w2, 5)) == -EINVAL);
	CHECK(R(fx(&word, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, (void *)1, &w2, 4)) == -EAGAIN);
	CHECK(R(fx(&word, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 5, &rel, &word, 0)) == -EINVAL);
	CHECK(R(fx(&word, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 4, &rel, &w2, 0)) == -EAGAIN);

	/* futex_waitv, futex_wake, futex_wait */
	struct waitv v[2] = {{5, (uintptr_t)&word, F2_U32 | F2_PRIVATE, 0}, {7, (uintptr_t)&w2, F2_U32 | F2_PRIVATE, 0}};
	mono = after(CLOCK_MONOTONIC, 1000000);
	CHECK(R(syscall(SYS_futex_waitv, v, 2, 0, &mono, CLOCK_MONOTONIC)) == -ETIMEDOUT);
	real = after(CLOCK_REALTIME, 1000000);
	CHECK(R(syscall(SYS_futex_waitv, v, 2, 0, &real, CLOCK_REALTIME)) == -ETIMEDOUT);
	CHECK(R(syscall(SYS_futex_waitv, v, 2, 0, &real, CLOCK_BOOTTIME)) == -EINVAL);
	CHECK(R(syscall(SYS_futex_waitv, v, 2, 1, &mono, CLOCK_MONOTONIC)) == -EINVAL);
	CHECK(R(syscall(SYS_futex_waitv, v, 0, 0, &mono, CLOCK_MONOTONIC)) == -EINVAL);
	static struct waitv many[130];
	CHECK(R(syscall(SYS_futex_waitv, many, 129, 0, &mono, CLOCK_MONOTONIC)) == -EINVAL);
	CHECK(R(syscall(SYS_futex_waitv, NULL, 1, 0, &mono, CLOCK_MONOTONIC)) == -EINVAL);
	CHECK(R(syscall(SYS_futex_waitv, (void *)16, 1, 0, &mono, CLOCK_MONOTONIC)) == -EFAULT);
	v[1].val = 8;
	CHECK(R(syscall(SYS_futex_waitv, v, 2, 0, NULL, 0)) == -EAGAIN);
	v[1].flags = 3;
	CHECK(R(syscall(SYS_futex_waitv, v, 2, 0, NULL, 0)) == -EINVAL);
	v[1].flags = F2_U32;
	v[1].reserved = 1;
	CHECK(R(syscall(SYS_futex_waitv, v, 2, 0, NULL, 0)) == -EINVAL);
	if (!futex2)
		return selftest_end();
	CHECK(R(syscall(NR_futex_wake, &word, 1, 1, F2_U32 | F2_PRIVATE)) == 0);
	CHECK(R(syscall(NR_futex_wake, &word, 0, 1, F2_U32 | F2_PRIVATE)) == -EINVAL);
	CHECK(R(syscall(NR_futex_wake, &word, 1, 1, 1)) == -EINVAL);
	CHECK(R(syscall(NR_futex_wake, NULL, 1, 1, F2_U32)) == -EFAULT);
	CHECK(R(syscall(NR_futex_wait, &word, 6, 1, F2_U32 | F2_PRIVATE, NULL, 0)) == -EAGAIN);
	mono = after(CLOCK_MONOTONIC, 1000000);
	CHECK(R(syscall(NR_futex_wait, &word, 5, 1, F2_U32 | F2_PRIVATE, &mono, CLOCK_MONOTONIC)) == -ETIMEDOUT);
	CHECK(R(syscall(NR_futex_wait, &word, 5, 1, F2_U32 | F2_PRIVATE, &mono, CLOCK_TAI)) == -EINVAL);
	CHECK(R(syscall(NR_futex_wait, &word, 1UL << 32, 1, F2_U32, NULL, 0)) == -EINVAL);
	CHECK(R(syscall(NR_futex_wait, &word, 5, 0, F2_U32, NULL, 0)) == -EINVAL);
	v[1].reserved = 0;
	v[1].flags = F2_U32 | F2_PRIVATE;
	CHECK(R(syscall(NR_futex_requeue, v, 0, 1, 1)) == 0); /* no waiters: nothing woken or moved */
	CHECK(R(syscall(NR_futex_requeue, v, 1, 1, 1)) == -EINVAL);
	v[1].flags = F2_U32;
	CHECK(R(syscall(NR_futex_requeue, v, 0, 1, 1)) == -EINVAL);
	return selftest_end();
}
