/* Uses most of a guest's RAM both ways its kernel hands out frames: many
 * small allocations (4 KiB frames, from the bottom of RAM) and large
 * anonymous mappings (2 MiB frames, from the top), each filled with a
 * pattern of its own and checked after all are made, so a frame the vCPUs
 * cannot reach, or one handed out twice, shows as a wrong sum.
 * Usage: ram_use SMALL_MIB LARGE_MIB */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#define SMALL 4000
#define LARGE (8 << 20)

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    long small_n = atol(argv[1]) * (1 << 20) / SMALL, large_n = atol(argv[2]) * (1 << 20) / LARGE;
    uint8_t **small = calloc(small_n, sizeof *small), **large = calloc(large_n, sizeof *large);
    for (long i = 0; i < small_n; i++) {
        small[i] = malloc(SMALL);
        if (!small[i]) return printf("small allocation %ld failed\n"), 1;
        for (int k = 0; k < SMALL; k++) small[i][k] = (uint8_t)(i * 31 + k);
    }
    for (long i = 0; i < large_n; i++) {
        large[i] = mmap(0, LARGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (large[i] == MAP_FAILED) return printf("mapping %ld failed\n", i), 1;
        for (long k = 0; k < LARGE; k += 512) large[i][k] = (uint8_t)(i * 7 + k / 512);
    }
    uint64_t sum = 0, bad = 0;
    for (long i = 0; i < small_n; i++)
        for (int k = 0; k < SMALL; k++) {
            bad += small[i][k] != (uint8_t)(i * 31 + k);
            sum += small[i][k];
        }
    for (long i = 0; i < large_n; i++)
        for (long k = 0; k < LARGE; k += 512) {
            bad += large[i][k] != (uint8_t)(i * 7 + k / 512);
            sum += large[i][k];
        }
    printf("%ld small, %ld large, sum %llu, %llu wrong bytes\n", small_n, large_n, (unsigned long long)sum,
           (unsigned long long)bad);
    return bad != 0;
}
