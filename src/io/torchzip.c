/* torchzip.c — placeholder until the PyTorch zip/pickle reader lands (issue #2, io helper):
 * refuses every .bin file with a clear message instead of guessing. */
#include "io/torchzip.h"

#include <string.h>

kc_status kc_torchzip_open(kc_torchzip *tz, const char *path, kc_err *err) {
    memset(tz, 0, sizeof *tz);
    return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: PyTorch zip checkpoints are not readable yet", path);
}
kc_status kc_torchzip_parse(kc_torchzip *tz, const unsigned char *data, uint64_t size, const char *path, kc_err *err) {
    (void)data; (void)size;
    return kc_torchzip_open(tz, path, err);
}
void kc_torchzip_close(kc_torchzip *tz) { (void)tz; }
int64_t kc_torchzip_count(const kc_torchzip *tz) { (void)tz; return 0; }
void kc_torchzip_get(const kc_torchzip *tz, int64_t i, const char **name, kc_tensor *t) {
    (void)tz; (void)i; *name = ""; memset(t, 0, sizeof *t);
}
uint64_t kc_torchzip_file_size(const kc_torchzip *tz) { (void)tz; return 0; }
