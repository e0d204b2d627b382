/* model_internal.h — the inside of kolors_model, shared by the src/api/api_*.c files only.
 * Components are loaded lazily by their api file's getter (e.g. kc_api_unet()). */
#ifndef KC_API_MODEL_INTERNAL_H
#define KC_API_MODEL_INTERNAL_H

#include "core/log.h"
#include "core/status.h"
#include "io/modeldir.h"
#include "kolors.h"
#include "ops/ops.h"

struct kc_tokenizer;
struct kc_chatglm;
struct kc_unet;
struct kc_vae;
struct kc_gen_cache;

struct kolors_model {
    kolors_params params;
    char variant[32];           /* copy of params.variant ("" = none) */
    kc_modeldir dir;
    kc_logger log;
    kc_exec ex;
    kolors_tap_fn tap;
    void *tap_user;
    struct kc_tokenizer *tok;   /* api_tokenizer.c */
    struct kc_chatglm *glm;     /* api_text.c */
    int glm_runs;               /* forwards since the text encoder was loaded (prepacks before the 2nd) */
    struct kc_unet *unet;       /* api_unet.c */
    struct kc_vae *vae;         /* api_vae.c */
    struct kc_gen_cache *gen;   /* api_generate.c: the last prompts' embeddings */
};

/* kolors_precision -> the arithmetic ops run (DEFAULT = the fast path of this CPU). */
kc_precision kc_api_precision(kolors_precision p);
/* KC_ERR_ARG naming `what`, `fn` and the first element when x[0..n) holds a NaN or an infinity. */
kc_status kc_api_check_finite(const float *x, int64_t n, const char *what, const char *fn, kc_err *err);
/* kc_err -> kolors_error; returns the code. */
int kc_api_err(kolors_error *out, const kc_err *e);

/* Component getters (load on first use). Each lives in its component's api file. */
kc_status kc_api_tokenizer(kolors_model *m, struct kc_tokenizer **out, kc_err *err);
kc_status kc_api_chatglm(kolors_model *m, struct kc_chatglm **out, kc_err *err);
kc_status kc_api_unet(kolors_model *m, struct kc_unet **out, kc_err *err);
kc_status kc_api_vae(kolors_model *m, struct kc_vae **out, kc_err *err);
/* Frees whatever components are loaded (each api file frees its own). */
void kc_api_tokenizer_free(kolors_model *m);
void kc_api_text_free(kolors_model *m);
void kc_api_unet_free(kolors_model *m);
void kc_api_vae_free(kolors_model *m);
void kc_api_generate_free(kolors_model *m);

#endif
