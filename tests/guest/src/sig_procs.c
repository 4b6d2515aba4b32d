/* Signals between processes: SA_RESTART vs EINTR on a blocking pipe read interrupted by
 * a handled signal; the mask and the handlers inherited across fork; a child stopped by
 * SIGSTOP and continued by SIGCONT, seen by waitpid with WUNTRACED and WCONTINUED. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (c) printf("[OK] %s\n", #c); else { printf("[FAIL] %s\n", #c); failures++; } } while (0)

static volatile sig_atomic_t hits;
static void on_usr1(int sig) { (void)sig; hits++; }

/* A child sends SIGUSR1 to the parent blocked in read(), then writes a byte. */
static long read_interrupted(int restart) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGUSR1, &sa, NULL);
    int p[2];
    pipe(p);
    pid_t parent = getpid();
    pid_t c = fork();
    if (c == 0) {
        usleep(50000);
        kill(parent, SIGUSR1);
        usleep(50000);
        write(p[1], "x", 1);
        _exit(0);
    }
    char ch;
    hits = 0;
    long n = read(p[0], &ch, 1);
    long result = n < 0 ? -errno : n;
    waitpid(c, NULL, 0);
    close(p[0]);
    close(p[1]);
    return result;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    CHECK(read_interrupted(0) == -EINTR && hits == 1);
    CHECK(read_interrupted(1) == 1 && hits == 1);

    /* The mask and handlers are inherited by fork. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    pid_t c = fork();
    if (c == 0) {
        sigset_t cur;
        sigprocmask(SIG_BLOCK, NULL, &cur);
        struct sigaction old;
        sigaction(SIGUSR1, NULL, &old);
        _exit(sigismember(&cur, SIGUSR2) && old.sa_handler == on_usr1 ? 0 : 1);
    }
    int st;
    waitpid(c, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    sigprocmask(SIG_UNBLOCK, &set, NULL);

    /* Stop and continue. */
    int go[2];
    pipe(go);
    c = fork();
    if (c == 0) {
        char ch;
        read(go[0], &ch, 1);
        _exit(7);
    }
    kill(c, SIGSTOP);
    CHECK(waitpid(c, &st, WUNTRACED) == c && WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);
    kill(c, SIGCONT);
    CHECK(waitpid(c, &st, WCONTINUED) == c && WIFCONTINUED(st));
    write(go[1], "g", 1);
    CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 7);
    printf("%d failure(s)\n", failures);
    return failures != 0;
}
