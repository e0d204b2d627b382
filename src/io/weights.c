/* weights.c — see weights.h. */
#include "io/weights.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mapfile.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "io/torchzip.h"

typedef struct {
    void *src;
    void (*close_fn)(void *);
} source;

struct kc_weights {
    kc_weight_entry *e;
    int64_t n, cap;
    int sorted;
    source *src;
    int nsrc, capsrc;
    char **files;
    uint64_t *file_sizes;
    int nfiles;
};

kc_status kc_weights_new(kc_weights **out, kc_err *err) {
    *out = calloc(1, sizeof **out);
    return *out ? KC_OK : kc_fail(err, KC_ERR_NOMEM, "out of memory");
}

void kc_weights_free(kc_weights *ws) {
    if (!ws) return;
    for (int64_t i = 0; i < ws->n; i++) free((char *)ws->e[i].name);
    free(ws->e);
    for (int i = ws->nsrc - 1; i >= 0; i--) ws->src[i].close_fn(ws->src[i].src);
    free(ws->src);
    for (int i = 0; i < ws->nfiles; i++) free(ws->files[i]);
    free(ws->files);
    free(ws->file_sizes);
    free(ws);
}

static const char *intern_file(kc_weights *ws, const char *path, uint64_t size) {
    for (int i = 0; i < ws->nfiles; i++)
        if (strcmp(ws->files[i], path) == 0) return ws->files[i];
    char **nf = realloc(ws->files, (size_t)(ws->nfiles + 1) * sizeof *nf);
    if (!nf) return NULL;
    ws->files = nf;
    uint64_t *ns = realloc(ws->file_sizes, (size_t)(ws->nfiles + 1) * sizeof *ns);
    if (!ns) return NULL;
    ws->file_sizes = ns;
    ws->files[ws->nfiles] = strdup(path);
    if (!ws->files[ws->nfiles]) return NULL;
    ws->file_sizes[ws->nfiles] = size;
    return ws->files[ws->nfiles++];
}

kc_status kc_weights_add_entry(kc_weights *ws, const char *name, const kc_tensor *t, const char *file, kc_err *err) {
    if (ws->n == ws->cap) {
        int64_t nc = ws->cap ? ws->cap * 2 : 256;
        kc_weight_entry *ne = realloc(ws->e, (size_t)nc * sizeof *ne);
        if (!ne) return kc_fail(err, KC_ERR_NOMEM, "out of memory indexing weights");
        ws->e = ne;
        ws->cap = nc;
    }
    char *nm = strdup(name);
    if (!nm) return kc_fail(err, KC_ERR_NOMEM, "out of memory indexing weights");
    ws->e[ws->n].name = nm;
    ws->e[ws->n].t = *t;
    ws->e[ws->n].file = file;
    ws->n++;
    ws->sorted = 0;
    return KC_OK;
}

kc_status kc_weights_add_source(kc_weights *ws, void *src, void (*close_fn)(void *), kc_err *err) {
    if (ws->nsrc == ws->capsrc) {
        int nc = ws->capsrc ? ws->capsrc * 2 : 8;
        source *ns = realloc(ws->src, (size_t)nc * sizeof *ns);
        if (!ns) {
            close_fn(src);
            return kc_fail(err, KC_ERR_NOMEM, "out of memory");
        }
        ws->src = ns;
        ws->capsrc = nc;
    }
    ws->src[ws->nsrc].src = src;
    ws->src[ws->nsrc].close_fn = close_fn;
    ws->nsrc++;
    return KC_OK;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const kc_weight_entry *)a)->name, ((const kc_weight_entry *)b)->name);
}

static kc_status ensure_sorted(kc_weights *ws, kc_err *err) {
    if (ws->sorted) return KC_OK;
    qsort(ws->e, (size_t)ws->n, sizeof *ws->e, cmp_name);
    for (int64_t i = 1; i < ws->n; i++)
        if (strcmp(ws->e[i - 1].name, ws->e[i].name) == 0)
            return kc_fail(err, KC_ERR_FORMAT, "tensor '%s' is stored twice: in %s and in %s", ws->e[i].name,
                           ws->e[i - 1].file, ws->e[i].file);
    ws->sorted = 1;
    return KC_OK;
}

static void st_close(void *p) {
    kc_st_close(p);
    free(p);
}

static kc_status add_safetensors(kc_weights *ws, const char *path, kc_err *err) {
    kc_safetensors *st = calloc(1, sizeof *st);
    if (!st) return kc_fail(err, KC_ERR_NOMEM, "out of memory");
    kc_status s = kc_st_open(st, path, err);
    if (s) {
        free(st);
        return s;
    }
    s = kc_weights_add_source(ws, st, st_close, err);
    if (s) return s;
    const char *f = intern_file(ws, path, st->map.size);
    if (!f) return kc_fail(err, KC_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < st->n; i++) {
        s = kc_weights_add_entry(ws, st->entries[i].name, &st->entries[i].t, f, err);
        if (s) return s;
    }
    return ensure_sorted(ws, err);
}

static void tz_close(void *p) {
    kc_torchzip_close(p);
    free(p);
}

static kc_status add_torchzip(kc_weights *ws, const char *path, kc_err *err) {
    kc_torchzip *tz = calloc(1, sizeof *tz);
    if (!tz) return kc_fail(err, KC_ERR_NOMEM, "out of memory");
    kc_status s = kc_torchzip_open(tz, path, err);
    if (s) {
        free(tz);
        return s;
    }
    s = kc_weights_add_source(ws, tz, tz_close, err);
    if (s) return s;
    const char *f = intern_file(ws, path, kc_torchzip_file_size(tz));
    if (!f) return kc_fail(err, KC_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < kc_torchzip_count(tz); i++) {
        const char *name;
        kc_tensor t;
        kc_torchzip_get(tz, i, &name, &t);
        s = kc_weights_add_entry(ws, name, &t, f, err);
        if (s) return s;
    }
    return ensure_sorted(ws, err);
}

kc_status kc_weights_add_file(kc_weights *ws, const char *path, kc_err *err) {
    unsigned char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return kc_fail(err, KC_ERR_IO, "%s: cannot open", path);
    size_t got = fread(magic, 1, 4, f);
    fclose(f);
    if (got == 4 && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4)
        return add_torchzip(ws, path, err);
    return add_safetensors(ws, path, err);
}

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

kc_status kc_weights_add_index(kc_weights *ws, const char *index_path, kc_err *err) {
    cJSON *root = NULL;
    kc_status s = kc_json_load(index_path, &root, err);
    if (s) return s;
    char *dir = strdup(index_path);
    if (!dir) { cJSON_Delete(root); return kc_fail(err, KC_ERR_NOMEM, "out of memory"); }
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else strcpy(dir, ".");
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    const char **shards = NULL;
    int nshards = 0;
    if (!cJSON_IsObject(wm)) {
        s = kc_fail(err, KC_ERR_FORMAT, "%s: \"weight_map\" is missing or not an object", index_path);
        goto done;
    }
    const cJSON *it;
    int cnt = cJSON_GetArraySize(wm);
    shards = calloc((size_t)cnt + 1, sizeof *shards);
    if (!shards) { s = kc_fail(err, KC_ERR_NOMEM, "out of memory"); goto done; }
    cJSON_ArrayForEach(it, wm) {
        if (!cJSON_IsString(it)) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: weight_map[\"%s\"] is not a file name", index_path, it->string);
            goto done;
        }
        const char *fn = it->valuestring;
        if (strchr(fn, '/') || strcmp(fn, "..") == 0 || strcmp(fn, ".") == 0 || !fn[0]) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: shard name \"%s\" must be a plain file name in the same folder",
                        index_path, fn);
            goto done;
        }
        int seen = 0;
        for (int i = 0; i < nshards; i++)
            if (strcmp(shards[i], fn) == 0) { seen = 1; break; }
        if (!seen) shards[nshards++] = fn;
    }
    for (int i = 0; i < nshards; i++) {
        char *p = join(dir, shards[i]);
        if (!p) { s = kc_fail(err, KC_ERR_NOMEM, "out of memory"); goto done; }
        s = kc_weights_add_file(ws, p, err);
        free(p);
        if (s) { kc_err_prepend(err, "shard listed in %s", index_path); goto done; }
    }
    /* Every indexed tensor must be present, in the shard the index names. */
    cJSON_ArrayForEach(it, wm) {
        const kc_weight_entry *e = kc_weights_find(ws, it->string);
        if (!e) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: tensor '%s' is listed for %s but that shard does not contain it",
                        index_path, it->string, it->valuestring);
            goto done;
        }
        const char *base = strrchr(e->file, '/');
        base = base ? base + 1 : e->file;
        if (strcmp(base, it->valuestring) != 0) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: tensor '%s' is listed for %s but was found in %s", index_path,
                        it->string, it->valuestring, base);
            goto done;
        }
    }
done:
    free(shards);
    free(dir);
    cJSON_Delete(root);
    return s;
}

kc_status kc_weights_open_dir(const char *dir, const char *const *bases, int nbases, const char *variant,
                              kc_weights **out, int *used_variant, kc_err *err) {
    *out = NULL;
    if (used_variant) *used_variant = 0;
    if (!kc_dir_exists(dir)) return kc_fail(err, KC_ERR_IO, "%s: folder not found", dir);
    /* Candidate file names, in order of preference; the variant (if any) first. */
    char cand[16][256];
    int is_var[16], is_index[16], nc = 0;
    for (int pass = 0; pass < 2; pass++) {
        const char *v = pass == 0 ? variant : NULL;
        if (pass == 0 && !variant) continue;
        for (int b = 0; b < nbases && nc < 12; b++) {
            if (v) {
                snprintf(cand[nc], 256, "%s.%s.safetensors", bases[b], v); is_var[nc] = 1; is_index[nc++] = 0;
                snprintf(cand[nc], 256, "%s.safetensors.index.%s.json", bases[b], v); is_var[nc] = 1; is_index[nc++] = 1;
                snprintf(cand[nc], 256, "%s.%s.safetensors.index.json", bases[b], v); is_var[nc] = 1; is_index[nc++] = 1;
            } else {
                snprintf(cand[nc], 256, "%s.safetensors", bases[b]); is_var[nc] = 0; is_index[nc++] = 0;
                snprintf(cand[nc], 256, "%s.safetensors.index.json", bases[b]); is_var[nc] = 0; is_index[nc++] = 1;
            }
        }
    }
    if (nc < 15) { snprintf(cand[nc], 256, "pytorch_model.bin.index.json"); is_var[nc] = 0; is_index[nc++] = 1; }
    if (nc < 16) { snprintf(cand[nc], 256, "pytorch_model.bin"); is_var[nc] = 0; is_index[nc++] = 0; }
    for (int i = 0; i < nc; i++) {
        char *p = join(dir, cand[i]);
        if (!p) return kc_fail(err, KC_ERR_NOMEM, "out of memory");
        if (!kc_file_exists(p)) { free(p); continue; }
        kc_weights *ws;
        kc_status s = kc_weights_new(&ws, err);
        if (!s) s = is_index[i] ? kc_weights_add_index(ws, p, err) : kc_weights_add_file(ws, p, err);
        free(p);
        if (s) { kc_weights_free(ws); return s; }
        *out = ws;
        if (used_variant) *used_variant = is_var[i];
        return KC_OK;
    }
    return kc_fail(err, KC_ERR_IO, "%s: no weights file found (looked for %s.safetensors%s%s%s, sharded indexes and pytorch_model.bin)",
                   dir, nbases ? bases[0] : "model", variant ? ", " : "", variant ? variant : "",
                   variant ? " variant" : "");
}

int64_t kc_weights_count(const kc_weights *ws) { return ws->n; }
const kc_weight_entry *kc_weights_entry(const kc_weights *ws, int64_t i) {
    ensure_sorted((kc_weights *)ws, NULL);
    return (i >= 0 && i < ws->n) ? &ws->e[i] : NULL;
}
int kc_weights_nfiles(const kc_weights *ws) { return ws->nfiles; }
const char *kc_weights_file(const kc_weights *ws, int i) { return (i >= 0 && i < ws->nfiles) ? ws->files[i] : NULL; }
uint64_t kc_weights_file_size(const kc_weights *ws, int i) { return (i >= 0 && i < ws->nfiles) ? ws->file_sizes[i] : 0; }

const kc_weight_entry *kc_weights_find(const kc_weights *ws, const char *name) {
    if (!ws->sorted && ensure_sorted((kc_weights *)ws, NULL) != KC_OK) {
        for (int64_t i = 0; i < ws->n; i++)
            if (strcmp(ws->e[i].name, name) == 0) return &ws->e[i];
        return NULL;
    }
    int64_t lo = 0, hi = ws->n - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ws->e[mid].name, name);
        if (c == 0) return &ws->e[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

kc_status kc_weights_bind(const kc_weights *ws, const char *prefix, const char *name, int ndim, const int64_t *shape,
                          kc_tensor *out, kc_err *err) {
    char full[768];
    snprintf(full, sizeof full, "%s%s", prefix ? prefix : "", name);
    const kc_weight_entry *e = kc_weights_find(ws, full);
    if (!e) return kc_fail(err, KC_ERR_SHAPE, "tensor '%s' is missing from the weights", full);
    if (!kc_dtype_is_float(e->t.dtype))
        return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s; expected F32, F16 or BF16", e->file,
                       full, kc_dtype_name(e->t.dtype));
    int ok = e->t.ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = e->t.shape[i] == shape[i];
    if (!ok) {
        char a[128], b[128];
        return kc_fail(err, KC_ERR_SHAPE, "%s: tensor '%s' has shape %s; the config implies %s", e->file, full,
                       kc_shape_str(a, sizeof a, e->t.shape, e->t.ndim), kc_shape_str(b, sizeof b, shape, ndim));
    }
    *out = e->t;
    return KC_OK;
}

kc_status kc_weights_bindf(const kc_weights *ws, kc_tensor *out, kc_err *err, int ndim, const int64_t *shape,
                           const char *fmt, ...) {
    char name[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return kc_weights_bind(ws, NULL, name, ndim, shape, out, err);
}
