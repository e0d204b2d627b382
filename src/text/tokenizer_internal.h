/* tokenizer_internal.h — the inside of kc_tokenizer, shared by tokenizer.c (loading) and
 * tokenizer_bpe.c (encoding, decoding). Not for other modules: use tokenizer.h. */
#ifndef KC_TEXT_TOKENIZER_INTERNAL_H
#define KC_TEXT_TOKENIZER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "text/tokenizer.h"

typedef struct {
    int32_t id;   /* -1 = empty */
    uint32_t tag; /* high 32 bits of the piece's hash */
} kc_tok_slot;

struct kc_tokenizer {
    int n_pieces;
    int unk_id;
    int max_piece_len;          /* longest piece in bytes: longer candidates skip the lookup */
    int add_dummy_prefix;       /* normalizer_spec.add_dummy_prefix */
    int escape_whitespaces;     /* normalizer_spec.escape_whitespaces: ' ' -> U+2581 */
    uint32_t *piece_off;        /* [n_pieces] offset of the NUL-terminated text in blob */
    uint16_t *piece_len;        /* [n_pieces] bytes */
    float *score;               /* [n_pieces] */
    uint8_t *type;              /* [n_pieces] kc_piece_type */
    char *blob;                 /* all piece texts, NUL-separated */
    size_t blob_used;
    kc_tok_slot *hash;          /* [hash_cap] open addressing (linear probing) */
    uint64_t hash_cap;          /* power of two >= 2 * n_pieces */
    int32_t byte_id[256];       /* id of <0xXX> */
    const char *special_names[KC_GLM_N_SPECIAL];
};

/* Length of the valid UTF-8 character at s (n bytes available), or 0 when s[0] starts a
 * malformed sequence. Same acceptance as sentencepiece's string_util::DecodeUTF8: shortest form
 * only, no surrogates (U+D800..DFFF), nothing above U+10FFFF. */
static inline size_t kc_utf8_char_len(const uint8_t *s, size_t n) {
    uint8_t c = s[0];
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0; /* continuation byte or overlong 2-byte lead */
    if (c < 0xE0) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0; /* overlong */
        if (c == 0xED && s[1] >= 0xA0) return 0; /* surrogate */
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0; /* overlong */
        if (c == 0xF4 && s[1] >= 0x90) return 0; /* > U+10FFFF */
        return 4;
    }
    return 0;
}

/* Byte of a BYTE piece "<0xXX>" (upper-case hex, as sentencepiece's ByteToPiece writes it), or -1. */
static inline int kc_byte_piece_value(const char *s, size_t n) {
    if (n != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

#endif
