/* test_png.c - png_write_grid() round trip: write a grid, read it back with libpng, and check
 * the size, every tile pixel and the black gaps. Usage: test_png OUT.png */
#include "../png_grid.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 7, ROWS = 6, COLS = 5, PER_ROW = 3 };

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_png OUT.png\n");
        return EXIT_FAILURE;
    }
    const char *path = argv[1];
    static float images[N * ROWS * COLS];
    for (int i = 0; i < N * ROWS * COLS; i++) /* a ramp past both ends of [-1, 1] */
        images[i] = -1.25f + 2.5f * (float)i / (N * ROWS * COLS - 1);
    char err[512] = "";
    if (png_write_grid(path, images, N, ROWS, COLS, PER_ROW, err, sizeof err) != 0) {
        fprintf(stderr, "FAIL: write: %s\n", err);
        return EXIT_FAILURE;
    }

    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path)) {
        fprintf(stderr, "FAIL: libpng cannot read %s back: %s\n", path, img.message);
        return EXIT_FAILURE;
    }
    img.format = PNG_FORMAT_GRAY;
    const unsigned gap = PNG_GRID_GAP, grid_rows = (N + PER_ROW - 1) / PER_ROW;
    const unsigned want_w = gap + PER_ROW * (COLS + gap), want_h = gap + grid_rows * (ROWS + gap);
    unsigned char *pix = malloc(PNG_IMAGE_SIZE(img));
    if (pix == NULL || !png_image_finish_read(&img, NULL, pix, 0, NULL)) {
        fprintf(stderr, "FAIL: reading pixels: %s\n", img.message);
        return EXIT_FAILURE;
    }
    int failures = 0;
    if (img.width != want_w || img.height != want_h) {
        fprintf(stderr, "FAIL: size %ux%u, expected %ux%u\n", img.width, img.height, want_w,
                want_h);
        free(pix);
        return EXIT_FAILURE;
    }
    /* Expected canvas: black, with each tile's pixels in place. */
    unsigned char *want = calloc((size_t)want_w * want_h, 1);
    if (want == NULL)
        return EXIT_FAILURE;
    for (int i = 0; i < N; i++)
        for (int y = 0; y < ROWS; y++)
            for (int x = 0; x < COLS; x++) {
                unsigned top = gap + (unsigned)(i / PER_ROW) * (ROWS + gap);
                unsigned left = gap + (unsigned)(i % PER_ROW) * (COLS + gap);
                want[(top + (unsigned)y) * want_w + left + (unsigned)x] =
                    png_grid_pixel(images[(i * ROWS + y) * COLS + x]);
            }
    for (size_t p = 0; p < (size_t)want_w * want_h; p++)
        if (pix[p] != want[p] && failures++ < 5)
            fprintf(stderr, "FAIL: pixel (%zu, %zu) = %u, expected %u\n", p % want_w, p / want_w,
                    pix[p], want[p]);
    /* The mapping itself: clipped ends, and the middle. */
    if (png_grid_pixel(-1.25f) != 0 || png_grid_pixel(1.25f) != 255 ||
        png_grid_pixel(0.0f) != 128 || png_grid_pixel(-1.0f) != 0 || png_grid_pixel(1.0f) != 255) {
        fprintf(stderr, "FAIL: png_grid_pixel mapping\n");
        failures++;
    }
    /* Errors are reported, not crashed on. */
    if (png_write_grid("/nonexistent-dir/x.png", images, N, ROWS, COLS, PER_ROW, err, sizeof err) !=
            -1 ||
        strstr(err, "cannot create") == NULL) {
        fprintf(stderr, "FAIL: unwritable path not reported (%s)\n", err);
        failures++;
    }
    if (png_write_grid(path, images, 0, ROWS, COLS, PER_ROW, err, sizeof err) != -1) {
        fprintf(stderr, "FAIL: n = 0 accepted\n");
        failures++;
    }
    free(pix);
    free(want);
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return EXIT_FAILURE;
    }
    printf("PNG round trip passed: %ux%u grid of %d tiles\n", want_w, want_h, N);
    return EXIT_SUCCESS;
}
