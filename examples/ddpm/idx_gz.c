/* idx_gz.c - IDX image reader over zlib's gz* stream interface. */
#include "idx_gz.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void set_error(char *err, size_t errlen, const char *fmt, ...) {
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Reads exactly n bytes; distinguishes a zlib error (corrupt stream) from a short file. */
static int read_exact(gzFile f, void *buf, size_t n, const char *path, const char *what, char *err,
                      size_t errlen) {
    unsigned char *p = buf;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(f, p, chunk);
        if (got < 0) {
            int code;
            const char *msg = gzerror(f, &code);
            set_error(err, errlen, "%s: corrupt compressed data while reading the %s (%s)", path,
                      what, msg);
            return -1;
        }
        if (got == 0) {
            int code;
            const char *msg = gzerror(f, &code);
            if (code != Z_OK && code != Z_BUF_ERROR)
                set_error(err, errlen, "%s: corrupt compressed data while reading the %s (%s)",
                          path, what, msg);
            else
                set_error(err, errlen, "%s: file truncated while reading the %s", path, what);
            return -1;
        }
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

static uint32_t be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

int idx_read_images(const char *path, size_t max_count, float **images, size_t *count, int *rows,
                    int *cols, char *err, size_t errlen) {
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (f == NULL) {
        set_error(err, errlen, "%s: cannot open (%s)", path,
                  errno ? strerror(errno) : "out of memory");
        return -1;
    }
    int status = -1;
    unsigned char *pixels = NULL;
    float *out = NULL;
    unsigned char header[16];
    if (read_exact(f, header, sizeof header, path, "header", err, errlen) != 0)
        goto done;
    uint32_t magic = be32(header);
    if (magic != 0x00000803u) {
        set_error(err, errlen,
                  "%s: not an IDX image file (magic 0x%08lx, expected 0x00000803 for unsigned "
                  "bytes in 3 dimensions)",
                  path, (unsigned long)magic);
        goto done;
    }
    uint32_t n = be32(header + 4), r = be32(header + 8), c = be32(header + 12);
    if (r == 0 || c == 0 || r > 4096 || c > 4096 || (uint64_t)r * c > IDX_MAX_IMAGE_PIXELS) {
        set_error(err, errlen, "%s: implausible image size %lu x %lu in the header", path,
                  (unsigned long)r, (unsigned long)c);
        goto done;
    }
    if (n == 0) {
        set_error(err, errlen, "%s: the header says the file holds no images", path);
        goto done;
    }
    size_t want = n;
    if (max_count > 0 && max_count < want)
        want = max_count;
    size_t pixels_per_image = (size_t)r * c;
    if (want > SIZE_MAX / sizeof(float) / pixels_per_image) {
        set_error(err, errlen, "%s: %lu images of %lu x %lu do not fit in memory", path,
                  (unsigned long)n, (unsigned long)r, (unsigned long)c);
        goto done;
    }
    size_t total = want * pixels_per_image;
    pixels = malloc(total);
    out = malloc(total * sizeof(float));
    if (pixels == NULL || out == NULL) {
        set_error(err, errlen, "%s: out of memory for %zu images", path, want);
        goto done;
    }
    if (read_exact(f, pixels, total, path, "pixels", err, errlen) != 0)
        goto done;
    if (want == n) { /* reading on to the end makes zlib check the CRC of the whole stream */
        unsigned char extra;
        if (gzread(f, &extra, 1) < 0) {
            int code;
            set_error(err, errlen, "%s: corrupt compressed data at the end of the file (%s)", path,
                      gzerror(f, &code));
            goto done;
        }
    }
    for (size_t i = 0; i < total; i++)
        out[i] = (float)(pixels[i] / 127.5 - 1.0);
    *images = out;
    out = NULL;
    *count = want;
    *rows = (int)r;
    *cols = (int)c;
    status = 0;
done:
    free(pixels);
    free(out);
    gzclose(f);
    return status;
}
