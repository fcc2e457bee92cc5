/* argv, the environment and the auxiliary vector as the program sees them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

extern char **environ;

int main(int argc, char **argv) {
    printf("argc = %d\n", argc);
    for (int i = 1; i < argc; i++)
        printf("argv[%d] = [%s]\n", i, argv[i]);
    int n = 0;
    for (char **e = environ; *e; e++)
        if (!strncmp(*e, "HX_", 3))
            printf("env %s\n", *e), n++;
    printf("HX_ variables: %d\n", n);
    printf("AT_PAGESZ = %lu\n", getauxval(AT_PAGESZ));
    printf("AT_PHNUM > 0: %d\n", getauxval(AT_PHNUM) > 0);
    printf("AT_PHENT = %lu\n", getauxval(AT_PHENT));
    printf("AT_RANDOM set: %d\n", getauxval(AT_RANDOM) != 0);
    printf("AT_EXECFN is argv[0]: %d\n", !strcmp((char *)getauxval(AT_EXECFN), argv[0]));
    printf("AT_PLATFORM = %s\n", (char *)getauxval(AT_PLATFORM));
    printf("AT_ENTRY set: %d\n", getauxval(AT_ENTRY) != 0);
    printf("AT_HWCAP has SSE2: %d\n", (getauxval(AT_HWCAP) >> 26) & 1);
    printf("AT_SECURE = %lu\n", getauxval(AT_SECURE));
    return 0;
}
