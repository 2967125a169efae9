/* plot.h - a line chart with shaded bands, written as an RGB PNG with libpng.
 *
 * Just enough for imm-ddpm's comparison plot: one line per series (the mean), a translucent
 * band around it (an interval), dots at the data points, axes with round-number ticks, a title
 * and a legend, in a built-in 5x7 pixel font (ASCII letters, digits and a few signs). */
#ifndef DDPM_PLOT_H
#define DDPM_PLOT_H

#include <stddef.h>

typedef struct plot_series {
    const char *label;
    unsigned char rgb[3];
    int n;                 /* points, x increasing */
    const double *x, *y;   /* the line */
    const double *lo, *hi; /* the band, or NULL for none (NAN entries are skipped) */
} plot_series;

typedef struct plot_spec {
    const char *title, *subtitle, *xlabel, *ylabel;
    int width, height; /* pixels; 0 = 900 x 560 */
    int zero_line;     /* nonzero: the y range includes 0, marked by a dashed line */
} plot_spec;

/*! plot_write_png() :
 *  Draws the series on axes that span every line and band value (x from 0), and writes the PNG.
 *  @return 0, or -1 with a message in err (bad arguments, no finite value, cannot create the
 *          file, libpng error). */
int plot_write_png(const char *path, const plot_spec *spec, const plot_series *series, int n_series,
                   char *err, size_t errlen);

/* The tick spacing plot_write_png() uses for a range: 1, 2 or 5 times a power of ten, giving at
   most max_ticks + 1 ticks over [lo, hi]. Exposed for the test. */
double plot_nice_step(double lo, double hi, int max_ticks);

#endif /* DDPM_PLOT_H */
