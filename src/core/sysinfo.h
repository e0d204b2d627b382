/* sysinfo.h — wall clock and memory figures for -v output and benchmarks. */
#ifndef KC_CORE_SYSINFO_H
#define KC_CORE_SYSINFO_H

#include <stdint.h>

double kc_time_now(void);            /* monotonic seconds */
int64_t kc_peak_rss_bytes(void);     /* VmHWM of this process */
int64_t kc_current_rss_bytes(void);  /* VmRSS of this process */
/* Resets the kernel's peak-RSS counter (writes 5 to /proc/self/clear_refs); 0 on success. */
int kc_peak_rss_reset(void);

#endif
