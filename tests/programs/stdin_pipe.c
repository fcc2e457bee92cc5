/* Reads all of stdin and reports what it got: lines, bytes, a checksum, and
 * the text upper-cased. */
#include <ctype.h>
#include <stdio.h>

int main(void) {
    unsigned long lines = 0, bytes = 0, sum = 0;
    int c;
    while ((c = getchar()) != EOF) {
        bytes++;
        sum = sum * 31 + (unsigned char)c;
        if (c == '\n') lines++;
        putchar(toupper(c));
    }
    printf("lines=%lu bytes=%lu sum=%lu\n", lines, bytes, sum);
    return 0;
}
