/* A thread blocks reading standard input (a pipe from the host nobody writes
 * to until the end) — or in poll() on it, with argument "poll" — while the
 * main thread writes lines: the writes must not wait for the blocked call.
 * The main thread prints its lines and exits; the test closes stdin only
 * after the output arrived. */
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

static void *reader(void *arg) {
    char c;
    if (arg) {
        struct pollfd p = {.fd = 0, .events = POLLIN};
        (void)poll(&p, 1, -1); /* blocks: the test keeps stdin open */
    } else {
        (void)read(0, &c, 1);
    }
    return NULL;
}

int main(int argc, char **argv) {
    pthread_t t;
    pthread_create(&t, NULL, reader, argc > 1 && !strcmp(argv[1], "poll") ? (void *)1 : NULL);
    usleep(100000); /* let the reader block in read() */
    for (int i = 0; i < 3; i++) {
        printf("line %d while another thread reads\n", i);
        fflush(stdout);
    }
    printf("done\n");
    fflush(stdout);
    _exit(0);
}
