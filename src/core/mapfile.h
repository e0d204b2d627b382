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
/* Reads a whole (small) file into a NUL-terminated malloc'd buffer; refuses files > max_bytes. */
kc_status kc_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len, kc_err *err);
int kc_file_exists(const char *path);
int kc_dir_exists(const char *path);

#endif
