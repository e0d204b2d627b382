/* sysinfo.c — see sysinfo.h. */
#include "core/sysinfo.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

double kc_time_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int64_t status_kb(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    int64_t v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) == 0) {
            long long kb;
            if (sscanf(line + kl, " %lld", &kb) == 1) v = kb;
            break;
        }
    }
    fclose(f);
    return v;
}

int64_t kc_peak_rss_bytes(void) { int64_t kb = status_kb("VmHWM:"); return kb < 0 ? -1 : kb * 1024; }
int64_t kc_current_rss_bytes(void) { int64_t kb = status_kb("VmRSS:"); return kb < 0 ? -1 : kb * 1024; }

int kc_peak_rss_reset(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    int ok = fputs("5", f) >= 0;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}
