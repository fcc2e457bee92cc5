/* dlopen/dlsym a library given by path; call into it. */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv) {
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h) { printf("dlopen failed: %s\n", dlerror()); return 1; }
    int (*add)(int, int) = (int (*)(int, int))dlsym(h, "plugin_add");
    const char *(*name)(void) = (const char *(*)(void))dlsym(h, "plugin_name");
    int *counter = (int *)dlsym(h, "plugin_counter");
    printf("%s: %d %d counter=%d\n", name(), add(1, 2), add(3, 4), *counter);
    printf("missing symbol: %s\n", dlsym(h, "nope") ? "found?" : "not found");
    dlclose(h);
    void *bad = dlopen("/nonexistent/libx.so", RTLD_NOW);
    printf("bad dlopen: %s\n", bad ? "loaded?" : "refused");
    return 0;
}
