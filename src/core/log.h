/* log.h — the library never writes to stdout/stderr; it reports through a callback. */
#ifndef KC_CORE_LOG_H
#define KC_CORE_LOG_H

enum { KC_LOG_ERROR = 0, KC_LOG_WARN = 1, KC_LOG_INFO = 2, KC_LOG_DEBUG = 3 };

typedef void (*kc_log_fn)(int level, const char *msg, void *user);

typedef struct {
    kc_log_fn fn;   /* NULL = drop messages */
    void *user;
    int level;      /* messages above this level are dropped */
} kc_logger;

void kc_log(const kc_logger *lg, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
