/*
 * The single-writer floor of a burst's release: N pre-connected loopback sockets to a sink
 * that accepts and never reads, then one loop writing one byte to each, as flashbench's gate
 * does at the release. Prints when each write completed after the loop started: p50, p99 and
 * max in microseconds, and the whole loop. On loopback each write runs the receiver's TCP
 * path, so this is what one thread can do; bench/gate.sh compares flashbench's send skew with
 * it in the same run. Build: cc -O2 -o floor bench/floor.c. Usage: floor N
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1500;
    if (n <= 0) { fprintf(stderr, "usage: floor N\n"); return 2; }
    int lst = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    if (lst < 0 || bind(lst, (struct sockaddr *)&addr, len) || listen(lst, 4096) ||
        getsockname(lst, (struct sockaddr *)&addr, &len)) {
        perror("listen");
        return 1;
    }
    int *client = calloc(n, sizeof(int)), *server = calloc(n, sizeof(int));
    long long *done = calloc(n, sizeof(long long));
    int hold[2];
    if (pipe(hold)) { perror("pipe"); return 1; }
    pid_t sink = fork();
    if (sink == 0) { /* the sink: accept every connection, keep it, read nothing */
        close(hold[1]);
        for (int i = 0; i < n; i++) {
            server[i] = accept(lst, NULL, NULL);
            if (server[i] < 0) { perror("accept"); _exit(1); }
        }
        char c;
        while (read(hold[0], &c, 1) > 0) {}
        _exit(0);
    }
    close(lst);
    close(hold[0]);
    for (int i = 0; i < n; i++) {
        client[i] = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(client[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (client[i] < 0 || connect(client[i], (struct sockaddr *)&addr, sizeof addr)) {
            perror("connect (raise ulimit -n?)");
            return 1;
        }
    }
    usleep(200000); /* every connection accepted and settled */
    char byte = 'x';
    long long start = now_ns();
    for (int i = 0; i < n; i++) {
        if (write(client[i], &byte, 1) != 1) { perror("write"); return 1; }
        done[i] = now_ns() - start;
    }
    long long total = now_ns() - start;
    qsort(done, n, sizeof(long long), cmp);
    int p99 = (int)((n * 99 + 99) / 100) - 1;
    printf("{\"buyers\": %d, \"p50_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f, \"loop_us\": %.1f}\n", n,
           done[(n + 1) / 2 - 1] / 1e3, done[p99] / 1e3, done[n - 1] / 1e3, total / 1e3);
    close(hold[1]);
    waitpid(sink, NULL, 0);
    return 0;
}
