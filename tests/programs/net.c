/* Sockets: TCP and UDP over loopback, AF_UNIX (pairs, paths, abstract
 * names), descriptor passing, non-blocking connect with an edge-triggered
 * epoll loop, socket options, sendmmsg/recvmmsg, SO_REUSEPORT and
 * IPV6_V6ONLY, name resolution from /etc/hosts, and what the network
 * policy and read-only mounts refuse.
 * `net NAME [ARGS...]` runs one sub-test. Output names errors by their
 * symbols and never prints a pid, an ephemeral port or a temporary path, so
 * that it can be compared with a native run. Every sub-test ends itself
 * (alarm), and so does every child it forks. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define TIMEOUT 15

static const char *ename(int e) {
    switch (e) {
#define E(x) \
    case x: return #x;
        E(EACCES) E(EADDRINUSE) E(EADDRNOTAVAIL) E(EAFNOSUPPORT) E(EAGAIN) E(EALREADY) E(EBADF)
        E(ECONNABORTED) E(ECONNREFUSED) E(ECONNRESET) E(EDESTADDRREQ) E(EFAULT) E(EINPROGRESS)
        E(EINTR) E(EINVAL) E(EISCONN) E(EMFILE) E(EMSGSIZE) E(ENETUNREACH) E(ENOENT) E(ENOPROTOOPT)
        E(ENOTCONN) E(ENOTSOCK) E(EOPNOTSUPP) E(EPERM) E(EPIPE) E(EPROTONOSUPPORT) E(EPROTOTYPE)
        E(EROFS) E(ESOCKTNOSUPPORT) E(ETIMEDOUT)
#undef E
    }
    static char buf[32];
    snprintf(buf, sizeof buf, "errno %d", e);
    return buf;
}

/* A call that must succeed: on failure, says which and ends the test. */
#define TRY(x)                                                                           \
    ({                                                                                   \
        long r_ = (long)(x);                                                             \
        if (r_ < 0) {                                                                    \
            printf("line %d: %s failed: %s\n", __LINE__, #x, ename(errno));             \
            fflush(stdout);                                                              \
            _exit(1);                                                                    \
        }                                                                                \
        r_;                                                                              \
    })

/* A call whose result is part of the output: "what: ok" or "what: ESYMBOL". */
static long say(const char *what, long r) {
    if (r < 0)
        printf("%s: %s\n", what, ename(errno));
    else
        printf("%s: ok\n", what);
    return r;
}

static void report(const char *what, int st) {
    if (WIFEXITED(st))
        printf("%s: exited %d\n", what, WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        printf("%s: killed by signal %d\n", what, WTERMSIG(st));
}

static uint32_t fnv(uint32_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 16777619u;
    return h;
}
#define FNV_INIT 2166136261u

/* Byte `j` of connection `seed`'s data. */
static unsigned char gen(unsigned seed, size_t j) {
    return (unsigned char)((j * 131u) ^ (seed * 7919u) ^ (j >> 9) ^ (j >> 17));
}

static struct sockaddr_in in4(const char *ip, int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static struct sockaddr_in6 in6(const char *ip, int port) {
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    inet_pton(AF_INET6, ip, &a.sin6_addr);
    return a;
}

/* An address for `ip` (v4 or v6) and `port`, and its length. */
static socklen_t inet_addr_of(const char *ip, int port, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof *ss);
    if (strchr(ip, ':')) {
        *(struct sockaddr_in6 *)ss = in6(ip, port);
        return sizeof(struct sockaddr_in6);
    }
    *(struct sockaddr_in *)ss = in4(ip, port);
    return sizeof(struct sockaddr_in);
}

/* "IP:PORT" (or "[IP]:PORT") of an inet address. */
static const char *show(const struct sockaddr_storage *ss) {
    static char out[80];
    char ip[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        snprintf(out, sizeof out, "%s:%d", ip, ntohs(a->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        snprintf(out, sizeof out, "[%s]:%d", ip, ntohs(a->sin6_port));
    } else {
        snprintf(out, sizeof out, "family %d", ss->ss_family);
    }
    return out;
}

static int port_of(const struct sockaddr_storage *ss) {
    return ntohs(((const struct sockaddr_in *)ss)->sin_port); /* same offset in sockaddr_in6 */
}

static int local_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    TRY(getsockname(fd, (struct sockaddr *)&ss, &len));
    return port_of(&ss);
}

static void write_all(int fd, const void *p, size_t n) {
    const char *b = p;
    while (n > 0) {
        ssize_t w = TRY(write(fd, b, n));
        b += w;
        n -= (size_t)w;
    }
}

static size_t read_full(int fd, void *p, size_t n) {
    char *b = p;
    size_t got = 0;
    while (got < n) {
        ssize_t r = TRY(read(fd, b + got, n - got));
        if (r == 0) break;
        got += (size_t)r;
    }
    return got;
}

/* ---- TCP and UDP over loopback, with a native peer ---- */

/* `tcp_server IP PORT N`: listens on IP:PORT, echoes N connections one
 * after the other, and reports each one's length and checksum. */
static int tcp_server(char **argv) {
    const char *ip = argv[2];
    int port = atoi(argv[3]), n = atoi(argv[4]);
    struct sockaddr_storage a, me, peer, local;
    socklen_t alen = inet_addr_of(ip, port, &a);
    int s = TRY(socket(a.ss_family, SOCK_STREAM, 0));
    int one = 1;
    TRY(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
    TRY(bind(s, (struct sockaddr *)&a, alen));
    TRY(listen(s, 8));
    socklen_t len = sizeof me;
    TRY(getsockname(s, (struct sockaddr *)&me, &len));
    printf("listening on %s (len %u)\n", show(&me), len);
    fflush(stdout);
    static char buf[65536];
    for (int i = 0; i < n; i++) {
        len = sizeof peer;
        int c = TRY(accept(s, (struct sockaddr *)&peer, &len));
        char from[80];
        snprintf(from, sizeof from, "%s", show(&peer));
        *strrchr(from, ':') = 0; /* the peer's port is ephemeral */
        socklen_t llen = sizeof local;
        TRY(getsockname(c, (struct sockaddr *)&local, &llen));
        printf("connection %d from %s (len %u), local %s\n", i, from, len, show(&local));
        size_t total = 0;
        uint32_t h = FNV_INIT;
        ssize_t r;
        while ((r = TRY(read(c, buf, sizeof buf))) > 0) {
            h = fnv(h, buf, (size_t)r);
            total += (size_t)r;
            write_all(c, buf, (size_t)r);
        }
        printf("connection %d: %zu bytes, fnv %08x\n", i, total, h);
        close(c);
    }
    close(s);
    printf("server done\n");
    return 0;
}

/* `tcp_client IP PORT`: talks to an echo server at IP:PORT with every way
 * of sending and receiving. */
static int tcp_client(char **argv) {
    const char *ip = argv[2];
    int port = atoi(argv[3]);
    struct sockaddr_storage a, ss;
    socklen_t alen = inet_addr_of(ip, port, &a), len;
    int s = TRY(socket(a.ss_family, SOCK_STREAM, 0));
    say("connect", connect(s, (struct sockaddr *)&a, alen));
    len = sizeof ss;
    TRY(getpeername(s, (struct sockaddr *)&ss, &len));
    printf("peer is the server: %d (len %u)\n", port_of(&ss) == port, len);
    len = sizeof ss;
    TRY(getsockname(s, (struct sockaddr *)&ss, &len));
    printf("local port is ephemeral: %d\n", port_of(&ss) != port && port_of(&ss) != 0);
    say("connect again", connect(s, (struct sockaddr *)&a, alen));

    char buf[256];
    write_all(s, "hello", 5);
    printf("write/read: '%.*s'\n", (int)read_full(s, buf, 5), buf);

    TRY(send(s, "send/recv", 9, 0));
    ssize_t r = TRY(recv(s, buf, 9, MSG_WAITALL));
    printf("send/recv MSG_WAITALL: %zd '%.*s'\n", r, (int)r, buf);

    struct iovec out[3] = {{"scat", 4}, {"ter/", 4}, {"gather", 6}};
    struct msghdr m = {.msg_iov = out, .msg_iovlen = 3};
    printf("sendmsg: %zd\n", (ssize_t)TRY(sendmsg(s, &m, 0)));
    char x[5] = {0}, y[16] = {0};
    struct iovec in[2] = {{x, 4}, {y, 10}};
    struct msghdr mi = {.msg_iov = in, .msg_iovlen = 2};
    r = TRY(recvmsg(s, &mi, MSG_WAITALL));
    printf("recvmsg: %zd '%s' '%s' flags %#x\n", r, x, y, mi.msg_flags);

    TRY(send(s, "peek", 4, 0));
    r = TRY(recv(s, buf, 4, MSG_PEEK | MSG_WAITALL));
    printf("MSG_PEEK: %zd '%.*s'\n", r, (int)r, buf);
    r = TRY(recv(s, buf, 4, MSG_WAITALL));
    printf("then recv: %zd '%.*s'\n", r, (int)r, buf);
    r = recv(s, buf, 4, MSG_DONTWAIT);
    printf("nothing left: %zd %s\n", r, r < 0 ? ename(errno) : "");

    /* Bulk: 1 MiB in 64 KiB pieces, each echoed before the next. */
    static char big[65536], back[65536];
    uint32_t h = FNV_INIT;
    for (int i = 0; i < 16; i++) {
        for (size_t j = 0; j < sizeof big; j++) big[j] = gen(i, j);
        write_all(s, big, sizeof big);
        size_t got = read_full(s, back, sizeof back);
        if (got != sizeof back || memcmp(big, back, got)) printf("piece %d came back wrong (%zu bytes)\n", i, got);
        h = fnv(h, back, got);
    }
    printf("1 MiB echoed, fnv %08x\n", h);

    TRY(shutdown(s, SHUT_WR));
    printf("after shutdown(SHUT_WR) the server closes: read %zd\n", (ssize_t)TRY(read(s, buf, sizeof buf)));
    r = send(s, "late", 4, MSG_NOSIGNAL);
    printf("send after shutdown: %s\n", r < 0 ? ename(errno) : "sent");
    close(s);
    return 0;
}

/* `udp_client IP PORT`: datagrams to a native server that answers each one
 * in upper case. */
static int udp_client(char **argv) {
    const char *ip = argv[2];
    int port = atoi(argv[3]);
    struct sockaddr_storage a, from;
    socklen_t alen = inet_addr_of(ip, port, &a), flen;
    int s = TRY(socket(a.ss_family, SOCK_DGRAM, 0));
    struct timeval tv = {5, 0};
    TRY(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    char buf[256];

    TRY(sendto(s, "ping", 4, 0, (struct sockaddr *)&a, alen));
    printf("bound by sendto: %d\n", local_port(s) != 0);
    flen = sizeof from;
    ssize_t r = TRY(recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen));
    printf("recvfrom: '%.*s' from the server: %d (len %u)\n", (int)r, buf, port_of(&from) == port, flen);

    struct iovec out[2] = {{"two ", 4}, {"parts", 5}};
    struct msghdr m = {.msg_name = &a, .msg_namelen = alen, .msg_iov = out, .msg_iovlen = 2};
    TRY(sendmsg(s, &m, 0));
    char p1[4], p2[16] = {0};
    struct iovec in[2] = {{p1, 4}, {p2, 15}};
    struct msghdr mi = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = in, .msg_iovlen = 2};
    r = TRY(recvmsg(s, &mi, 0));
    printf("recvmsg: %zd '%.4s' '%s' flags %#x from the server: %d\n", r, p1, p2, mi.msg_flags,
           port_of(&from) == port);

    say("connect", connect(s, (struct sockaddr *)&a, alen));
    flen = sizeof from;
    TRY(getpeername(s, (struct sockaddr *)&from, &flen));
    printf("getpeername is the server: %d\n", port_of(&from) == port);
    TRY(send(s, "connected", 9, 0));
    r = TRY(recv(s, buf, sizeof buf, 0));
    printf("send/recv: '%.*s'\n", (int)r, buf);

    memset(buf, 'x', 100);
    TRY(send(s, buf, 100, 0));
    r = TRY(recv(s, buf, 10, MSG_TRUNC));
    printf("recv MSG_TRUNC of 10: %zd, starts '%.10s'\n", r, buf);
    TRY(send(s, buf, 40, 0));
    char small[8];
    struct iovec si = {small, sizeof small};
    struct msghdr ms = {.msg_iov = &si, .msg_iovlen = 1};
    r = TRY(recvmsg(s, &ms, 0));
    printf("recvmsg into 8: %zd, MSG_TRUNC set: %d\n", r, !!(ms.msg_flags & MSG_TRUNC));

    TRY(send(s, "", 0, 0));
    r = TRY(recv(s, buf, sizeof buf, 0));
    printf("empty datagram: %zd\n", r);
    /* A datagram socket does not listen, whatever port it has. */
    say("listen on a datagram socket", listen(s, 5));
    /* getsockname and getpeername read the length first. */
    say("getsockname without a length", getsockname(s, (struct sockaddr *)&from, NULL));
    say("getpeername without a length", getpeername(s, (struct sockaddr *)&from, NULL));
    /* Options: a level the protocol does not know, an unknown name at a known one. */
    int ov;
    socklen_t ol = sizeof ov;
    say("getsockopt at level 500", getsockopt(s, 500, SO_OOBINLINE, &ov, &ol));
    say("getsockopt of TCP's option on UDP", getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &ov, &ol));
    say("getsockopt of IP option -1", getsockopt(s, IPPROTO_IP, -1, &ov, &ol));
    say("setsockopt at level 500", setsockopt(s, 500, SO_OOBINLINE, &ov, sizeof ov));
    close(s);
    return 0;
}

/* `udp_server IP PORT N`: answers N datagrams in upper case. */
static int udp_server(char **argv) {
    const char *ip = argv[2];
    int port = atoi(argv[3]), n = atoi(argv[4]);
    struct sockaddr_storage a, me, from;
    socklen_t alen = inet_addr_of(ip, port, &a), len;
    int s = TRY(socket(a.ss_family, SOCK_DGRAM, 0));
    TRY(bind(s, (struct sockaddr *)&a, alen));
    len = sizeof me;
    TRY(getsockname(s, (struct sockaddr *)&me, &len));
    printf("bound to %s\n", show(&me));
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        char buf[512];
        len = sizeof from;
        ssize_t r = TRY(recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &len));
        char who[80];
        snprintf(who, sizeof who, "%s", show(&from));
        *strrchr(who, ':') = 0;
        printf("got '%.*s' from %s\n", (int)r, buf, who);
        for (ssize_t j = 0; j < r; j++)
            if (buf[j] >= 'a' && buf[j] <= 'z') buf[j] -= 32;
        TRY(sendto(s, buf, (size_t)r, 0, (struct sockaddr *)&from, len));
    }
    printf("udp server done\n");
    return 0;
}

/* `tcp_self IP PORT`: a server and a forked client in the same program. */
static int tcp_self(char **argv) {
    const char *ip = argv[2];
    int port = atoi(argv[3]);
    struct sockaddr_storage a, ss;
    socklen_t alen = inet_addr_of(ip, port, &a), len;
    int s = TRY(socket(a.ss_family, SOCK_STREAM, 0));
    TRY(bind(s, (struct sockaddr *)&a, alen));
    TRY(listen(s, 4));
    fflush(stdout);
    pid_t c = TRY(fork());
    if (c == 0) {
        alarm(TIMEOUT);
        close(s);
        int k = TRY(socket(a.ss_family, SOCK_STREAM, 0));
        TRY(connect(k, (struct sockaddr *)&a, alen));
        len = sizeof ss;
        TRY(getpeername(k, (struct sockaddr *)&ss, &len));
        printf("child: connected, peer %s\n", show(&ss));
        write_all(k, "question", 8);
        char buf[16];
        size_t n = read_full(k, buf, sizeof buf);
        printf("child: answer '%.*s'\n", (int)n, buf);
        fflush(stdout);
        _exit(0);
    }
    int k = TRY(accept(s, NULL, NULL));
    len = sizeof ss;
    TRY(getsockname(k, (struct sockaddr *)&ss, &len));
    char buf[8];
    size_t n = read_full(k, buf, 8);
    write_all(k, "answer", 6);
    close(k);
    int st;
    waitpid(c, &st, 0);
    printf("parent: accepted on %s, read '%.*s'\n", show(&ss), (int)n, buf);
    report("client", st);
    return 0;
}

/* ---- AF_UNIX ---- */

static const char *type_name(int t) {
    return t == SOCK_STREAM ? "stream" : t == SOCK_DGRAM ? "dgram" : "seqpacket";
}

static const int unix_types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};

static int sigpipes;
static void on_sigpipe(int sig) {
    (void)sig;
    sigpipes++;
}

/* `unix_pair`: socketpair of each type, message boundaries, truncation,
 * names, end of file, EPIPE and SIGPIPE, and a pair shared with a child. */
static int unix_pair(void) {
    signal(SIGPIPE, on_sigpipe);
    for (int i = 0; i < 3; i++) {
        int t = unix_types[i], sv[2];
        printf("-- %s\n", type_name(t));
        TRY(socketpair(AF_UNIX, t, 0, sv));
        char buf[64];
        TRY(send(sv[0], "hello", 5, 0));
        TRY(send(sv[0], "world", 5, 0));
        ssize_t r = TRY(recv(sv[1], buf, sizeof buf, 0));
        printf("first recv: %zd '%.*s'\n", r, (int)r, buf);
        r = recv(sv[1], buf, sizeof buf, MSG_DONTWAIT);
        if (r >= 0)
            printf("second recv: %zd '%.*s'\n", r, (int)r, buf);
        else
            printf("second recv: %s\n", ename(errno));

        TRY(send(sv[1], "abcdefgh", 8, 0));
        char small[3];
        struct iovec iv = {small, 3};
        struct msghdr m = {.msg_iov = &iv, .msg_iovlen = 1};
        r = TRY(recvmsg(sv[0], &m, 0));
        printf("recvmsg into 3: %zd '%.3s', MSG_TRUNC set: %d\n", r, small, !!(m.msg_flags & MSG_TRUNC));
        r = recv(sv[0], buf, sizeof buf, MSG_DONTWAIT);
        if (r >= 0)
            printf("rest: %zd '%.*s'\n", r, (int)r, buf);
        else
            printf("rest: %s\n", ename(errno));

        TRY(send(sv[1], "0123456789", 10, 0));
        r = TRY(recv(sv[0], buf, 4, MSG_TRUNC | MSG_DONTWAIT));
        printf("recv MSG_TRUNC of 4: %zd\n", r);
        while (recv(sv[0], buf, sizeof buf, MSG_DONTWAIT) > 0) {
        }

        int v = -1;
        socklen_t len = sizeof v;
        TRY(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &len));
        printf("SO_TYPE is %s\n", type_name(v));
        struct sockaddr_un un;
        len = sizeof un;
        TRY(getsockname(sv[0], (struct sockaddr *)&un, &len));
        printf("getsockname: family %d len %u\n", un.sun_family, len);
        len = sizeof un;
        TRY(getpeername(sv[0], (struct sockaddr *)&un, &len));
        printf("getpeername: family %d len %u\n", un.sun_family, len);

        TRY(shutdown(sv[0], SHUT_WR));
        r = recv(sv[1], buf, sizeof buf, MSG_DONTWAIT);
        printf("after shutdown(SHUT_WR): %s\n", r == 0 ? "end of file" : r < 0 ? ename(errno) : "data");
        close(sv[0]);
        r = recv(sv[1], buf, sizeof buf, MSG_DONTWAIT);
        printf("after close: %s\n", r == 0 ? "end of file" : r < 0 ? ename(errno) : "data");
        r = send(sv[1], "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        printf("send to a closed peer: %s\n", r < 0 ? ename(errno) : "sent");
        if (t != SOCK_SEQPACKET) { /* see `sigpipe` */
            r = send(sv[1], "x", 1, MSG_DONTWAIT);
            printf("without MSG_NOSIGNAL: %s, SIGPIPEs %d\n", r < 0 ? ename(errno) : "sent", sigpipes);
            sigpipes = 0;
        }
        close(sv[1]);
    }

    printf("-- shared with a child\n");
    int sv[2];
    TRY(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
    fflush(stdout);
    pid_t c = TRY(fork());
    if (c == 0) {
        alarm(TIMEOUT);
        close(sv[0]);
        char buf[64];
        ssize_t r;
        while ((r = TRY(recv(sv[1], buf, sizeof buf, 0))) > 0) {
            for (ssize_t j = 0; j < r; j++) buf[j] = (char)(buf[j] ^ 0x20);
            TRY(send(sv[1], buf, (size_t)r, 0));
        }
        _exit(0);
    }
    close(sv[1]);
    const char *words[] = {"one", "Two", "three", "FOUR"};
    for (int i = 0; i < 4; i++) {
        char buf[64];
        TRY(send(sv[0], words[i], strlen(words[i]), 0));
        ssize_t r = TRY(recv(sv[0], buf, sizeof buf, 0));
        printf("'%s' came back as '%.*s'\n", words[i], (int)r, buf);
    }
    close(sv[0]);
    int st;
    waitpid(c, &st, 0);
    report("child", st);
    return 0;
}

static socklen_t un_path(struct sockaddr_un *un, const char *path) {
    memset(un, 0, sizeof *un);
    un->sun_family = AF_UNIX;
    strcpy(un->sun_path, path);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

/* Whether `un`/`len` names `want` (a path, or an abstract name of `wlen` bytes). */
static const char *names(const struct sockaddr_un *un, socklen_t len, const struct sockaddr_un *want, socklen_t wlen) {
    if (len == wlen && memcmp(un, want, len) == 0) return "the name";
    if (len == offsetof(struct sockaddr_un, sun_path)) return "unnamed";
    static char out[64];
    snprintf(out, sizeof out, "something else (len %u)", len);
    return out;
}

/* Server and client of `type` at address `srv` (a path or an abstract name);
 * a datagram client binds `cli` so that it can be answered. */
static void unix_exchange(int t, const struct sockaddr_un *srv, socklen_t slen, const struct sockaddr_un *cli,
                          socklen_t clen, int show_source) {
    struct sockaddr_un un;
    socklen_t len;
    printf("-- %s\n", type_name(t));
    int s = TRY(socket(AF_UNIX, t, 0));
    say("bind", bind(s, (const struct sockaddr *)srv, slen));
    len = sizeof un;
    TRY(getsockname(s, (struct sockaddr *)&un, &len));
    printf("listener's getsockname: %s\n", names(&un, len, srv, slen));
    int dup = TRY(socket(AF_UNIX, t, 0));
    say("bind the same name again", bind(dup, (const struct sockaddr *)srv, slen));
    close(dup);
    if (t != SOCK_DGRAM) TRY(listen(s, 4));

    int k = TRY(socket(AF_UNIX, t, 0));
    if (t == SOCK_DGRAM) TRY(bind(k, (const struct sockaddr *)cli, clen));
    say("connect", connect(k, (const struct sockaddr *)srv, slen));
    len = sizeof un;
    TRY(getpeername(k, (struct sockaddr *)&un, &len));
    printf("client's getpeername: %s\n", names(&un, len, srv, slen));
    len = sizeof un;
    TRY(getsockname(k, (struct sockaddr *)&un, &len));
    printf("client's getsockname: %s\n", names(&un, len, cli, clen));
    TRY(send(k, "request", 7, 0));

    char buf[64];
    ssize_t r;
    int a;
    if (t == SOCK_DGRAM) {
        a = s;
        len = sizeof un;
        r = TRY(recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&un, &len));
        if (show_source)
            printf("recvfrom: '%.*s' from %s\n", (int)r, buf, names(&un, len, cli, clen));
        else
            printf("recvfrom: '%.*s'\n", (int)r, buf);
        TRY(sendto(s, "reply", 5, 0, (const struct sockaddr *)cli, clen));
    } else {
        len = sizeof un;
        a = TRY(accept(s, (struct sockaddr *)&un, &len));
        printf("accept: peer %s\n", names(&un, len, cli, clen));
        len = sizeof un;
        TRY(getsockname(a, (struct sockaddr *)&un, &len));
        printf("accepted's getsockname: %s\n", names(&un, len, srv, slen));
        len = sizeof un;
        TRY(getpeername(a, (struct sockaddr *)&un, &len));
        printf("accepted's getpeername: %s\n", names(&un, len, cli, clen));
        r = TRY(recv(a, buf, sizeof buf, 0));
        printf("recv: '%.*s'\n", (int)r, buf);
        TRY(send(a, "reply", 5, 0));
    }
    r = TRY(recv(k, buf, sizeof buf, 0));
    printf("client got '%.*s'\n", (int)r, buf);
    close(k);
    if (a != s) {
        r = TRY(recv(a, buf, sizeof buf, 0));
        printf("after the client closes: %zd\n", r);
        close(a);
    }
    close(s);
    if (srv->sun_path[0]) {
        say("connect after the listener closed", connect(TRY(socket(AF_UNIX, t, 0)), (const struct sockaddr *)srv, slen));
    }
}

/* `unix_path`: sockets bound to paths in /tmp and in the working directory. */
static int unix_path(void) {
    char path[64], cpath[64];
    struct sockaddr_un srv, cli, un;
    for (int i = 0; i < 3; i++) {
        int t = unix_types[i];
        snprintf(path, sizeof path, "/tmp/hx-net-%d-%s", (int)getpid(), type_name(t));
        snprintf(cpath, sizeof cpath, "/tmp/hx-net-%d-%s-client", (int)getpid(), type_name(t));
        socklen_t slen = un_path(&srv, path), clen = un_path(&cli, cpath);
        unix_exchange(t, &srv, slen, &cli, clen, 0); /* see `unix_path_peers` */
        struct stat st;
        TRY(stat(path, &st));
        printf("the path is a socket: %d\n", S_ISSOCK(st.st_mode));
        TRY(unlink(path));
        if (t == SOCK_DGRAM) TRY(unlink(cpath));
    }

    printf("-- relative path\n");
    TRY(chdir("/tmp"));
    snprintf(path, sizeof path, "hx-net-%d-relative", (int)getpid());
    socklen_t slen = un_path(&srv, path);
    int s = TRY(socket(AF_UNIX, SOCK_STREAM, 0));
    TRY(bind(s, (struct sockaddr *)&srv, slen));
    TRY(listen(s, 1));
    socklen_t len = sizeof un;
    TRY(getsockname(s, (struct sockaddr *)&un, &len));
    printf("getsockname keeps the relative path: %s\n", names(&un, len, &srv, slen));
    snprintf(cpath, sizeof cpath, "/tmp/%s", path);
    int k = TRY(socket(AF_UNIX, SOCK_STREAM, 0));
    socklen_t alen = un_path(&cli, cpath);
    say("connect by the absolute path", connect(k, (struct sockaddr *)&cli, alen));
    close(k);
    close(s);
    TRY(unlink(path));

    printf("-- errors\n");
    k = TRY(socket(AF_UNIX, SOCK_STREAM, 0));
    snprintf(path, sizeof path, "/tmp/hx-net-%d-missing", (int)getpid());
    slen = un_path(&srv, path);
    say("connect to a missing path", connect(k, (struct sockaddr *)&srv, slen));
    snprintf(path, sizeof path, "/tmp/hx-net-%d-file", (int)getpid());
    close(TRY(open(path, O_CREAT | O_WRONLY, 0600)));
    slen = un_path(&srv, path);
    say("connect to a regular file", connect(k, (struct sockaddr *)&srv, slen));
    say("bind over a regular file", bind(k, (struct sockaddr *)&srv, slen));
    TRY(unlink(path));
    say("bind in a missing directory", bind(k, (struct sockaddr *)&srv, un_path(&srv, "/tmp/no/such/dir/s")));
    return 0;
}

static socklen_t un_abstract(struct sockaddr_un *un, const char *name) {
    memset(un, 0, sizeof *un);
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path + 1, name, strlen(name));
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
}

/* `unix_abstract`: abstract names, autobind, and a client in a child process. */
static int unix_abstract(void) {
    char name[64], cname[64];
    struct sockaddr_un srv, cli, un;
    for (int i = 0; i < 3; i++) {
        int t = unix_types[i];
        snprintf(name, sizeof name, "hx-net-%08d-%s", (int)getpid(), type_name(t));
        snprintf(cname, sizeof cname, "hx-net-%08d-%s-client", (int)getpid(), type_name(t));
        socklen_t slen = un_abstract(&srv, name), clen = un_abstract(&cli, cname);
        unix_exchange(t, &srv, slen, &cli, clen, 1);
        printf("its length: %u\n", slen);
    }

    printf("-- autobind\n");
    int s = TRY(socket(AF_UNIX, SOCK_DGRAM, 0));
    struct sockaddr_un only = {.sun_family = AF_UNIX};
    say("bind with only the family", bind(s, (struct sockaddr *)&only, sizeof(sa_family_t)));
    socklen_t len = sizeof un;
    TRY(getsockname(s, (struct sockaddr *)&un, &len));
    int hex = 1;
    for (socklen_t j = 3; j < len; j++) hex &= !!strchr("0123456789abcdef", un.sun_path[j - 2]);
    printf("autobound: len %u, abstract %d, hex digits %d\n", len, un.sun_path[0] == 0, hex);
    /* A datagram to it from another socket, and the reply to the sender's autobound name. */
    int k = TRY(socket(AF_UNIX, SOCK_DGRAM, 0));
    TRY(bind(k, (struct sockaddr *)&only, sizeof(sa_family_t)));
    TRY(sendto(k, "to autobound", 12, 0, (struct sockaddr *)&un, len));
    char buf[32];
    struct sockaddr_un from;
    socklen_t flen = sizeof from;
    ssize_t r = TRY(recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen));
    printf("got '%.*s' from an autobound name of len %u\n", (int)r, buf, flen);
    TRY(sendto(s, "back", 4, 0, (struct sockaddr *)&from, flen));
    r = TRY(recv(k, buf, sizeof buf, 0));
    printf("the reply: '%.*s'\n", (int)r, buf);
    close(k);
    close(s);

    printf("-- across fork\n");
    snprintf(name, sizeof name, "hx-net-%08d-fork", (int)getpid());
    socklen_t slen = un_abstract(&srv, name);
    s = TRY(socket(AF_UNIX, SOCK_STREAM, 0));
    TRY(bind(s, (struct sockaddr *)&srv, slen));
    TRY(listen(s, 4));
    fflush(stdout);
    pid_t c = TRY(fork());
    if (c == 0) {
        alarm(TIMEOUT);
        close(s);
        k = TRY(socket(AF_UNIX, SOCK_STREAM, 0));
        TRY(connect(k, (struct sockaddr *)&srv, slen));
        write_all(k, "from the child", 14);
        r = TRY(read(k, buf, sizeof buf));
        printf("child got '%.*s'\n", (int)r, buf);
        fflush(stdout);
        _exit(0);
    }
    int a = TRY(accept(s, NULL, NULL));
    r = (ssize_t)read_full(a, buf, 14);
    write_all(a, "from the parent", 15);
    close(a);
    int st;
    waitpid(c, &st, 0);
    printf("parent got '%.*s'\n", (int)r, buf);
    report("child", st);

    printf("-- errors\n");
    k = TRY(socket(AF_UNIX, SOCK_STREAM, 0));
    snprintf(name, sizeof name, "hx-net-%08d-nobody", (int)getpid());
    slen = un_abstract(&srv, name);
    say("connect to an unbound name", connect(k, (struct sockaddr *)&srv, slen));
    return 0;
}

/* `unix_connect_abstract NAME`: connects to abstract name NAME. */
static int unix_connect_abstract(char **argv) {
    struct sockaddr_un un;
    socklen_t len = un_abstract(&un, argv[2]);
    int k = TRY(socket(AF_UNIX, SOCK_STREAM, 0));
    return say("connect", connect(k, (struct sockaddr *)&un, len)) < 0 ? 3 : 0;
}

/* `unix_serve_path PATH`: listens at PATH and answers one connection in upper case. */
static int unix_serve_path(char **argv) {
    struct sockaddr_un un;
    socklen_t len = un_path(&un, argv[2]);
    int s = TRY(socket(AF_UNIX, SOCK_STREAM, 0));
    TRY(bind(s, (struct sockaddr *)&un, len));
    TRY(listen(s, 1));
    printf("listening\n");
    fflush(stdout);
    int a = TRY(accept(s, NULL, NULL));
    char buf[256];
    ssize_t r = TRY(read(a, buf, sizeof buf));
    for (ssize_t j = 0; j < r; j++)
        if (buf[j] >= 'a' && buf[j] <= 'z') buf[j] -= 32;
    write_all(a, buf, (size_t)r);
    close(a);
    printf("answered '%.*s'\n", (int)r, buf);
    return 0;
}

/* ---- Descriptor passing ---- */

static long send_fds(int s, const char *data, const int *fds, int n) {
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(4 * sizeof(int))];
    } u;
    memset(&u, 0, sizeof u);
    struct iovec iv = {(void *)data, strlen(data)};
    struct msghdr m = {.msg_iov = &iv, .msg_iovlen = 1, .msg_control = u.space,
                       .msg_controllen = CMSG_SPACE(n * sizeof(int))};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(n * sizeof(int));
    memcpy(CMSG_DATA(c), fds, n * sizeof(int));
    return sendmsg(s, &m, 0);
}

/* Receives a message with up to 4 descriptors into `fds` (a control buffer
 * of `room` bytes); returns how many came. */
static int recv_fds(int s, int *fds, size_t room, int flags) {
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(8 * sizeof(int))];
    } u;
    memset(&u, 0, sizeof u);
    char data[16];
    struct iovec iv = {data, sizeof data};
    struct msghdr m = {.msg_iov = &iv, .msg_iovlen = 1, .msg_control = u.space, .msg_controllen = room};
    ssize_t r = TRY(recvmsg(s, &m, flags));
    int n = 0;
    printf("  got %zd bytes '%.*s', controllen %zu, MSG_CTRUNC %d\n", r, (int)r, data, (size_t)m.msg_controllen,
           !!(m.msg_flags & MSG_CTRUNC));
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        printf("  cmsg level %d type %d len %zu: %d descriptors\n", c->cmsg_level, c->cmsg_type,
               (size_t)c->cmsg_len, k);
        for (int i = 0; i < k && n < 4; i++) memcpy(&fds[n++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
    return n;
}

static const char *kind_of(int fd) {
    struct stat st;
    if (fstat(fd, &st) < 0) return ename(errno);
    return S_ISFIFO(st.st_mode) ? "fifo" : S_ISREG(st.st_mode) ? "file" : S_ISSOCK(st.st_mode) ? "socket" : "other";
}

/* `scm_rights`: a pipe, a file and a socket passed to a child and to itself. */
static int scm_rights(void) {
    int sv[2], p[2], q[2], other[2];
    TRY(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    TRY(pipe(p));
    TRY(pipe(q));
    TRY(socketpair(AF_UNIX, SOCK_STREAM, 0, other));
    write_all(p[1], "through a pipe", 14);
    char path[64];
    snprintf(path, sizeof path, "/tmp/hx-net-%d-scm", (int)getpid());
    int f = TRY(open(path, O_RDWR | O_CREAT | O_TRUNC, 0600));
    TRY(unlink(path));
    write_all(f, "0123456789file", 14);
    TRY(lseek(f, 10, SEEK_SET));
    fflush(stdout);
    pid_t c = TRY(fork());
    if (c == 0) {
        alarm(TIMEOUT);
        close(sv[0]);
        close(p[0]);
        close(p[1]);
        close(q[0]);
        close(q[1]);
        close(f);
        close(other[0]);
        close(other[1]);
        int fds[4];
        char buf[64];
        printf("child: a pipe's read end and a file, MSG_CMSG_CLOEXEC\n");
        int n = recv_fds(sv[1], fds, CMSG_SPACE(4 * sizeof(int)), MSG_CMSG_CLOEXEC);
        if (n == 2) {
            printf("  %s, %s; close-on-exec %d %d\n", kind_of(fds[0]), kind_of(fds[1]),
                   !!(fcntl(fds[0], F_GETFD) & FD_CLOEXEC), !!(fcntl(fds[1], F_GETFD) & FD_CLOEXEC));
            ssize_t r = TRY(read(fds[0], buf, sizeof buf));
            printf("  the pipe: '%.*s'\n", (int)r, buf);
            r = TRY(read(fds[1], buf, 4));
            printf("  the file at its shared offset: '%.*s'\n", (int)r, buf);
            close(fds[0]);
            close(fds[1]);
        }
        TRY(send(sv[1], "k", 1, 0));

        printf("child: a pipe's write end and a socket\n");
        n = recv_fds(sv[1], fds, CMSG_SPACE(4 * sizeof(int)), 0);
        if (n == 2) {
            printf("  %s, %s; close-on-exec %d %d\n", kind_of(fds[0]), kind_of(fds[1]),
                   !!(fcntl(fds[0], F_GETFD) & FD_CLOEXEC), !!(fcntl(fds[1], F_GETFD) & FD_CLOEXEC));
            write_all(fds[0], "back through a passed pipe", 26);
            TRY(send(fds[1], "over a passed socket", 20, 0));
            close(fds[0]);
            close(fds[1]);
        }
        TRY(send(sv[1], "k", 1, 0));
        fflush(stdout);
        _exit(0);
    }
    close(sv[1]);
    char buf[64];
    TRY(send_fds(sv[0], "A", (int[]){p[0], f}, 2));
    TRY(recv(sv[0], buf, 1, 0));
    TRY(send_fds(sv[0], "B", (int[]){q[1], other[1]}, 2));
    TRY(recv(sv[0], buf, 1, 0));
    int st;
    waitpid(c, &st, 0);
    report("child", st);
    close(q[1]);
    close(other[1]);
    ssize_t r = (ssize_t)read_full(q[0], buf, sizeof buf);
    printf("parent: the pipe brought '%.*s'\n", (int)r, buf);
    r = TRY(recv(other[0], buf, sizeof buf, 0));
    printf("parent: the socket brought '%.*s'\n", (int)r, buf);
    printf("parent: the file's offset is now %ld\n", (long)lseek(f, 0, SEEK_CUR));

    printf("to itself:\n");
    int back[2];
    TRY(socketpair(AF_UNIX, SOCK_DGRAM, 0, back));
    TRY(send_fds(back[0], "E", (int[]){f, p[1]}, 2));
    int fds[4];
    int n = recv_fds(back[1], fds, CMSG_SPACE(2 * sizeof(int)), 0);
    if (n == 2) {
        printf("  new descriptors: %d %d\n", fds[0] != f && fds[1] != f, fds[0] != p[1] && fds[1] != p[1]);
        TRY(lseek(fds[0], 0, SEEK_SET));
        r = TRY(read(fds[0], buf, 10));
        printf("  the file again: '%.*s'\n", (int)r, buf);
        write_all(fds[1], "echo", 4);
        r = TRY(read(p[0], buf, sizeof buf));
        printf("  the pipe again: '%.*s'\n", (int)r, buf);
    }
    close(99);
    say("pass a descriptor that is not open", send_fds(back[0], "F", (int[]){99}, 1));
    return 0;
}

/* `scm_ctrunc`: two descriptors sent, room for one: the first arrives, the
 * message says MSG_CTRUNC, and msg_controllen is what was filled in. */
static int scm_ctrunc(void) {
    int sv[2], p[2], fds[4];
    TRY(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    TRY(pipe(p));
    TRY(send_fds(sv[0], "C", (int[]){p[0], p[1]}, 2));
    int n = recv_fds(sv[1], fds, CMSG_LEN(sizeof(int)), 0);
    printf("%d arrived\n", n);
    if (n == 1) {
        write_all(p[1], "still a pipe", 12);
        char buf[16];
        ssize_t r = TRY(read(fds[0], buf, sizeof buf));
        printf("read through it: '%.*s'\n", (int)r, buf);
    }
    return 0;
}

/* `sigpipe`: a send to a closed peer, without MSG_NOSIGNAL, on each AF_UNIX
 * type: Linux raises SIGPIPE for a stream socket only. */
static int sigpipe_test(void) {
    signal(SIGPIPE, on_sigpipe);
    for (int i = 0; i < 3; i++) {
        int t = unix_types[i], sv[2];
        TRY(socketpair(AF_UNIX, t, 0, sv));
        close(sv[0]);
        ssize_t r = send(sv[1], "x", 1, MSG_DONTWAIT);
        printf("%s: send %s, SIGPIPEs %d\n", type_name(t), r < 0 ? ename(errno) : "sent", sigpipes);
        sigpipes = 0;
        r = write(sv[1], "x", 1);
        printf("%s: write %s, SIGPIPEs %d\n", type_name(t), r < 0 ? ename(errno) : "written", sigpipes);
        sigpipes = 0;
        close(sv[1]);
    }
    return 0;
}

/* `unix_path_peers`: a client bound to a path, as its server sees it: the
 * source of its datagrams (which the server answers), and the peer of its
 * stream connection. */
static int unix_path_peers(void) {
    char path[64], cpath[64];
    struct sockaddr_un srv, cli, un;
    snprintf(path, sizeof path, "/tmp/hx-net-%d-server", (int)getpid());
    snprintf(cpath, sizeof cpath, "/tmp/hx-net-%d-client", (int)getpid());
    socklen_t slen = un_path(&srv, path), clen = un_path(&cli, cpath), len;
    char buf[32];

    printf("-- dgram\n");
    int s = TRY(socket(AF_UNIX, SOCK_DGRAM, 0));
    TRY(bind(s, (struct sockaddr *)&srv, slen));
    int k = TRY(socket(AF_UNIX, SOCK_DGRAM, 0));
    TRY(bind(k, (struct sockaddr *)&cli, clen));
    TRY(sendto(k, "request", 7, 0, (struct sockaddr *)&srv, slen));
    len = sizeof un;
    ssize_t r = TRY(recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&un, &len));
    printf("recvfrom: '%.*s' from %s\n", (int)r, buf, names(&un, len, &cli, clen));
    if (say("reply to that address", sendto(s, "reply", 5, 0, (struct sockaddr *)&un, len)) >= 0) {
        r = recv(k, buf, sizeof buf, MSG_DONTWAIT);
        printf("the client got: %s\n", r < 0 ? ename(errno) : "the reply");
    }
    close(s);
    close(k);
    TRY(unlink(path));
    TRY(unlink(cpath));

    printf("-- stream\n");
    s = TRY(socket(AF_UNIX, SOCK_STREAM, 0));
    TRY(bind(s, (struct sockaddr *)&srv, slen));
    TRY(listen(s, 1));
    k = TRY(socket(AF_UNIX, SOCK_STREAM, 0));
    TRY(bind(k, (struct sockaddr *)&cli, clen));
    TRY(connect(k, (struct sockaddr *)&srv, slen));
    len = sizeof un;
    int a = TRY(accept(s, (struct sockaddr *)&un, &len));
    printf("accept: peer %s\n", names(&un, len, &cli, clen));
    len = sizeof un;
    TRY(getpeername(a, (struct sockaddr *)&un, &len));
    printf("accepted's getpeername: %s\n", names(&un, len, &cli, clen));
    TRY(unlink(path));
    TRY(unlink(cpath));
    return 0;
}

/* ---- Non-blocking connects, edge-triggered epoll, many connections ---- */

struct conn {
    int fd;
    size_t size, sent, got, wrong;
    uint32_t h;
    int connected, done;
    /* The server's: bytes read and not yet echoed, from `at`. */
    char *buf;
    size_t pending, at;
    int eof;
};

/* Connection i's length: mostly small, a few large enough that writes meet EAGAIN. */
static size_t conn_size(int i) {
    return i % 50 == 7 ? 400000 : (size_t)(i * 7919 % 20000) + 1;
}

#define SERVER_BUF 16384

/* The clients: n non-blocking connects, then one edge-triggered loop that
 * writes each connection's data, half-closes, and reads the echo back. */
static int epoll_clients(int port, int n) {
    struct conn *cs = calloc((size_t)n, sizeof *cs);
    int ep = TRY(epoll_create1(EPOLL_CLOEXEC));
    struct sockaddr_in a = in4("127.0.0.1", port);
    int inprogress = 0, immediate = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        int fd;
        if (i % 2) {
            fd = TRY(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
        } else {
            fd = TRY(socket(AF_INET, SOCK_STREAM, 0));
            TRY(fcntl(fd, F_SETFL, TRY(fcntl(fd, F_GETFL)) | O_NONBLOCK));
        }
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
            immediate++;
        else if (errno == EINPROGRESS)
            inprogress++;
        else
            printf("connect %d: %s\n", i, ename(errno));
        cs[i] = (struct conn){.fd = fd, .size = conn_size(i), .h = FNV_INIT};
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u32 = (uint32_t)i};
        TRY(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
    }
    printf("clients: %d connects in progress, %d done at once\n", inprogress, immediate);
    static char out[65536], in[65536];
    struct epoll_event evs[64];
    int finished = 0;
    while (finished < n) {
        int k = TRY(epoll_wait(ep, evs, 64, 10000));
        if (k == 0) {
            printf("clients: nothing happened for 10 s with %d of %d finished\n", finished, n);
            break;
        }
        for (int e = 0; e < k; e++) {
            int i = (int)evs[e].data.u32;
            struct conn *c = &cs[i];
            if (c->done) continue;
            if (!c->connected && (evs[e].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
                int err = -1;
                socklen_t len = sizeof err;
                TRY(getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len));
                if (err) {
                    printf("connection %d failed: %s\n", i, ename(err));
                    c->done = 1;
                    finished++;
                    failed++;
                    continue;
                }
                c->connected = 1;
            }
            if (!c->connected) continue;
            while (c->sent < c->size) {
                size_t m = c->size - c->sent;
                if (m > sizeof out) m = sizeof out;
                for (size_t j = 0; j < m; j++) out[j] = (char)gen((unsigned)i, c->sent + j);
                ssize_t w = write(c->fd, out, m);
                if (w < 0 && errno == EAGAIN) break;
                c->sent += (size_t)TRY(w);
                if (c->sent == c->size) TRY(shutdown(c->fd, SHUT_WR));
            }
            for (;;) {
                ssize_t r = read(c->fd, in, sizeof in);
                if (r < 0 && errno == EAGAIN) break;
                if (TRY(r) == 0) {
                    c->done = 1;
                    finished++;
                    break;
                }
                for (ssize_t j = 0; j < r; j++) c->wrong += (unsigned char)in[j] != gen((unsigned)i, c->got + (size_t)j);
                c->h = fnv(c->h, in, (size_t)r);
                c->got += (size_t)r;
            }
        }
    }
    size_t total = 0, short_ = 0, wrong = 0;
    uint32_t all = FNV_INIT;
    for (int i = 0; i < n; i++) {
        total += cs[i].got;
        short_ += cs[i].got != cs[i].size;
        wrong += cs[i].wrong;
        all = fnv(all, &cs[i].h, sizeof cs[i].h);
    }
    int open_now = 0;
    for (int i = 0; i < n; i++) open_now += fcntl(cs[i].fd, F_GETFD) >= 0;
    printf("clients: %d finished, %d failed, %d still open at once\n", finished, failed, open_now);
    printf("clients: %zu bytes back, %zu connections short, %zu bytes wrong, fnv of fnvs %08x\n", total, short_,
           wrong, all);
    for (int i = 0; i < n; i++) close(cs[i].fd);
    return finished == n && failed == 0 && short_ == 0 && wrong == 0 ? 0 : 1;
}

/* The server: an edge-triggered listener and n echoed connections. */
static void epoll_server(int ls, int n) {
    struct conn *cs = calloc((size_t)n, sizeof *cs);
    int ep = TRY(epoll_create1(0));
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u32 = UINT32_MAX};
    TRY(epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev));
    int accepted = 0, closed = 0, extra = 0;
    size_t total = 0;
    struct epoll_event evs[64];
    while (closed < n) {
        int k = TRY(epoll_wait(ep, evs, 64, 10000));
        if (k == 0) {
            printf("server: nothing happened for 10 s with %d accepted, %d closed\n", accepted, closed);
            break;
        }
        for (int e = 0; e < k; e++) {
            if (evs[e].data.u32 == UINT32_MAX) {
                for (;;) {
                    int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0 && errno == EAGAIN) break;
                    TRY(fd);
                    if (accepted == n) {
                        extra++;
                        close(fd);
                        continue;
                    }
                    cs[accepted] = (struct conn){.fd = fd, .buf = malloc(SERVER_BUF)};
                    struct epoll_event ce = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                             .data.u32 = (uint32_t)accepted};
                    TRY(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce));
                    accepted++;
                }
                continue;
            }
            struct conn *c = &cs[evs[e].data.u32];
            while (!c->done) {
                while (c->pending > 0) {
                    ssize_t w = write(c->fd, c->buf + c->at, c->pending);
                    if (w < 0 && errno == EAGAIN) goto blocked;
                    c->at += (size_t)TRY(w);
                    c->pending -= (size_t)w;
                }
                c->at = 0;
                if (c->eof) {
                    close(c->fd); /* which also ends its epoll interest */
                    free(c->buf);
                    c->done = 1;
                    closed++;
                    break;
                }
                ssize_t r = read(c->fd, c->buf, SERVER_BUF);
                if (r < 0 && errno == EAGAIN) break;
                if (TRY(r) == 0)
                    c->eof = 1;
                c->pending = (size_t)r;
                total += (size_t)r;
            }
        blocked:;
        }
    }
    printf("server: accepted %d (%d more), echoed %zu bytes, closed %d\n", accepted, extra, total, closed);
}

/* `epoll_echo N`: N connections at once between a forked client and its parent. */
static int epoll_echo(char **argv) {
    int n = atoi(argv[2]);
    int ls = TRY(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    struct sockaddr_in a = in4("127.0.0.1", 0);
    TRY(bind(ls, (struct sockaddr *)&a, sizeof a));
    TRY(listen(ls, n + 16));
    int port = local_port(ls);
    size_t expect = 0;
    for (int i = 0; i < n; i++) expect += conn_size(i);
    printf("%d connections, %zu bytes each way\n", n, expect);
    fflush(stdout);
    pid_t c = TRY(fork());
    if (c == 0) {
        alarm(TIMEOUT);
        close(ls);
        int st = epoll_clients(port, n);
        fflush(stdout);
        _exit(st);
    }
    epoll_server(ls, n);
    int st;
    waitpid(c, &st, 0);
    report("clients", st);
    return 0;
}

/* ---- Threads: blocking sockets on several threads, a poll() server ---- */

static pthread_barrier_t connected;

struct tclient {
    int port, first, count;
    size_t bytes, wrong;
    uint32_t h;
};

static size_t tsize(int i) {
    return (size_t)(i * 131 % 3000) + 1;
}

static void *tclient_main(void *p) {
    struct tclient *t = p;
    int fds[256];
    struct sockaddr_in a = in4("127.0.0.1", t->port);
    char buf[4096];
    t->h = FNV_INIT;
    for (int i = 0; i < t->count; i++) {
        fds[i] = TRY(socket(AF_INET, SOCK_STREAM, 0));
        TRY(connect(fds[i], (struct sockaddr *)&a, sizeof a));
    }
    pthread_barrier_wait(&connected); /* all connections open before any data */
    for (int i = 0; i < t->count; i++) {
        size_t n = tsize(t->first + i);
        for (size_t j = 0; j < n; j++) buf[j] = (char)gen((unsigned)(t->first + i), j);
        write_all(fds[i], buf, n);
        TRY(shutdown(fds[i], SHUT_WR));
    }
    for (int i = 0; i < t->count; i++) {
        size_t n = read_full(fds[i], buf, sizeof buf);
        for (size_t j = 0; j < n; j++) t->wrong += (unsigned char)buf[j] != gen((unsigned)(t->first + i), j);
        t->wrong += n != tsize(t->first + i);
        t->bytes += n;
        t->h = fnv(t->h, buf, n);
    }
    for (int i = 0; i < t->count; i++) close(fds[i]);
    return NULL;
}

struct tserver {
    int ls, n, accepted, closed, most_open;
    size_t bytes;
};

static void *tserver_main(void *p) {
    struct tserver *t = p;
    struct pollfd *pf = calloc((size_t)t->n + 1, sizeof *pf);
    int npf = 1;
    pf[0] = (struct pollfd){.fd = t->ls, .events = POLLIN};
    while (t->closed < t->n) {
        int k = TRY(poll(pf, (nfds_t)npf, 10000));
        if (k == 0) {
            printf("server: nothing happened for 10 s\n");
            break;
        }
        if (pf[0].revents & POLLIN) {
            int fd;
            while ((fd = accept(t->ls, NULL, NULL)) >= 0) {
                pf[npf++] = (struct pollfd){.fd = fd, .events = POLLIN};
                t->accepted++;
            }
            if (errno != EAGAIN) TRY(-1);
            if (npf - 1 > t->most_open) t->most_open = npf - 1;
        }
        for (int i = npf - 1; i >= 1; i--) {
            if (!pf[i].revents) continue;
            char buf[4096];
            ssize_t r = TRY(read(pf[i].fd, buf, sizeof buf));
            if (r > 0) {
                write_all(pf[i].fd, buf, (size_t)r);
                t->bytes += (size_t)r;
            } else {
                close(pf[i].fd);
                pf[i] = pf[--npf];
                t->closed++;
            }
        }
    }
    free(pf);
    return NULL;
}

/* `threads_echo N T`: T client threads with N/T blocking connections each,
 * all open at once, and a server thread polling them all. */
static int threads_echo(char **argv) {
    int n = atoi(argv[2]), nt = atoi(argv[3]);
    int ls = TRY(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    struct sockaddr_in a = in4("127.0.0.1", 0);
    TRY(bind(ls, (struct sockaddr *)&a, sizeof a));
    TRY(listen(ls, n + 16));
    struct tserver srv = {.ls = ls, .n = n};
    pthread_t ts, tc[16];
    struct tclient cl[16];
    TRY(-pthread_barrier_init(&connected, NULL, (unsigned)nt));
    TRY(-pthread_create(&ts, NULL, tserver_main, &srv));
    for (int i = 0; i < nt; i++) {
        cl[i] = (struct tclient){.port = local_port(ls), .first = i * (n / nt), .count = n / nt};
        TRY(-pthread_create(&tc[i], NULL, tclient_main, &cl[i]));
    }
    for (int i = 0; i < nt; i++) {
        pthread_join(tc[i], NULL);
        printf("client thread %d: %zu bytes back, %zu wrong, fnv %08x\n", i, cl[i].bytes, cl[i].wrong, cl[i].h);
    }
    pthread_join(ts, NULL);
    printf("server thread: accepted %d, closed %d, echoed %zu bytes, all open at once: %d\n", srv.accepted,
           srv.closed, srv.bytes, srv.most_open == n);
    return 0;
}

static int reader_pairs[16][2];

static void *blocked_reader(void *arg) {
    char c;
    TRY(recv(reader_pairs[(long)arg][0], &c, 1, 0));
    return NULL;
}

/* `blocked_readers N`: N threads block in recv() on their own socket pairs;
 * the main thread, still running, then writes to every pair. */
static int blocked_readers(char **argv) {
    int n = atoi(argv[2]);
    if (n > 16) n = 16;
    pthread_t t[16];
    for (long i = 0; i < n; i++) {
        TRY(socketpair(AF_UNIX, SOCK_STREAM, 0, reader_pairs[i]));
        TRY(-pthread_create(&t[i], NULL, blocked_reader, (void *)i));
    }
    usleep(200000);
    printf("the main thread runs while %d readers wait\n", n);
    fflush(stdout);
    for (int i = 0; i < n; i++) TRY(send(reader_pairs[i][1], "x", 1, 0));
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
    printf("all %d readers woke\n", n);
    return 0;
}

/* ---- Socket options ---- */

static void get_int(int s, int level, int name, const char *what) {
    int v = -1;
    socklen_t len = sizeof v;
    if (getsockopt(s, level, name, &v, &len) < 0)
        printf("get %s: %s\n", what, ename(errno));
    else
        printf("%s = %d (len %u)\n", what, v, len);
}

static void set_int(int s, int level, int name, const char *what, int v) {
    char label[64];
    snprintf(label, sizeof label, "set %s to %d", what, v);
    say(label, setsockopt(s, level, name, &v, sizeof v));
}

#define GET(s, level, name) get_int(s, level, name, #name)
#define SET(s, level, name, v) set_int(s, level, name, #name, v)

/* `sockopt`: options read and set, SO_ERROR after a refused connect. */
static int sockopt(void) {
    int s = TRY(socket(AF_INET, SOCK_STREAM, 0));
    GET(s, SOL_SOCKET, SO_REUSEADDR);
    SET(s, SOL_SOCKET, SO_REUSEADDR, 1);
    GET(s, SOL_SOCKET, SO_REUSEADDR);
    GET(s, IPPROTO_TCP, TCP_NODELAY);
    SET(s, IPPROTO_TCP, TCP_NODELAY, 1);
    GET(s, IPPROTO_TCP, TCP_NODELAY);
    SET(s, IPPROTO_TCP, TCP_NODELAY, 0);
    GET(s, IPPROTO_TCP, TCP_NODELAY);
    SET(s, SOL_SOCKET, SO_KEEPALIVE, 1);
    GET(s, SOL_SOCKET, SO_KEEPALIVE);
    SET(s, SOL_SOCKET, SO_RCVBUF, 65536);
    GET(s, SOL_SOCKET, SO_RCVBUF);
    SET(s, SOL_SOCKET, SO_SNDBUF, 32768);
    GET(s, SOL_SOCKET, SO_SNDBUF);
    GET(s, SOL_SOCKET, SO_TYPE);
    GET(s, SOL_SOCKET, SO_DOMAIN);
    GET(s, SOL_SOCKET, SO_PROTOCOL);
    GET(s, SOL_SOCKET, SO_ACCEPTCONN);
    GET(s, SOL_SOCKET, SO_ERROR);
    GET(s, IPPROTO_IP, IP_TTL);
    SET(s, IPPROTO_IP, IP_TTL, 17);
    GET(s, IPPROTO_IP, IP_TTL);
    struct linger l = {1, 5};
    say("set SO_LINGER", setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l));
    memset(&l, 0, sizeof l);
    socklen_t len = sizeof l;
    TRY(getsockopt(s, SOL_SOCKET, SO_LINGER, &l, &len));
    printf("SO_LINGER = {%d, %d} (len %u)\n", l.l_onoff, l.l_linger, len);
    struct timeval tv = {1, 500000};
    say("set SO_RCVTIMEO", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    memset(&tv, 0, sizeof tv);
    len = sizeof tv;
    TRY(getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, &len));
    printf("SO_RCVTIMEO = %ld.%06ld (len %u)\n", (long)tv.tv_sec, (long)tv.tv_usec, len);
    int v = 1;
    say("set TCP_NODELAY with 2 bytes", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, 2));
    say("get an unknown SOL_SOCKET option", getsockopt(s, SOL_SOCKET, 12345, &v, &len));
    say("set an unknown TCP option", setsockopt(s, IPPROTO_TCP, 12345, &v, sizeof v));
    say("getsockopt on a pipe", getsockopt(0, SOL_SOCKET, SO_TYPE, &v, &len));
    struct sockaddr_in a = in4("127.0.0.1", 0);
    TRY(bind(s, (struct sockaddr *)&a, sizeof a));
    TRY(listen(s, 1));
    GET(s, SOL_SOCKET, SO_ACCEPTCONN);
    close(s);

    int u = TRY(socket(AF_INET, SOCK_DGRAM, 0));
    GET(u, SOL_SOCKET, SO_TYPE);
    GET(u, SOL_SOCKET, SO_PROTOCOL);
    SET(u, SOL_SOCKET, SO_BROADCAST, 1);
    GET(u, SOL_SOCKET, SO_BROADCAST);
    close(u);

    printf("-- a refused non-blocking connect\n");
    int dead = TRY(socket(AF_INET, SOCK_STREAM, 0));
    TRY(bind(dead, (struct sockaddr *)&a, sizeof a));
    int port = local_port(dead);
    close(dead);
    a = in4("127.0.0.1", port);
    int k = TRY(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    say("connect", connect(k, (struct sockaddr *)&a, sizeof a));
    struct pollfd pf = {.fd = k, .events = POLLOUT | POLLIN};
    int r = TRY(poll(&pf, 1, 5000));
    printf("poll: %d, revents %#x\n", r, pf.revents);
    v = -1;
    len = sizeof v;
    TRY(getsockopt(k, SOL_SOCKET, SO_ERROR, &v, &len));
    printf("SO_ERROR: %s\n", v ? ename(v) : "0");
    GET(k, SOL_SOCKET, SO_ERROR);
    close(k);
    k = TRY(socket(AF_INET, SOCK_STREAM, 0));
    say("a blocking connect", connect(k, (struct sockaddr *)&a, sizeof a));
    say("connect on a connected-then-refused socket", connect(k, (struct sockaddr *)&a, sizeof a));
    close(k);
    return 0;
}

/* ---- sendmmsg and recvmmsg ---- */

/* Prints what recvmmsg filled in: each message's length, text, MSG_TRUNC
 * and, for an inet socket, whether it came from port `from_port`. */
static void show_mmsgs(const char *what, int n, struct mmsghdr *m, int from_port) {
    if (n < 0) {
        printf("%s: %s\n", what, ename(errno));
        return;
    }
    printf("%s: %d\n", what, n);
    for (int i = 0; i < n; i++) {
        struct iovec *iv = m[i].msg_hdr.msg_iov;
        printf("  [%d] len %u '%.*s' MSG_TRUNC %d", i, m[i].msg_len, (int)m[i].msg_len, (char *)iv->iov_base,
               !!(m[i].msg_hdr.msg_flags & MSG_TRUNC));
        if (from_port)
            printf(" namelen %u from the sender %d", m[i].msg_hdr.msg_namelen,
                   port_of(m[i].msg_hdr.msg_name) == from_port);
        else
            printf(" namelen %u", m[i].msg_hdr.msg_namelen);
        printf("\n");
    }
}

#define MM 8
static char mm_bufs[MM][16];
static struct iovec mm_iov[MM];
static struct sockaddr_storage mm_from[MM];
static struct mmsghdr mm_in[MM];

/* Fresh receive headers: 16 bytes each, room for a source address. */
static struct mmsghdr *mm_reset(void) {
    memset(mm_in, 0, sizeof mm_in);
    memset(mm_bufs, 0, sizeof mm_bufs);
    for (int i = 0; i < MM; i++) {
        mm_iov[i] = (struct iovec){mm_bufs[i], sizeof mm_bufs[i]};
        mm_in[i].msg_hdr.msg_iov = &mm_iov[i];
        mm_in[i].msg_hdr.msg_iovlen = 1;
        mm_in[i].msg_hdr.msg_name = &mm_from[i];
        mm_in[i].msg_hdr.msg_namelen = sizeof mm_from[i];
    }
    return mm_in;
}

/* Fills `out` with `n` one-piece messages (`texts`) to `to` (NULL: none). */
static void mm_out(struct mmsghdr *out, struct iovec *iv, const char **texts, int n, void *to, socklen_t tolen) {
    memset(out, 0, sizeof *out * (size_t)n);
    for (int i = 0; i < n; i++) {
        iv[i] = (struct iovec){(void *)texts[i], strlen(texts[i])};
        out[i].msg_hdr.msg_iov = &iv[i];
        out[i].msg_hdr.msg_iovlen = 1;
        out[i].msg_hdr.msg_name = to;
        out[i].msg_hdr.msg_namelen = tolen;
    }
}

static void show_sent(const char *what, int n, struct mmsghdr *out, int count) {
    if (n < 0) {
        printf("%s: %s\n", what, ename(errno));
        return;
    }
    printf("%s: %d, lengths", what, n);
    for (int i = 0; i < count; i++) printf(" %u", out[i].msg_len);
    printf("\n");
}

/* `mmsg_udp`: sendmmsg/recvmmsg between two UDP sockets on loopback. */
static int mmsg_udp(void) {
    int r = TRY(socket(AF_INET, SOCK_DGRAM, 0)), s = TRY(socket(AF_INET, SOCK_DGRAM, 0));
    struct sockaddr_in a = in4("127.0.0.1", 0);
    TRY(bind(r, (struct sockaddr *)&a, sizeof a));
    TRY(bind(s, (struct sockaddr *)&a, sizeof a));
    struct sockaddr_in to = in4("127.0.0.1", local_port(r));
    int sport = local_port(s);

    /* Four messages, one in two pieces, one empty, one longer than 16 bytes. */
    struct mmsghdr out[4];
    struct iovec iv[5];
    const char *texts[] = {"alpha", "", "gamma", "a longer fourth message"};
    mm_out(out, iv, texts, 4, &to, sizeof to);
    iv[4] = (struct iovec){" delta", 6};
    struct iovec two[2] = {iv[2], iv[4]};
    out[2].msg_hdr.msg_iov = two;
    out[2].msg_hdr.msg_iovlen = 2;
    show_sent("sendmmsg of 4", (int)sendmmsg(s, out, 4, 0), out, 4);
    show_mmsgs("recvmmsg of up to 8, MSG_DONTWAIT", recvmmsg(r, mm_reset(), MM, MSG_DONTWAIT, NULL), mm_in, sport);
    show_mmsgs("again, nothing queued", recvmmsg(r, mm_reset(), MM, MSG_DONTWAIT, NULL), mm_in, sport);

    /* Fewer slots than messages: the rest stays queued. */
    const char *three[] = {"one", "two", "three"};
    mm_out(out, iv, three, 3, &to, sizeof to);
    show_sent("sendmmsg of 3", (int)sendmmsg(s, out, 3, 0), out, 3);
    show_mmsgs("recvmmsg of 2, blocking", recvmmsg(r, mm_reset(), 2, 0, NULL), mm_in, sport);
    show_mmsgs("recvmmsg of up to 8, MSG_DONTWAIT", recvmmsg(r, mm_reset(), MM, MSG_DONTWAIT, NULL), mm_in, sport);

    /* MSG_WAITFORONE: blocks for the first only. */
    mm_out(out, iv, three, 2, &to, sizeof to);
    show_sent("sendmmsg of 2", (int)sendmmsg(s, out, 2, 0), out, 2);
    show_mmsgs("recvmmsg of up to 8, MSG_WAITFORONE", recvmmsg(r, mm_reset(), MM, MSG_WAITFORONE, NULL), mm_in,
               sport);

    /* A bad address in the second message: the first is sent and counted. */
    mm_out(out, iv, three, 2, &to, sizeof to);
    out[1].msg_hdr.msg_namelen = 3;
    show_sent("sendmmsg with a bad second address", (int)sendmmsg(s, out, 2, 0), out, 1);
    show_sent("sendmmsg with only the bad one", (int)sendmmsg(s, out + 1, 1, 0), out + 1, 0);
    show_mmsgs("what arrived", recvmmsg(r, mm_reset(), MM, MSG_DONTWAIT, NULL), mm_in, sport);

    /* Connected: no addresses. */
    TRY(connect(s, (struct sockaddr *)&to, sizeof to));
    mm_out(out, iv, three, 3, NULL, 0);
    show_sent("connected sendmmsg of 3", (int)sendmmsg(s, out, 3, 0), out, 3);
    show_mmsgs("recvmmsg of up to 8, MSG_DONTWAIT", recvmmsg(r, mm_reset(), MM, MSG_DONTWAIT, NULL), mm_in, sport);
    show_sent("sendmmsg of 0", (int)sendmmsg(s, out, 0, 0), out, 0);
    TRY(fcntl(r, F_SETFL, O_NONBLOCK));
    show_mmsgs("recvmmsg on a non-blocking socket", recvmmsg(r, mm_reset(), MM, 0, NULL), mm_in, sport);
    int p[2];
    TRY(pipe(p));
    show_sent("sendmmsg on a pipe", (int)sendmmsg(p[1], out, 1, 0), out, 0);
    show_mmsgs("recvmmsg on a pipe", recvmmsg(p[0], mm_reset(), 1, MSG_DONTWAIT, NULL), mm_in, 0);
    close(r);
    close(s);
    return 0;
}

/* `mmsg_unix`: sendmmsg/recvmmsg on AF_UNIX datagram and seqpacket pairs. */
static int mmsg_unix(void) {
    for (int i = 1; i < 3; i++) {
        int t = unix_types[i], sv[2];
        printf("-- %s\n", type_name(t));
        TRY(socketpair(AF_UNIX, t, 0, sv));
        struct mmsghdr out[5];
        struct iovec iv[5];
        const char *texts[] = {"first", "second", "", "the fourth, truncated", "fifth"};
        mm_out(out, iv, texts, 5, NULL, 0);
        show_sent("sendmmsg of 5", (int)sendmmsg(sv[0], out, 5, 0), out, 5);
        show_mmsgs("recvmmsg of 2", recvmmsg(sv[1], mm_reset(), 2, 0, NULL), mm_in, 0);
        show_mmsgs("recvmmsg of up to 8, MSG_DONTWAIT", recvmmsg(sv[1], mm_reset(), MM, MSG_DONTWAIT, NULL), mm_in, 0);
        show_mmsgs("again, nothing queued", recvmmsg(sv[1], mm_reset(), MM, MSG_DONTWAIT, NULL), mm_in, 0);
        /* The other way, MSG_WAITFORONE. */
        mm_out(out, iv, texts, 2, NULL, 0);
        show_sent("back: sendmmsg of 2", (int)sendmmsg(sv[1], out, 2, 0), out, 2);
        show_mmsgs("recvmmsg MSG_WAITFORONE", recvmmsg(sv[0], mm_reset(), MM, MSG_WAITFORONE, NULL), mm_in, 0);
        /* After the peer closes: what was queued, then end of file. */
        mm_out(out, iv, texts, 1, NULL, 0);
        TRY(sendmmsg(sv[0], out, 1, 0));
        close(sv[0]);
        show_mmsgs("after the peer closed", recvmmsg(sv[1], mm_reset(), MM, MSG_DONTWAIT, NULL), mm_in, 0);
        show_mmsgs("and again", recvmmsg(sv[1], mm_reset(), MM, MSG_DONTWAIT, NULL), mm_in, 0);
        show_sent("sendmmsg to the closed peer", (int)sendmmsg(sv[1], out, 1, MSG_NOSIGNAL), out, 0);
        close(sv[1]);
    }
    return 0;
}

/* ---- SO_REUSEPORT and IPV6_V6ONLY (on a port the test publishes) ---- */

/* `reuseport PORT`: two sockets on 127.0.0.1:PORT with SO_REUSEPORT, TCP
 * and UDP; without it on either side, EADDRINUSE. */
static int reuseport(char **argv) {
    int port = atoi(argv[2]);
    struct sockaddr_in a = in4("127.0.0.1", port);
    for (int udp = 0; udp < 2; udp++) {
        int type = udp ? SOCK_DGRAM : SOCK_STREAM;
        printf("-- %s\n", udp ? "udp" : "tcp");
        /* The first without it, the second with it. */
        int x = TRY(socket(AF_INET, type, 0)), y = TRY(socket(AF_INET, type, 0));
        say("bind without SO_REUSEPORT", bind(x, (struct sockaddr *)&a, sizeof a));
        if (!udp) say("listen", listen(x, 4));
        SET(y, SOL_SOCKET, SO_REUSEPORT, 1);
        say("then bind with it", bind(y, (struct sockaddr *)&a, sizeof a));
        close(x);
        close(y);

        /* Both with it. */
        int s1 = TRY(socket(AF_INET, type, 0)), s2 = TRY(socket(AF_INET, type, 0));
        GET(s1, SOL_SOCKET, SO_REUSEPORT);
        SET(s1, SOL_SOCKET, SO_REUSEPORT, 1);
        GET(s1, SOL_SOCKET, SO_REUSEPORT);
        SET(s2, SOL_SOCKET, SO_REUSEPORT, 1);
        say("bind the first", bind(s1, (struct sockaddr *)&a, sizeof a));
        if (!udp) say("listen on the first", listen(s1, 4));
        say("bind the second", bind(s2, (struct sockaddr *)&a, sizeof a));
        if (!udp) say("listen on the second", listen(s2, 4));
        int s3 = TRY(socket(AF_INET, type, 0));
        say("bind a third without it", bind(s3, (struct sockaddr *)&a, sizeof a));
        close(s3);
        struct sockaddr_storage me;
        socklen_t len = sizeof me;
        TRY(getsockname(s2, (struct sockaddr *)&me, &len));
        printf("the second's name: %s\n", show((struct sockaddr_storage *)&me));

        /* Traffic reaches one of them. A connection is left unaccepted (the
         * listener's close resets it), so that no TIME_WAIT holds the port. */
        int c = TRY(socket(AF_INET, type, 0));
        int got = 0, by[2] = {0, 0};
        if (udp) {
            for (int i = 0; i < 3; i++) TRY(sendto(c, "d", 1, 0, (struct sockaddr *)&a, sizeof a));
        } else {
            say("connect", connect(c, (struct sockaddr *)&a, sizeof a));
        }
        for (;;) {
            struct pollfd pf[2] = {{s1, POLLIN, 0}, {s2, POLLIN, 0}};
            if (TRY(poll(pf, 2, got ? 200 : 5000)) == 0) break;
            for (int i = 0; i < 2; i++) {
                if (!(pf[i].revents & POLLIN)) continue;
                char ch;
                if (udp)
                    TRY(recv(pf[i].fd, &ch, 1, 0));
                else
                    pf[i].fd = -1;
                got++;
                by[i]++;
            }
            if (!udp) break;
        }
        printf("%s %d in all, all by one socket: %d\n", udp ? "received" : "ready to accept", got,
               !by[0] || !by[1]);
        close(c);
        close(s1);
        close(s2);
    }
    int u = TRY(socket(AF_UNIX, SOCK_STREAM, 0));
    SET(u, SOL_SOCKET, SO_REUSEPORT, 1);
    close(u);
    return 0;
}

/* The address part of "IP:PORT" / "[IP]:PORT". */
static const char *ip_only(const struct sockaddr_storage *ss) {
    static char out[80];
    snprintf(out, sizeof out, "%s", show(ss));
    *strrchr(out, ':') = 0;
    return out;
}

/* Connects a new socket of `family` to `ip`:`port`; returns it or -1. */
static int connect_to(const char *what, const char *ip, int port) {
    struct sockaddr_storage a;
    socklen_t alen = inet_addr_of(ip, port, &a);
    int k = TRY(socket(a.ss_family, SOCK_STREAM, 0));
    if (say(what, connect(k, (struct sockaddr *)&a, alen)) < 0) {
        close(k);
        return -1;
    }
    return k;
}

/* Accepts the connection of client `k` on `s` and prints its peer's and its
 * own address; the client closes first (no TIME_WAIT holds the port). */
static void accept_one(int s, int k, int port) {
    struct sockaddr_storage peer, local;
    socklen_t plen = sizeof peer, llen = sizeof local;
    int a = TRY(accept(s, (struct sockaddr *)&peer, &plen));
    TRY(getsockname(a, (struct sockaddr *)&local, &llen));
    printf("  accepted from %s (len %u), local %s (len %u), local port is the port: %d\n", ip_only(&peer), plen,
           ip_only(&local), llen, port_of(&local) == port);
    close(k);
    char c;
    TRY(read(a, &c, 1));
    close(a);
}

/* `v6only PORT`: IPV6_V6ONLY's default, and what it lets a listener on [::]:PORT accept. */
static int v6only(char **argv) {
    int port = atoi(argv[2]);
    struct sockaddr_in6 any = in6("::", port);
    struct sockaddr_in any4 = in4("0.0.0.0", port);
    int one = 1;
    for (int only = 1; only >= 0; only--) {
        printf("-- IPV6_V6ONLY %d\n", only);
        int s = TRY(socket(AF_INET6, SOCK_STREAM, 0));
        GET(s, IPPROTO_IPV6, IPV6_V6ONLY);
        SET(s, IPPROTO_IPV6, IPV6_V6ONLY, only);
        GET(s, IPPROTO_IPV6, IPV6_V6ONLY);
        TRY(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
        say("bind [::]", bind(s, (struct sockaddr *)&any, sizeof any));
        say("listen", listen(s, 4));
        SET(s, IPPROTO_IPV6, IPV6_V6ONLY, !only);
        GET(s, IPPROTO_IPV6, IPV6_V6ONLY);
        int k = connect_to("IPv4 client to 127.0.0.1", "127.0.0.1", port);
        if (k >= 0) accept_one(s, k, port);
        k = connect_to("IPv6 client to ::1", "::1", port);
        if (k >= 0) accept_one(s, k, port);
        k = connect_to("client to ::ffff:127.0.0.1", "::ffff:127.0.0.1", port);
        if (k >= 0) accept_one(s, k, port);
        int four = TRY(socket(AF_INET, SOCK_STREAM, 0));
        TRY(setsockopt(four, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
        if (say("an IPv4 socket binds 0.0.0.0 on the same port", bind(four, (struct sockaddr *)&any4, sizeof any4)) >= 0)
            say("and listens", listen(four, 4));
        close(four);
        close(s);
    }
    int four = TRY(socket(AF_INET, SOCK_STREAM, 0));
    GET(four, IPPROTO_IPV6, IPV6_V6ONLY);
    SET(four, IPPROTO_IPV6, IPV6_V6ONLY, 1);
    close(four);
    return 0;
}

/* ---- Name resolution from /etc/hosts and numeric addresses ---- */

static const char *gai_name(int e) {
    switch (e) {
#define G(x) \
    case x: return #x;
        G(EAI_AGAIN) G(EAI_BADFLAGS) G(EAI_FAIL) G(EAI_FAMILY) G(EAI_MEMORY) G(EAI_NONAME) G(EAI_SERVICE)
        G(EAI_SOCKTYPE) G(EAI_SYSTEM) G(EAI_OVERFLOW)
#ifdef EAI_ADDRFAMILY
        G(EAI_ADDRFAMILY)
#endif
#undef G
    }
    static char buf[32];
    snprintf(buf, sizeof buf, "error %d", e);
    return buf;
}

static const char *family_name(int f) {
    return f == AF_INET ? "AF_INET" : f == AF_INET6 ? "AF_INET6" : f == AF_UNSPEC ? "AF_UNSPEC" : "other";
}

static const char *socktype_name(int t) {
    return t == SOCK_STREAM ? "SOCK_STREAM" : t == SOCK_DGRAM ? "SOCK_DGRAM" : t == SOCK_RAW ? "SOCK_RAW" : "0";
}

static void lookup(const char *host, const char *serv, int family, int socktype, int flags) {
    struct addrinfo hints = {.ai_family = family, .ai_socktype = socktype, .ai_flags = flags}, *res;
    printf("getaddrinfo(%s, %s, %s, %s, %#x): ", host ? host : "NULL", serv ? serv : "NULL", family_name(family),
           socktype_name(socktype), flags);
    int r = getaddrinfo(host, serv, &hints, &res);
    if (r) {
        printf("%s\n", gai_name(r));
        return;
    }
    printf("\n");
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
        printf("  %s %s protocol %d: %s (len %u)\n", family_name(ai->ai_family), socktype_name(ai->ai_socktype),
               ai->ai_protocol, show(&ss), ai->ai_addrlen);
    }
    freeaddrinfo(res);
}

static void reverse(const char *ip, int port, size_t hostlen, int flags) {
    struct sockaddr_storage ss;
    socklen_t len = inet_addr_of(ip, port, &ss);
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    int r = getnameinfo((struct sockaddr *)&ss, len, host, (socklen_t)hostlen, serv, sizeof serv, flags);
    printf("getnameinfo(%s, host room %zu, %#x): ", show(&ss), hostlen, flags);
    if (r)
        printf("%s\n", gai_name(r));
    else
        printf("'%s' '%s'\n", host, serv);
}

/* `resolve`: getaddrinfo of localhost (from /etc/hosts) and of numeric
 * addresses, getnameinfo with numeric results. Nothing here may fall
 * through to DNS (musl compares host names case-sensitively). */
static int resolve(void) {
    lookup("localhost", "80", AF_INET, SOCK_STREAM, 0);
    lookup("localhost", "53", AF_INET, SOCK_DGRAM, 0);
    lookup("localhost", "80", AF_UNSPEC, SOCK_STREAM, 0);
    lookup("localhost", NULL, AF_INET, SOCK_STREAM, AI_CANONNAME);
    lookup("localhost", "80", AF_INET, SOCK_STREAM, AI_NUMERICHOST);
    lookup("127.0.0.1", NULL, AF_UNSPEC, SOCK_STREAM, 0);
    lookup("127.0.0.1", "8080", AF_INET, SOCK_DGRAM, AI_NUMERICHOST | AI_NUMERICSERV);
    lookup("127.0.0.1", "8080", AF_INET6, SOCK_STREAM, AI_NUMERICHOST);
    lookup("::1", "443", AF_UNSPEC, SOCK_STREAM, AI_NUMERICHOST);
    lookup("::ffff:127.0.0.1", "443", AF_INET6, SOCK_STREAM, AI_NUMERICHOST);
    lookup("127.0.0.1", "not-a-port", AF_INET, SOCK_STREAM, AI_NUMERICSERV);
    lookup(NULL, "9000", AF_INET, SOCK_STREAM, AI_PASSIVE);
    lookup(NULL, "9000", AF_INET6, SOCK_STREAM, AI_PASSIVE);
    lookup(NULL, "9000", AF_INET, SOCK_DGRAM, 0);
    lookup(NULL, NULL, AF_INET, SOCK_STREAM, 0);
    lookup("127.0.0.1", "80", AF_INET, SOCK_STREAM, 0x4000);
    reverse("127.0.0.1", 80, NI_MAXHOST, NI_NUMERICHOST | NI_NUMERICSERV);
    reverse("127.0.0.1", 8080, NI_MAXHOST, NI_NUMERICHOST | NI_NUMERICSERV | NI_DGRAM);
    reverse("::1", 443, NI_MAXHOST, NI_NUMERICHOST | NI_NUMERICSERV);
    reverse("::ffff:127.0.0.1", 22, NI_MAXHOST, NI_NUMERICHOST | NI_NUMERICSERV);
    reverse("127.0.0.1", 80, 4, NI_NUMERICHOST | NI_NUMERICSERV);
    /* Resolved and used: a UDP datagram to localhost:PORT of its own socket. */
    int u = TRY(socket(AF_INET, SOCK_DGRAM, 0));
    struct sockaddr_in a = in4("127.0.0.1", 0);
    TRY(bind(u, (struct sockaddr *)&a, sizeof a));
    char port[16];
    snprintf(port, sizeof port, "%d", local_port(u));
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM}, *res;
    int r = getaddrinfo("localhost", port, &hints, &res);
    if (r) {
        printf("getaddrinfo of its own port: %s\n", gai_name(r));
        return 0;
    }
    TRY(sendto(u, "to myself", 9, 0, res->ai_addr, res->ai_addrlen));
    char buf[16];
    ssize_t n = TRY(recv(u, buf, sizeof buf, 0));
    printf("sent to localhost and got '%.*s'\n", (int)n, buf);
    freeaddrinfo(res);
    return 0;
}

/* `unix_bind PATH`: binds a socket of each AF_UNIX type at PATH (removing it after). */
static int unix_bind(char **argv) {
    struct sockaddr_un un;
    socklen_t len = un_path(&un, argv[2]);
    for (int i = 0; i < 3; i++) {
        int s = TRY(socket(AF_UNIX, unix_types[i], 0));
        char what[32];
        snprintf(what, sizeof what, "bind %s", type_name(unix_types[i]));
        if (say(what, bind(s, (struct sockaddr *)&un, len)) == 0) TRY(unlink(argv[2]));
        close(s);
    }
    struct stat st;
    say("the path exists", stat(argv[2], &st));
    return 0;
}

/* ---- The network policy (outputs differ from native runs on purpose) ---- */

/* `bind_port tcp|udp IP PORT`: binds (and for TCP listens). */
static int bind_port(char **argv) {
    int udp = !strcmp(argv[2], "udp");
    struct sockaddr_storage a, me;
    socklen_t alen = inet_addr_of(argv[3], atoi(argv[4]), &a), len = sizeof me;
    int s = TRY(socket(a.ss_family, udp ? SOCK_DGRAM : SOCK_STREAM, 0));
    if (say("bind", bind(s, (struct sockaddr *)&a, alen)) < 0) return 3;
    TRY(getsockname(s, (struct sockaddr *)&me, &len));
    printf("bound to %s\n", show(&me));
    if (!udp && say("listen", listen(s, 1)) < 0) return 4;
    return 0;
}

/* `listen_policy`: listening unbound, on any address and on loopback. */
static int listen_policy(void) {
    int s = TRY(socket(AF_INET, SOCK_STREAM, 0));
    say("listen unbound", listen(s, 1));
    const char *ips[] = {"0.0.0.0", "127.0.0.1", "::", "::1"};
    for (int i = 0; i < 4; i++) {
        struct sockaddr_storage a;
        socklen_t alen = inet_addr_of(ips[i], 0, &a);
        s = TRY(socket(a.ss_family, SOCK_STREAM, 0));
        TRY(bind(s, (struct sockaddr *)&a, alen));
        char what[64];
        snprintf(what, sizeof what, "listen on %s port 0", ips[i]);
        say(what, listen(s, 1));
        close(s);
    }
    return 0;
}

/* `families`: which kinds of socket the program may create. */
static int families(void) {
    static const struct {
        int domain, type;
        const char *name;
    } k[] = {
        {AF_INET, SOCK_STREAM, "AF_INET stream"},     {AF_INET, SOCK_DGRAM, "AF_INET dgram"},
        {AF_INET6, SOCK_STREAM, "AF_INET6 stream"},   {AF_INET6, SOCK_DGRAM, "AF_INET6 dgram"},
        {AF_UNIX, SOCK_STREAM, "AF_UNIX stream"},     {AF_UNIX, SOCK_DGRAM, "AF_UNIX dgram"},
        {AF_UNIX, SOCK_SEQPACKET, "AF_UNIX seqpacket"}, {AF_INET, SOCK_RAW, "AF_INET raw"},
        {AF_NETLINK, SOCK_RAW, "AF_NETLINK"},         {AF_PACKET, SOCK_RAW, "AF_PACKET"},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        /* A raw IP socket names its protocol (without one it is EPROTONOSUPPORT). */
        int proto = k[i].domain == AF_INET && k[i].type == SOCK_RAW ? IPPROTO_ICMP : 0;
        int s = say(k[i].name, socket(k[i].domain, k[i].type, proto));
        if (s >= 0) close(s);
    }
    return 0;
}

/* `connect_out IP PORT`: exits 0 if a TCP connection to IP:PORT was made. */
static int connect_out(char **argv) {
    struct sockaddr_storage a;
    socklen_t alen = inet_addr_of(argv[2], atoi(argv[3]), &a);
    int s = say("socket", socket(a.ss_family, SOCK_STREAM, 0));
    if (s < 0) return 3;
    if (say("connect", connect(s, (struct sockaddr *)&a, alen)) < 0) return 4;
    write_all(s, "escaped", 7);
    return 0;
}

int main(int argc, char **argv) {
    alarm(TIMEOUT);
    if (argc < 2) {
        fprintf(stderr, "usage: net SUBTEST [ARGS]\n");
        return 2;
    }
    const char *t = argv[1];
    int need = !strcmp(t, "tcp_server") || !strcmp(t, "udp_server") ? 5
               : !strcmp(t, "tcp_client") || !strcmp(t, "udp_client") || !strcmp(t, "tcp_self") ||
                       !strcmp(t, "threads_echo") || !strcmp(t, "connect_out")
                   ? 4
               : !strcmp(t, "bind_port")                                             ? 5
               : !strcmp(t, "reuseport") || !strcmp(t, "v6only") || !strcmp(t, "unix_bind") ? 3
               : !strcmp(t, "epoll_echo") || !strcmp(t, "unix_connect_abstract") || !strcmp(t, "blocked_readers") ||
                       !strcmp(t, "unix_serve_path")
                   ? 3
                   : 2;
    if (argc < need) {
        fprintf(stderr, "net %s: missing arguments\n", t);
        return 2;
    }
    int r = !strcmp(t, "tcp_server")              ? tcp_server(argv)
            : !strcmp(t, "tcp_client")            ? tcp_client(argv)
            : !strcmp(t, "udp_client")            ? udp_client(argv)
            : !strcmp(t, "udp_server")            ? udp_server(argv)
            : !strcmp(t, "tcp_self")              ? tcp_self(argv)
            : !strcmp(t, "unix_pair")             ? unix_pair()
            : !strcmp(t, "unix_path")             ? unix_path()
            : !strcmp(t, "unix_abstract")         ? unix_abstract()
            : !strcmp(t, "unix_connect_abstract") ? unix_connect_abstract(argv)
            : !strcmp(t, "unix_serve_path")       ? unix_serve_path(argv)
            : !strcmp(t, "scm_rights")            ? scm_rights()
            : !strcmp(t, "scm_ctrunc")            ? scm_ctrunc()
            : !strcmp(t, "sigpipe")               ? sigpipe_test()
            : !strcmp(t, "unix_path_peers")       ? unix_path_peers()
            : !strcmp(t, "epoll_echo")            ? epoll_echo(argv)
            : !strcmp(t, "threads_echo")          ? threads_echo(argv)
            : !strcmp(t, "blocked_readers")       ? blocked_readers(argv)
            : !strcmp(t, "sockopt")               ? sockopt()
            : !strcmp(t, "bind_port")             ? bind_port(argv)
            : !strcmp(t, "listen_policy")         ? listen_policy()
            : !strcmp(t, "families")              ? families()
            : !strcmp(t, "connect_out")           ? connect_out(argv)
            : !strcmp(t, "mmsg_udp")              ? mmsg_udp()
            : !strcmp(t, "mmsg_unix")             ? mmsg_unix()
            : !strcmp(t, "reuseport")             ? reuseport(argv)
            : !strcmp(t, "v6only")                ? v6only(argv)
            : !strcmp(t, "resolve")               ? resolve()
            : !strcmp(t, "unix_bind")             ? unix_bind(argv)
                                                  : (fprintf(stderr, "net: no sub-test %s\n", t), 2);
    fflush(stdout);
    return r;
}
