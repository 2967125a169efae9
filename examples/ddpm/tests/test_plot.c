/* test_plot.c - plot_write_png(): the file is a PNG of the requested size that libpng reads
 * back, with each series' colour drawn (lines), its band tinted in, a white background and black
 * axes; tick spacing; errors reported. Usage: test_plot OUT.png */
#include "../plot.h"

#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { W = 640, H = 400 };

static int failures;

static void expect(int cond, const char *what) {
    printf("%s: %s\n", cond ? "ok" : "FAIL", what);
    failures += !cond;
}

/* Pixels within `tol` of colour (r, g, b). */
static long count_colour(const unsigned char *pix, int r, int g, int b, int tol) {
    long n = 0;
    for (size_t i = 0; i < (size_t)W * H; i++)
        n += abs(pix[3 * i] - r) <= tol && abs(pix[3 * i + 1] - g) <= tol &&
             abs(pix[3 * i + 2] - b) <= tol;
    return n;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_plot OUT.png\n");
        return EXIT_FAILURE;
    }
    const char *path = argv[1];
    const double x[] = {500, 1000, 1500, 2000}, y1[] = {40, 25, 18, 15}, lo1[] = {36, 22, 16, 13},
                 hi1[] = {44, 28, 20, 17}, y2[] = {45, 30, 20, 14};
    const double nan_band[] = {NAN, NAN, NAN, NAN};
    plot_series s[2] = {
        {.label = "assign", .rgb = {214, 39, 40}, .n = 4, .x = x, .y = y1, .lo = lo1, .hi = hi1},
        {.label = "vanilla",
         .rgb = {31, 119, 180},
         .n = 4,
         .x = x,
         .y = y2,
         .lo = nan_band,
         .hi = nan_band}};
    plot_spec spec = {.title = "FD vs step",
                      .subtitle = "test: 0123456789 +-=%()[]:/'",
                      .xlabel = "training step",
                      .ylabel = "FD",
                      .width = W,
                      .height = H};
    char err[512] = "";
    if (plot_write_png(path, &spec, s, 2, err, sizeof err) != 0) {
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
    expect(img.width == W && img.height == H, "size as requested");
    img.format = PNG_FORMAT_RGB;
    unsigned char *pix = malloc(PNG_IMAGE_SIZE(img));
    if (pix == NULL || !png_image_finish_read(&img, NULL, pix, 0, NULL)) {
        fprintf(stderr, "FAIL: reading pixels: %s\n", img.message);
        return EXIT_FAILURE;
    }
    long white = count_colour(pix, 255, 255, 255, 0), black = count_colour(pix, 0, 0, 0, 0);
    long red = count_colour(pix, 214, 39, 40, 2), blue = count_colour(pix, 31, 119, 180, 2);
    /* The band: red at alpha 0.22 over white = round(255 + 0.22 (c - 255)) = (246, 207, 208). */
    long band = count_colour(pix, 246, 207, 208, 2);
    printf("white %ld, black %ld, red %ld, blue %ld, band %ld pixels\n", white, black, red, blue,
           band);
    expect(white > (long)W * H / 2, "mostly white background");
    expect(black > 1000, "black axes, ticks and text");
    expect(red > 300, "the red line is drawn");
    expect(blue > 300, "the blue line is drawn");
    expect(band > 2000, "the red band is drawn");
    /* The band spans x = 500..2000 of the data and lies between its bounds: every band pixel's
       column is inside the plot area, i.e. not in the left margin. */
    int band_in_margin = 0;
    for (int yy = 0; yy < H; yy++)
        for (int xx = 0; xx < 60; xx++) {
            const unsigned char *p = pix + 3 * ((size_t)yy * W + (size_t)xx);
            band_in_margin += abs(p[0] - 246) <= 2 && abs(p[1] - 207) <= 2 && abs(p[2] - 208) <= 2;
        }
    expect(band_in_margin == 0, "no band in the left margin");
    free(pix);

    expect(plot_nice_step(0, 4000, 10) == 500, "ticks over 0..4000: 500");
    expect(plot_nice_step(10.3, 47.2, 8) == 5, "ticks over 10.3..47.2: 5");
    expect(fabs(plot_nice_step(0, 1, 5) - 0.2) < 1e-12, "ticks over 0..1: 0.2");
    expect(plot_nice_step(0, 100, 10) == 10, "ticks over 0..100: 10");

    expect(plot_write_png("/nonexistent-dir/x.png", &spec, s, 2, err, sizeof err) == -1 &&
               strstr(err, "cannot create") != NULL,
           "an unwritable path is reported");
    expect(plot_write_png(path, &spec, s, 0, err, sizeof err) == -1, "no series refused");
    plot_series nothing = {.label = "nan", .n = 4, .x = x, .y = nan_band};
    expect(plot_write_png(path, &spec, &nothing, 1, err, sizeof err) == -1,
           "a series without a finite value refused");
    if (failures) {
        printf("%d failure(s)\n", failures);
        return EXIT_FAILURE;
    }
    printf("plot tests passed\n");
    return EXIT_SUCCESS;
}
