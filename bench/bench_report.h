/*
 * bench_report.h - imm-bench's results and how they are written: the terminal table, CSV,
 * Markdown and the gnuplot script. Nothing here measures; every writer takes a FILE * so the
 * formats can be tested on memory streams.
 */
#ifndef IMM_BENCH_REPORT_H
#define IMM_BENCH_REPORT_H

#include "bench_grid.h"

#include <stdio.h>

/* Median, min and max over the timed repetitions, in ms; NaN when the phase was not timed. */
typedef struct br_stat {
    double median, min, max;
} br_stat;

typedef enum br_status {
    BR_OK = 0,
    BR_UNSUPPORTED = 1, /* the library answered IMM_ERR_UNSUPPORTED */
    BR_FAILED = 2       /* any other error; note says which */
} br_status;

typedef enum br_section {
    BR_SECTION_GRID = 0, /* a cell of the grid */
    BR_SECTION_LAP = 1   /* the solver section: imm_lap_solve_ex alone on a fixed matrix */
} br_section;

typedef struct br_cell {
    br_section section;
    bg_workload workload;
    size_t batch, dim; /* dim 0 for uniform matrices */
    bg_method method;
    bg_precision precision;
    int threads;     /* the count actually passed as imm_options.num_threads */
    int threads_all; /* 1 when that count is "all" */
    int reps;
    br_status status;
    char note[120];
    /* distance: imm_distance; solve: imm_lap_solve_ex on that matrix; permute: imm_permute_rows
       (pool: copying the chosen rows); total: the real call (imm_ctx_assign_noise, _pool, or
       imm_ctx_select_noise_knn) timed on its own. */
    br_stat dist, solve, permute, total;
    /* Mean fp32 image-noise distance: identity pairing, the method's result, the optimum of
       the method's own problem (pool: B of the M*B rows; knn: nearest candidate), and the
       optimum of the plain B x B permutation. NaN when not applicable. */
    double mean_before, mean_after, mean_opt, mean_perm_opt;
    /* (identity - achieved) / (identity - optimum) on fp32 totals; permutation methods only. */
    double quality;
    /* LAP section: the exact solver's median solve time at the same B and thread count, measured
       in this run, over this row's (> 1: faster than exact); NaN when no such exact row. Only
       figures of the same run are compared: bench/compare_scipy.py times scipy against us. */
    double vs_exact;
} br_cell;

/* Sets every number to NaN and the text fields empty. */
void br_cell_init(br_cell *c);

/* br_stat_of() : sorts `ms` (n >= 1 values) in place and returns median, min and max. */
br_stat br_stat_of(double *ms, int n);

/* ---- terminal ---------------------------------------------------------------------------- */
void br_print_grid_header(FILE *f);
void br_print_grid_row(FILE *f, const br_cell *c);
void br_print_lap_header(FILE *f);
void br_print_lap_row(FILE *f, const br_cell *c);

/* The headline: total ms per batch (the real call) for every method and precision at the
 * largest thread count measured, one column per B, with the quality. Only workload `w` and
 * dimension `dim`. Markdown when `markdown` is set. Writes nothing if no cell matches. */
void br_write_headline(FILE *f, const br_cell *cells, size_t n, bg_workload w, size_t dim,
                       int markdown);

/* ---- files ------------------------------------------------------------------------------- */

/* CSV (RFC 4180, header line first, '.' decimals, empty fields for NaN), every cell. */
void br_write_csv(FILE *f, const br_cell *cells, size_t n);

/* Markdown: the grid as one table, then the solver section as another (if any). */
void br_write_markdown(FILE *f, const br_cell *cells, size_t n);

/* A gnuplot script drawing total ms per batch (the real call's median) against B on log-log
 * axes, one line per method and precision, for workload `w`, dimension `dim`, and the largest
 * thread count, into png_path. @return the number of lines drawn (0: nothing to plot). */
int br_write_gnuplot(FILE *f, const br_cell *cells, size_t n, bg_workload w, size_t dim,
                     const char *png_path);

#endif /* IMM_BENCH_REPORT_H */
