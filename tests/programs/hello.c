/* Prints its arguments and a few environment variables; exits with argc. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    printf("hello, world\n");
    for (int i = 1; i < argc; i++)
        printf("argv[%d] = %s\n", i, argv[i]);
    const char *v = getenv("HX_TEST_VAR");
    printf("HX_TEST_VAR = %s\n", v ? v : "(unset)");
    fprintf(stderr, "to stderr\n");
    return argc;
}
