/* threads.h — thread-count policy. OpenMP pragmas live only in ops/ (and here). */
#ifndef KC_CORE_THREADS_H
#define KC_CORE_THREADS_H

/* Resolves a requested thread count: n > 0 is taken as is (capped at 1024); n <= 0 means
 * "number of physical cores" (from sysfs topology, falling back to online CPUs). */
int kc_threads_resolve(int n);
int kc_threads_physical_cores(void);
/* 1 when built with OpenMP. */
int kc_threads_have_openmp(void);
/* Index of the calling thread inside an OpenMP parallel region (0 outside one). */
int kc_thread_id(void);

#endif
