/* Two processes take the same file's lock in turn: flock(LOCK_EX) and an open file
 * description lock (F_OFD_SETLKW). The child holds each lock for a while; the parent's
 * blocking request must wait for the release, not hang or fail. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static int lock_ofd(int fd, int cmd) {
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    return fcntl(fd, cmd, &fl);
}

int main(void) {
    int sync[2];
    pipe(sync);
    int fd0 = open("lockfile", O_RDWR | O_CREAT, 0644);
    pid_t child = fork();
    if (child == 0) {
        int fd = open("lockfile", O_RDWR);
        flock(fd, LOCK_EX);
        lock_ofd(fd, F_OFD_SETLK);
        write(sync[1], "x", 1);
        nap(200);
        printf("child releases\n");
        fflush(stdout);
        lock_ofd(fd, F_OFD_SETLK);  /* still held: a no-op */
        close(fd);  /* drops both locks */
        _exit(0);
    }
    char c;
    read(sync[0], &c, 1);
    int fd = open("lockfile", O_RDWR);
    printf("nonblocking flock: %s\n", flock(fd, LOCK_EX | LOCK_NB) == -1 ? "EWOULDBLOCK" : "taken");
    fflush(stdout);
    printf("flock: %d\n", flock(fd, LOCK_EX));
    printf("ofd lock: %d\n", lock_ofd(fd, F_OFD_SETLKW));
    int st;
    waitpid(child, &st, 0);
    printf("child status %d\n", WEXITSTATUS(st));
    close(fd0);
    return 0;
}
