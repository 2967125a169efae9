/* lap_sort.c - the k smallest entries of a row, sorted: a bounded max-heap, then insertion. */
#include <stdbool.h>

#include "core/fpenv.h" /* refuses -ffast-math builds */
#include "lap/lap_sort.h"

/* Max-heap on (h, j), lexicographic: the root is the largest of the smallest entries kept. */
static bool above(lap_entry a, lap_entry b) { return a.h > b.h || (a.h == b.h && a.j > b.j); }

static void sift_down(lap_entry *heap, size_t len, size_t at) {
    for (;;) {
        size_t l = 2 * at + 1, big = at;
        if (l < len && above(heap[l], heap[big]))
            big = l;
        if (l + 1 < len && above(heap[l + 1], heap[big]))
            big = l + 1;
        if (big == at)
            return;
        lap_entry t = heap[at];
        heap[at] = heap[big];
        heap[big] = t;
        at = big;
    }
}

/* Sorts e[0..len) by (h, j). */
void imi_lap_sort_entries(lap_entry *e, size_t len) {
    for (size_t a = 1; a < len; a++) {
        lap_entry x = e[a];
        size_t b = a;
        for (; b > 0 && above(e[b - 1], x); b--)
            e[b] = e[b - 1];
        e[b] = x;
    }
}

/* Puts the keep smallest of e[0..len) in out, sorted (bounded max-heap, then insertion sort). */
void imi_lap_keep_smallest(const lap_entry *e, size_t len, size_t keep, lap_entry *out) {
    size_t got = 0;
    for (size_t t = 0; t < len; t++) {
        if (got < keep) {
            out[got++] = e[t];
            if (got == keep)
                for (size_t a = keep / 2 + 1; a-- > 0;)
                    sift_down(out, keep, a);
        } else if (above(out[0], e[t])) {
            out[0] = e[t];
            sift_down(out, keep, 0);
        }
    }
    imi_lap_sort_entries(out, got);
}

/* The (t + 1)-th smallest of a[0..len) (t < len; no NaN): quickselect, reorders a. */
double imi_lap_kth_smallest(double *a, size_t len, size_t t) {
    size_t lo = 0, hi = len - 1;
    while (lo < hi) {
        const double pivot = a[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) { /* Hoare partition: a[lo..j] <= pivot <= a[i..hi] */
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i <= j) {
                double x = a[i];
                a[i] = a[j];
                a[j] = x;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (t <= j && j < hi)
            hi = j;
        else if (t >= i)
            lo = i;
        else
            return a[t];
    }
    return a[t];
}
