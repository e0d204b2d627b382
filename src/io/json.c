/* json.c — see json.h. */
#include "io/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mapfile.h"

/* cJSON recurses on nesting; refuse deep documents before handing them to it. */
static int depth_ok(const char *buf, size_t len) {
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = 0;
            continue;
        }
        if (c == '"') in_str = 1;
        else if (c == '{' || c == '[') { if (++depth > KC_JSON_MAX_DEPTH) return 0; }
        else if (c == '}' || c == ']') depth--;
    }
    return 1;
}

kc_status kc_json_parse(const char *buf, size_t len, const char *what, cJSON **out, kc_err *err) {
    *out = NULL;
    if (!depth_ok(buf, len))
        return kc_fail(err, KC_ERR_FORMAT, "%s: JSON nested deeper than %d levels", what, KC_JSON_MAX_DEPTH);
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (!j) {
        size_t off = end ? (size_t)(end - buf) : 0;
        return kc_fail(err, KC_ERR_FORMAT, "%s: invalid JSON near byte %zu", what, off);
    }
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
