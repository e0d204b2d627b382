/* torchzip.c — see torchzip.h. Mirrors the archive PyTorch's PyTorchStreamWriter (caffe2
 * serialize/inline_container.cc, on miniz) produces for torch.save:
 *
 *   <root>/data.pkl        pickle protocol 2 of the state dict (pickle.c)
 *   <root>/data/<key>      raw little-endian storage bytes, one entry per storage
 *   <root>/version, <root>/byteorder (newer torch), <root>/.data/serialization_id, ...
 *
 * The ZIP structures are read from the central directory (APPNOTE 4.3.12), located through the
 * end-of-central-directory record (4.3.16) or its zip64 form (4.3.14/4.3.15) when a field is
 * saturated. Every offset and length is checked against the file size before use; data offsets
 * come from the local header, whose extra field PyTorch uses to pad entries to 64 bytes. */
#include "io/torchzip.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "core/checked.h"
#include "core/mapfile.h"
#include "io/pickle.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u
#define EOCD_LEN 22
#define CENTRAL_LEN 46
#define LOCAL_LEN 30
#define MAX_COMMENT 65535
#define MAX_ENTRY_NAME 4096

typedef struct {
    const unsigned char *name; /* not NUL-terminated: points into the file */
    size_t nlen;
    uint64_t off, size;        /* data bytes */
    uint32_t crc;              /* CRC-32 from the central directory */
} zentry;

struct kc_torchzip_impl {
    kc_mapfile map; /* empty when parsed from a caller's buffer */
    uint64_t size;
    int64_t n;
    char **names;
    kc_tensor *t;
};

static uint64_t rd(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Entry names for messages: unprintable bytes become '?', long names are cut. */
static const char *pname(char *buf, size_t cap, const unsigned char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < cap; i++) buf[k++] = (s[i] >= 32 && s[i] < 127) ? (char)s[i] : '?';
    if (k + 4 >= cap && n > k) { memcpy(buf + k, "...", 3); k += 3; }
    buf[k] = '\0';
    return buf;
}

static int cmp_zentry(const void *a, const void *b) {
    const zentry *x = a, *y = b;
    size_t n = x->nlen < y->nlen ? x->nlen : y->nlen;
    int c = memcmp(x->name, y->name, n);
    if (c) return c;
    return x->nlen < y->nlen ? -1 : x->nlen > y->nlen ? 1 : 0;
}

static const zentry *find_entry(const zentry *e, int64_t n, const char *name) {
    zentry key = {(const unsigned char *)name, strlen(name), 0, 0, 0};
    return bsearch(&key, e, (size_t)n, sizeof *e, cmp_zentry);
}

/* Locates the central directory: *cd_off, *cd_size, *count and the first byte after it may
 * reach (the zip64 record or the EOCD). */
static kc_status find_central(const unsigned char *d, uint64_t size, const char *path, uint64_t *cd_off,
                              uint64_t *cd_size, uint64_t *count, uint64_t *limit, kc_err *err) {
    if (size < EOCD_LEN)
        return kc_fail(err, KC_ERR_FORMAT, "%s: %" PRIu64 " bytes is too short for a zip archive", path, size);
    uint64_t lo = size - EOCD_LEN > MAX_COMMENT ? size - EOCD_LEN - MAX_COMMENT : 0;
    uint64_t pos = size - EOCD_LEN + 1;
    int found = 0;
    while (pos-- > lo) {
        if (rd(d + pos, 4) == SIG_EOCD && pos + EOCD_LEN + rd(d + pos + 20, 2) == size) { found = 1; break; }
    }
    if (!found)
        return kc_fail(err, KC_ERR_FORMAT,
                       "%s: no zip end-of-central-directory record (truncated file, or not a PyTorch checkpoint)", path);
    const unsigned char *e = d + pos;
    uint64_t disk = rd(e + 4, 2), cd_disk = rd(e + 6, 2), n_disk = rd(e + 8, 2), n = rd(e + 10, 2);
    uint64_t csz = rd(e + 12, 4), coff = rd(e + 16, 4);
    *limit = pos;
    if (n == 0xFFFF || n_disk == 0xFFFF || csz == 0xFFFFFFFFu || coff == 0xFFFFFFFFu) {
        /* zip64: locator right before the EOCD, pointing at the zip64 EOCD record. */
        if (pos < 20 || rd(d + pos - 20, 4) != SIG_LOC64)
            return kc_fail(err, KC_ERR_FORMAT, "%s: zip fields are saturated but the zip64 locator is missing", path);
        uint64_t z = rd(d + pos - 20 + 8, 8);
        if (z > pos - 20 || pos - 20 - z < 56 || rd(d + z, 4) != SIG_EOCD64)
            return kc_fail(err, KC_ERR_FORMAT, "%s: zip64 end-of-central-directory record at byte %" PRIu64
                           " is missing or out of range", path, z);
        const unsigned char *r = d + z;
        disk = rd(r + 16, 4);
        cd_disk = rd(r + 20, 4);
        n_disk = rd(r + 24, 8);
        n = rd(r + 32, 8);
        csz = rd(r + 40, 8);
        coff = rd(r + 48, 8);
        *limit = z;
    }
    if (disk != 0 || cd_disk != 0 || n_disk != n)
        return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: multi-part zip archives are not supported", path);
    uint64_t end;
    if (__builtin_add_overflow(coff, csz, &end) || end > *limit)
        return kc_fail(err, KC_ERR_FORMAT,
                       "%s: central directory [%" PRIu64 ", +%" PRIu64 ") runs past byte %" PRIu64 " (truncated?)",
                       path, coff, csz, *limit);
    if (n > csz / CENTRAL_LEN)
        return kc_fail(err, KC_ERR_FORMAT, "%s: %" PRIu64 " entries cannot fit in a %" PRIu64 "-byte central directory",
                       path, n, csz);
    *cd_off = coff;
    *cd_size = csz;
    *count = n;
    return KC_OK;
}

/* Reads the central directory into *out (count entries) and checks each local header. */
static kc_status read_entries(const unsigned char *d, uint64_t size, const char *path, zentry **out, int64_t *nout,
                              kc_err *err) {
    uint64_t cd_off = 0, cd_size = 0, n = 0, limit = 0;
    char nb[160];
    kc_status s = find_central(d, size, path, &cd_off, &cd_size, &n, &limit, err);
    if (s) return s;
    zentry *e = calloc((size_t)n + 1, sizeof *e);
    if (!e) return kc_fail(err, KC_ERR_NOMEM, "%s: out of memory", path);
    uint64_t p = cd_off, end = cd_off + cd_size;
    for (uint64_t i = 0; i < n; i++) {
        if (end - p < CENTRAL_LEN || rd(d + p, 4) != SIG_CENTRAL) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: central directory entry %" PRIu64 " at byte %" PRIu64 " is malformed",
                        path, i, p);
            goto fail;
        }
        const unsigned char *c = d + p;
        uint64_t flags = rd(c + 8, 2), method = rd(c + 10, 2), csz = rd(c + 20, 4), usz = rd(c + 24, 4);
        uint64_t nlen = rd(c + 28, 2), elen = rd(c + 30, 2), clen = rd(c + 32, 2), lho = rd(c + 42, 4);
        if (end - p - CENTRAL_LEN < nlen + elen + clen) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: central directory entry %" PRIu64 " runs past the directory", path, i);
            goto fail;
        }
        const unsigned char *name = c + CENTRAL_LEN, *ex = name + nlen;
        if (nlen == 0 || nlen > MAX_ENTRY_NAME || memchr(name, 0, nlen)) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: central directory entry %" PRIu64 " has an invalid name", path, i);
            goto fail;
        }
        pname(nb, sizeof nb, name, nlen);
        /* zip64 extended information: the saturated fields, in this order. */
        int need_u = usz == 0xFFFFFFFFu, need_c = csz == 0xFFFFFFFFu, need_o = lho == 0xFFFFFFFFu;
        for (uint64_t q = 0; (need_u || need_c || need_o) && q + 4 <= elen;) {
            uint64_t id = rd(ex + q, 2), len = rd(ex + q + 2, 2);
            if (q + 4 + len > elen) break;
            if (id == 1) {
                uint64_t k = q + 4, kend = q + 4 + len;
                if (need_u && kend - k >= 8) { usz = rd(ex + k, 8); k += 8; need_u = 0; }
                if (need_c && kend - k >= 8) { csz = rd(ex + k, 8); k += 8; need_c = 0; }
                if (need_o && kend - k >= 8) { lho = rd(ex + k, 8); k += 8; need_o = 0; }
                break;
            }
            q += 4 + len;
        }
        if (need_u || need_c || need_o) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: entry '%s' has saturated sizes but no zip64 extra field", path, nb);
            goto fail;
        }
        if (flags & 1) {
            s = kc_fail(err, KC_ERR_UNSUPPORTED, "%s: entry '%s' is encrypted", path, nb);
            goto fail;
        }
        if (method != 0) {
            s = kc_fail(err, KC_ERR_UNSUPPORTED,
                        "%s: entry '%s' is compressed (zip method %" PRIu64 "%s); PyTorch checkpoints store every "
                        "entry uncompressed so tensors can be mapped in place: re-save it with torch.save",
                        path, nb, method, method == 8 ? ", deflate" : "");
            goto fail;
        }
        if (csz != usz) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: stored entry '%s' has compressed size %" PRIu64 " != size %" PRIu64,
                        path, nb, csz, usz);
            goto fail;
        }
        /* Local header: its own name/extra lengths decide where the data starts. */
        if (lho >= cd_off || cd_off - lho < LOCAL_LEN || rd(d + lho, 4) != SIG_LOCAL) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: entry '%s': no local header at byte %" PRIu64, path, nb, lho);
            goto fail;
        }
        uint64_t lnlen = rd(d + lho + 26, 2), lelen = rd(d + lho + 28, 2), lmethod = rd(d + lho + 8, 2);
        uint64_t doff = lho + LOCAL_LEN + lnlen + lelen; /* small terms: no overflow after lho < cd_off */
        if (lnlen != nlen || doff > cd_off || memcmp(d + lho + LOCAL_LEN, name, nlen) != 0 || lmethod != method) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: entry '%s': local header disagrees with the central directory", path, nb);
            goto fail;
        }
        if (usz > cd_off - doff) {
            s = kc_fail(err, KC_ERR_FORMAT,
                        "%s: entry '%s' (%" PRIu64 " bytes at byte %" PRIu64 ") runs into the central directory at byte "
                        "%" PRIu64 " (truncated or corrupt file)",
                        path, nb, usz, doff, cd_off);
            goto fail;
        }
        e[i].name = name;
        e[i].nlen = nlen;
        e[i].off = doff;
        e[i].size = usz;
        e[i].crc = (uint32_t)rd(c + 16, 4);
        p += CENTRAL_LEN + nlen + elen + clen;
    }
    (void)limit;
    *out = e;
    *nout = (int64_t)n;
    return KC_OK;
fail:
    free(e);
    return s;
}

static void impl_free(kc_torchzip_impl *z) {
    if (!z) return;
    for (int64_t i = 0; i < z->n; i++) free(z->names[i]);
    free(z->names);
    free(z->t);
    kc_mapfile_close(&z->map);
    free(z);
}

static int cmp_key(const void *a, const void *b) {
    const kc_pickle_tensor *x = *(const kc_pickle_tensor *const *)a, *y = *(const kc_pickle_tensor *const *)b;
    return strcmp(x->key, y->key);
}

static kc_status build(kc_torchzip_impl *z, const unsigned char *d, uint64_t size, const char *path, kc_err *err) {
    zentry *e = NULL;
    int64_t ne = 0, npt = 0;
    kc_pickle_tensor *pt = NULL;
    const kc_pickle_tensor **by_key = NULL;
    char root[MAX_ENTRY_NAME + 2], nm[MAX_ENTRY_NAME + KC_PICKLE_MAX_KEY + 16], nb[160], what[8192];
    kc_status s = read_entries(d, size, path, &e, &ne, err);
    if (s) return s;
    /* The root folder is the one holding data.pkl; torch names it "archive" or the file stem. */
    root[0] = '\0';
    for (int64_t i = 0; i < ne; i++) {
        const char *sl = memchr(e[i].name, '/', e[i].nlen);
        size_t rl = sl ? (size_t)((const unsigned char *)sl - e[i].name) + 1 : 0;
        if (sl && e[i].nlen == rl + 8 && memcmp(e[i].name + rl, "data.pkl", 8) == 0) {
            if (root[0] && (strlen(root) != rl || memcmp(root, e[i].name, rl) != 0)) {
                s = kc_fail(err, KC_ERR_FORMAT, "%s: two top-level folders hold a data.pkl ('%s' and '%s')", path, root,
                            pname(nb, sizeof nb, e[i].name, e[i].nlen));
                goto done;
            }
            memcpy(root, e[i].name, rl);
            root[rl] = '\0';
        }
    }
    if (!root[0]) {
        s = kc_fail(err, KC_ERR_FORMAT, "%s: the zip archive has no <folder>/data.pkl: not a PyTorch checkpoint", path);
        goto done;
    }
    size_t rl = strlen(root);
    for (int64_t i = 0; i < ne; i++)
        if (e[i].nlen < rl || memcmp(e[i].name, root, rl) != 0) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: entry '%s' is outside the checkpoint folder '%s'", path,
                        pname(nb, sizeof nb, e[i].name, e[i].nlen), root);
            goto done;
        }
    qsort(e, (size_t)ne, sizeof *e, cmp_zentry);
    for (int64_t i = 1; i < ne; i++)
        if (cmp_zentry(&e[i - 1], &e[i]) == 0) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: entry '%s' appears twice", path, pname(nb, sizeof nb, e[i].name, e[i].nlen));
            goto done;
        }
    snprintf(nm, sizeof nm, "%sbyteorder", root);
    const zentry *bo = find_entry(e, ne, nm);
    if (bo && !(bo->size == 6 && memcmp(d + bo->off, "little", 6) == 0)) {
        s = kc_fail(err, KC_ERR_UNSUPPORTED, "%s: checkpoint byte order is not 'little'", path);
        goto done;
    }
    snprintf(nm, sizeof nm, "%sdata.pkl", root);
    const zentry *pk = find_entry(e, ne, nm);
    snprintf(what, sizeof what, "%s: %s", path, nm);
    /* The pickle decides every name and range, so check its CRC (cheap: a few KB). Storages are
     * not checked: that would read the whole multi-GB file at open (torch's miniz reader does). */
    {
        uLong crc = crc32(0L, Z_NULL, 0);
        for (uint64_t k = 0; k < pk->size;) {
            uInt chunk = pk->size - k > (1u << 30) ? (1u << 30) : (uInt)(pk->size - k);
            crc = crc32(crc, d + pk->off + k, chunk);
            k += chunk;
        }
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
        crc = pk->crc;
#endif
        if ((uint32_t)crc != pk->crc) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: CRC-32 is %08x but the zip directory says %08x (corrupt file)", what,
                        (unsigned)crc, (unsigned)pk->crc);
            goto done;
        }
    }
    s = kc_pickle_load_state_dict(d + pk->off, (size_t)pk->size, what, &pt, &npt, err);
    if (s) goto done;

    /* One storage may back several tensors; all of them must agree on its class and size. */
    by_key = malloc(((size_t)npt + 1) * sizeof *by_key);
    z->names = calloc((size_t)npt + 1, sizeof *z->names);
    z->t = calloc((size_t)npt + 1, sizeof *z->t);
    if (!by_key || !z->names || !z->t) { s = kc_fail(err, KC_ERR_NOMEM, "%s: out of memory", path); goto done; }
    for (int64_t i = 0; i < npt; i++) by_key[i] = &pt[i];
    qsort(by_key, (size_t)npt, sizeof *by_key, cmp_key);
    for (int64_t i = 1; i < npt; i++)
        if (strcmp(by_key[i - 1]->key, by_key[i]->key) == 0 &&
            (by_key[i - 1]->dtype != by_key[i]->dtype || by_key[i - 1]->storage_numel != by_key[i]->storage_numel)) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: tensors '%s' and '%s' describe storage '%s' with different types or sizes",
                        path, by_key[i - 1]->name, by_key[i]->name, by_key[i]->key);
            goto done;
        }
    for (int64_t i = 0; i < npt; i++) {
        const kc_pickle_tensor *p = &pt[i];
        snprintf(nm, sizeof nm, "%sdata/%s", root, p->key);
        const zentry *de = find_entry(e, ne, nm);
        if (!de) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: tensor '%s' uses storage '%s' but the archive has no entry '%s'", path,
                        p->name, p->key, nm);
            goto done;
        }
        size_t es = kc_dtype_size(p->dtype);
        int64_t need;
        if (!kc_i64_mul(p->storage_numel, (int64_t)es, &need) || (uint64_t)need != de->size) {
            s = kc_fail(err, KC_ERR_FORMAT,
                        "%s: tensor '%s': storage '%s' is %" PRId64 " %s elements but entry '%s' holds %" PRIu64 " bytes",
                        path, p->name, p->key, p->storage_numel, kc_dtype_name(p->dtype), nm, de->size);
            goto done;
        }
        kc_tensor *t = &z->t[i];
        t->dtype = p->dtype;
        t->ndim = p->ndim;
        memcpy(t->shape, p->shape, sizeof t->shape);
        /* storage_offset + numel <= storage_numel was checked by the unpickler. */
        t->data = d + de->off + (uint64_t)p->storage_offset * es;
        t->device = KC_DEVICE_CPU;
        z->names[i] = p->name;
        pt[i].name = NULL; /* moved */
        z->n++;
    }
done:
    kc_pickle_free(pt, npt);
    free(by_key);
    free(e);
    return s;
}

kc_status kc_torchzip_parse(kc_torchzip *tz, const unsigned char *data, uint64_t size, const char *path, kc_err *err) {
    tz->impl = NULL;
    kc_torchzip_impl *z = calloc(1, sizeof *z);
    if (!z) return kc_fail(err, KC_ERR_NOMEM, "%s: out of memory", path);
    z->size = size;
    kc_status s = build(z, data, size, path, err);
    if (s) {
        impl_free(z);
        return s;
    }
    tz->impl = z;
    return KC_OK;
}

kc_status kc_torchzip_open(kc_torchzip *tz, const char *path, kc_err *err) {
    tz->impl = NULL;
    kc_mapfile m;
    kc_status s = kc_mapfile_open(&m, path, err);
    if (s) return s;
    s = kc_torchzip_parse(tz, m.data, m.size, path, err);
    if (s) {
        kc_mapfile_close(&m);
        return s;
    }
    tz->impl->map = m;
    return KC_OK;
}

void kc_torchzip_close(kc_torchzip *tz) {
    impl_free(tz->impl);
    tz->impl = NULL;
}

int64_t kc_torchzip_count(const kc_torchzip *tz) { return tz->impl ? tz->impl->n : 0; }

void kc_torchzip_get(const kc_torchzip *tz, int64_t i, const char **name, kc_tensor *t) {
    if (!tz->impl || i < 0 || i >= tz->impl->n) {
        *name = "";
        memset(t, 0, sizeof *t);
        return;
    }
    *name = tz->impl->names[i];
    *t = tz->impl->t[i];
}

uint64_t kc_torchzip_file_size(const kc_torchzip *tz) { return tz->impl ? tz->impl->size : 0; }

const void *kc_torchzip_map(const kc_torchzip *tz, uint64_t *size) {
    *size = tz->impl ? tz->impl->map.size : 0;
    return tz->impl ? tz->impl->map.data : NULL;
}
