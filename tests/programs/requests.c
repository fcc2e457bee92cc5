/* Many host requests from many threads at once: each thread writes its own
 * records to a shared file with pwrite, reads them back with pread, stats
 * and reopens the file, and checksums everything. A request lost, served
 * twice or answered to the wrong thread shows as a wrong checksum or count.
 * Usage: requests DIR THREADS ROUNDS */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECORD 64

static const char *dir;
static int rounds, nthreads;
static int fd;
static uint64_t sums[64];
static long errs[64];

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static void *worker(void *arg) {
    long t = (long)arg;
    uint64_t sum = 0;
    long errors = 0;
    char path[512];
    snprintf(path, sizeof path, "%s/own-%ld", dir, t);
    for (int r = 0; r < rounds; r++) {
        uint64_t rec[RECORD / 8];
        for (int i = 0; i < RECORD / 8; i++) rec[i] = mix((uint64_t)t << 32 | (uint64_t)r << 8 | i);
        off_t at = ((off_t)r * nthreads + t) * RECORD;
        if (pwrite(fd, rec, RECORD, at) != RECORD) errors++;
        uint64_t back[RECORD / 8];
        if (pread(fd, back, RECORD, at) != RECORD || memcmp(rec, back, RECORD)) errors++;
        for (int i = 0; i < RECORD / 8; i++) sum += back[i];
        /* Requests of other kinds in between: a private file, stat, close. */
        int own = open(path, O_CREAT | O_WRONLY | O_APPEND, 0600);
        if (own < 0 || write(own, &r, sizeof r) != sizeof r) errors++;
        close(own);
        struct stat st;
        if (stat(path, &st) || st.st_size != (off_t)(sizeof r) * (r + 1)) errors++;
    }
    sums[t] = sum;
    errs[t] = errors;
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4) return 2;
    dir = argv[1];
    nthreads = atoi(argv[2]);
    rounds = atoi(argv[3]);
    char path[512];
    snprintf(path, sizeof path, "%s/shared", dir);
    fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    if (fd < 0) return 1;
    pthread_t th[64];
    if (nthreads < 1 || nthreads > 64) return 2;
    for (long t = 0; t < nthreads; t++) pthread_create(&th[t], 0, worker, (void *)t);
    for (long t = 0; t < nthreads; t++) pthread_join(th[t], 0);
    for (long t = 0; t < nthreads; t++)
        printf("thread %ld: checksum %016llx, errors %ld\n", t, (unsigned long long)sums[t], errs[t]);
    struct stat st;
    fstat(fd, &st);
    printf("file size %lld (expected %lld)\n", (long long)st.st_size, (long long)rounds * nthreads * RECORD);
    return 0;
}
