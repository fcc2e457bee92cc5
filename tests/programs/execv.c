/* Runs argv[1] with the rest of the arguments, in place of itself. */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    execv(argv[1], argv + 1);
    perror("execv");
    return 127;
}
