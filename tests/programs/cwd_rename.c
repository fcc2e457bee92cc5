// The working directory follows renames of itself and of a directory
// above it: relative names still reach its files, getcwd names it anew.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void show(const char *what, int ok) { printf("%-45s %s\n", what, ok ? "yes" : "no"); }

static int ends_with(const char *s, const char *tail) {
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && strcmp(s + a - b, tail) == 0;
}

int main(void) {
    char top[4096], buf[4096];
    mkdir("outer", 0755);
    mkdir("outer/inner", 0755);
    if (chdir("outer/inner") != 0 || !getcwd(top, sizeof top))
        return 1;
    close(open("file", O_CREAT | O_WRONLY, 0644));

    // Rename the working directory itself by its absolute name.
    char moved[4200];
    snprintf(moved, sizeof moved, "%s.moved", top);
    show("rename of the cwd", rename(top, moved) == 0);
    show("a relative name still reaches its file", access("file", F_OK) == 0);
    show("getcwd names it anew", getcwd(buf, sizeof buf) && ends_with(buf, "/outer/inner.moved"));
    show("a new file lands in it", close(open("made", O_CREAT | O_WRONLY, 0644)) == 0 && access(strcat(strcpy(buf, moved), "/made"), F_OK) == 0);

    // Rename a directory above it, by a relative name.
    show("rename of its parent", rename("../../outer", "../../outer2") == 0);
    show("after the parent moved, relative names work", access("made", F_OK) == 0);
    show("getcwd follows the parent",
         getcwd(buf, sizeof buf) && ends_with(buf, "/outer2/inner.moved"));
    show("unlink by a relative name", unlink("file") == 0 && unlink("made") == 0);
    return 0;
}
