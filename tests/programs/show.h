/* SHOW("what", call): runs call and prints its result, and errno when it
 * failed, in one line — what the native comparison tests diff. */
#include <errno.h>
#include <stdio.h>

#define SHOW(what, call)                                               \
    do {                                                               \
        errno = 0;                                                     \
        long r_ = (long)(call);                                        \
        printf("%s = %ld (errno %d)\n", what, r_, r_ < 0 ? errno : 0); \
    } while (0)
