/* test_idx.c - idx_read_images() on small generated files: valid (gzip and plain), and
 * corrupt in every way the reader must notice. Usage: test_idx WORK_DIR */
#define _POSIX_C_SOURCE 200809L
#include "../idx_gz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static int failures;
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

enum { N = 3, ROWS = 4, COLS = 5 };

/* An IDX image file: header (magic, n, rows, cols), then `pixels` bytes of pixel data. */
static size_t make_idx(unsigned char *buf, unsigned magic, unsigned n, unsigned rows, unsigned cols,
                       size_t pixels) {
    unsigned words[4] = {magic, n, rows, cols};
    for (int w = 0; w < 4; w++)
        for (int b = 0; b < 4; b++)
            buf[w * 4 + b] = (unsigned char)(words[w] >> (24 - 8 * b));
    for (size_t i = 0; i < pixels; i++)
        buf[16 + i] = (unsigned char)(i * 37 % 256);
    return 16 + pixels;
}

static void write_raw(const char *path, const unsigned char *buf, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(buf, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(EXIT_FAILURE);
    }
}

static void write_gz(const char *path, const unsigned char *buf, size_t n) {
    gzFile f = gzopen(path, "wb9");
    if (f == NULL || gzwrite(f, buf, (unsigned)n) != (int)n || gzclose(f) != Z_OK) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(EXIT_FAILURE);
    }
}

static long read_file(const char *path, unsigned char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return (long)n;
}

/* Expects idx_read_images to fail with a message containing `expect`, outputs untouched. */
static void expect_error(const char *path, const char *expect, const char *what) {
    float sentinel_storage;
    float *images = &sentinel_storage;
    size_t count = 12345;
    int rows = -7, cols = -7;
    char err[512] = "";
    int rc = idx_read_images(path, 0, &images, &count, &rows, &cols, err, sizeof err);
    CHECK(rc == -1, "%s: returned %d", what, rc);
    CHECK(images == &sentinel_storage && count == 12345 && rows == -7 && cols == -7,
          "%s: outputs modified on error", what);
    CHECK(strstr(err, expect) != NULL, "%s: message '%s' lacks '%s'", what, err, expect);
    CHECK(strstr(err, path) != NULL, "%s: message '%s' does not name the file", what, err);
    printf("ok: %-34s -> %s\n", what, err);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_idx WORK_DIR\n");
        return EXIT_FAILURE;
    }
    const char *dir = argv[1];
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s\n", dir);
        return EXIT_FAILURE;
    }
    char path[1024];
    static unsigned char buf[1 << 16], gz[1 << 16];
    size_t len = make_idx(buf, 0x803, N, ROWS, COLS, N * ROWS * COLS);

    /* Valid gzip file: all images, then a prefix. */
    snprintf(path, sizeof path, "%s/good.gz", dir);
    write_gz(path, buf, len);
    float *images = NULL;
    size_t count = 0;
    int rows = 0, cols = 0;
    char err[512] = "";
    int rc = idx_read_images(path, 0, &images, &count, &rows, &cols, err, sizeof err);
    CHECK(rc == 0, "valid file rejected: %s", err);
    if (rc == 0) {
        CHECK(count == N && rows == ROWS && cols == COLS, "shape %zu x %d x %d", count, rows, cols);
        for (size_t i = 0; i < N * ROWS * COLS; i++) {
            float want = (float)(buf[16 + i] / 127.5 - 1.0);
            CHECK(images[i] == want, "pixel %zu: %g != %g", i, images[i], want);
        }
        CHECK(images[0] == -1.0f, "pixel 0 (byte 0) should map to -1, got %g", images[0]);
        free(images);
    }
    rc = idx_read_images(path, 2, &images, &count, &rows, &cols, err, sizeof err);
    CHECK(rc == 0 && count == 2, "max_count 2: rc %d count %zu (%s)", rc, count, err);
    if (rc == 0)
        free(images);
    printf("ok: valid gzip file, all and first 2 images\n");

    /* Uncompressed files are read as they are. */
    snprintf(path, sizeof path, "%s/plain.idx", dir);
    write_raw(path, buf, len);
    rc = idx_read_images(path, 0, &images, &count, &rows, &cols, err, sizeof err);
    CHECK(rc == 0 && count == N, "plain file: rc %d (%s)", rc, err);
    if (rc == 0)
        free(images);
    printf("ok: valid uncompressed file\n");

    snprintf(path, sizeof path, "%s/does-not-exist.gz", dir);
    expect_error(path, "cannot open", "missing file");

    snprintf(path, sizeof path, "%s/empty.gz", dir);
    write_gz(path, buf, 0);
    expect_error(path, "truncated", "empty file");

    snprintf(path, sizeof path, "%s/labels.gz", dir); /* a label file is not an image file */
    write_gz(path, buf, make_idx(buf, 0x801, N, ROWS, COLS, 0));
    expect_error(path, "not an IDX image file", "wrong magic");

    snprintf(path, sizeof path, "%s/huge.gz", dir);
    write_gz(path, buf, make_idx(buf, 0x803, N, 100000, 100000, 0));
    expect_error(path, "implausible image size", "implausible dimensions");

    snprintf(path, sizeof path, "%s/zero.gz", dir);
    write_gz(path, buf, make_idx(buf, 0x803, 0, ROWS, COLS, 0));
    expect_error(path, "no images", "zero images");

    snprintf(path, sizeof path, "%s/short.gz", dir);
    write_gz(path, buf, make_idx(buf, 0x803, N, ROWS, COLS, (N - 1) * ROWS * COLS));
    expect_error(path, "truncated", "missing pixel data");

    /* Damage the compressed stream itself: a cut-off file, and flipped bytes. */
    len = make_idx(buf, 0x803, N, ROWS, COLS, N * ROWS * COLS);
    snprintf(path, sizeof path, "%s/good.gz", dir);
    write_gz(path, buf, len);
    long gz_len = read_file(path, gz, sizeof gz);
    CHECK(gz_len > 30, "compressed size %ld", gz_len);
    snprintf(path, sizeof path, "%s/cut.gz", dir);
    write_raw(path, gz, (size_t)gz_len / 2);
    expect_error(path, "", "gzip stream cut in half");

    for (long i = 12; i < gz_len - 8; i++) /* deflate data sits between header and trailer */
        gz[i] ^= 0x5A;
    snprintf(path, sizeof path, "%s/flipped.gz", dir);
    write_raw(path, gz, (size_t)gz_len);
    expect_error(path, "corrupt", "corrupt deflate data");

    read_file(strcat(strcpy(path, dir), "/good.gz"), gz, sizeof gz);
    gz[gz_len - 6] ^= 0xFF; /* CRC-32 of the trailer */
    snprintf(path, sizeof path, "%s/badcrc.gz", dir);
    write_raw(path, gz, (size_t)gz_len);
    expect_error(path, "corrupt", "wrong CRC in the gzip trailer");

    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return EXIT_FAILURE;
    }
    printf("IDX reader tests passed\n");
    return EXIT_SUCCESS;
}
