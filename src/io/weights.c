/* weights.c — see weights.h. */
#include "io/weights.h"

#include <errno.h>
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
    struct { const unsigned char *p; uint64_t n; int file; } *maps; /* ranges whose pages can be released */
    int nmaps;
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
    free(ws->maps);
    free(ws);
}

static kc_status add_range(kc_weights *ws, const void *p, uint64_t n, int file, kc_err *err) {
    if (!p || !n) return KC_OK;
    void *nm = realloc(ws->maps, (size_t)(ws->nmaps + 1) * sizeof *ws->maps);
    if (!nm) return kc_fail(err, KC_ERR_NOMEM, "out of memory");
    ws->maps = nm;
    ws->maps[ws->nmaps].p = p;
    ws->maps[ws->nmaps].n = n;
    ws->maps[ws->nmaps].file = file;
    ws->nmaps++;
    return KC_OK;
}

kc_status kc_weights_add_releasable(kc_weights *ws, const void *p, uint64_t n, kc_err *err) {
    return add_range(ws, p, n, 0, err);
}

/* 1 when t's data lies in one of the releasable ranges (only the file mappings if file_only). */
static int in_range(const kc_weights *ws, const kc_tensor *t, int file_only) {
    const unsigned char *b = t->data;
    const uint64_t n = (uint64_t)kc_tensor_nbytes(t);
    for (int i = 0; b && i < ws->nmaps; i++)
        if ((ws->maps[i].file || !file_only) && b >= ws->maps[i].p && n <= ws->maps[i].n &&
            (uint64_t)(b - ws->maps[i].p) <= ws->maps[i].n - n)
            return 1;
    return 0;
}

void kc_weights_release(const kc_weights *ws, const kc_tensor *t) {
    if (in_range(ws, t, 0)) kc_map_release(t->data, (size_t)kc_tensor_nbytes(t));
}

kc_status kc_weights_prepare(kc_weights *ws, kc_weights_prepare_fn fn, void (*free_fn)(void *), void *user, size_t *total,
                             kc_err *err) {
    if (total) *total = 0;
    for (int64_t i = 0; i < ws->n; i++) {
        kc_tensor *t = &ws->e[i].t;
        void *owned = NULL;
        size_t bytes = 0;
        kc_status s = fn(user, ws->e[i].name, t, &owned, &bytes, err);
        if (s) {
            kc_err_prepend(err, "%s: tensor '%s'", ws->e[i].file, ws->e[i].name);
            return s;
        }
        if (!owned) continue;
        if ((s = kc_weights_add_source(ws, owned, free_fn, err))) return s;
        if (total) *total += bytes;
        kc_weights_release(ws, t);
    }
    return KC_OK;
}

kc_status kc_weights_detach_files(kc_weights *ws, int (*keep)(void *user, const char *name, const kc_tensor *t), void *user,
                                  kc_err *err) {
    /* Copy the kept file-mapped tensors that have no packed copy (norms, biases, few-row
     * layers: ~55 MB of the U-Net) to memory of their own, then release the files' mappings
     * whole. Reading those small tensors from the file later would map the large folios around
     * them (2 MiB where the file system uses them), which put ~390 MB of released neighbours
     * back into the resident set during a full-size U-Net forward. */
    size_t rest = 0;
    for (int64_t i = 0; i < ws->n; i++) {
        const kc_tensor *t = &ws->e[i].t;
        if (!t->pack && t->data && in_range(ws, t, 1) && keep(user, ws->e[i].name, t))
            rest += ((size_t)kc_tensor_nbytes(t) + 63) & ~(size_t)63;
    }
    if (rest) {
        unsigned char *copy = kc_map_alloc(rest);
        if (!copy) return kc_fail(err, KC_ERR_NOMEM, "out of memory copying %zu bytes of small tensors", rest);
        kc_status s = kc_weights_add_source(ws, copy, kc_map_free, err);
        if (s) return s;
        for (int64_t i = 0; i < ws->n; i++) {
            kc_tensor *t = &ws->e[i].t;
            if (t->pack || !t->data || !in_range(ws, t, 1) || !keep(user, ws->e[i].name, t)) continue;
            const size_t nb = (size_t)kc_tensor_nbytes(t);
            memcpy(copy, t->data, nb);
            t->data = copy;
            copy += (nb + 63) & ~(size_t)63;
        }
    }
    for (int i = 0; i < ws->nmaps; i++)
        if (ws->maps[i].file) kc_map_release(ws->maps[i].p, (size_t)ws->maps[i].n);
    return KC_OK;
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
    if ((s = add_range(ws, st->map.data, st->map.size, 1, err))) return s;
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
    uint64_t mn = 0;
    const void *mp = kc_torchzip_map(tz, &mn);
    if ((s = add_range(ws, mp, mn, 1, err))) return s;
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
    if (!f) return kc_fail(err, KC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t got = fread(magic, 1, 4, f);
    fclose(f);
    if (got == 4 && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4)
        return add_torchzip(ws, path, err);
    /* torch.save before 1.6 (or with _use_new_zipfile_serialization=False): a bare pickle stream
     * starting PROTO 2, LONG1 <magic number>. Its storages follow the pickles unframed; refuse. */
    if (got == 4 && magic[0] == 0x80 && magic[1] == 0x02 && magic[2] == 0x8a)
        return kc_fail(err, KC_ERR_UNSUPPORTED,
                       "%s: legacy (pre-1.6, non-zip) PyTorch checkpoint; re-save it with a current torch.save "
                       "or convert it to safetensors", path);
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
    /* Shards live next to the index: "<dir>/" prefix, "." when the index has no folder part. */
    const char *slash = strrchr(index_path, '/');
    char *dir = slash ? strndup(index_path, slash == index_path ? 1 : (size_t)(slash - index_path)) : strdup(".");
    if (!dir) { cJSON_Delete(root); return kc_fail(err, KC_ERR_NOMEM, "out of memory"); }
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    const char **shards = NULL;
    int nshards = 0;
    if (!cJSON_IsObject(wm)) {
        s = kc_fail(err, KC_ERR_FORMAT, "%s: \"weight_map\" is missing or not an object", index_path);
        goto done;
    }
    const cJSON *it;
    int cnt = cJSON_GetArraySize(wm);
    if (cnt == 0) {
        s = kc_fail(err, KC_ERR_FORMAT, "%s: \"weight_map\" is empty", index_path);
        goto done;
    }
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

/* Candidate weight files of a component folder, in order of preference. */
#define MAX_CAND 48
typedef struct {
    char name[MAX_CAND][320];
    unsigned char is_var[MAX_CAND], is_index[MAX_CAND];
    int n;
} cand_list;

static void cand_add(cand_list *c, int is_var, int is_index, const char *a, const char *b, const char *d) {
    if (c->n >= MAX_CAND) return;
    int len = snprintf(c->name[c->n], sizeof c->name[0], "%s%s%s", a, b, d);
    if (len < 0 || (size_t)len >= sizeof c->name[0]) return; /* absurdly long base: skip, never truncate */
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->name[i], c->name[c->n]) == 0) return;
    c->is_var[c->n] = (unsigned char)is_var;
    c->is_index[c->n] = (unsigned char)is_index;
    c->n++;
}

/* Variant names become part of file names: keep them to [A-Za-z0-9_-]. */
static int plain_token(const char *v) {
    if (!v[0] || strlen(v) > 64) return 0;
    for (const char *p = v; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
              *p == '-'))
            return 0;
    return 1;
}

static void add_variant(cand_list *c, const char *base, const char *v) {
    char dv[80], iv[96];
    snprintf(dv, sizeof dv, ".%s.safetensors", v);
    snprintf(iv, sizeof iv, ".safetensors.index.%s.json", v); /* diffusers' _add_variant spelling */
    cand_add(c, 1, 0, base, dv, "");
    cand_add(c, 1, 1, base, iv, "");
    cand_add(c, 1, 1, base, dv, ".index.json");
}

kc_status kc_weights_open_dir(const char *dir, const char *const *bases, int nbases, const char *variant,
                              kc_weights **out, int *used_variant, kc_err *err) {
    *out = NULL;
    if (used_variant) *used_variant = 0;
    if (!kc_dir_exists(dir)) return kc_fail(err, KC_ERR_IO, "%s: folder not found", dir);
    if (variant && !plain_token(variant))
        return kc_fail(err, KC_ERR_ARG, "weights variant \"%s\" must be a short name of letters, digits, '_' or '-'",
                       variant);
    for (int b = 0; b < nbases; b++)
        if (!bases[b] || !plain_token(bases[b]))
            return kc_fail(err, KC_ERR_INTERNAL, "%s: weights base name %d is not a plain file stem", dir, b);
    /* Order: the requested variant; the plain safetensors (single, then sharded); when no variant
     * was requested, an fp16 variant as the last safetensors resort (a folder that ships only
     * fp16 weights is still loadable); then PyTorch .bin files (single-file index first). */
    cand_list *c = calloc(1, sizeof *c);
    if (!c) return kc_fail(err, KC_ERR_NOMEM, "out of memory");
    for (int b = 0; variant && b < nbases; b++) add_variant(c, bases[b], variant);
    for (int b = 0; b < nbases; b++) {
        cand_add(c, 0, 0, bases[b], ".safetensors", "");
        cand_add(c, 0, 1, bases[b], ".safetensors.index.json", "");
    }
    for (int b = 0; !variant && b < nbases; b++) add_variant(c, bases[b], "fp16");
    for (int b = 0; b < nbases; b++) {
        cand_add(c, 0, 1, bases[b], ".bin.index.json", "");
        cand_add(c, 0, 0, bases[b], ".bin", "");
    }
    cand_add(c, 0, 1, "pytorch_model", ".bin.index.json", "");
    cand_add(c, 0, 0, "pytorch_model", ".bin", "");
    kc_status s = KC_OK;
    for (int i = 0; i < c->n; i++) {
        char *p = join(dir, c->name[i]);
        if (!p) { s = kc_fail(err, KC_ERR_NOMEM, "out of memory"); goto done; }
        if (!kc_file_exists(p)) { free(p); continue; }
        kc_weights *ws;
        s = kc_weights_new(&ws, err);
        if (!s) s = c->is_index[i] ? kc_weights_add_index(ws, p, err) : kc_weights_add_file(ws, p, err);
        free(p);
        if (s) { kc_weights_free(ws); goto done; }
        *out = ws;
        if (used_variant) *used_variant = c->is_var[i];
        goto done;
    }
    {
        char tried[1024];
        size_t k = 0;
        tried[0] = '\0';
        for (int i = 0; i < c->n && k + 4 < sizeof tried; i++) {
            int w = snprintf(tried + k, sizeof tried - k, "%s%s", i ? ", " : "", c->name[i]);
            if (w < 0 || (size_t)w >= sizeof tried - k) break;
            k += (size_t)w;
        }
        s = kc_fail(err, KC_ERR_IO, "%s: no weights file found (looked for %s)", dir, tried);
    }
done:
    free(c);
    return s;
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
