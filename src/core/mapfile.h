/* mapfile.h — read-only memory map of a whole file (PROT_READ, MAP_PRIVATE). */
#ifndef KC_CORE_MAPFILE_H
#define KC_CORE_MAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct {
    char *path;                /* owned copy, for messages */
    const unsigned char *data; /* NULL for an empty file */
    uint64_t size;
} kc_mapfile;

kc_status kc_mapfile_open(kc_mapfile *m, const char *path, kc_err *err);
void kc_mapfile_close(kc_mapfile *m);
/* Hands the whole pages inside [p, p+n) back to the kernel (MADV_DONTNEED): they leave this
 * process's resident set. A read-only file mapping faults them in again from the file on the
 * next read; anonymous memory reads back as zeros (use it there only for data never read again). */
void kc_map_release(const void *p, size_t n);
/* Page-aligned anonymous memory of its own mapping, for large buffers that are freed while the
 * process goes on (prepacked weights of a component that is released): kc_map_free returns it
 * to the system at once, where malloc may keep freed heap memory resident. NULL on failure. */
void *kc_map_alloc(size_t n);
void kc_map_free(void *p);
/* Reads a whole (small) file into a NUL-terminated malloc'd buffer; refuses files > max_bytes. */
kc_status kc_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len, kc_err *err);
int kc_file_exists(const char *path);
int kc_dir_exists(const char *path);

#endif
