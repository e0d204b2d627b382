/* tokenizer_bpe.c — SentencePiece BPE encoding (kolors-model.md §2.3), the ChatGLM wrapper
 * (§2.4) and decoding.
 *
 * Mirrors google/sentencepiece 0.1.97: normalizer.cc Normalizer::Normalize (identity rules only),
 * bpe_model.cc Model::Encode (symbol list + priority queue of candidate pairs with lazy
 * invalidation, byte fallback), sentencepiece_processor.cc Decode (for the debug decoder); and
 * Kolors' tokenization_chatglm.py (special ids, left padding).
 *
 * Letters: S symbols (characters of the normalised text), T max_length, n real tokens. */
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "text/tokenizer_internal.h"

static const char k_ws[3] = {(char)0xE2, (char)0x96, (char)0x81}; /* U+2581 '▁' */
static const char k_repl[3] = {(char)0xEF, (char)0xBF, (char)0xBD}; /* U+FFFD */

void kc_tok_ids_free(kc_tok_ids *v) {
    free(v->ids);
    v->ids = NULL;
    v->n = v->cap = 0;
}

static kc_status ids_reserve(kc_tok_ids *v, int64_t cap, kc_err *err) {
    if (v->cap >= cap) return KC_OK;
    int32_t *p = realloc(v->ids, (size_t)cap * sizeof *p);
    if (!p) return kc_fail(err, KC_ERR_NOMEM, "tokenizer: out of memory for %lld ids", (long long)cap);
    v->ids = p;
    v->cap = cap;
    return KC_OK;
}

/* One symbol of the BPE segmentation: a byte range of the normalised text. Symbols are
 * contiguous, so merging `left` with its right neighbour just extends left's range; the right
 * one becomes empty (len 0) and is unlinked. */
typedef struct {
    uint32_t start, len;
    int32_t prev, next; /* -1 at the ends */
    int32_t id;         /* piece id once merged; -1 for a single character (looked up at the end) */
} sym;

/* A candidate merge of symbols[left] and symbols[right] into a piece of `size` bytes. It is
 * stale when either side has changed since it was pushed: sizes only grow, so "both non-empty and
 * their sizes still add up to `size`" is an exact test (as bpe_model.cc). */
typedef struct {
    float score;
    int32_t left, right;
    uint32_t size;
    int32_t id; /* the merged piece */
} cand;

/* Max-heap order of bpe_model.cc's SymbolPairComparator: higher score first, then the leftmost
 * pair (equal scores only occur for the same piece at several places). */
static inline int cand_before(const cand *a, const cand *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

typedef struct {
    cand *v;
    int64_t n;
} heap;

static void heap_push(heap *h, cand c) {
    int64_t i = h->n++;
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (!cand_before(&c, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = c;
}

static cand heap_pop(heap *h) {
    cand top = h->v[0];
    cand last = h->v[--h->n];
    int64_t i = 0, n = h->n;
    for (;;) {
        int64_t l = 2 * i + 1, best = l;
        if (l >= n) break;
        if (l + 1 < n && cand_before(&h->v[l + 1], &h->v[l])) best = l + 1;
        if (!cand_before(&h->v[best], &last)) break;
        h->v[i] = h->v[best];
        i = best;
    }
    if (n) h->v[i] = last;
    return top;
}

/* Pushes the merge of symbols l and r if their concatenation is a NORMAL piece (sentencepiece's
 * pieces_ map: NORMAL, USER_DEFINED and UNUSED; the latter two are refused at load). */
static void maybe_add_pair(const kc_tokenizer *t, const char *norm, const sym *s, heap *h, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    uint32_t size = s[l].len + s[r].len;
    int id = kc_tokenizer_piece_id(t, norm + s[l].start, size);
    if (id < 0 || t->type[id] != KC_PIECE_NORMAL) return;
    heap_push(h, (cand){.score = t->score[id], .left = l, .right = r, .size = size, .id = id});
}

kc_status kc_tokenizer_encode(const kc_tokenizer *t, const char *text, size_t len, int flags, kc_tok_ids *out,
                              kc_err *err) {
    out->n = 0;
    if (len == 0) return KC_OK; /* no dummy prefix for an empty string */
    if (len > KC_TOKENIZER_MAX_TEXT_BYTES)
        return kc_fail(err, KC_ERR_ARG, "tokenizer: text of %zu bytes is longer than the %u bytes allowed", len,
                       KC_TOKENIZER_MAX_TEXT_BYTES);
    const uint8_t *in = (const uint8_t *)text;
    /* Worst cases: every input byte becomes 3 bytes ('▁' or U+FFFD) and one symbol, plus the
     * dummy prefix. Each merge pushes at most 2 candidates: heap <= 3 S. Sizes are bounded by the
     * 1 MiB cap, so none of this overflows. */
    size_t norm_cap = 3 * len + 3, max_sym = len + 1, heap_cap = 3 * max_sym;
    size_t bytes = norm_cap + max_sym * sizeof(sym) + heap_cap * sizeof(cand) + 16;
    char *work = malloc(bytes);
    if (!work) return kc_fail(err, KC_ERR_NOMEM, "tokenizer: out of memory for a %zu-byte text", len);
    sym *s = (sym *)work;
    cand *hv = (cand *)(work + max_sym * sizeof(sym));
    char *norm = work + max_sym * sizeof(sym) + heap_cap * sizeof(cand);
    kc_status st = KC_OK;

    /* 1. Normalise (identity): dummy prefix, ' ' -> '▁', each character one symbol. */
    size_t nl = 0;
    int32_t ns = 0;
    if (t->add_dummy_prefix) { /* normalizer.cc add_ws(): '▁', or ' ' without escaping */
        if (t->escape_whitespaces) {
            memcpy(norm, k_ws, 3);
            nl = 3;
        } else {
            norm[0] = ' ';
            nl = 1;
        }
        s[ns++] = (sym){.start = 0, .len = (uint32_t)nl, .id = -1};
    }
    for (size_t i = 0; i < len;) {
        size_t cl = kc_utf8_char_len(in + i, len - i);
        size_t start = nl;
        if (cl == 0) {
            if (!(flags & KC_TOK_REPLACE_INVALID_UTF8)) {
                st = kc_fail(err, KC_ERR_ARG,
                             "prompt is not valid UTF-8: malformed byte 0x%02X at byte offset %zu (of %zu)", in[i], i,
                             len);
                goto done;
            }
            memcpy(norm + nl, k_repl, 3); /* sentencepiece: U+FFFD, consuming one byte */
            nl += 3;
            i += 1;
        } else if (in[i] == ' ' && t->escape_whitespaces) {
            memcpy(norm + nl, k_ws, 3);
            nl += 3;
            i += 1;
        } else {
            memcpy(norm + nl, in + i, cl);
            nl += cl;
            i += cl;
        }
        s[ns++] = (sym){.start = (uint32_t)start, .len = (uint32_t)(nl - start), .id = -1};
    }
    for (int32_t i = 0; i < ns; i++) {
        s[i].prev = i - 1;
        s[i].next = i + 1 < ns ? i + 1 : -1;
    }

    /* 2. Merge loop. */
    heap h = {.v = hv, .n = 0};
    for (int32_t i = 0; i + 1 < ns; i++) maybe_add_pair(t, norm, s, &h, i, i + 1);
    while (h.n > 0) {
        cand c = heap_pop(&h);
        sym *l = &s[c.left], *r = &s[c.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != c.size) continue; /* stale */
        l->len += r->len;
        l->id = c.id;
        l->next = r->next;
        if (r->next >= 0) s[r->next].prev = c.left;
        r->len = 0;
        maybe_add_pair(t, norm, s, &h, l->prev, c.left);
        maybe_add_pair(t, norm, s, &h, c.left, l->next);
    }

    /* 3. Emit: a symbol that is a piece gives its id; otherwise (or if it is <unk>) its UTF-8
     * bytes as <0xXX> pieces. At most one id per normalised byte. */
    if ((st = ids_reserve(out, (int64_t)nl, err))) goto done;
    for (int32_t i = ns ? 0 : -1; i >= 0; i = s[i].next) {
        int id = s[i].id >= 0 ? s[i].id : kc_tokenizer_piece_id(t, norm + s[i].start, s[i].len);
        if (id >= 0 && id != t->unk_id) {
            out->ids[out->n++] = id;
        } else {
            for (uint32_t k = 0; k < s[i].len; k++) out->ids[out->n++] = t->byte_id[(uint8_t)norm[s[i].start + k]];
        }
    }
done:
    free(work);
    if (st) out->n = 0;
    return st;
}

kc_status kc_tokenizer_chatglm(const kc_tokenizer *t, const char *text, size_t len, int max_length,
                               int32_t *input_ids, int32_t *attention_mask, int32_t *position_ids,
                               kc_glm_info *info, kc_err *err) {
    if (max_length < 2 || max_length > KC_TOKENIZER_MAX_LENGTH)
        return kc_fail(err, KC_ERR_ARG, "max_length %d is not in [2, %d] (the 2 prefix tokens must fit)", max_length,
                       KC_TOKENIZER_MAX_LENGTH);
    kc_tok_ids ids = {0};
    kc_status st = kc_tokenizer_encode(t, text, len, 0, &ids, err);
    if (st) return st;
    /* Right truncation keeping the first T-2 pieces (transformers' truncation counts the 2
     * special tokens). ids.n <= 3 MiB, so it fits an int. */
    int64_t keep = ids.n < max_length - 2 ? ids.n : max_length - 2;
    int n = (int)keep + 2, pad = max_length - n;
    info->n_tokens = n;
    info->n_untruncated = (int)ids.n + 2;
    info->truncated = ids.n > keep;
    for (int i = 0; i < pad; i++) input_ids[i] = attention_mask[i] = position_ids[i] = 0; /* pad id = <unk> = 0 */
    int32_t *seq = input_ids + pad;
    seq[0] = kc_tokenizer_special_id(t, KC_GLM_GMASK);
    seq[1] = kc_tokenizer_special_id(t, KC_GLM_SOP);
    if (keep) memcpy(seq + 2, ids.ids, (size_t)keep * sizeof *seq);
    for (int i = 0; i < n; i++) {
        attention_mask[pad + i] = 1;
        position_ids[pad + i] = i; /* computed before padding: the prefix gets 0 and 1 */
    }
    kc_tok_ids_free(&ids);
    return KC_OK;
}

/* ---- decoding ---- */

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->cap - b->n < n + 1) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap - b->n < n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

/* Pending run of <0xXX> pieces: written as UTF-8, each malformed byte as U+FFFD. With
 * `all` == 0 (buffer full) the last 3 bytes are kept back, since they may begin a character whose
 * remaining bytes are still to come; every character starting earlier is complete. */
static void flush_bytes(sbuf *b, uint8_t *bytes, size_t *nb, int all) {
    size_t stop = all ? *nb : *nb - 3, i = 0;
    while (i < stop) {
        size_t cl = kc_utf8_char_len(bytes + i, *nb - i);
        if (cl) {
            sb_put(b, (const char *)bytes + i, cl);
            i += cl;
        } else {
            sb_put(b, k_repl, 3);
            i++;
        }
    }
    memmove(bytes, bytes + i, *nb - i);
    *nb -= i;
}

kc_status kc_tokenizer_decode(const kc_tokenizer *t, const int32_t *ids, int64_t n, char **text, size_t *len,
                              kc_err *err) {
    *text = NULL;
    if (len) *len = 0;
    if (n < 0) return kc_fail(err, KC_ERR_ARG, "detokenize: negative id count %lld", (long long)n);
    int vocab = kc_tokenizer_vocab_size(t);
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= vocab)
            return kc_fail(err, KC_ERR_ARG, "detokenize: id %d at index %lld is not in [0, %d)", (int)ids[i],
                           (long long)i, vocab);
    sbuf b = {0};
    sb_put(&b, "", 0);
    uint8_t bytes[64];
    size_t nb = 0;
    int at_start = 1; /* the next text piece carries the dummy prefix */
    for (int64_t i = 0; i < n; i++) {
        int id = ids[i];
        if (id >= t->n_pieces) { /* ChatGLM special token */
            flush_bytes(&b, bytes, &nb, 1);
            sb_put(&b, t->special_names[id - t->n_pieces], strlen(t->special_names[id - t->n_pieces]));
            continue;
        }
        int type = t->type[id];
        if (type == KC_PIECE_BYTE) {
            if (nb == sizeof bytes) flush_bytes(&b, bytes, &nb, 0);
            bytes[nb++] = (uint8_t)kc_byte_piece_value(t->blob + t->piece_off[id], t->piece_len[id]);
            at_start = 0;
            continue;
        }
        flush_bytes(&b, bytes, &nb, 1);
        if (type != KC_PIECE_NORMAL) continue; /* <s>, </s>, <unk> (= ChatGLM pad): invisible */
        const char *p = t->blob + t->piece_off[id];
        size_t pl = t->piece_len[id];
        if (at_start && t->add_dummy_prefix && pl >= 3 && !memcmp(p, k_ws, 3)) p += 3, pl -= 3;
        at_start = 0;
        for (size_t k = 0; k < pl;) {
            if (pl - k >= 3 && t->escape_whitespaces && !memcmp(p + k, k_ws, 3)) {
                sb_put(&b, " ", 1);
                k += 3;
            } else {
                size_t j = k + 1;
                while (j < pl && !(pl - j >= 3 && t->escape_whitespaces && !memcmp(p + j, k_ws, 3))) j++;
                sb_put(&b, p + k, j - k);
                k = j;
            }
        }
    }
    flush_bytes(&b, bytes, &nb, 1);
    if (b.oom) {
        free(b.p);
        return kc_fail(err, KC_ERR_NOMEM, "detokenize: out of memory");
    }
    *text = b.p;
    if (len) *len = b.n;
    return KC_OK;
}
