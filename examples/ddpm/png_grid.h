/* png_grid.h - writes a batch of grey images as one PNG grid, with libpng. */
#ifndef DDPM_PNG_GRID_H
#define DDPM_PNG_GRID_H

#include <stddef.h>
#include <stdio.h>

/* Gap between tiles and around the grid, in pixels (drawn black). */
#define PNG_GRID_GAP 2

/*! png_write_grid() :
 *  Writes n images (each rows x cols floats, row-major, values in [-1, 1]; values outside are
 *  clipped) as an 8-bit greyscale PNG with `per_row` tiles per grid row, separated and framed by
 *  PNG_GRID_GAP black pixels. Pixel value: round((v + 1) * 127.5).
 *  The grid is (PNG_GRID_GAP + per_row * (cols + PNG_GRID_GAP)) pixels wide and
 *  (PNG_GRID_GAP + ceil(n / per_row) * (rows + PNG_GRID_GAP)) high; unused tiles are black.
 *  @return 0, or -1 with a message in err (cannot create the file, bad arguments, libpng error). */
int png_write_grid(const char *path, const float *images, size_t n, int rows, int cols, int per_row,
                   char *err, size_t errlen);

/*! png_write_file() :
 *  Writes width x height 8-bit pixels (channels 1: grey, 3: RGB; row-major, tightly packed) to
 *  a new file at path as a PNG; row_ptrs has room for height pointers.
 *  @return 0, or -1 with a message in err. Shared by png_write_grid() and plot.c. */
int png_write_file(const char *path, const unsigned char *canvas, unsigned char **row_ptrs,
                   size_t width, size_t height, int channels, char *err, size_t errlen);

/* The 8-bit pixel png_write_grid() stores for the value v. */
unsigned char png_grid_pixel(float v);

#endif /* DDPM_PNG_GRID_H */
