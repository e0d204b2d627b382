/* safetensors.c — see safetensors.h. */
#include "io/safetensors.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "io/json.h"

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const kc_st_entry *)a)->name, ((const kc_st_entry *)b)->name);
}
static int cmp_offset(const void *a, const void *b) {
    const kc_st_entry *x = *(const kc_st_entry *const *)a, *y = *(const kc_st_entry *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset ? 1 : 0;
}

static void free_entries(kc_safetensors *st) {
    for (int64_t i = 0; i < st->n; i++) free(st->entries[i].name);
    free(st->entries);
    st->entries = NULL;
    st->n = 0;
}

static kc_status parse(kc_safetensors *st, const unsigned char *data, uint64_t size, const char *path, kc_err *err) {
    kc_status s = KC_OK;
    cJSON *root = NULL;
    kc_st_entry **by_off = NULL;
    st->entries = NULL;
    st->n = 0;
    st->metadata_json = NULL;
    if (size < 8)
        return kc_fail(err, KC_ERR_FORMAT, "%s: file is %" PRIu64 " bytes, too short for a safetensors header", path,
                       size);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)data[i] << (8 * i);
    if (hlen > KC_ST_MAX_HEADER)
        return kc_fail(err, KC_ERR_FORMAT, "%s: header length %" PRIu64 " exceeds the %u-byte limit", path, hlen,
                       KC_ST_MAX_HEADER);
    if (hlen > size - 8)
        return kc_fail(err, KC_ERR_FORMAT,
                       "%s: header length %" PRIu64 " goes past the end of the file (%" PRIu64 " bytes): truncated?",
                       path, hlen, size);
    if (hlen < 2) return kc_fail(err, KC_ERR_FORMAT, "%s: header is empty", path);
    s = kc_json_parse((const char *)data + 8, (size_t)hlen, path, &root, err);
    if (s) return s;

    const uint64_t data_start = 8 + hlen, data_size = size - data_start;
    int count = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, root) count++;
    st->entries = calloc((size_t)count + 1, sizeof *st->entries);
    if (!st->entries) { s = kc_fail(err, KC_ERR_NOMEM, "%s: out of memory", path); goto fail; }

    cJSON_ArrayForEach(it, root) {
        const char *name = it->string;
        if (!name) { s = kc_fail(err, KC_ERR_FORMAT, "%s: header entry without a name", path); goto fail; }
        if (strcmp(name, "__metadata__") == 0) {
            if (!cJSON_IsObject(it)) { s = kc_fail(err, KC_ERR_FORMAT, "%s: __metadata__ is not an object", path); goto fail; }
            st->metadata_json = cJSON_PrintUnformatted(it);
            continue;
        }
        if (strlen(name) == 0 || strlen(name) > KC_ST_MAX_NAME) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: tensor name of length %zu is not allowed", path, strlen(name));
            goto fail;
        }
        if (!cJSON_IsObject(it)) { s = kc_fail(err, KC_ERR_FORMAT, "%s: tensor '%s': entry is not an object", path, name); goto fail; }
        const char *dts = NULL;
        s = kc_json_str(it, "dtype", 1, NULL, path, &dts, err);
        if (s) { kc_err_prepend(err, "tensor '%s'", name); goto fail; }
        kc_dtype dt = kc_dtype_from_name(dts);
        if (dt == KC_DTYPE_INVALID) {
            s = kc_fail(err, KC_ERR_UNSUPPORTED, "%s: tensor '%s' has unsupported dtype \"%s\"", path, name, dts);
            goto fail;
        }
        int64_t shape[KC_MAX_DIMS];
        int nd = 0;
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "shape");
        if (!cJSON_IsArray(sh)) { s = kc_fail(err, KC_ERR_FORMAT, "%s: tensor '%s': \"shape\" is missing or not an array", path, name); goto fail; }
        if (cJSON_GetArraySize(sh) > KC_MAX_DIMS) {
            s = kc_fail(err, KC_ERR_UNSUPPORTED, "%s: tensor '%s' has %d dims (max %d)", path, name, cJSON_GetArraySize(sh), KC_MAX_DIMS);
            goto fail;
        }
        s = kc_json_int_array(it, "shape", 1, shape, KC_MAX_DIMS, &nd, 0, path, err);
        if (s) { kc_err_prepend(err, "tensor '%s'", name); goto fail; }
        for (int d = 0; d < nd; d++)
            if (shape[d] < 0) { s = kc_fail(err, KC_ERR_FORMAT, "%s: tensor '%s' has negative dim %" PRId64, path, name, shape[d]); goto fail; }
        int64_t offs[2];
        int no = 0;
        s = kc_json_int_array(it, "data_offsets", 1, offs, 2, &no, 0, path, err);
        if (s) { kc_err_prepend(err, "tensor '%s'", name); goto fail; }
        if (no != 2 || offs[0] < 0 || offs[1] < offs[0]) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: tensor '%s': data_offsets must be [begin, end] with 0 <= begin <= end", path, name);
            goto fail;
        }
        if ((uint64_t)offs[1] > data_size) {
            s = kc_fail(err, KC_ERR_FORMAT,
                        "%s: tensor '%s' ends at data byte %" PRId64 " but the data section has %" PRIu64 " bytes (truncated file?)",
                        path, name, offs[1], data_size);
            goto fail;
        }
        int64_t numel, nbytes;
        if (!kc_dims_product(shape, nd, &numel) || !kc_i64_mul(numel, (int64_t)kc_dtype_size(dt), &nbytes)) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: tensor '%s': shape overflows", path, name);
            goto fail;
        }
        if (nbytes != offs[1] - offs[0]) {
            char b[128];
            s = kc_fail(err, KC_ERR_FORMAT, "%s: tensor '%s': %s %s needs %" PRId64 " bytes but data_offsets span %" PRId64,
                        path, name, dts, kc_shape_str(b, sizeof b, shape, nd), nbytes, offs[1] - offs[0]);
            goto fail;
        }
        kc_st_entry *e = &st->entries[st->n];
        e->name = strdup(name);
        if (!e->name) { s = kc_fail(err, KC_ERR_NOMEM, "%s: out of memory", path); goto fail; }
        st->n++;
        e->t.dtype = dt;
        e->t.ndim = nd;
        for (int d = 0; d < nd; d++) e->t.shape[d] = shape[d];
        e->offset = data_start + (uint64_t)offs[0];
        e->nbytes = (uint64_t)nbytes;
        e->t.data = data + e->offset;
        e->t.device = KC_DEVICE_CPU;
    }
    qsort(st->entries, (size_t)st->n, sizeof *st->entries, cmp_entry);
    for (int64_t i = 1; i < st->n; i++)
        if (strcmp(st->entries[i - 1].name, st->entries[i].name) == 0) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: tensor '%s' appears twice in the header", path, st->entries[i].name);
            goto fail;
        }
    /* Overlapping byte ranges would let one tensor alias another: refuse. */
    by_off = malloc(((size_t)st->n + 1) * sizeof *by_off);
    if (!by_off) { s = kc_fail(err, KC_ERR_NOMEM, "%s: out of memory", path); goto fail; }
    for (int64_t i = 0; i < st->n; i++) by_off[i] = &st->entries[i];
    qsort(by_off, (size_t)st->n, sizeof *by_off, cmp_offset);
    for (int64_t i = 1; i < st->n; i++)
        if (by_off[i]->nbytes && by_off[i - 1]->offset + by_off[i - 1]->nbytes > by_off[i]->offset) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap", path, by_off[i - 1]->name, by_off[i]->name);
            goto fail;
        }
    free(by_off);
    cJSON_Delete(root);
    return KC_OK;
fail:
    free(by_off);
    cJSON_Delete(root);
    free_entries(st);
    cJSON_free(st->metadata_json);
    st->metadata_json = NULL;
    return s;
}

/* A caller's buffer: st->map stays empty, so kc_st_close frees the index but unmaps nothing. */
kc_status kc_st_parse(kc_safetensors *st, const unsigned char *data, uint64_t size, const char *path, kc_err *err) {
    memset(st, 0, sizeof *st);
    return parse(st, data, size, path, err);
}

kc_status kc_st_open(kc_safetensors *st, const char *path, kc_err *err) {
    memset(st, 0, sizeof *st);
    kc_status s = kc_mapfile_open(&st->map, path, err);
    if (s) return s;
    s = parse(st, st->map.data ? st->map.data : (const unsigned char *)"", st->map.size, path, err);
    if (s) kc_mapfile_close(&st->map);
    return s;
}

void kc_st_close(kc_safetensors *st) {
    free_entries(st);
    cJSON_free(st->metadata_json);
    kc_mapfile_close(&st->map);
    memset(st, 0, sizeof *st);
}

const kc_st_entry *kc_st_find(const kc_safetensors *st, const char *name) {
    int64_t lo = 0, hi = st->n - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->entries[mid].name, name);
        if (c == 0) return &st->entries[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

kc_status kc_st_write(const char *path, const kc_st_write_item *items, int n, kc_err *err) {
    cJSON *root = cJSON_CreateObject();
    char *hdr = NULL;
    FILE *f = NULL;
    kc_status s = KC_OK;
    if (!root) return kc_fail(err, KC_ERR_NOMEM, "%s: out of memory", path);
    cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
    cJSON_AddStringToObject(meta, "format", "pt");
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_AddObjectToObject(root, items[i].name);
        if (!e) { s = kc_fail(err, KC_ERR_ARG, "%s: cannot add tensor '%s'", path, items[i].name); goto done; }
        cJSON_AddStringToObject(e, "dtype", kc_dtype_name(items[i].t.dtype));
        cJSON *sh = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < items[i].t.ndim; d++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)items[i].t.shape[d]));
        uint64_t nb = (uint64_t)kc_tensor_nbytes(&items[i].t);
        cJSON *o = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)(off + nb)));
        off += nb;
    }
    hdr = cJSON_PrintUnformatted(root);
    if (!hdr) { s = kc_fail(err, KC_ERR_NOMEM, "%s: out of memory", path); goto done; }
    size_t hl = strlen(hdr), padded = (hl + 7) & ~(size_t)7; /* 8-byte aligned data, as the reference writes */
    f = fopen(path, "wb");
    if (!f) { s = kc_fail(err, KC_ERR_IO, "%s: cannot create: %s", path, strerror(errno)); goto done; }
    unsigned char lenb[8];
    for (int i = 0; i < 8; i++) lenb[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int ok = fwrite(lenb, 1, 8, f) == 8 && fwrite(hdr, 1, hl, f) == hl;
    for (size_t i = hl; ok && i < padded; i++) ok = fputc(' ', f) != EOF;
    for (int i = 0; ok && i < n; i++) {
        size_t nb = (size_t)kc_tensor_nbytes(&items[i].t);
        ok = nb == 0 || fwrite(items[i].t.data, 1, nb, f) == nb;
    }
    if (fclose(f) != 0) ok = 0;
    f = NULL;
    if (!ok) s = kc_fail(err, KC_ERR_IO, "%s: write failed: %s", path, strerror(errno));
done:
    cJSON_free(hdr);
    cJSON_Delete(root);
    return s;
}
