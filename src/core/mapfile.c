/* mapfile.c — see mapfile.h. */
#include "core/mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

kc_status kc_mapfile_open(kc_mapfile *m, const char *path, kc_err *err) {
    memset(m, 0, sizeof *m);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return kc_fail(err, KC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return kc_fail(err, KC_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return kc_fail(err, KC_ERR_IO, "%s: not a regular file", path);
    }
    m->path = strdup(path);
    if (!m->path) {
        close(fd);
        return kc_fail(err, KC_ERR_NOMEM, "%s: out of memory", path);
    }
    m->size = (uint64_t)st.st_size;
    if (m->size > 0) {
        void *p = mmap(NULL, (size_t)m->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            free(m->path);
            m->path = NULL;
            return kc_fail(err, KC_ERR_IO, "%s: cannot map %llu bytes: %s", path, (unsigned long long)st.st_size,
                           strerror(e));
        }
        m->data = p;
    }
    close(fd);
    return KC_OK;
}

void kc_mapfile_close(kc_mapfile *m) {
    if (m->data) munmap((void *)m->data, (size_t)m->size);
    free(m->path);
    memset(m, 0, sizeof *m);
}

void kc_map_release(const void *p, size_t n) {
    const long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0 || !p || !n) return;
    uintptr_t a = ((uintptr_t)p + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1), e = ((uintptr_t)p + n) & ~((uintptr_t)pg - 1);
    if (e > a) (void)madvise((void *)a, e - a, MADV_DONTNEED); /* advice only: failure changes nothing */
}

#define MAP_HDR 64 /* bytes before the returned pointer: the mapping's size */

void *kc_map_alloc(size_t n) {
    if (n > SIZE_MAX - MAP_HDR) return NULL;
    void *p = mmap(NULL, n + MAP_HDR, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    *(size_t *)p = n + MAP_HDR;
    return (unsigned char *)p + MAP_HDR;
}

void kc_map_free(void *p) {
    if (!p) return;
    unsigned char *b = (unsigned char *)p - MAP_HDR;
    munmap(b, *(size_t *)(void *)b);
}

kc_status kc_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len, kc_err *err) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return kc_fail(err, KC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return kc_fail(err, KC_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        fclose(f);
        return kc_fail(err, KC_ERR_FORMAT, "%s: file is %lld bytes, more than the %zu allowed for this kind of file",
                       path, (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return kc_fail(err, KC_ERR_NOMEM, "%s: out of memory", path);
    }
    if (n && fread(buf, 1, n, f) != n) {
        free(buf);
        fclose(f);
        return kc_fail(err, KC_ERR_IO, "%s: short read", path);
    }
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    if (out_len) *out_len = n;
    return KC_OK;
}

int kc_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int kc_dir_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
