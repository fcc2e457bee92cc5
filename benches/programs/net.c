/* Network benchmarks: a TCP server (run inside hx or natively) and the
 * clients that time it from outside.
 *   net serve PORT CONNS   serve CONNS connections, one after another: a
 *                          connection starting with 'e' is echoed, one
 *                          starting with 's' is read to EOF and answered
 *                          with one byte.
 *   net pingpong PORT N    N round trips of 64 bytes; prints ns per round trip.
 *   net bulk PORT MIB      sends MIB MiB; prints ns for the whole transfer. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int full(int fd, char *b, size_t n, int wr) {
    size_t d = 0;
    while (d < n) {
        ssize_t r = wr ? write(fd, b + d, n - d) : read(fd, b + d, n - d);
        if (r <= 0) return -1;
        d += r;
    }
    return 0;
}

static int dial(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < 500; i++) {
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) {
            setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return s;
        }
        close(s);
        s = socket(AF_INET, SOCK_STREAM, 0);
        usleep(20000);
    }
    perror("connect");
    exit(1);
}

static char buf[1 << 16];

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: net serve PORT CONNS | pingpong PORT N | bulk PORT MIB\n");
        return 2;
    }
    int port = atoi(argv[2]);
    long n = atol(argv[3]);
    if (!strcmp(argv[1], "serve")) {
        int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 16)) {
            perror("bind/listen");
            return 1;
        }
        for (long c = 0; c < n; c++) {
            int s = accept(l, 0, 0);
            setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            char mode;
            if (read(s, &mode, 1) != 1) return 1;
            ssize_t r;
            if (mode == 'e') {
                while ((r = read(s, buf, sizeof buf)) > 0)
                    if (full(s, buf, r, 1)) break;
            } else {
                while ((r = read(s, buf, sizeof buf)) > 0) {
                }
                write(s, "k", 1);
            }
            close(s);
        }
        return 0;
    }
    int s = dial(port);
    if (!strcmp(argv[1], "pingpong")) {
        write(s, "e", 1);
        char m[64] = {0};
        double t0 = now_ns();
        for (long i = 0; i < n; i++)
            if (full(s, m, sizeof m, 1) || full(s, m, sizeof m, 0)) return 1;
        printf("%.0f\n", (now_ns() - t0) / n);
    } else {
        write(s, "s", 1);
        memset(buf, 'x', sizeof buf);
        double t0 = now_ns();
        for (long i = 0; i < n * 16; i++)
            if (full(s, buf, sizeof buf, 1)) return 1;
        shutdown(s, SHUT_WR);
        char k;
        if (read(s, &k, 1) != 1) return 1;
        printf("%.0f\n", now_ns() - t0);
    }
    close(s);
    return 0;
}
