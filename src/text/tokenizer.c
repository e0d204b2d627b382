/* tokenizer.c — reading tokenizer.model: the SentencePiece ModelProto in protobuf wire format,
 * validated field by field (the file is outside data: every varint, length and count is checked
 * and errors name the file and the byte offset), and the piece -> id hash map.
 *
 * Mirrors google/sentencepiece src/sentencepiece_model.proto and src/model_interface.cc
 * (InitializePieces). Encoding lives in tokenizer_bpe.c. Schema subset read here
 * (kolors-model.md §2.2):
 *   ModelProto      1 pieces (repeated msg), 2 trainer_spec, 3 normalizer_spec,
 *                   4 self_test_data, 5 denormalizer_spec (4, 5 ignored)
 *   SentencePiece   1 piece (bytes), 2 score (fixed32 float), 3 type (varint, default NORMAL)
 *   TrainerSpec     3 model_type (default UNIGRAM=1; BPE=2), 24 treat_whitespace_as_suffix,
 *                   25 split_digits, 35 byte_fallback (default false)
 *   NormalizerSpec  1 name, 2 precompiled_charsmap, 3 add_dummy_prefix (default true),
 *                   4 remove_extra_whitespaces (default true), 5 escape_whitespaces (default true),
 *                   6 normalization_rule_tsv */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/mapfile.h"
#include "text/tokenizer_internal.h"

/* ---- protobuf wire format ---- */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

typedef struct {
    const uint8_t *p;   /* message bytes */
    size_t size;        /* message length */
    size_t pos;         /* cursor inside the message */
    size_t base;        /* offset of p[0] in the file, for messages */
    const char *what;   /* file name, for messages */
    const char *msg;    /* message name, for messages */
} pb;

typedef struct {
    uint32_t field;
    int wire;
    uint64_t v;            /* varint / fixed value */
    const uint8_t *data;   /* WT_LEN payload */
    size_t len;
    size_t off;            /* file offset of the field's key */
    size_t data_off;       /* file offset of the payload */
} pb_field;

static kc_status pb_varint(pb *r, uint64_t *out, kc_err *err) {
    uint64_t v = 0;
    size_t start = r->pos;
    for (int i = 0; i < 10; i++) {
        if (r->pos >= r->size)
            return kc_fail(err, KC_ERR_FORMAT, "%s: %s: truncated varint at byte offset %zu", r->what, r->msg,
                           r->base + start);
        uint8_t b = r->p[r->pos++];
        /* The 10th byte may only carry bit 63. */
        if (i == 9 && b > 1)
            return kc_fail(err, KC_ERR_FORMAT, "%s: %s: varint longer than 64 bits at byte offset %zu", r->what,
                           r->msg, r->base + start);
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return KC_OK;
        }
    }
    return kc_fail(err, KC_ERR_FORMAT, "%s: %s: unterminated varint at byte offset %zu", r->what, r->msg,
                   r->base + start);
}

/* Reads the next field; returns KC_OK with f->field == 0 at the end of the message. */
static kc_status pb_next(pb *r, pb_field *f, kc_err *err) {
    memset(f, 0, sizeof *f);
    if (r->pos >= r->size) return KC_OK;
    f->off = r->base + r->pos;
    uint64_t key;
    if (pb_varint(r, &key, err)) return KC_ERR_FORMAT;
    uint64_t field = key >> 3;
    f->wire = (int)(key & 7);
    if (field == 0 || field > 0x1fffffff)
        return kc_fail(err, KC_ERR_FORMAT, "%s: %s: invalid field number %llu at byte offset %zu", r->what, r->msg,
                       (unsigned long long)field, f->off);
    f->field = (uint32_t)field;
    switch (f->wire) {
    case WT_VARINT:
        return pb_varint(r, &f->v, err);
    case WT_I64:
    case WT_I32: {
        size_t n = f->wire == WT_I64 ? 8 : 4;
        if (r->size - r->pos < n)
            return kc_fail(err, KC_ERR_FORMAT, "%s: %s: field %u: truncated %zu-byte value at byte offset %zu",
                           r->what, r->msg, f->field, n, r->base + r->pos);
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++) v |= (uint64_t)r->p[r->pos + i] << (8 * i);
        f->v = v;
        r->pos += n;
        return KC_OK;
    }
    case WT_LEN: {
        uint64_t len;
        size_t len_off = r->base + r->pos;
        if (pb_varint(r, &len, err)) return KC_ERR_FORMAT;
        if (len > r->size - r->pos)
            return kc_fail(err, KC_ERR_FORMAT,
                           "%s: %s: field %u: length %llu at byte offset %zu runs past the end of its message "
                           "(%zu bytes left)",
                           r->what, r->msg, f->field, (unsigned long long)len, len_off, r->size - r->pos);
        f->data = r->p + r->pos;
        f->len = (size_t)len;
        f->data_off = r->base + r->pos;
        r->pos += (size_t)len;
        return KC_OK;
    }
    default:
        /* 3/4 are proto2 groups (never used by sentencepiece), 6/7 do not exist. */
        return kc_fail(err, KC_ERR_FORMAT, "%s: %s: field %u has unsupported wire type %d at byte offset %zu",
                       r->what, r->msg, f->field, f->wire, f->off);
    }
}

static pb pb_sub(const pb *parent, const pb_field *f, const char *msg) {
    return (pb){.p = f->data, .size = f->len, .pos = 0, .base = f->data_off, .what = parent->what, .msg = msg};
}

static kc_status want_wire(const pb *r, const pb_field *f, int wire, const char *name, kc_err *err) {
    if (f->wire == wire) return KC_OK;
    return kc_fail(err, KC_ERR_FORMAT, "%s: %s.%s (field %u) has wire type %d at byte offset %zu; expected %d",
                   r->what, r->msg, name, f->field, f->wire, f->off, wire);
}

/* ---- hashing ---- */

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

int kc_tokenizer_piece_id(const kc_tokenizer *t, const char *piece, size_t len) {
    if (len == 0 || len > (size_t)t->max_piece_len) return -1;
    uint64_t mask = t->hash_cap - 1, hv = hash_bytes(piece, len);
    uint32_t tag = (uint32_t)(hv >> 32);
    for (uint64_t h = hv & mask;; h = (h + 1) & mask) {
        const kc_tok_slot *sl = &t->hash[h];
        if (sl->id < 0) return -1;
        /* The tag (high hash bits) rejects almost every wrong slot without touching the blob:
         * most lookups are for pairs that are not pieces. */
        if (sl->tag == tag && t->piece_len[sl->id] == len && !memcmp(t->blob + t->piece_off[sl->id], piece, len))
            return sl->id;
    }
}

/* ---- specs ---- */

typedef struct {
    uint64_t model_type, byte_fallback, treat_ws_suffix, split_digits;
    int have_normalizer;
    int name_identity;
    size_t name_len;
    size_t charsmap_len, rule_tsv_len;
    uint64_t add_dummy_prefix, remove_extra_ws, escape_ws;
    size_t trainer_off, normalizer_off;
} specs;

static kc_status parse_trainer(const pb *top, const pb_field *tf, specs *s, kc_err *err) {
    pb r = pb_sub(top, tf, "trainer_spec");
    pb_field f;
    for (;;) {
        if (pb_next(&r, &f, err)) return KC_ERR_FORMAT;
        if (!f.field) return KC_OK;
        uint64_t *dst = NULL;
        const char *name = NULL;
        switch (f.field) {
        case 3: dst = &s->model_type; name = "model_type"; break;
        case 24: dst = &s->treat_ws_suffix; name = "treat_whitespace_as_suffix"; break;
        case 25: dst = &s->split_digits; name = "split_digits"; break;
        case 35: dst = &s->byte_fallback; name = "byte_fallback"; break;
        default: continue;
        }
        if (want_wire(&r, &f, WT_VARINT, name, err)) return KC_ERR_FORMAT;
        *dst = f.v;
    }
}

static kc_status parse_normalizer(const pb *top, const pb_field *nf, specs *s, kc_err *err) {
    pb r = pb_sub(top, nf, "normalizer_spec");
    pb_field f;
    s->have_normalizer = 1;
    s->name_identity = 0;
    s->name_len = 0;
    for (;;) {
        if (pb_next(&r, &f, err)) return KC_ERR_FORMAT;
        if (!f.field) return KC_OK;
        switch (f.field) {
        case 1:
            if (want_wire(&r, &f, WT_LEN, "name", err)) return KC_ERR_FORMAT;
            s->name_identity = f.len == 8 && !memcmp(f.data, "identity", 8);
            s->name_len = f.len;
            break;
        case 2:
            if (want_wire(&r, &f, WT_LEN, "precompiled_charsmap", err)) return KC_ERR_FORMAT;
            s->charsmap_len = f.len;
            break;
        case 6:
            if (want_wire(&r, &f, WT_LEN, "normalization_rule_tsv", err)) return KC_ERR_FORMAT;
            s->rule_tsv_len = f.len;
            break;
        case 3:
        case 4:
        case 5: {
            static const char *names[] = {"add_dummy_prefix", "remove_extra_whitespaces", "escape_whitespaces"};
            if (want_wire(&r, &f, WT_VARINT, names[f.field - 3], err)) return KC_ERR_FORMAT;
            uint64_t *dst = f.field == 3 ? &s->add_dummy_prefix : f.field == 4 ? &s->remove_extra_ws : &s->escape_ws;
            *dst = f.v;
            break;
        }
        default:
            break;
        }
    }
}

/* Refuses settings this encoder does not reproduce (see tokenizer.h). split_digits is read but
 * needs nothing here: it only shaped training, and its effect at encode time comes from the
 * vocabulary itself (no multi-digit pieces exist, so BPE never joins two digits).
 * add_dummy_prefix and escape_whitespaces are honoured either way (both true in Kolors). */
static kc_status check_specs(const char *what, const specs *s, kc_err *err) {
    if (s->trainer_off == (size_t)-1)
        return kc_fail(err, KC_ERR_FORMAT, "%s: no trainer_spec (field 2): not a SentencePiece model", what);
    if (s->model_type != 2) {
        static const char *types[] = {"?", "UNIGRAM", "BPE", "WORD", "CHAR"};
        return kc_fail(err, KC_ERR_UNSUPPORTED,
                       "%s: trainer_spec.model_type is %llu (%s, in trainer_spec at byte offset %zu); only BPE (2) "
                       "is implemented (the ChatGLM3/Kolors tokenizer is BPE)",
                       what, (unsigned long long)s->model_type, s->model_type <= 4 ? types[s->model_type] : "unknown",
                       s->trainer_off);
    }
    if (!s->byte_fallback)
        return kc_fail(err, KC_ERR_UNSUPPORTED,
                       "%s: trainer_spec.byte_fallback is false; only byte-fallback models are implemented", what);
    if (s->treat_ws_suffix)
        return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: trainer_spec.treat_whitespace_as_suffix is true; not implemented",
                       what);
    if (!s->have_normalizer)
        return kc_fail(err, KC_ERR_UNSUPPORTED,
                       "%s: no normalizer_spec (field 3); only the 'identity' normaliser is implemented", what);
    if (!s->name_identity || s->charsmap_len || s->rule_tsv_len)
        return kc_fail(err, KC_ERR_UNSUPPORTED,
                       "%s: normalizer_spec (byte offset %zu) is not the identity normaliser (name %s, "
                       "precompiled_charsmap %zu bytes, rule tsv %zu bytes); only 'identity' with no charsmap is "
                       "implemented",
                       what, s->normalizer_off, s->name_identity ? "'identity'" : "not 'identity'", s->charsmap_len,
                       s->rule_tsv_len);
    if (s->remove_extra_ws)
        return kc_fail(err, KC_ERR_UNSUPPORTED,
                       "%s: normalizer_spec.remove_extra_whitespaces is true (or absent, default true); only false "
                       "is implemented",
                       what);
    return KC_OK;
}

/* ---- pieces ---- */

static kc_status parse_piece(const pb *top, const pb_field *pf, kc_tokenizer *t, int id, kc_err *err) {
    pb r = pb_sub(top, pf, "pieces");
    pb_field f;
    const uint8_t *text = NULL;
    size_t len = 0;
    uint32_t score_bits = 0;
    uint64_t type = KC_PIECE_NORMAL; /* absent type = NORMAL (the 64 530 normal pieces omit it) */
    for (;;) {
        if (pb_next(&r, &f, err)) goto fail;
        if (!f.field) break;
        if (f.field == 1) {
            if (want_wire(&r, &f, WT_LEN, "piece", err)) goto fail;
            text = f.data;
            len = f.len;
        } else if (f.field == 2) {
            if (want_wire(&r, &f, WT_I32, "score", err)) goto fail;
            score_bits = (uint32_t)f.v;
        } else if (f.field == 3) {
            if (want_wire(&r, &f, WT_VARINT, "type", err)) goto fail;
            type = f.v;
        }
    }
    if (!text || len == 0)
        return kc_fail(err, KC_ERR_FORMAT, "%s: piece %d (message at byte offset %zu) has an empty or missing text",
                       r.what, id, pf->data_off);
    if (len > KC_TOKENIZER_MAX_PIECE_BYTES)
        return kc_fail(err, KC_ERR_FORMAT, "%s: piece %d (byte offset %zu) is %zu bytes long; at most %d allowed",
                       r.what, id, pf->data_off, len, KC_TOKENIZER_MAX_PIECE_BYTES);
    if (memchr(text, 0, len) || kc_utf8_first_invalid((const char *)text, len) >= 0)
        return kc_fail(err, KC_ERR_FORMAT, "%s: piece %d (byte offset %zu) is not valid NUL-free UTF-8", r.what, id,
                       pf->data_off);
    if (type < KC_PIECE_NORMAL || type > KC_PIECE_BYTE)
        return kc_fail(err, KC_ERR_FORMAT, "%s: piece %d (byte offset %zu) has unknown type %llu", r.what, id,
                       pf->data_off, (unsigned long long)type);
    if (type == KC_PIECE_USER_DEFINED || type == KC_PIECE_UNUSED)
        return kc_fail(err, KC_ERR_UNSUPPORTED,
                       "%s: piece %d '%.*s' has type %s; user-defined and unused pieces are not implemented", r.what,
                       id, (int)len, (const char *)text, type == KC_PIECE_UNUSED ? "UNUSED" : "USER_DEFINED");
    float score;
    memcpy(&score, &score_bits, sizeof score);
    if (!isfinite(score))
        return kc_fail(err, KC_ERR_FORMAT, "%s: piece %d (byte offset %zu) has a non-finite score", r.what, id,
                       pf->data_off);
    memcpy(t->blob + t->blob_used, text, len);
    t->blob[t->blob_used + len] = '\0';
    t->piece_off[id] = (uint32_t)t->blob_used;
    t->piece_len[id] = (uint16_t)len;
    t->blob_used += len + 1;
    t->score[id] = score;
    t->type[id] = (uint8_t)type;
    if ((int)len > t->max_piece_len) t->max_piece_len = (int)len;
    return KC_OK;
fail:
    return KC_ERR_FORMAT; /* the message names the byte offset */
}

static kc_status build_tables(kc_tokenizer *t, const char *what, kc_err *err) {
    t->hash_cap = 16;
    while (t->hash_cap < 2 * (uint64_t)t->n_pieces) t->hash_cap *= 2;
    t->hash = malloc(t->hash_cap * sizeof *t->hash);
    if (!t->hash) return kc_fail(err, KC_ERR_NOMEM, "%s: out of memory for the piece table", what);
    memset(t->hash, 0xff, t->hash_cap * sizeof *t->hash); /* all -1 */
    uint64_t mask = t->hash_cap - 1;
    t->unk_id = -1;
    for (int b = 0; b < 256; b++) t->byte_id[b] = -1;
    for (int id = 0; id < t->n_pieces; id++) {
        const char *s = t->blob + t->piece_off[id];
        size_t n = t->piece_len[id];
        uint64_t hv = hash_bytes(s, n), h = hv & mask;
        while (t->hash[h].id >= 0) {
            int o = t->hash[h].id;
            if (t->piece_len[o] == n && !memcmp(t->blob + t->piece_off[o], s, n))
                return kc_fail(err, KC_ERR_FORMAT, "%s: piece '%s' is defined twice (ids %d and %d)", what, s, o, id);
            h = (h + 1) & mask;
        }
        t->hash[h] = (kc_tok_slot){.id = id, .tag = (uint32_t)(hv >> 32)};
        if (t->type[id] == KC_PIECE_UNKNOWN) {
            if (t->unk_id >= 0)
                return kc_fail(err, KC_ERR_FORMAT, "%s: two UNKNOWN pieces (ids %d and %d)", what, t->unk_id, id);
            t->unk_id = id;
        }
        if (t->type[id] == KC_PIECE_BYTE) {
            int v = kc_byte_piece_value(s, n);
            if (v < 0)
                return kc_fail(err, KC_ERR_FORMAT, "%s: BYTE piece %d is '%s'; expected the form <0xXX>", what, id, s);
            t->byte_id[v] = id;
        }
    }
    if (t->unk_id < 0) return kc_fail(err, KC_ERR_FORMAT, "%s: no piece of type UNKNOWN (<unk>)", what);
    for (int b = 0; b < 256; b++)
        if (t->byte_id[b] < 0)
            return kc_fail(err, KC_ERR_FORMAT, "%s: byte_fallback is on but the BYTE piece <0x%02X> is missing", what,
                           b);
    return KC_OK;
}

static const char *const k_special_names[KC_GLM_N_SPECIAL] = {
    "[MASK]", "[gMASK]", "[sMASK]", "sop", "eop", "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>",
};

kc_status kc_tokenizer_load_buffer(const void *data, size_t size, const char *what, kc_tokenizer **out,
                                   kc_err *err) {
    *out = NULL;
    if (!what) what = "tokenizer.model";
    if (size > KC_TOKENIZER_MAX_FILE_BYTES)
        return kc_fail(err, KC_ERR_FORMAT, "%s: %zu bytes; a tokenizer.model is at most %u bytes", what, size,
                       KC_TOKENIZER_MAX_FILE_BYTES);
    pb top = {.p = data, .size = size, .what = what, .msg = "ModelProto"};
    specs s = {.add_dummy_prefix = 1, .remove_extra_ws = 1, .escape_ws = 1, .model_type = 1,
               .trainer_off = (size_t)-1, .normalizer_off = (size_t)-1};
    /* Pass 1: count pieces and their bytes, read the specs. */
    int64_t n_pieces = 0;
    size_t blob_bytes = 0;
    pb_field f;
    for (;;) {
        if (pb_next(&top, &f, err)) return KC_ERR_FORMAT;
        if (!f.field) break;
        if (f.field == 1) {
            if (want_wire(&top, &f, WT_LEN, "pieces", err)) return KC_ERR_FORMAT;
            if (++n_pieces > KC_TOKENIZER_MAX_PIECES)
                return kc_fail(err, KC_ERR_FORMAT, "%s: more than %d pieces (at byte offset %zu)", what,
                               KC_TOKENIZER_MAX_PIECES, f.off);
            blob_bytes += f.len + 1; /* >= piece length + NUL; bounded by size */
        } else if (f.field == 2) {
            if (want_wire(&top, &f, WT_LEN, "trainer_spec", err)) return KC_ERR_FORMAT;
            s.trainer_off = f.data_off;
            if (parse_trainer(&top, &f, &s, err)) return KC_ERR_FORMAT;
        } else if (f.field == 3) {
            if (want_wire(&top, &f, WT_LEN, "normalizer_spec", err)) return KC_ERR_FORMAT;
            s.normalizer_off = f.data_off;
            if (parse_normalizer(&top, &f, &s, err)) return KC_ERR_FORMAT;
        }
    }
    if (n_pieces == 0) return kc_fail(err, KC_ERR_FORMAT, "%s: no pieces: not a SentencePiece model", what);
    kc_status st = check_specs(what, &s, err);
    if (st) return st;

    kc_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return kc_fail(err, KC_ERR_NOMEM, "%s: out of memory", what);
    t->n_pieces = (int)n_pieces;
    t->add_dummy_prefix = s.add_dummy_prefix != 0;
    t->escape_whitespaces = s.escape_ws != 0;
    t->piece_off = malloc((size_t)n_pieces * sizeof *t->piece_off);
    t->piece_len = malloc((size_t)n_pieces * sizeof *t->piece_len);
    t->score = malloc((size_t)n_pieces * sizeof *t->score);
    t->type = malloc((size_t)n_pieces);
    t->blob = malloc(blob_bytes);
    if (!t->piece_off || !t->piece_len || !t->score || !t->type || !t->blob) {
        kc_tokenizer_free(t);
        return kc_fail(err, KC_ERR_NOMEM, "%s: out of memory for %lld pieces", what, (long long)n_pieces);
    }
    /* Pass 2: the pieces themselves (the structure was validated by pass 1). */
    top.pos = 0;
    int id = 0;
    for (;;) {
        if ((st = pb_next(&top, &f, err))) goto fail;
        if (!f.field) break;
        if (f.field != 1) continue;
        if ((st = parse_piece(&top, &f, t, id, err))) goto fail;
        id++;
    }
    if ((st = build_tables(t, what, err))) goto fail;
    for (int k = 0; k < KC_GLM_N_SPECIAL; k++) t->special_names[k] = k_special_names[k];
    *out = t;
    return KC_OK;
fail:
    kc_tokenizer_free(t);
    return st;
}

kc_status kc_tokenizer_load(const char *path, kc_tokenizer **out, kc_err *err) {
    char *buf = NULL;
    size_t n = 0;
    *out = NULL;
    kc_status st = kc_read_file(path, KC_TOKENIZER_MAX_FILE_BYTES, &buf, &n, err);
    if (st) return st;
    st = kc_tokenizer_load_buffer(buf, n, path, out, err);
    free(buf);
    return st;
}

kc_status kc_tokenizer_load_dir(const kc_modeldir *dir, kc_tokenizer **out, kc_err *err) {
    *out = NULL;
    if (!dir->tokenizer_model[0])
        return kc_fail(err, KC_ERR_IO, "%s: the model folder has no tokenizer.model", dir->root);
    return kc_tokenizer_load(dir->tokenizer_model, out, err);
}

void kc_tokenizer_free(kc_tokenizer *t) {
    if (!t) return;
    free(t->piece_off);
    free(t->piece_len);
    free(t->score);
    free(t->type);
    free(t->blob);
    free(t->hash);
    free(t);
}

/* ---- vocabulary accessors ---- */

int kc_tokenizer_n_pieces(const kc_tokenizer *t) { return t->n_pieces; }
int kc_tokenizer_vocab_size(const kc_tokenizer *t) { return t->n_pieces + KC_GLM_N_SPECIAL; }
int kc_tokenizer_unk_id(const kc_tokenizer *t) { return t->unk_id; }
int kc_tokenizer_special_id(const kc_tokenizer *t, int which) {
    return which >= 0 && which < KC_GLM_N_SPECIAL ? t->n_pieces + which : -1;
}
const char *kc_tokenizer_piece(const kc_tokenizer *t, int id) {
    if (id >= 0 && id < t->n_pieces) return t->blob + t->piece_off[id];
    if (id >= t->n_pieces && id < t->n_pieces + KC_GLM_N_SPECIAL) return t->special_names[id - t->n_pieces];
    return NULL;
}
float kc_tokenizer_score(const kc_tokenizer *t, int id) { return id >= 0 && id < t->n_pieces ? t->score[id] : 0.0f; }
int kc_tokenizer_piece_type(const kc_tokenizer *t, int id) { return id >= 0 && id < t->n_pieces ? t->type[id] : 0; }

int64_t kc_utf8_first_invalid(const char *str, size_t len) {
    const uint8_t *s = (const uint8_t *)str;
    size_t i = 0;
    while (i < len) {
        size_t n = kc_utf8_char_len(s + i, len - i);
        if (!n) return (int64_t)i;
        i += n;
    }
    return -1;
}
