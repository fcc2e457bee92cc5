/* Two guests sharing a read-write directory race on one name:
 *   race chmod NAME SECONDS          chmod NAME to 0777, again and again
 *   race swap NAME TARGET SECONDS    alternate NAME between a regular file
 *                                    and a symlink whose text is TARGET
 * The monitor must change only what its walk checked: never TARGET. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    long n = 0;
    if (!strcmp(argv[1], "chmod")) {
        double end = now() + atof(argv[3]);
        while (now() < end) {
            chmod(argv[2], 0777);
            n++;
        }
    } else if (!strcmp(argv[1], "swap") && argc > 4) {
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
        double end = now() + atof(argv[4]);
        while (now() < end) {
            unlink(tmp);
            if (n % 2) symlink(argv[3], tmp);
            else close(open(tmp, O_CREAT | O_WRONLY, 0600));
            rename(tmp, argv[2]);
            n++;
        }
    } else {
        return 2;
    }
    printf("%s: %ld rounds\n", argv[1], n);
    return 0;
}
