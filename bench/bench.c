/* Workloads for bench.py: each mode does one thing N times and exits 0.
 *   getpid N       N raw getpid system calls
 *   write1 N       N one-byte writes to /dev/null
 *   fileio PATH    write 8 MiB to PATH in 4 KiB chunks, then read it back the same way
 *   compute N      a memory-heavy integer loop with no system calls (see work())
 *   vclock N       N clock_gettime(CLOCK_MONOTONIC) through the C library (the vDSO)
 *   sysclock N     N clock_gettime(CLOCK_MONOTONIC) as raw system calls
 *   none           nothing: the cost of starting and exiting
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static unsigned char table[1 << 20];

/* Not inlined, so bench.py can find and run exactly this code on a bare Unicorn. */
__attribute__((noinline)) unsigned long work(unsigned long n) {
    unsigned long x = 12345, sum = 0;
    for (unsigned long i = 0; i < n; i++) {
        x = x * 6364136223846793005UL + 1442695040888963407UL;
        table[(x >> 20) & (sizeof table - 1)] += (unsigned char)i;
        sum += table[(x >> 40) & (sizeof table - 1)];
    }
    return sum;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    long n = argc > 2 ? atol(argv[2]) : 0;
    if (!strcmp(argv[1], "getpid")) {
        for (long i = 0; i < n; i++) syscall(SYS_getpid);
    } else if (!strcmp(argv[1], "write1")) {
        int fd = open("/dev/null", O_WRONLY);
        for (long i = 0; i < n; i++) write(fd, "x", 1);
    } else if (!strcmp(argv[1], "fileio")) {
        static char buf[4096];
        int fd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0600);
        for (int i = 0; i < 2048; i++) write(fd, buf, sizeof buf);
        lseek(fd, 0, SEEK_SET);
        while (read(fd, buf, sizeof buf) > 0) {}
        close(fd);
        unlink(argv[2]);
    } else if (!strcmp(argv[1], "vclock") || !strcmp(argv[1], "sysclock")) {
        struct timespec ts;
        int vdso = argv[1][0] == 'v';
        for (long i = 0; i < n; i++) {
            if (vdso)
                clock_gettime(CLOCK_MONOTONIC, &ts);
            else
                syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
        }
    } else if (!strcmp(argv[1], "compute")) {
        printf("%lu\n", work(n));
    }
    return 0;
}
