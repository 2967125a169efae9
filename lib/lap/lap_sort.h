/* lap_sort.h - keeping the k smallest (reduced cost, column) entries of a row, in order: what
 * the candidate lists are built from (lap_lists.c). Ties order by the lower column. */
#ifndef IMM_LAP_SORT_H
#define IMM_LAP_SORT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    double h;
    int32_t j;
} lap_entry;

/* Sorts e[0..len) by (h, j). */
void imi_lap_sort_entries(lap_entry *e, size_t len);

/* The (t + 1)-th smallest of a[0..len) (t < len; no NaN): quickselect, reorders a. */
double imi_lap_kth_smallest(double *a, size_t len, size_t t);

/* Puts the keep smallest of e[0..len) in out, sorted by (h, j). */
void imi_lap_keep_smallest(const lap_entry *e, size_t len, size_t keep, lap_entry *out);

#endif
