/* A thread blocks reading standard input (a pipe from the host nobody writes
 * to until the end) while the main thread writes lines: the writes must not
 * wait for the read. The main thread prints its lines, then reads nothing
 * more and exits; the test closes stdin only after the output arrived. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void *reader(void *arg) {
    (void)arg;
    char c;
    (void)read(0, &c, 1); /* blocks: the test keeps stdin open */
    return NULL;
}

int main(void) {
    pthread_t t;
    pthread_create(&t, NULL, reader, NULL);
    usleep(100000); /* let the reader block in read() */
    for (int i = 0; i < 3; i++) {
        printf("line %d while another thread reads\n", i);
        fflush(stdout);
    }
    printf("done\n");
    fflush(stdout);
    _exit(0);
}
