/* json.c — see json.h. */
#include "io/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mapfile.h"

/* Steps the string state of a scan over buf[*i]: returns 1 when that byte belongs to a string
 * (its quotes and escapes included; an escape also consumes the next byte), 0 when it is
 * structure outside strings. */
static int string_byte(const char *buf, size_t *i, int *in_str) {
    const char c = buf[*i];
    if (*in_str) {
        if (c == '\\') (*i)++;
        else if (c == '"') *in_str = 0;
        return 1;
    }
    if (c == '"') *in_str = 1;
    return *in_str;
}

/* cJSON recurses on nesting; refuse deep documents before handing them to it. */
static int depth_ok(const char *buf, size_t len) {
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        if (string_byte(buf, &i, &in_str)) continue;
        const char c = buf[i];
        if (c == '{' || c == '[') { if (++depth > KC_JSON_MAX_DEPTH) return 0; }
        else if (c == '}' || c == ']') depth--;
    }
    return 1;
}

/* Python's json module (which writes every diffusers config) spells infinite floats Infinity and
 * -Infinity, which are not JSON: DPMSolverMultistepScheduler saves "lambda_min_clipped":
 * -Infinity, for instance. Outside strings these tokens are rewritten as null padded with spaces
 * (so byte offsets in messages stay right): the key then reads as absent and its documented
 * default applies (for lambda_min_clipped that default is -inf); a key that must be a finite
 * number is refused as missing. NaN (3 bytes, no room for null) is left for cJSON to refuse.
 * *out stays NULL when nothing needed rewriting. Returns -1 only when out of memory. */
static int python_infinities(const char *buf, size_t len, char **out) {
    *out = NULL;
    int in_str = 0;
    for (size_t i = 0; i < len; i++) {
        if (string_byte(buf, &i, &in_str)) continue;
        size_t n = (i + 9 <= len && memcmp(buf + i, "-Infinity", 9) == 0)  ? 9
                   : (i + 8 <= len && memcmp(buf + i, "Infinity", 8) == 0) ? 8
                                                                            : 0;
        if (!n) continue;
        if (!*out) {
            *out = malloc(len + 1);
            if (!*out) return -1;
            memcpy(*out, buf, len);
            (*out)[len] = '\0';
        }
        memcpy(*out + i, "null", 4);
        memset(*out + i + 4, ' ', n - 4);
        i += n - 1;
    }
    return 0;
}

kc_status kc_json_parse(const char *buf, size_t len, const char *what, cJSON **out, kc_err *err) {
    *out = NULL;
    if (!depth_ok(buf, len))
        return kc_fail(err, KC_ERR_FORMAT, "%s: JSON nested deeper than %d levels", what, KC_JSON_MAX_DEPTH);
    char *fixed = NULL;
    if (python_infinities(buf, len, &fixed) != 0)
        return kc_fail(err, KC_ERR_NOMEM, "%s: out of memory", what);
    const char *src = fixed ? fixed : buf;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(src, len, &end, 0);
    size_t off = (j || !end) ? 0 : (size_t)(end - src);
    free(fixed);
    if (!j) return kc_fail(err, KC_ERR_FORMAT, "%s: invalid JSON near byte %zu", what, off);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return kc_fail(err, KC_ERR_FORMAT, "%s: JSON top level is not an object", what);
    }
    *out = j;
    return KC_OK;
}

kc_status kc_json_load(const char *path, cJSON **out, kc_err *err) {
    char *buf;
    size_t len;
    kc_status s = kc_read_file(path, KC_JSON_MAX_FILE, &buf, &len, err);
    if (s) return s;
    s = kc_json_parse(buf, len, path, out, err);
    free(buf);
    return s;
}

static const cJSON *item(const cJSON *obj, const char *key) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return (it && !cJSON_IsNull(it)) ? it : NULL;
}

int kc_json_is_null(const cJSON *obj, const char *key) { return item(obj, key) == NULL; }

static kc_status missing(const char *key, const char *what, kc_err *err) {
    return kc_fail(err, KC_ERR_FORMAT, "%s: required key \"%s\" is missing", what, key);
}

kc_status kc_json_int(const cJSON *obj, const char *key, int required, int64_t dflt, int64_t lo, int64_t hi,
                      const char *what, int64_t *out, kc_err *err) {
    const cJSON *it = item(obj, key);
    if (!it) {
        if (required) return missing(key, what, err);
        *out = dflt;
        return KC_OK;
    }
    double v = it->valuedouble;
    if (!cJSON_IsNumber(it) || !isfinite(v) || v != floor(v) || v < -9.0e15 || v > 9.0e15)
        return kc_fail(err, KC_ERR_FORMAT, "%s: \"%s\" must be an integer", what, key);
    if ((int64_t)v < lo || (int64_t)v > hi)
        return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: \"%s\" = %lld is outside the supported range [%lld, %lld]", what,
                       key, (long long)v, (long long)lo, (long long)hi);
    *out = (int64_t)v;
    return KC_OK;
}

kc_status kc_json_num(const cJSON *obj, const char *key, int required, double dflt, const char *what, double *out,
                      kc_err *err) {
    const cJSON *it = item(obj, key);
    if (!it) {
        if (required) return missing(key, what, err);
        *out = dflt;
        return KC_OK;
    }
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
        return kc_fail(err, KC_ERR_FORMAT, "%s: \"%s\" must be a finite number", what, key);
    *out = it->valuedouble;
    return KC_OK;
}

kc_status kc_json_bool(const cJSON *obj, const char *key, int required, int dflt, const char *what, int *out,
                       kc_err *err) {
    const cJSON *it = item(obj, key);
    if (!it) {
        if (required) return missing(key, what, err);
        *out = dflt;
        return KC_OK;
    }
    if (!cJSON_IsBool(it)) return kc_fail(err, KC_ERR_FORMAT, "%s: \"%s\" must be true or false", what, key);
    *out = cJSON_IsTrue(it) ? 1 : 0;
    return KC_OK;
}

kc_status kc_json_str(const cJSON *obj, const char *key, int required, const char *dflt, const char *what,
                      const char **out, kc_err *err) {
    const cJSON *it = item(obj, key);
    if (!it) {
        if (required) return missing(key, what, err);
        *out = dflt;
        return KC_OK;
    }
    if (!cJSON_IsString(it)) return kc_fail(err, KC_ERR_FORMAT, "%s: \"%s\" must be a string", what, key);
    *out = it->valuestring;
    return KC_OK;
}

kc_status kc_json_int_array(const cJSON *obj, const char *key, int required, int64_t *vals, int cap, int *n,
                            int broadcast_to, const char *what, kc_err *err) {
    const cJSON *it = item(obj, key);
    *n = 0;
    if (!it) return required ? missing(key, what, err) : KC_OK;
    if (cJSON_IsNumber(it) && broadcast_to > 0) {
        int64_t v;
        kc_status s = kc_json_int(obj, key, 1, 0, INT64_MIN, INT64_MAX, what, &v, err);
        if (s) return s;
        if (broadcast_to > cap) return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: \"%s\": too many entries", what, key);
        for (int i = 0; i < broadcast_to; i++) vals[i] = v;
        *n = broadcast_to;
        return KC_OK;
    }
    if (!cJSON_IsArray(it)) return kc_fail(err, KC_ERR_FORMAT, "%s: \"%s\" must be an array of integers", what, key);
    int cnt = cJSON_GetArraySize(it);
    if (cnt > cap)
        return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: \"%s\" has %d entries, at most %d are supported", what, key, cnt,
                       cap);
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, it) {
        double v = e->valuedouble;
        if (!cJSON_IsNumber(e) || !isfinite(v) || v != floor(v) || fabs(v) > 9.0e15)
            return kc_fail(err, KC_ERR_FORMAT, "%s: \"%s\"[%d] must be an integer", what, key, i);
        vals[i++] = (int64_t)v;
    }
    *n = cnt;
    return KC_OK;
}

kc_status kc_json_str_array(const cJSON *obj, const char *key, int required, const char **vals, int cap, int *n,
                            const char *what, kc_err *err) {
    const cJSON *it = item(obj, key);
    *n = 0;
    if (!it) return required ? missing(key, what, err) : KC_OK;
    if (!cJSON_IsArray(it)) return kc_fail(err, KC_ERR_FORMAT, "%s: \"%s\" must be an array of strings", what, key);
    int cnt = cJSON_GetArraySize(it);
    if (cnt > cap)
        return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: \"%s\" has %d entries, at most %d are supported", what, key, cnt,
                       cap);
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, it) {
        if (!cJSON_IsString(e)) return kc_fail(err, KC_ERR_FORMAT, "%s: \"%s\"[%d] must be a string", what, key, i);
        vals[i++] = e->valuestring;
    }
    *n = cnt;
    return KC_OK;
}
