/* tokenizer.h — the ChatGLM3 tokenizer used by Kolors: a SentencePiece BPE model read from
 * tokenizer.model (protobuf), encoded exactly like libsentencepiece 0.1.97, plus the ChatGLM
 * wrapper of kolors-model.md §2.4 ([gMASK] sop prefix, right truncation, left padding).
 *
 * Mirrors: google/sentencepiece src/model_interface.cc (piece tables), src/normalizer.cc (identity
 * normaliser, dummy prefix, whitespace escaping), src/bpe_model.cc (merge loop, byte fallback);
 * Kwai-Kolors kolors/models/tokenization_chatglm.py (SPTokenizer special ids, padding).
 *
 * Letters: T tokens (max_length), P left-padding count, n real tokens (2 prefix + prompt pieces).
 *
 * A kc_tokenizer is immutable after loading: encode/decode may run from several threads at once
 * (each call allocates its own scratch). */
#ifndef KC_TEXT_TOKENIZER_H
#define KC_TEXT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/modeldir.h"

/* SentencePiece piece types (ModelProto.SentencePiece.Type). */
typedef enum {
    KC_PIECE_NORMAL = 1,
    KC_PIECE_UNKNOWN = 2,
    KC_PIECE_CONTROL = 3,
    KC_PIECE_USER_DEFINED = 4,
    KC_PIECE_UNUSED = 5,
    KC_PIECE_BYTE = 6,
} kc_piece_type;

/* Limits applied while reading a (possibly hostile) tokenizer.model. The real file has 64 789
 * pieces of at most 48 bytes and is 1 018 370 bytes long. */
#define KC_TOKENIZER_MAX_FILE_BYTES (64u << 20)
#define KC_TOKENIZER_MAX_PIECES (1 << 20)
#define KC_TOKENIZER_MAX_PIECE_BYTES 256
/* Longest text accepted by the encoder: Kolors keeps 254 tokens, so 1 MiB of text is already
 * ~1000x more than can matter; the cap bounds the scratch memory (~40 bytes per input byte). */
#define KC_TOKENIZER_MAX_TEXT_BYTES (1u << 20)
/* Largest max_length of the ChatGLM wrapper (kolors_tokens holds 4096 ids). */
#define KC_TOKENIZER_MAX_LENGTH 4096

/* ChatGLM special tokens follow the SentencePiece vocabulary, in this order (SPTokenizer):
 * id = n_pieces + index. For the Kolors/ChatGLM3 model n_pieces = 64789, so [gMASK] = 64790 and
 * sop = 64792. The pad id is the <unk> id (0). */
enum {
    KC_GLM_MASK = 0, KC_GLM_GMASK, KC_GLM_SMASK, KC_GLM_SOP, KC_GLM_EOP,
    KC_GLM_SYSTEM, KC_GLM_USER, KC_GLM_ASSISTANT, KC_GLM_OBSERVATION,
    KC_GLM_N_SPECIAL
};

typedef struct kc_tokenizer kc_tokenizer;

/* Reads tokenizer.model from `path`. Refuses (KC_ERR_UNSUPPORTED) any model whose settings differ
 * from what this encoder implements: model type other than BPE, a normaliser other than identity
 * (non-empty precompiled_charsmap or rule TSV), remove_extra_whitespaces, treat_whitespace_as_suffix,
 * byte_fallback off, USER_DEFINED or UNUSED pieces. Corrupt files are KC_ERR_FORMAT with the file
 * name and byte offset. */
kc_status kc_tokenizer_load(const char *path, kc_tokenizer **out, kc_err *err);
/* Same from bytes in memory; `what` names the source in messages (e.g. the file name). */
kc_status kc_tokenizer_load_buffer(const void *data, size_t size, const char *what, kc_tokenizer **out,
                                   kc_err *err);
/* Loads the tokenizer.model of a resolved model folder (tokenizer/ or text_encoder/). */
kc_status kc_tokenizer_load_dir(const kc_modeldir *dir, kc_tokenizer **out, kc_err *err);
void kc_tokenizer_free(kc_tokenizer *t);

/* ---- vocabulary ---- */
int kc_tokenizer_n_pieces(const kc_tokenizer *t);        /* SentencePiece pieces (64789) */
int kc_tokenizer_vocab_size(const kc_tokenizer *t);      /* n_pieces + KC_GLM_N_SPECIAL (64798) */
int kc_tokenizer_special_id(const kc_tokenizer *t, int which); /* which = KC_GLM_*; n_pieces + which */
int kc_tokenizer_unk_id(const kc_tokenizer *t);
/* NUL-terminated piece text (pieces hold no NUL: refused at load); NULL when id is out of range.
 * ChatGLM special ids return their names ("[gMASK]", "sop", ...). */
const char *kc_tokenizer_piece(const kc_tokenizer *t, int id);
float kc_tokenizer_score(const kc_tokenizer *t, int id);      /* 0 when out of range */
int kc_tokenizer_piece_type(const kc_tokenizer *t, int id);   /* kc_piece_type; 0 when out of range */
/* id of a piece given its exact bytes, or -1. */
int kc_tokenizer_piece_id(const kc_tokenizer *t, const char *piece, size_t len);

/* ---- encoding ---- */

/* Growable id buffer, reusable across calls (encode only reallocates when it must grow). */
typedef struct {
    int32_t *ids;
    int64_t n, cap;
} kc_tok_ids;
void kc_tok_ids_free(kc_tok_ids *v);

enum {
    /* Replace each malformed UTF-8 byte by U+FFFD like SentencePiece's normaliser does, instead of
     * failing. Kolors' API refuses invalid UTF-8 (KC_ERR_ARG naming the byte offset) because the
     * Python reference cannot even receive such a prompt (a Python str is always valid). */
    KC_TOK_REPLACE_INVALID_UTF8 = 1,
};

/* SentencePiece encode (kolors-model.md §2.3): text -> piece ids in out->ids[0..n). Empty text
 * gives no ids. Invalid UTF-8 without KC_TOK_REPLACE_INVALID_UTF8: KC_ERR_ARG naming the byte
 * offset. Text longer than KC_TOKENIZER_MAX_TEXT_BYTES: KC_ERR_ARG. */
kc_status kc_tokenizer_encode(const kc_tokenizer *t, const char *text, size_t len, int flags, kc_tok_ids *out,
                              kc_err *err);

/* Result of the ChatGLM wrapper for one prompt. */
typedef struct {
    int n_tokens;      /* n: real tokens incl. the 2 prefix tokens, 2..max_length */
    int n_untruncated; /* what n would be without truncation */
    int truncated;     /* n_untruncated > max_length */
} kc_glm_info;

/* The Kolors call tokenizer(prompt, padding="max_length", max_length=T, truncation=True):
 * seq = [gMASK, sop] + encode(text)[0 : T-2];  P = T - n;
 * input_ids = [0]*P + seq, attention_mask = [0]*P + [1]*n, position_ids = [0]*P + [0..n-1].
 * Each output array holds T entries. T must be in [2, KC_TOKENIZER_MAX_LENGTH]. */
kc_status kc_tokenizer_chatglm(const kc_tokenizer *t, const char *text, size_t len, int max_length,
                               int32_t *input_ids, int32_t *attention_mask, int32_t *position_ids,
                               kc_glm_info *info, kc_err *err);

/* ---- decoding (debugging aid) ---- */

/* ids -> UTF-8 text (malloc'd, NUL-terminated; *len excludes the NUL; len may be NULL).
 * NORMAL pieces: '▁' -> ' ', and the leading '▁' of the first piece (the dummy prefix) is
 * dropped, so decode(encode(s)) == s for every valid UTF-8 s. Runs of BYTE pieces are joined
 * and each byte that does not form valid UTF-8 becomes U+FFFD (output is always valid UTF-8).
 * CONTROL pieces (<s>, </s>) and <unk> (ChatGLM's pad id 0) produce nothing. ChatGLM special ids
 * produce their names ("[gMASK]sop..."), as ChatGLM's own decode. Ids outside
 * [0, vocab_size) are KC_ERR_ARG naming the index. */
kc_status kc_tokenizer_decode(const kc_tokenizer *t, const int32_t *ids, int64_t n, char **text, size_t *len,
                              kc_err *err);

/* Validates UTF-8 like SentencePiece's DecodeUTF8 (no overlongs, surrogates or > U+10FFFF).
 * Returns the byte offset of the first malformed byte, or -1 when s is valid. */
int64_t kc_utf8_first_invalid(const char *s, size_t len);

#endif
