/* json.h — thin wrapper over cJSON for config and index files, with size/depth limits and
 * typed getters whose errors name the file and the key. Unknown keys are ignored (configs
 * carry many irrelevant keys); unsupported *values* are the caller's job to refuse. */
#ifndef KC_IO_JSON_H
#define KC_IO_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define KC_JSON_MAX_FILE (64u << 20)  /* config/index files are small; refuse anything huge */
#define KC_JSON_MAX_DEPTH 64

/* Parses a JSON file (must be an object). *out must be freed with cJSON_Delete. */
kc_status kc_json_load(const char *path, cJSON **out, kc_err *err);
/* Parses a buffer; `what` names the source for messages. */
kc_status kc_json_parse(const char *buf, size_t len, const char *what, cJSON **out, kc_err *err);

/* Getters: `what` names the file for messages. When `required` is 0 and the key is absent or
 * null, *out = dflt and KC_OK is returned. Wrong type or out-of-range is KC_ERR_FORMAT. */
kc_status kc_json_int(const cJSON *obj, const char *key, int required, int64_t dflt, int64_t lo, int64_t hi,
                      const char *what, int64_t *out, kc_err *err);
kc_status kc_json_num(const cJSON *obj, const char *key, int required, double dflt, const char *what, double *out,
                      kc_err *err);
kc_status kc_json_bool(const cJSON *obj, const char *key, int required, int dflt, const char *what, int *out,
                       kc_err *err);
/* *out points into the cJSON tree (or is dflt, which may be NULL). */
kc_status kc_json_str(const cJSON *obj, const char *key, int required, const char *dflt, const char *what,
                      const char **out, kc_err *err);
/* Integer array of at most cap entries; *n receives the count. A scalar int is accepted and
 * broadcast when `broadcast_to` > 0 (diffusers allows `attention_head_dim: 8` for all blocks). */
kc_status kc_json_int_array(const cJSON *obj, const char *key, int required, int64_t *vals, int cap, int *n,
                            int broadcast_to, const char *what, kc_err *err);
/* String array; pointers into the tree. */
kc_status kc_json_str_array(const cJSON *obj, const char *key, int required, const char **vals, int cap, int *n,
                            const char *what, kc_err *err);
/* Nonzero when key is absent or JSON null. */
int kc_json_is_null(const cJSON *obj, const char *key);

#endif
