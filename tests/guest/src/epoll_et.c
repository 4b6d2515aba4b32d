#define _GNU_SOURCE
/* Edge-triggered epoll on both ends of a pipe: which operation gives which end a new
 * event (a write wakes the readers; a read wakes the writers only if the pipe was full). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static int events(int ep, const char *what) {
    struct epoll_event ev[2];
    int n = epoll_wait(ep, ev, 2, 0);
    printf("%-28s", what);
    for (int i = 0; i < n; i++)
        printf(" [%s %s%s]", ev[i].data.u32 ? "w" : "r", ev[i].events & EPOLLIN ? "IN" : "",
               ev[i].events & EPOLLOUT ? "OUT" : "");
    printf("\n");
    return n;
}

int main(void) {
    int p[2];
    pipe2(p, O_NONBLOCK);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u32 = 0};
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    ev.events = EPOLLOUT | EPOLLET;
    ev.data.u32 = 1;
    epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev);
    char buf[65536];
    events(ep, "after add:");
    events(ep, "again:");
    write(p[1], "a", 1);
    events(ep, "after a write:");
    read(p[0], buf, 1);
    events(ep, "after a read:");
    memset(buf, 'x', sizeof buf);
    while (write(p[1], buf, sizeof buf) > 0)
        ;
    events(ep, "after filling:");
    read(p[0], buf, 4096);
    events(ep, "after a read of a full pipe:");
    return 0;
}
