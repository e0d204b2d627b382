/* threads.c — see threads.h. */
#include "core/threads.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

int kc_threads_have_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

/* Counts distinct (package, core) pairs in sysfs; hyperthreads share a core id. */
int kc_threads_physical_cores(void) {
    static int cached;
    if (cached > 0) return cached;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1) ncpu = 1;
    int seen[1024][2];
    int nseen = 0;
    for (long c = 0; c < ncpu && c < 1024; c++) {
        char path[128];
        int core = -1, pkg = -1;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/core_id", c);
        FILE *f = fopen(path, "r");
        if (f) { if (fscanf(f, "%d", &core) != 1) core = -1; fclose(f); }
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/physical_package_id", c);
        f = fopen(path, "r");
        if (f) { if (fscanf(f, "%d", &pkg) != 1) pkg = -1; fclose(f); }
        if (core < 0) { nseen = (int)ncpu; break; }
        int dup = 0;
        for (int i = 0; i < nseen; i++)
            if (seen[i][0] == core && seen[i][1] == pkg) { dup = 1; break; }
        if (!dup && nseen < 1024) { seen[nseen][0] = core; seen[nseen][1] = pkg; nseen++; }
    }
    cached = nseen > 0 ? nseen : (int)ncpu;
    return cached;
}

int kc_threads_resolve(int n) {
    if (n <= 0) return kc_threads_physical_cores();
    return n > 1024 ? 1024 : n;
}

int kc_thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}
