/* safetensors.h — zero-copy reader and a small writer for the safetensors format.
 *
 * Layout: u64le N | N bytes of UTF-8 JSON | data. The JSON maps names to
 * {"dtype", "shape", "data_offsets": [begin, end]} (relative to the first data byte) plus an
 * optional "__metadata__" object of strings. Every length, offset, dtype and shape is validated
 * against the file size before any tensor is handed out: byte range inside the data section,
 * end - begin == numel * dtype size, no two tensors overlap, no duplicate names. */
#ifndef KC_IO_SAFETENSORS_H
#define KC_IO_SAFETENSORS_H

#include <stdint.h>

#include "core/mapfile.h"
#include "core/status.h"
#include "core/tensor.h"

#define KC_ST_MAX_HEADER (100u << 20) /* same cap as the reference implementation */
#define KC_ST_MAX_NAME 512

typedef struct {
    char *name;
    kc_tensor t;        /* t.data points into the map */
    uint64_t offset;    /* absolute byte offset in the file */
    uint64_t nbytes;
} kc_st_entry;

typedef struct {
    kc_mapfile map;
    kc_st_entry *entries; /* sorted by name */
    int64_t n;
    char *metadata_json;  /* "__metadata__" re-serialised, or NULL */
} kc_safetensors;

kc_status kc_st_open(kc_safetensors *st, const char *path, kc_err *err);
/* Parses an already mapped buffer (used by the fuzz target); path is for messages. The buffer
 * must outlive st; kc_st_close does not unmap it when opened this way. */
kc_status kc_st_parse(kc_safetensors *st, const unsigned char *data, uint64_t size, const char *path, kc_err *err);
void kc_st_close(kc_safetensors *st);
const kc_st_entry *kc_st_find(const kc_safetensors *st, const char *name);

/* Writer: tensors given as views (any dtype); data written as stored. Metadata {"format":"pt"}. */
typedef struct {
    const char *name;
    kc_tensor t;
} kc_st_write_item;
kc_status kc_st_write(const char *path, const kc_st_write_item *items, int n, kc_err *err);

#endif
