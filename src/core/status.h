/* status.h — status codes and error messages with context.
 *
 * Every fallible function returns kc_status and writes a message into a caller-provided kc_err.
 * The first error wins; callers may prepend context ("loading unet: ..."). The library never
 * calls exit/abort and never prints: messages travel back to the caller. */
#ifndef KC_CORE_STATUS_H
#define KC_CORE_STATUS_H

#include <stddef.h>

typedef enum {
    KC_OK = 0,
    KC_ERR_IO,          /* open/read/map failed; message includes strerror(errno)   */
    KC_ERR_FORMAT,      /* file is not what it claims: truncated, inconsistent      */
    KC_ERR_UNSUPPORTED, /* valid input we do not implement (dtype, config value)    */
    KC_ERR_SHAPE,       /* tensor dtype/shape does not match the config             */
    KC_ERR_ARG,         /* bad user/caller argument: size, steps, prompt encoding   */
    KC_ERR_NOMEM,       /* allocation or arena exhausted                            */
    KC_ERR_CANCELLED,   /* progress callback asked to stop                          */
    KC_ERR_INTERNAL,    /* invariant violated: a bug; message says where            */
} kc_status;

#define KC_ERR_MSG_MAX 1024
typedef struct {
    kc_status code;
    char msg[KC_ERR_MSG_MAX];
} kc_err;

/* Formats the message into e (if e != NULL and no error is recorded yet) and returns code. */
kc_status kc_fail(kc_err *e, kc_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepends "context: " to the message already in e (no-op when e is NULL or holds no error). */
void kc_err_prepend(kc_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kc_err_clear(kc_err *e);
const char *kc_status_name(kc_status s);

/* Programmer invariants inside kernels: on in debug/test builds, compiled out in release.
 * Never use for anything derived from a file, config, CLI or API argument. */
#ifdef NDEBUG
#define KC_ASSERT(x) ((void)0)
#else
void kc_assert_fail(const char *expr, const char *file, int line);
#define KC_ASSERT(x) ((x) ? (void)0 : kc_assert_fail(#x, __FILE__, __LINE__))
#endif

#endif
