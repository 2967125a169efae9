/* idx_gz.h - reader for the IDX image files of MNIST / Fashion-MNIST, gzip-compressed or not.
 *
 * An IDX image file is a big-endian header - magic 0x00000803 (unsigned bytes, 3 dimensions),
 * then count, rows, cols as uint32 - followed by count * rows * cols pixel bytes. zlib reads
 * both the .gz files Debian ships and uncompressed files. */
#ifndef DDPM_IDX_GZ_H
#define DDPM_IDX_GZ_H

#include <stddef.h>

/* Upper bound on rows * cols accepted from a header (a corrupt header must not make us
   allocate gigabytes). */
#define IDX_MAX_IMAGE_PIXELS (1u << 20)

/*! idx_read_images() :
 *  Reads up to max_count images (0 = all) from path, scaling pixel p to p / 127.5 - 1, i.e.
 *  into [-1, 1]. On success *images (malloc'ed, count * rows * cols floats, row-major, the
 *  caller frees it), *count, *rows, *cols are set and 0 is returned. On failure -1 is returned,
 *  the outputs are untouched and err (errlen bytes) holds a message naming the file and the
 *  problem: missing file, not an IDX image file, implausible dimensions, truncated data, or a
 *  corrupt gzip stream. */
int idx_read_images(const char *path, size_t max_count, float **images, size_t *count, int *rows,
                    int *cols, char *err, size_t errlen);

#endif /* DDPM_IDX_GZ_H */
