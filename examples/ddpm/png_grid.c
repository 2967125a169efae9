/* png_grid.c - PNG grid writer: lays out the tiles in memory, libpng does the encoding. */
#include "png_grid.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned char png_grid_pixel(float v) {
    if (!(v > -1.0f)) /* also catches NaN */
        return 0;
    if (v >= 1.0f)
        return 255;
    return (unsigned char)lrint((v + 1.0) * 127.5);
}

/* Kept apart from the layout so that setjmp protects only libpng calls and no local that changes
   after setjmp is read after a longjmp. */
static int png_encode(FILE *fp, const unsigned char *canvas, png_bytep *row_ptrs, size_t width,
               size_t height, int channels, char *err, size_t errlen, const char *path) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (png == NULL || info == NULL) {
        png_destroy_write_struct(&png, &info);
        snprintf(err, errlen, "%s: libpng could not start (out of memory)", path);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        snprintf(err, errlen, "%s: libpng failed while writing", path);
        return -1;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    for (size_t y = 0; y < height; y++)
        row_ptrs[y] = (png_bytep)canvas + y * width * (size_t)channels;
    png_set_rows(png, info, row_ptrs);
    png_write_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int png_write_file(const char *path, const unsigned char *canvas, png_bytep *row_ptrs,
                   size_t width, size_t height, int channels, char *err, size_t errlen) {
    errno = 0;
    FILE *fp = fopen(path, "wb");
    if (fp == NULL) {
        snprintf(err, errlen, "%s: cannot create (%s)", path, strerror(errno));
        return -1;
    }
    int status = png_encode(fp, canvas, row_ptrs, width, height, channels, err, errlen, path);
    if (fclose(fp) != 0 && status == 0) {
        snprintf(err, errlen, "%s: write failed (%s)", path, strerror(errno));
        status = -1;
    }
    return status;
}

int png_write_grid(const char *path, const float *images, size_t n, int rows, int cols, int per_row,
                   char *err, size_t errlen) {
    if (path == NULL || (images == NULL && n > 0) || n == 0 || rows <= 0 || cols <= 0 ||
        per_row <= 0 || rows > 4096 || cols > 4096 || per_row > 4096 || n > 4096u * 4096u) {
        snprintf(err, errlen, "png_write_grid: invalid arguments");
        return -1;
    }
    const size_t gap = PNG_GRID_GAP;
    size_t grid_rows = (n + (size_t)per_row - 1) / (size_t)per_row;
    size_t width = gap + (size_t)per_row * ((size_t)cols + gap);
    size_t height = gap + grid_rows * ((size_t)rows + gap);
    if (width > 65535 || height > 65535) {
        snprintf(err, errlen, "%s: a %zu x %zu grid is too large", path, width, height);
        return -1;
    }
    unsigned char *canvas = calloc(width * height, 1);
    png_bytep *row_ptrs = malloc(height * sizeof *row_ptrs);
    if (canvas == NULL || row_ptrs == NULL) {
        free(canvas);
        free(row_ptrs);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        size_t top = gap + (i / (size_t)per_row) * ((size_t)rows + gap);
        size_t left = gap + (i % (size_t)per_row) * ((size_t)cols + gap);
        const float *img = images + i * (size_t)rows * (size_t)cols;
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < cols; x++)
                canvas[(top + (size_t)y) * width + left + (size_t)x] =
                    png_grid_pixel(img[(size_t)y * (size_t)cols + (size_t)x]);
    }
    int status = png_write_file(path, canvas, row_ptrs, width, height, 1, err, errlen);
    free(canvas);
    free(row_ptrs);
    return status;
}
