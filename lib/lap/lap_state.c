/* lap_state.c - the state's workspace layout and the setup steps shared by the auction and the
 * exact solver (free lists, column means, the spread, the potentials check). */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "core/internal.h"
#include "core/layout.h"
#include "core/parallel.h"
#include "lap/lap_state.h"

#define SPREAD_SAMPLE_ROWS 16
#define TIE_SAMPLE_ROWS 16 /* imi_lap_tied */
#define GATHER_SAMPLE_ROWS 32 /* imi_lap_minima_gather */
#define TIE_CLUSTERS 3
#define TIE_MIN_PER_ROW 6
#define TIE_WIDTH 0x1p-3
/* Below this many columns the warm start's bids scan their dense rows (in float while float
   resolves them: auction.c) instead of keeping candidate lists. Measured with float scans,
   image-noise / uniform costs, 2 threads, ms: B = 2048 10.7 / 18.3 with dense scans against
   16.5 / 25.4 with lists, 3072 26 / 40 against 34 / 58; at 4096 lists win on image-noise
   (56 against 63; uniform 88 / 84). */
#define LIST_MIN_COLS 4096

static size_t list_length(size_t cols) { return cols < LAP_CANDIDATES ? cols : LAP_CANDIDATES; }

/* The workspace of a rows x cols state: 5 double and 8 int32 arrays of cols entries, the dummy
   rows' zero costs, then the candidate lists (rows thresholds, rows x k columns and costs). */
typedef struct {
    size_t dbl, i32, zeros, thr, cand_j, cand_c, total;
} state_layout;

static state_layout layout_of(size_t rows, size_t cols) {
    const size_t k = list_length(cols);
    imi_layout l = IMI_LAYOUT_INIT;
    state_layout s;
    s.dbl = imi_layout_add(&l, 5 * cols, sizeof(double), sizeof(double));
    s.i32 = imi_layout_add(&l, 8 * cols, sizeof(int32_t), sizeof(int32_t));
    s.zeros = imi_layout_add(&l, cols, sizeof(float), sizeof(float));
    s.thr = imi_layout_add(&l, rows, sizeof(double), sizeof(double));
    s.cand_j = imi_layout_add(&l, rows * k, sizeof(int32_t), sizeof(int32_t)); /* rows <= cols */
    s.cand_c = imi_layout_add(&l, rows * k, sizeof(float), sizeof(float));
    s.total = imi_layout_total(&l, sizeof(double));
    return s;
}

size_t imi_lap_state_bytes(size_t rows, size_t cols) { return layout_of(rows, cols).total; }

void imi_lap_state_init(lap_state *s, const float *cost, size_t rows, size_t cols, int threads,
                        void *work) {
    const size_t n = cols;
    const state_layout l = layout_of(rows, cols);
    unsigned char *base = work;
    double *dp = (double *)(base + l.dbl);
    s->cost = cost;
    s->rows = rows;
    s->n = n;
    s->m = (cols - rows) * 8 <= cols ? n : rows; /* see lap_state.h */
    s->kern = imi_lap_kernels();
    s->threads = threads;
    s->forbidden = false;
    s->cmin = s->cmax = 0.0;
    s->v = dp;
    s->vf = NULL;
    s->d = dp + n;
    s->sc = dp + 2 * n;
    s->bid_val = dp + 3 * n;
    s->win_val = dp + 4 * n;
    int32_t *ip = (int32_t *)(base + l.i32);
    s->x = ip;
    s->y = ip + n;
    s->pred = ip + 2 * n;
    s->scanned = ip + 3 * n;
    s->free_ = ip + 4 * n;
    s->free2 = ip + 5 * n;
    s->bid_col = ip + 6 * n;
    s->win_k = ip + 7 * n;
    float *zeros = (float *)(base + l.zeros);
    memset(zeros, 0, n * sizeof(float));
    s->zeros = zeros;
    s->cap = list_length(n);
    s->k = n >= LIST_MIN_COLS ? s->cap : 0; /* k = 0: dense scans only */
    s->sparse = false;
    s->cand_n = s->free2;
    s->ucert = s->sc;
    s->scans = 0;
    s->long_arr = false;
    s->hub = false;
    s->in_team = false;
    s->bids = 0;
    s->augmentations = 0;
    s->rounds = 0;
    s->proved_sparse = false;
    for (int p = 0; p < 4; p++)
        s->seconds[p] = 0.0;
    s->clock = imi_lap_now();
    s->cand_thr = (double *)(base + l.thr);
    s->cand_j = (int32_t *)(base + l.cand_j);
    s->cand_c = (float *)(base + l.cand_c);
    for (size_t i = 0; i < rows; i++)
        s->cand_thr[i] = NAN;
}

size_t imi_lap_free_all(lap_state *s) {
    for (size_t j = 0; j < s->n; j++)
        s->y[j] = -1;
    for (size_t i = 0; i < s->m; i++) {
        s->x[i] = -1;
        s->free_[i] = (int32_t)i;
    }
    return s->m;
}

/* Column means of the finite costs (dummy rows' zeros included); columns with none get 0. */
static void column_means_finite(lap_state *s) {
    const size_t n = s->n, dummies = s->m - s->rows;
    double lo = dummies > 0 ? 0.0 : INFINITY, hi = dummies > 0 ? 0.0 : -INFINITY;
    double *count = s->d; /* scratch until the exact phases */
    for (size_t j = 0; j < n; j++) {
        s->v[j] = 0.0;
        count[j] = (double)dummies;
    }
    for (size_t i = 0; i < s->rows; i++) {
        const float *ci = s->cost + i * n;
        for (size_t j = 0; j < n; j++)
            if (ci[j] < INFINITY) {
                s->v[j] += (double)ci[j];
                count[j] += 1.0;
                lo = fmin(lo, (double)ci[j]);
                hi = fmax(hi, (double)ci[j]);
            }
    }
    for (size_t j = 0; j < n; j++)
        s->v[j] = count[j] > 0.0 ? s->v[j] / count[j] : 0.0;
    s->scans += (int64_t)s->rows;
    s->cmin = lo < INFINITY ? lo : 0.0;
    s->cmax = hi > -INFINITY ? hi : 0.0;
}

/* Column means in blocks of columns: each block sums its columns over all rows, in row order,
   so every v[j] gets the same double sum whichever thread does the block. Up to 16 blocks (a
   thread the OS has descheduled then holds little of the pass), of at least 1024 columns, and
   the next rows' parts prefetched: with 16 blocks of 512 columns at B = 8192 (2 KB of each row
   per block), the pass took 17-21 % of the solve, 10-11 % with 8 blocks and the prefetch
   (bench_lap -t 2, image-noise, 2-core Zen 3, three interleaved runs). */
#define MEANS_BLOCKS 16
#define MEANS_MIN_COLUMNS 1024
#define MEANS_AHEAD 2

typedef struct {
    lap_state *s;
    size_t blocks; /* 1 on the calling thread: one call per row, no block overhead */
    float lo[MEANS_BLOCKS], hi[MEANS_BLOCKS];
} means_job;

static void means_block(long b, int tid, void *arg) {
    (void)tid;
    means_job *job = arg;
    lap_state *s = job->s;
    const size_t n = s->n, from = lap_block_start((size_t)b, n, job->blocks),
                 to = lap_block_start((size_t)b + 1, n, job->blocks);
    float lo = INFINITY, hi = -INFINITY;
    if (from < to)
        for (size_t i = 0; i < s->rows; i++) {
            /* a block reads a few KB of each row, one page: the hardware prefetchers stop at
               page ends, so the block's part of a row two rows on is asked for here */
            if (job->blocks > 1 && i + MEANS_AHEAD < s->rows) {
                const char *next = (const char *)(s->cost + (i + MEANS_AHEAD) * n + from);
                for (size_t off = 0; off < (to - from) * sizeof(float); off += 64)
                    __builtin_prefetch(next + off);
            }
            s->kern->col_add(s->cost + i * n + from, s->v + from, to - from, &lo, &hi);
        }
    job->lo[b] = lo;
    job->hi[b] = hi;
}

bool imi_lap_column_means(lap_state *s) {
    const size_t n = s->n;
    if (s->forbidden) {
        column_means_finite(s);
        return true;
    }
    double lo = s->rows < n ? 0.0 : INFINITY, hi = s->rows < n ? 0.0 : -INFINITY;
    memset(s->v, 0, n * sizeof(double));
    means_job job;
    job.s = s;
    job.blocks = 1;
    int threads = 1;
    if (s->rows * n >= LAP_TEAM_CELLS && s->threads > 1) {
        /* at most MEANS_BLOCKS, at least one per thread, and 1024 columns each otherwise */
        job.blocks = n / MEANS_MIN_COLUMNS < MEANS_BLOCKS ? n / MEANS_MIN_COLUMNS : MEANS_BLOCKS;
        job.blocks = job.blocks < (size_t)s->threads ? (size_t)s->threads : job.blocks;
        job.blocks = job.blocks < MEANS_BLOCKS ? job.blocks : MEANS_BLOCKS;
        threads = s->threads;
    }
    imi_parallel_for(threads, (long)job.blocks, 1, means_block, &job);
    for (size_t b = 0; b < job.blocks; b++) {
        lo = fmin(lo, (double)job.lo[b]);
        hi = fmax(hi, (double)job.hi[b]);
    }
    s->scans += (int64_t)s->rows;
    /* A double sum of finite floats stays far below overflow (at most 2^31 terms below 2^128):
       a sum that is not finite means a NaN or an infinity somewhere in its column. */
    bool finite = true;
    for (size_t j = 0; j < n; j++)
        finite &= isfinite(s->v[j]);
    for (size_t j = 0; j < n; j++)
        s->v[j] /= (double)n;
    s->cmin = lo;
    s->cmax = hi;
    return finite;
}

bool imi_lap_tied(const lap_state *s) {
    const size_t rows = s->rows, n = s->n, sample = rows < TIE_SAMPLE_ROWS ? rows : TIE_SAMPLE_ROWS;
    size_t near = 0;
    for (size_t k = 0; k < sample; k++) {
        /* the columns within delta of the row's smallest value, within delta of the smallest
           value beyond those, and so on for TIE_CLUSTERS values; delta = TIE_WIDTH (mean - min) / n
           of the row: a continuous row holds about n delta / (max - min) <= 1/8 columns beyond
           each value whatever n, levels plus a jitter hold a share of n */
        const float *ci = lap_row(s, k * rows / sample);
        /* plain compares, no fmin (a libm call per element; the costs are finite here) */
        double lo = INFINITY, sum = 0.0;
        for (size_t j = 0; j < n; j++) {
            const double c = (double)ci[j];
            lo = c < lo ? c : lo;
            sum += c;
        }
        const double delta = TIE_WIDTH * (sum / (double)n - lo) / (double)n;
        for (int t = 0; t < TIE_CLUSTERS && lo < INFINITY; t++) {
            const double cut = lo + delta;
            double next = INFINITY;
            size_t count = 0;
            for (size_t j = 0; j < n; j++) {
                const double c = (double)ci[j];
                count += (c >= lo) & (c <= cut);
                next = c > cut && c < next ? c : next;
            }
            near += count;
            lo = next;
        }
    }
    return sample > 0 && near >= TIE_MIN_PER_ROW * sample;
}

bool imi_lap_minima_gather(const lap_state *s) {
    const size_t sample = s->rows < GATHER_SAMPLE_ROWS ? s->rows : GATHER_SAMPLE_ROWS;
    int32_t seen[GATHER_SAMPLE_ROWS];
    size_t distinct = 0;
    for (size_t k = 0; k < sample; k++) {
        lap_min2 m;
        s->kern->two_smallest(lap_row(s, k * s->rows / sample), s->v, s->n, &m);
        bool known = false;
        for (size_t q = 0; q < distinct; q++)
            known |= seen[q] == m.j1;
        if (!known)
            seen[distinct++] = m.j1;
    }
    return sample > 0 && 2 * distinct <= sample;
}

double imi_lap_spread(const lap_state *s) {
    const size_t sample = s->n < SPREAD_SAMPLE_ROWS ? s->n : SPREAD_SAMPLE_ROWS;
    double spread = 0.0;
    for (size_t i = 0; i < sample; i++) {
        const float *ci = lap_row(s, i);
        double lo = INFINITY, sum = 0.0;
        for (size_t j = 0; j < s->n; j++) {
            double h = (double)ci[j] - s->v[j];
            sum += h;
            lo = fmin(lo, h);
        }
        spread += sum / (double)s->n - lo;
    }
    return spread / (double)sample;
}

float *imi_lap_float_mirror(lap_state *s) {
    float *vf = (float *)s->bid_val;
    for (size_t j = 0; j < s->n; j++) {
        if (!(fabs(s->v[j]) <= LAP_FLOAT_RANGE))
            return NULL;
        vf[j] = (float)s->v[j];
    }
    return vf;
}

bool imi_lap_potentials_usable(const lap_state *s) {
    const double limit = LAP_V_BAND * fmax(fabs(s->cmin), fabs(s->cmax));
    for (size_t j = 0; j < s->n; j++)
        if (!(fabs(s->v[j]) <= limit))
            return false;
    return true;
}
