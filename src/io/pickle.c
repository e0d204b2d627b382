/* pickle.c — see pickle.h. Mirrors the subset of CPython's pickle.py `_Unpickler` that
 * torch.save (protocol 2) exercises; opcode names follow pickletools.
 *
 * Values are inert tagged nodes owned by one pool (freed together, so shared references made by
 * BINGET need no reference counting and nothing is ever freed recursively). Globals become
 * tokens from a fixed allow-list; REDUCE on them runs C code that only *describes* the object
 * (a dict, a tensor view), never anything named by the file. */
#include "io/pickle.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"

#define MAX_GLOBAL_PART 200  /* "torch._utils" / "_rebuild_tensor_v2": real names are short */
#define MAX_NAME 4096        /* state-dict keys */

typedef enum { V_NONE, V_BOOL, V_INT, V_STR, V_TUPLE, V_LIST, V_DICT, V_GLOBAL, V_STORAGE, V_TENSOR } vtype;
typedef enum { G_ODICT, G_REBUILD_V2, G_REBUILD_PARAM, G_STORAGE } gid;

typedef struct val val;
struct val {
    vtype type;
    int64_t i;            /* V_BOOL, V_INT; V_STORAGE: numel */
    char *s;              /* V_STR (NUL-terminated copy); V_STORAGE: key */
    size_t slen;
    val **items;          /* V_TUPLE, V_LIST; V_DICT: key0, val0, key1, val1, ... */
    int64_t n, cap;       /* items used / allocated */
    gid g;                /* V_GLOBAL */
    kc_dtype dt;          /* V_GLOBAL storage class, V_STORAGE */
    kc_pickle_tensor *t;  /* V_TENSOR (name unused); separate so plain nodes stay small */
};

typedef struct {
    const unsigned char *d;
    size_t size, pos, op_off;
    const char *what;
    kc_err *err;
    val **pool;
    int64_t npool, cappool;
    val **stack;
    int64_t nstack, capstack;
    int64_t *marks;
    int64_t nmarks, capmarks;
    val **memo;
    int64_t nmemo;
} up;

static const struct {
    const char *name;
    kc_dtype dt;
} storage_classes[] = {
    {"HalfStorage", KC_DTYPE_F16},  {"FloatStorage", KC_DTYPE_F32}, {"BFloat16Storage", KC_DTYPE_BF16},
    {"DoubleStorage", KC_DTYPE_F64}, {"LongStorage", KC_DTYPE_I64}, {"IntStorage", KC_DTYPE_I32},
    {"ShortStorage", KC_DTYPE_I16}, {"CharStorage", KC_DTYPE_I8},   {"ByteStorage", KC_DTYPE_U8},
    {"BoolStorage", KC_DTYPE_BOOL},
    /* torch >= 1.13 writes UntypedStorage (dtype uint8) only when an untyped storage itself is saved. */
    {"UntypedStorage", KC_DTYPE_U8},
};

static kc_status bad(up *u, const char *fmt, const char *a, const char *b) {
    char msg[600];
    snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
    return kc_fail(u->err, KC_ERR_FORMAT, "%s: pickle byte %zu: %s", u->what, u->op_off, msg);
}

static val *new_val(up *u, vtype t) {
    if (u->npool == u->cappool) {
        int64_t nc = u->cappool ? u->cappool * 2 : 256;
        val **np = realloc(u->pool, (size_t)nc * sizeof *np);
        if (!np) return NULL;
        u->pool = np;
        u->cappool = nc;
    }
    val *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->type = t;
    u->pool[u->npool++] = v;
    return v;
}

static kc_status oom(up *u) { return kc_fail(u->err, KC_ERR_NOMEM, "%s: out of memory unpickling", u->what); }

static kc_status push(up *u, val *v) {
    if (!v) return oom(u);
    if (u->nstack == u->capstack) {
        if (u->capstack >= KC_PICKLE_MAX_STACK) return bad(u, "stack grows past the limit of values%s%s", NULL, NULL);
        int64_t nc = u->capstack ? u->capstack * 2 : 64;
        val **ns = realloc(u->stack, (size_t)nc * sizeof *ns);
        if (!ns) return oom(u);
        u->stack = ns;
        u->capstack = nc;
    }
    u->stack[u->nstack++] = v;
    return KC_OK;
}

/* Values above the innermost MARK start here; stack underflow past a mark is an error. */
static int64_t floor_of(const up *u) { return u->nmarks ? u->marks[u->nmarks - 1] : 0; }

static kc_status pop(up *u, val **out) {
    if (u->nstack <= floor_of(u)) return bad(u, "stack underflow (malformed pickle)%s%s", NULL, NULL);
    *out = u->stack[--u->nstack];
    return KC_OK;
}

static kc_status top(up *u, val **out) {
    if (u->nstack <= floor_of(u)) return bad(u, "stack is empty where a value is needed%s%s", NULL, NULL);
    *out = u->stack[u->nstack - 1];
    return KC_OK;
}

static kc_status add_item(up *u, val *c, val *x) {
    if (c->n == c->cap) {
        int64_t nc = c->cap ? c->cap * 2 : 8;
        val **ni = realloc(c->items, (size_t)nc * sizeof *ni);
        if (!ni) return oom(u);
        c->items = ni;
        c->cap = nc;
    }
    c->items[c->n++] = x;
    return KC_OK;
}

/* Pops everything above the innermost MARK (and the mark) into *first / *count. */
static kc_status pop_mark(up *u, int64_t *first, int64_t *count) {
    if (!u->nmarks) return bad(u, "no MARK to pop to%s%s", NULL, NULL);
    int64_t m = u->marks[--u->nmarks];
    *first = m;
    *count = u->nstack - m;
    u->nstack = m;
    return KC_OK;
}

static kc_status need(up *u, size_t n) {
    if (n > u->size - u->pos) return bad(u, "argument runs past the end of the pickle (truncated?)%s%s", NULL, NULL);
    return KC_OK;
}

static uint64_t le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Copies a global's module/name for messages, replacing anything unprintable. */
static void printable(char *dst, size_t cap, const unsigned char *src, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) dst[k++] = (src[i] >= 32 && src[i] < 127) ? (char)src[i] : '?';
    dst[k] = '\0';
}

static kc_status read_line(up *u, const unsigned char **p, size_t *n) {
    const unsigned char *start = u->d + u->pos;
    size_t avail = u->size - u->pos, lim = avail < MAX_GLOBAL_PART + 1 ? avail : MAX_GLOBAL_PART + 1;
    const unsigned char *nl = memchr(start, '\n', lim);
    if (!nl) return bad(u, "GLOBAL name is unterminated or longer than 200 bytes%s%s", NULL, NULL);
    *p = start;
    *n = (size_t)(nl - start);
    u->pos += *n + 1;
    return KC_OK;
}

static int eq(const unsigned char *p, size_t n, const char *s) { return strlen(s) == n && memcmp(p, s, n) == 0; }

static kc_status op_global(up *u) {
    const unsigned char *mod, *name;
    size_t nm, nn;
    kc_status s = read_line(u, &mod, &nm);
    if (!s) s = read_line(u, &name, &nn);
    if (s) return s;
    val *v = new_val(u, V_GLOBAL);
    if (!v) return oom(u);
    if (eq(mod, nm, "collections") && eq(name, nn, "OrderedDict")) {
        v->g = G_ODICT;
    } else if (eq(mod, nm, "torch._utils") && eq(name, nn, "_rebuild_tensor_v2")) {
        v->g = G_REBUILD_V2;
    } else if (eq(mod, nm, "torch._utils") && eq(name, nn, "_rebuild_parameter")) {
        v->g = G_REBUILD_PARAM;
    } else {
        int found = 0;
        if (eq(mod, nm, "torch"))
            for (size_t i = 0; i < sizeof storage_classes / sizeof storage_classes[0]; i++)
                if (eq(name, nn, storage_classes[i].name)) {
                    v->g = G_STORAGE;
                    v->dt = storage_classes[i].dt;
                    found = 1;
                }
        if (!found) {
            char a[MAX_GLOBAL_PART + 1], b[MAX_GLOBAL_PART + 1];
            printable(a, sizeof a, mod, nm);
            printable(b, sizeof b, name, nn);
            return bad(u,
                       "GLOBAL '%s.%s' is not allowed: a weights checkpoint may only name torch tensor-rebuild "
                       "functions, torch storage classes and collections.OrderedDict (refusing; nothing was run)",
                       a, b);
        }
    }
    return push(u, v);
}

static kc_status op_str(up *u, size_t len) {
    kc_status s = need(u, len);
    if (s) return s;
    val *v = new_val(u, V_STR);
    if (!v) return oom(u);
    v->s = malloc(len + 1);
    if (!v->s) return oom(u);
    memcpy(v->s, u->d + u->pos, len);
    v->s[len] = '\0';
    v->slen = len;
    u->pos += len;
    return push(u, v);
}

static kc_status push_int(up *u, vtype t, int64_t x) {
    val *v = new_val(u, t);
    if (!v) return oom(u);
    v->i = x;
    return push(u, v);
}

static int is_int(const val *v) { return v->type == V_INT || v->type == V_BOOL; }

/* ('storage', torch.XStorage, key, location, numel) -> V_STORAGE. The location ('cpu',
 * 'cuda:0', ...) is ignored: the bytes are in the archive either way. */
static kc_status op_persid(up *u) {
    val *pid = NULL;
    kc_status s = pop(u, &pid);
    if (s) return s;
    if (pid->type != V_TUPLE || pid->n != 5)
        return bad(u, "persistent id is not a 5-tuple ('storage', class, key, location, numel)%s%s", NULL, NULL);
    val **it = pid->items;
    if (it[0]->type != V_STR || strcmp(it[0]->s, "storage") != 0)
        return bad(u, "persistent id does not start with 'storage'%s%s", NULL, NULL);
    if (it[1]->type != V_GLOBAL || it[1]->g != G_STORAGE)
        return bad(u, "persistent id names no torch storage class%s%s", NULL, NULL);
    if (it[2]->type != V_STR || it[2]->slen == 0 || it[2]->slen >= KC_PICKLE_MAX_KEY ||
        strlen(it[2]->s) != it[2]->slen || strchr(it[2]->s, '/') || strcmp(it[2]->s, "..") == 0 ||
        strcmp(it[2]->s, ".") == 0)
        return bad(u, "storage key must be a short plain name (no '/', '.', '..')%s%s", NULL, NULL);
    if (it[3]->type != V_STR) return bad(u, "storage location is not a string%s%s", NULL, NULL);
    if (it[4]->type != V_INT || it[4]->i < 0) return bad(u, "storage numel is not a non-negative integer%s%s", NULL, NULL);
    val *v = new_val(u, V_STORAGE);
    if (!v) return oom(u);
    v->dt = it[1]->dt;
    v->s = strdup(it[2]->s);
    if (!v->s) return oom(u);
    v->slen = it[2]->slen;
    v->i = it[4]->i;
    return push(u, v);
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]) */
static kc_status rebuild_tensor(up *u, val *args, val **out) {
    if (args->n != 6 && args->n != 7)
        return bad(u, "_rebuild_tensor_v2 expects 6 or 7 arguments%s%s", NULL, NULL);
    val **a = args->items;
    if (a[0]->type != V_STORAGE) return bad(u, "_rebuild_tensor_v2: first argument is not a storage%s%s", NULL, NULL);
    if (a[1]->type != V_INT || a[1]->i < 0)
        return bad(u, "_rebuild_tensor_v2: storage_offset is not a non-negative integer%s%s", NULL, NULL);
    if (a[2]->type != V_TUPLE || a[3]->type != V_TUPLE || a[2]->n != a[3]->n)
        return bad(u, "_rebuild_tensor_v2: size and stride must be tuples of the same length%s%s", NULL, NULL);
    if (a[2]->n > KC_MAX_DIMS) return bad(u, "_rebuild_tensor_v2: more than 8 dimensions%s%s", NULL, NULL);
    if (!is_int(a[4])) return bad(u, "_rebuild_tensor_v2: requires_grad is not a bool%s%s", NULL, NULL);
    if (!(a[5]->type == V_DICT && a[5]->n == 0) && a[5]->type != V_NONE)
        return bad(u, "_rebuild_tensor_v2: backward_hooks must be an empty OrderedDict%s%s", NULL, NULL);
    val *v = new_val(u, V_TENSOR);
    if (!v || !(v->t = calloc(1, sizeof *v->t))) return oom(u);
    kc_pickle_tensor *t = v->t;
    t->dtype = a[0]->dt;
    memcpy(t->key, a[0]->s, a[0]->slen + 1);
    t->storage_numel = a[0]->i;
    t->storage_offset = a[1]->i;
    t->ndim = (int)a[2]->n;
    int64_t stride[KC_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) {
        if (a[2]->items[d]->type != V_INT || a[3]->items[d]->type != V_INT || a[2]->items[d]->i < 0)
            return bad(u, "_rebuild_tensor_v2: size/stride entries must be integers, sizes >= 0%s%s", NULL, NULL);
        t->shape[d] = a[2]->items[d]->i;
        stride[d] = a[3]->items[d]->i;
    }
    int64_t numel;
    if (!kc_dims_product(t->shape, t->ndim, &numel)) return bad(u, "_rebuild_tensor_v2: size overflows%s%s", NULL, NULL);
    if (numel > 0) {
        /* Row-major contiguity; a dim of size 1 may carry any stride (PyTorch does not normalise it). */
        int64_t want = 1;
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (t->shape[d] != 1 && stride[d] != want)
                return kc_fail(u->err, KC_ERR_UNSUPPORTED,
                               "%s: pickle byte %zu: tensor storage '%s' has stride %" PRId64 " in dim %d where a "
                               "contiguous layout has %" PRId64 "; non-contiguous tensors are not supported "
                               "(save with .contiguous())",
                               u->what, u->op_off, t->key, stride[d], d, want);
            want *= t->shape[d]; /* cannot overflow: bounded by numel */
        }
        int64_t end;
        if (!kc_i64_add(t->storage_offset, numel, &end) || end > t->storage_numel) {
            char m[300];
            snprintf(m, sizeof m,
                     "tensor needs elements [%" PRId64 ", %" PRId64 " + %" PRId64 ") of storage '%s' which has %" PRId64,
                     t->storage_offset, t->storage_offset, numel, t->key, t->storage_numel);
            return bad(u, "%s%s", m, NULL);
        }
    }
    *out = v;
    return KC_OK;
}

static kc_status op_reduce(up *u) {
    val *args = NULL, *fn = NULL, *res = NULL;
    kc_status s = pop(u, &args);
    if (!s) s = pop(u, &fn);
    if (s) return s;
    if (args->type != V_TUPLE) return bad(u, "REDUCE arguments are not a tuple%s%s", NULL, NULL);
    if (fn->type != V_GLOBAL || fn->g == G_STORAGE)
        return bad(u, "REDUCE applied to something that is not an allowed callable%s%s", NULL, NULL);
    switch (fn->g) {
    case G_ODICT:
        if (args->n != 0) return bad(u, "OrderedDict is only accepted with no arguments%s%s", NULL, NULL);
        res = new_val(u, V_DICT);
        if (!res) return oom(u);
        break;
    case G_REBUILD_V2:
        s = rebuild_tensor(u, args, &res);
        if (s) return s;
        break;
    case G_REBUILD_PARAM: /* _rebuild_parameter(data, requires_grad, backward_hooks): the tensor itself */
        if (args->n != 3 || args->items[0]->type != V_TENSOR)
            return bad(u, "_rebuild_parameter expects (tensor, requires_grad, backward_hooks)%s%s", NULL, NULL);
        res = args->items[0];
        break;
    case G_STORAGE:
        break;
    }
    return push(u, res);
}

static kc_status op_setitems(up *u, int64_t first, int64_t count) {
    if (count % 2) return bad(u, "SETITEMS with an odd number of values%s%s", NULL, NULL);
    val *d;
    kc_status s = top(u, &d);
    if (s) return s;
    if (d->type != V_DICT) return bad(u, "SETITEM(S) target is not a dict%s%s", NULL, NULL);
    for (int64_t i = 0; i < count && !s; i++) s = add_item(u, d, u->stack[first + i]);
    return s;
}

static kc_status op_appends(up *u, int64_t first, int64_t count) {
    val *l;
    kc_status s = top(u, &l);
    if (s) return s;
    if (l->type != V_LIST) return bad(u, "APPEND(S) target is not a list%s%s", NULL, NULL);
    for (int64_t i = 0; i < count && !s; i++) s = add_item(u, l, u->stack[first + i]);
    return s;
}

static kc_status make_tuple(up *u, int64_t first, int64_t count) {
    val *t = new_val(u, V_TUPLE);
    if (!t) return oom(u);
    for (int64_t i = 0; i < count; i++) {
        kc_status s = add_item(u, t, u->stack[first + i]);
        if (s) return s;
    }
    return push(u, t);
}

static kc_status memo_put(up *u, uint64_t idx) {
    if (idx >= KC_PICKLE_MAX_MEMO) {
        char m[64];
        snprintf(m, sizeof m, "%" PRIu64, idx);
        return bad(u, "memo index %s exceeds the limit%s", m, NULL);
    }
    val *v;
    kc_status s = top(u, &v);
    if (s) return s;
    if ((int64_t)idx >= u->nmemo) {
        int64_t nc = u->nmemo ? u->nmemo : 64;
        while (nc <= (int64_t)idx) nc *= 2;
        val **nm = realloc(u->memo, (size_t)nc * sizeof *nm);
        if (!nm) return oom(u);
        memset(nm + u->nmemo, 0, (size_t)(nc - u->nmemo) * sizeof *nm);
        u->memo = nm;
        u->nmemo = nc;
    }
    u->memo[idx] = v;
    return KC_OK;
}

static kc_status memo_get(up *u, uint64_t idx) {
    if (idx >= (uint64_t)u->nmemo || !u->memo[idx]) {
        char m[64];
        snprintf(m, sizeof m, "%" PRIu64, idx);
        return bad(u, "memo index %s was never stored%s", m, NULL);
    }
    return push(u, u->memo[idx]);
}

static kc_status run(up *u, val **result) {
    for (;;) {
        if (u->pos >= u->size) {
            u->op_off = u->pos;
            return bad(u, "pickle ends without STOP (truncated?)%s%s", NULL, NULL);
        }
        u->op_off = u->pos;
        unsigned char op = u->d[u->pos++];
        kc_status s = KC_OK;
        int64_t first = 0, count = 0;
        val *a = NULL, *b = NULL, *c = NULL;
        switch (op) {
        case 0x80: /* PROTO */
            if (!(s = need(u, 1))) {
                if (u->d[u->pos] > 5) return bad(u, "unknown pickle protocol%s%s", NULL, NULL);
                u->pos++;
            }
            break;
        case '}': s = push(u, new_val(u, V_DICT)); break;  /* EMPTY_DICT */
        case ']': s = push(u, new_val(u, V_LIST)); break;  /* EMPTY_LIST */
        case ')': s = push(u, new_val(u, V_TUPLE)); break; /* EMPTY_TUPLE */
        case 'N': s = push(u, new_val(u, V_NONE)); break;  /* NONE */
        case 0x88: s = push_int(u, V_BOOL, 1); break;      /* NEWTRUE */
        case 0x89: s = push_int(u, V_BOOL, 0); break;      /* NEWFALSE */
        case '(':                                          /* MARK */
            if (u->nmarks == u->capmarks) {
                if (u->capmarks >= KC_PICKLE_MAX_STACK) return bad(u, "too many nested MARKs%s%s", NULL, NULL);
                int64_t nc = u->capmarks ? u->capmarks * 2 : 16;
                int64_t *nm = realloc(u->marks, (size_t)nc * sizeof *nm);
                if (!nm) return oom(u);
                u->marks = nm;
                u->capmarks = nc;
            }
            u->marks[u->nmarks++] = u->nstack;
            break;
        case 'X': /* BINUNICODE */
            if (!(s = need(u, 4))) {
                uint64_t len = le(u->d + u->pos, 4);
                u->pos += 4;
                s = op_str(u, (size_t)len);
            }
            break;
        case 0x8c: /* SHORT_BINUNICODE (protocol 4, harmless) */
            if (!(s = need(u, 1))) {
                size_t len = u->d[u->pos++];
                s = op_str(u, len);
            }
            break;
        case 'J': /* BININT: signed 32-bit */
            if (!(s = need(u, 4))) {
                s = push_int(u, V_INT, (int32_t)(uint32_t)le(u->d + u->pos, 4));
                u->pos += 4;
            }
            break;
        case 'K': /* BININT1 */
            if (!(s = need(u, 1))) s = push_int(u, V_INT, u->d[u->pos++]);
            break;
        case 'M': /* BININT2 */
            if (!(s = need(u, 2))) {
                s = push_int(u, V_INT, (int64_t)le(u->d + u->pos, 2));
                u->pos += 2;
            }
            break;
        case 0x8a: /* LONG1: n bytes of little-endian two's complement */
            if (!(s = need(u, 1))) {
                size_t n = u->d[u->pos++];
                if (n > 8) return bad(u, "LONG1 integer wider than 64 bits%s%s", NULL, NULL);
                if (!(s = need(u, n))) {
                    uint64_t v = le(u->d + u->pos, (int)n);
                    if (n > 0 && n < 8 && (u->d[u->pos + n - 1] & 0x80)) v |= ~(uint64_t)0 << (8 * n);
                    u->pos += n;
                    s = push_int(u, V_INT, (int64_t)v);
                }
            }
            break;
        case 'c': s = op_global(u); break; /* GLOBAL */
        case 'Q': s = op_persid(u); break; /* BINPERSID */
        case 'R': s = op_reduce(u); break; /* REDUCE */
        case 't': /* TUPLE */
            if (!(s = pop_mark(u, &first, &count))) s = make_tuple(u, first, count);
            break;
        case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
            int64_t k = op - 0x84;
            if (u->nstack - floor_of(u) < k) return bad(u, "TUPLE%s needs more values than the stack holds%s", k == 1 ? "1" : k == 2 ? "2" : "3", NULL);
            u->nstack -= k;
            s = make_tuple(u, u->nstack, k);
            break;
        }
        case 's': /* SETITEM */
            if (!(s = pop(u, &b)) && !(s = pop(u, &a)) && !(s = top(u, &c))) {
                if (c->type != V_DICT) return bad(u, "SETITEM target is not a dict%s%s", NULL, NULL);
                if (!(s = add_item(u, c, a))) s = add_item(u, c, b);
            }
            break;
        case 'u': /* SETITEMS */
            if (!(s = pop_mark(u, &first, &count))) s = op_setitems(u, first, count);
            break;
        case 'a': /* APPEND */
            if (!(s = pop(u, &a)) && !(s = top(u, &c))) {
                if (c->type != V_LIST) return bad(u, "APPEND target is not a list%s%s", NULL, NULL);
                s = add_item(u, c, a);
            }
            break;
        case 'e': /* APPENDS */
            if (!(s = pop_mark(u, &first, &count))) s = op_appends(u, first, count);
            break;
        case 'b': /* BUILD: only the OrderedDict state (e.g. state_dict()._metadata) is accepted, and dropped */
            if (!(s = pop(u, &a)) && !(s = top(u, &c))) {
                if (c->type != V_DICT || (a->type != V_DICT && a->type != V_NONE && a->type != V_TUPLE))
                    return bad(u, "BUILD is only accepted on a dict%s%s", NULL, NULL);
            }
            break;
        case 'q': /* BINPUT */
            if (!(s = need(u, 1))) s = memo_put(u, u->d[u->pos++]);
            break;
        case 'r': /* LONG_BINPUT */
            if (!(s = need(u, 4))) {
                uint64_t i = le(u->d + u->pos, 4);
                u->pos += 4;
                s = memo_put(u, i);
            }
            break;
        case 'h': /* BINGET */
            if (!(s = need(u, 1))) s = memo_get(u, u->d[u->pos++]);
            break;
        case 'j': /* LONG_BINGET */
            if (!(s = need(u, 4))) {
                uint64_t i = le(u->d + u->pos, 4);
                u->pos += 4;
                s = memo_get(u, i);
            }
            break;
        case '.': /* STOP */
            if (u->nmarks || u->nstack != 1) return bad(u, "STOP with an unbalanced stack%s%s", NULL, NULL);
            *result = u->stack[0];
            return KC_OK;
        default: {
            char m[48];
            snprintf(m, sizeof m, "0x%02x ('%c')", op, (op >= 32 && op < 127) ? op : '?');
            return bad(u, "opcode %s is not supported in a weights checkpoint (refusing)%s", m, NULL);
        }
        }
        if (s) return s;
    }
}

void kc_pickle_free(kc_pickle_tensor *t, int64_t n) {
    if (!t) return;
    for (int64_t i = 0; i < n; i++) free(t[i].name);
    free(t);
}

kc_status kc_pickle_load_state_dict(const unsigned char *data, size_t size, const char *what,
                                    kc_pickle_tensor **out, int64_t *n, kc_err *err) {
    *out = NULL;
    *n = 0;
    up u = {.d = data, .size = size, .what = what, .err = err};
    val *root = NULL;
    kc_pickle_tensor *res = NULL;
    int64_t nres = 0;
    kc_status s = run(&u, &root);
    if (s) goto done;
    if (root->type != V_DICT) {
        s = kc_fail(err, KC_ERR_FORMAT, "%s: the pickle holds no dict (not a state dict)", what);
        goto done;
    }
    res = calloc((size_t)(root->n / 2) + 1, sizeof *res);
    if (!res) { s = oom(&u); goto done; }
    for (int64_t i = 0; i + 1 < root->n; i += 2) {
        const val *k = root->items[i], *v = root->items[i + 1];
        if (k->type != V_STR || k->slen == 0 || k->slen > MAX_NAME || strlen(k->s) != k->slen) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: state-dict key %" PRId64 " is not a non-empty string of at most %d bytes",
                        what, i / 2, MAX_NAME);
            goto done;
        }
        if (v->type != V_TENSOR) {
            s = kc_fail(err, KC_ERR_FORMAT, "%s: state-dict value '%s' is not a tensor", what, k->s);
            goto done;
        }
        res[nres] = *v->t;
        res[nres].name = strdup(k->s);
        if (!res[nres].name) { s = oom(&u); goto done; }
        nres++;
    }
done:
    for (int64_t i = 0; i < u.npool; i++) {
        free(u.pool[i]->s);
        free(u.pool[i]->items);
        free(u.pool[i]->t);
        free(u.pool[i]);
    }
    free(u.pool);
    free(u.stack);
    free(u.marks);
    free(u.memo);
    if (s) {
        kc_pickle_free(res, nres);
        return s;
    }
    *out = res;
    *n = nres;
    return KC_OK;
}
