/* Waits for Ctrl-C: with an argument, in a compute loop that makes no system call (the
 * signal must still arrive), ignoring SIGTERM if the argument is "ignterm"; without, in
 * pause() with a SIGINT handler. */
#include <signal.h>
#include <unistd.h>

static void on_int(int sig) {
    (void)sig;
    write(1, "got SIGINT\n", 11);
    _exit(3);
}

int main(int argc, char **argv) {
    if (argc > 1) {
        if (argv[1][0] == 'i')
            signal(SIGTERM, SIG_IGN);
        write(1, "ready\n", 6);
        for (;;)
            ;
    }
    signal(SIGINT, on_int);
    write(1, "ready\n", 6);
    for (;;)
        pause();
}
