/* hx's vDSO: the time functions libc calls through the vDSO, as calls
 * through the hx kernel's syscall vector — a function call instead of a trap.
 * hx-run writes the vector's address into hx_vector_addr (a placeholder of 1) before the guest
 * starts; everything here is PC-relative, so the image needs no relocation. */
typedef long (*hx_vector_fn)(long, long, long, long, long, long);

__attribute__((visibility("hidden"), section(".data.hx"))) volatile unsigned long hx_vector_addr = 1;

static inline long hx_call(long nr, long a1, long a2) {
    hx_vector_fn *vector = (hx_vector_fn *)hx_vector_addr;
    return vector[nr](a1, a2, 0, 0, 0, 0);
}

long __vdso_clock_gettime(long clock, void *ts) { return hx_call(228, clock, (long)ts); }
long __vdso_clock_getres(long clock, void *res) { return hx_call(229, clock, (long)res); }
long __vdso_gettimeofday(void *tv, void *tz) { return hx_call(96, (long)tv, (long)tz); }
long __vdso_time(long *t) { return hx_call(201, (long)t, 0); }

/* The vCPU the caller runs on (the kernel's getcpu: threads move between
 * vCPUs, and sched_setaffinity pins them), node 0. */
long __vdso_getcpu(unsigned *cpu, unsigned *node, void *unused) { return hx_call(309, (long)cpu, (long)node); }

long clock_gettime(long, void *) __attribute__((weak, alias("__vdso_clock_gettime")));
long clock_getres(long, void *) __attribute__((weak, alias("__vdso_clock_getres")));
long gettimeofday(void *, void *) __attribute__((weak, alias("__vdso_gettimeofday")));
long time(long *) __attribute__((weak, alias("__vdso_time")));
long getcpu(unsigned *, unsigned *, void *) __attribute__((weak, alias("__vdso_getcpu")));
