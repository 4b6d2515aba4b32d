/* execve checks the execute permission with the caller's credentials: as root, a copy of
 * this program with mode 0700 runs; after seteuid(nobody) it is EACCES (LTP execve02).
 * Without root there is nothing to switch to, and the program says so. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
    (void)argv;
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1) {
        puts("ran");
        return 0;
    }
    if (getuid() != 0) {
        puts("not root");
        return 0;
    }
    FILE *in = fopen("/proc/self/exe", "rb"), *out = fopen("copy", "wb");
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
    chmod("copy", 0700);
    char *args[] = {"copy", "child", NULL};
    if (seteuid(65534) != 0) {
        puts("seteuid failed");
        return 1;
    }
    execv("./copy", args);
    printf("execv as nobody: %s\n", strerror(errno));
    seteuid(0);
    execv("./copy", args);
    printf("execv as root: %s\n", strerror(errno));
    return 1;
}
