/* test_bench_cli.c - imm-bench's argument parser and report writers (CMocka), without timing. */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four headers it needs */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_grid.h"
#include "bench_report.h"

#define MNIST "/nonexistent/fashion.gz"

/* A memory stream and its buffer. */
typedef struct mem {
    FILE *f;
    char *buf;
    size_t len;
} mem;

static void mem_open(mem *m) {
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    assert_non_null(m->f);
}

static char *mem_close(mem *m) {
    fclose(m->f);
    return m->buf; /* caller frees */
}

/* Parses a NULL-terminated argument list (argv[0] added); output and errors captured. */
static int parse(bg_config *cfg, char **out_text, char **err_text, ...) {
    char *argv[64] = {"imm-bench"};
    int argc = 1;
    va_list ap;
    va_start(ap, err_text);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 63;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    mem out, err;
    mem_open(&out);
    mem_open(&err);
    int rc = bg_parse_args(argc, argv, MNIST, cfg, out.f, err.f);
    char *o = mem_close(&out), *e = mem_close(&err);
    if (out_text)
        *out_text = o;
    else
        free(o);
    if (err_text)
        *err_text = e;
    else
        free(e);
    return rc;
}

static void test_defaults(void **state) {
    (void)state;
    bg_config c;
    assert_int_equal(parse(&c, NULL, NULL, NULL), 0);
    assert_int_equal(c.n_workloads, 1);
    assert_int_equal(c.workloads[0], BG_WORKLOAD_IMAGE);
    assert_int_equal(c.n_batches, 2);
    assert_int_equal(c.batches[0], 256);
    assert_int_equal(c.batches[1], 1024);
    assert_int_equal(c.n_dims, 1);
    assert_int_equal(c.dims[0], 3072);
    assert_int_equal(c.n_methods, 5);
    assert_int_equal(c.n_precisions, 3);
    assert_int_equal(c.n_threads, 2);
    assert_int_equal(c.threads[0], 1);
    assert_int_equal(c.threads[1], BG_THREADS_ALL);
    assert_int_equal(c.n_lap_batches, 2);
    assert_int_equal(c.lap_batches[1], 4096);
    assert_int_equal(c.warmup, 1);
    assert_int_equal(c.reps, 0);
    assert_string_equal(c.mnist_path, MNIST);
    assert_null(c.csv_path);
    assert_int_equal(bg_cell_count(&c), 2 * 5 * 3 * 2);
    assert_int_equal(bg_reps_for(&c, 1024 * 1024), 5);
    assert_int_equal(bg_reps_for(&c, 2048 * 2048), 3);
}

static void test_every_option(void **state) {
    (void)state;
    bg_config c;
    assert_int_equal(parse(&c, NULL, NULL, "-b", "128,4096", "-d", "784", "--methods",
                           "exact,knn:8,pool:3,auction-exact,auction", "-p", "int8,fp16", "-t",
                           "all,3", "-w", "latent,uniform", "-L", "none", "-r", "7", "--warmup",
                           "0", "-a", "1e-3", "-s", "9", "--csv", "a.csv", "--markdown", "b.md",
                           "--plot", "c.png", "--synthetic", "--mnist", "m.gz", "-q", NULL),
                     0);
    assert_int_equal(c.n_batches, 2);
    assert_int_equal(c.batches[1], 4096);
    assert_int_equal(c.dims[0], 784);
    assert_int_equal(c.n_methods, 5);
    assert_int_equal(c.methods[1].kind, BG_METHOD_KNN);
    assert_int_equal(c.methods[1].param, 8);
    assert_int_equal(c.methods[2].kind, BG_METHOD_POOL);
    assert_int_equal(c.methods[2].param, 3);
    assert_int_equal(c.methods[3].kind, BG_METHOD_AUCTION_EXACT);
    assert_int_equal(c.n_precisions, 2);
    assert_string_equal(bg_precision_name(c.precisions[0]), "int8");
    assert_int_equal(c.threads[0], BG_THREADS_ALL);
    assert_int_equal(c.threads[1], 3);
    assert_int_equal(c.workloads[0], BG_WORKLOAD_LATENT);
    assert_int_equal(c.workloads[1], BG_WORKLOAD_UNIFORM);
    assert_int_equal(c.n_lap_batches, 0);
    assert_int_equal(c.reps, 7);
    assert_int_equal(c.warmup, 0);
    assert_true(fabs(c.accuracy - 1e-3) < 1e-18);
    assert_int_equal(c.seed, 9);
    assert_string_equal(c.csv_path, "a.csv");
    assert_string_equal(c.markdown_path, "b.md");
    assert_string_equal(c.plot_path, "c.png");
    assert_string_equal(c.mnist_path, "m.gz");
    assert_true(c.force_synthetic && c.quiet);
    /* latent: 1 D x 5 methods x 2 precisions; uniform: the 3 solvers; x 2 B x 2 threads */
    assert_int_equal(bg_cell_count(&c), (10 + 3) * 2 * 2);
}

static void test_all_and_quick(void **state) {
    (void)state;
    bg_config c;
    assert_int_equal(parse(&c, NULL, NULL, "-b", "all", "-d", "all", "-w", "all", NULL), 0);
    assert_int_equal(c.n_batches, 6);
    assert_int_equal(c.batches[0], 128);
    assert_int_equal(c.n_dims, 4);
    assert_int_equal(c.dims[3], 16384);
    assert_int_equal(c.n_workloads, 3);
    assert_int_equal(parse(&c, NULL, NULL, "-p", "all", "-m", "all", NULL), 0);
    assert_int_equal(c.n_precisions, 4);
    assert_int_equal(c.n_methods, 5);
    /* --quick shrinks what was not given, and the parser can run again (getopt reset) */
    assert_int_equal(parse(&c, NULL, NULL, "--quick", "-p", "bf16", NULL), 0);
    assert_int_equal(c.n_batches, 1);
    assert_int_equal(c.batches[0], 128);
    assert_int_equal(c.dims[0], 784);
    assert_int_equal(c.n_precisions, 1);
    assert_string_equal(bg_precision_name(c.precisions[0]), "bf16");
    assert_int_equal(c.reps, 1);
    assert_int_equal(c.n_lap_batches, 0);
}

static void test_help(void **state) {
    (void)state;
    bg_config c;
    char *out, *err;
    assert_int_equal(parse(&c, &out, &err, "--help", NULL), 1);
    assert_non_null(strstr(out, "usage: imm-bench"));
    assert_non_null(strstr(out, "--plot FILE.png"));
    assert_string_equal(err, "");
    free(out);
    free(err);
}

static void test_bad_values(void **state) {
    (void)state;
    static const char *const bad[][3] = {
        {"-b", "0", NULL},        {"-b", "65537", NULL},
        {"-b", "12x", NULL},      {"-b", "", NULL},
        {"-b", ",128", NULL},     {"-b", "128,", NULL},
        {"-b", "1,,2", NULL},     {"-b", "-3", NULL},
        {"-b", "+3", NULL},       {"-b", " 3", NULL},
        {"-d", "0", NULL},        {"-d", "99999999999999999999", NULL},
        {"-m", "simplex", NULL},  {"-m", "knn:0", NULL},
        {"-m", "knn:", NULL},     {"-m", "pool:x", NULL},
        {"-m", "knn:4x", NULL},   {"-m", "exact,", NULL},
        {"-p", "fp8", NULL},      {"-p", "FP32", NULL},
        {"-t", "0", NULL},        {"-t", "some", NULL},
        {"-w", "video", NULL},    {"-L", "0", NULL},
        {"-r", "0", NULL},        {"-r", "1001", NULL},
        {"--warmup", "-1", NULL}, {"-a", "0", NULL},
        {"-a", "nan", NULL},      {"-a", "2", NULL},
        {"-s", "-1", NULL},       {"--frobnicate", NULL, NULL},
        {"-x", NULL, NULL},       {"--csv", NULL, NULL},
        {"1024", NULL, NULL},     {"-b", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bg_config c;
        char *out, *err;
        int rc = parse(&c, &out, &err, bad[i][0], bad[i][1], NULL);
        if (rc != -1 || !strstr(err, "usage: imm-bench") || !strstr(err, "imm-bench: "))
            fail_msg("'%s %s' was accepted (rc %d) or gave no usage text:\n%s", bad[i][0],
                     bad[i][1] ? bad[i][1] : "", rc, err);
        assert_string_equal(out, "");
        free(out);
        free(err);
    }
}

static void test_method_names(void **state) {
    (void)state;
    static const char *const names[] = {"exact",  "auction", "auction+exact", "knn:1",
                                        "knn:16", "pool:1",  "pool:4"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        bg_method m;
        char buf[32];
        assert_int_equal(bg_parse_method(names[i], &m), 0);
        bg_method_name(m, buf, sizeof buf);
        assert_string_equal(buf, names[i]);
    }
    bg_precision p;
    assert_int_equal(bg_parse_precision("int8", &p), 0);
    assert_int_equal(p, 2); /* IMM_PRECISION_INT8 */
    assert_int_equal(bg_parse_precision("bf16", &p), 0);
    assert_int_equal(p, 3); /* IMM_PRECISION_BF16 */
}

static void test_stat(void **state) {
    (void)state;
    double odd[] = {5, 1, 3}, even[] = {4, 1, 3, 2};
    br_stat s = br_stat_of(odd, 3);
    assert_true(s.median == 3 && s.min == 1 && s.max == 5);
    s = br_stat_of(even, 4);
    assert_true(s.median == 2.5 && s.min == 1 && s.max == 4);
}

/* Two measured cells at two batch sizes, one unsupported, one knn and one lap row. */
static size_t sample_cells(br_cell *c) {
    for (int i = 0; i < 5; i++)
        br_cell_init(&c[i]);
    c[0].workload = BG_WORKLOAD_IMAGE;
    c[0].batch = 256;
    c[0].dim = 3072;
    c[0].method = (bg_method){BG_METHOD_EXACT, 0};
    c[0].threads = 2;
    c[0].threads_all = 1;
    c[0].reps = 5;
    c[0].dist = (br_stat){1.5, 1.25, 2};
    c[0].solve = (br_stat){12.5, 12, 13};
    c[0].permute = (br_stat){0.125, 0.1, 0.2};
    c[0].total = (br_stat){14.25, 14, 1500};
    c[0].mean_before = 73.5;
    c[0].mean_after = c[0].mean_opt = c[0].mean_perm_opt = 72.25;
    c[0].quality = 1.0;
    c[1] = c[0];
    c[1].batch = 1024;
    c[1].total = (br_stat){120, 110, 130};
    c[1].quality = 0.99968;
    c[2] = c[0];
    c[2].precision = 1; /* fp16 */
    c[2].status = BR_UNSUPPORTED;
    snprintf(c[2].note, sizeof c[2].note, "say \"no\"");
    c[3] = c[0];
    c[3].method = (bg_method){BG_METHOD_KNN, 4};
    c[3].dist = c[3].solve = c[3].permute = (br_stat){NAN, NAN, NAN};
    c[3].quality = NAN;
    c[3].mean_after = 72.5;
    c[3].mean_opt = 72.5;
    c[4] = c[0];
    c[4].section = BR_SECTION_LAP;
    c[4].batch = 2048;
    c[4].dist = c[4].permute = c[4].total = (br_stat){NAN, NAN, NAN};
    c[4].solve = (br_stat){250, 240, 260};
    c[4].vs_exact = 1.25; /* a same-run ratio: the exact row's median over this one's */
    return 5;
}

static void test_csv(void **state) {
    (void)state;
    br_cell c[5];
    size_t n = sample_cells(c);
    mem m;
    mem_open(&m);
    br_write_csv(m.f, c, n);
    char *csv = mem_close(&m);
    const char *want =
        "section,workload,batch,dim,method,precision,threads,reps,status,"
        "dist_ms_median,dist_ms_min,dist_ms_max,solve_ms_median,solve_ms_min,solve_ms_max,"
        "permute_ms_median,permute_ms_min,permute_ms_max,total_ms_median,total_ms_min,"
        "total_ms_max,mean_before,mean_after,mean_opt,mean_perm_opt,quality,vs_exact,note\n"
        "grid,image,256,3072,exact,fp32,2,5,ok,1.5,1.25,2,12.5,12,13,0.125,0.1,0.2,14.25,14,1500,"
        "73.5,72.25,72.25,72.25,1,,\"\"\n"
        "grid,image,1024,3072,exact,fp32,2,5,ok,1.5,1.25,2,12.5,12,13,0.125,0.1,0.2,120,110,130,"
        "73.5,72.25,72.25,72.25,0.99968,,\"\"\n"
        "grid,image,256,3072,exact,fp16,2,5,unsupported,1.5,1.25,2,12.5,12,13,0.125,0.1,0.2,"
        "14.25,14,1500,73.5,72.25,72.25,72.25,1,,\"say \"\"no\"\"\"\n"
        "grid,image,256,3072,knn:4,fp32,2,5,ok,,,,,,,,,,14.25,14,1500,73.5,72.5,72.5,72.25,,,"
        "\"\"\n"
        "lap,image,2048,3072,exact,fp32,2,5,ok,,,,250,240,260,,,,,,,73.5,72.25,72.25,72.25,1,"
        "1.25,\"\"\n";
    assert_string_equal(csv, want);
    free(csv);
}

static void test_markdown(void **state) {
    (void)state;
    br_cell c[5];
    size_t n = sample_cells(c);
    mem m;
    mem_open(&m);
    br_write_markdown(m.f, c, n);
    char *md = mem_close(&m);
    assert_non_null(strstr(md, "| workload | B | D | method |"));
    assert_non_null(strstr(md, "| image | 256 | 3072 | exact | fp32 | all(2) | 1.50 | 12.5 | "
                               "0.12 | 14.2 (14.0-1500) | 73.5000 | 72.2500 | 72.2500 | "
                               "72.2500 | 100.0000% |\n"));
    assert_non_null(strstr(md, "| image | 256 | 3072 | exact | fp16 | all(2) | unsupported: "
                               "say \"no\" |"));
    assert_non_null(strstr(md, "| knn:4 | fp32 | all(2) | - | - | - | 14.2 (14.0-1500) |"));
    assert_non_null(strstr(md, "| B | solver | threads |"));
    assert_non_null(strstr(md, "| B | solver | threads | solve ms (median) | min-max | quality | "
                               "vs exact (same run) |\n"));
    assert_non_null(strstr(md, "| 2048 | exact | all(2) | 250.0 | 240.0-260.0 | 100.0000% | "
                               "1.25x |\n"));
    assert_null(strstr(md, "scipy")); /* no figures from another machine (issue 9, item 12) */
    /* every table line has the same number of columns as its header */
    int cols = -1;
    for (char *line = md, *next; *line; line = next) {
        next = line + strcspn(line, "\n");
        if (*next)
            *next++ = '\0';
        if (line[0] != '|') { /* a blank line ends a table */
            cols = -1;
            continue;
        }
        int k = 0;
        for (char *p = line; *p; p++)
            k += *p == '|';
        if (cols < 0)
            cols = k;
        assert_int_equal(k, cols);
    }
    free(md);
}

/* The solver section's terminal table: only ratios between figures of the same run. */
static void test_lap_table(void **state) {
    (void)state;
    br_cell c[5];
    sample_cells(c);
    mem m;
    mem_open(&m);
    br_print_lap_header(m.f);
    br_print_lap_row(m.f, &c[4]);
    c[4].vs_exact = NAN; /* no exact row at this thread count */
    br_print_lap_row(m.f, &c[4]);
    char *t = mem_close(&m);
    assert_non_null(strstr(t, "quality  vs exact\n"));
    assert_non_null(strstr(t, " 2048 exact         all(2)       250.0 240.0-260.0        "
                              "100.0000%     1.25x\n"));
    assert_non_null(strstr(t, "100.0000%         -\n"));
    assert_null(strstr(t, "scipy"));
    free(t);
}

static void test_headline(void **state) {
    (void)state;
    br_cell c[5];
    size_t n = sample_cells(c);
    mem m;
    mem_open(&m);
    br_write_headline(m.f, c, n, BG_WORKLOAD_IMAGE, 3072, 0);
    char *h = mem_close(&m);
    assert_non_null(strstr(h, "Per-batch overhead"));
    assert_non_null(strstr(h, "B=256 t=2"));
    assert_non_null(strstr(h, "B=1024 t=2"));
    assert_non_null(strstr(h, "99.9680%"));
    assert_non_null(strstr(h, "unsupported"));
    assert_non_null(strstr(h, "mean 72.500 (perm 72.250)"));
    assert_null(strstr(h, "2048")); /* the solver section is not part of it */
    free(h);
    /* a second thread count gets its own column per B, in Markdown too */
    br_cell more[6];
    memcpy(more, c, sizeof c);
    more[5] = c[0];
    more[5].threads = 1;
    more[5].threads_all = 0;
    mem_open(&m);
    br_write_headline(m.f, more, 6, BG_WORKLOAD_IMAGE, 3072, 1);
    h = mem_close(&m);
    assert_non_null(strstr(h, "B=256 t=1 |   B=256 t=2 | quality"));
    assert_non_null(strstr(h, "|---|---|---:|---:|---|---:|---:|---|\n"));
    assert_non_null(
        strstr(h, "| exact         | fp32      |        14.2 |        14.2 | 100.0000%"));
    assert_non_null(strstr(h, "|           - |       120.0 | 99.9680%"));
    assert_non_null(strstr(h, "| knn:4         | fp32      |           - |        14.2 | mean"));
    free(h);
    /* nothing for a workload that was not run */
    mem_open(&m);
    br_write_headline(m.f, c, n, BG_WORKLOAD_LATENT, 3072, 1);
    h = mem_close(&m);
    assert_string_equal(h, "");
    free(h);
}

static void test_gnuplot(void **state) {
    (void)state;
    br_cell c[5];
    size_t n = sample_cells(c);
    mem m;
    mem_open(&m);
    int lines = br_write_gnuplot(m.f, c, n, BG_WORKLOAD_IMAGE, 3072, "out.png");
    char *g = mem_close(&m);
    assert_int_equal(lines, 2); /* exact fp32 (two points) and knn:4 fp32; fp16 unsupported */
    assert_non_null(strstr(g, "$d0 << EOD\n256 14.25\n1024 120\nEOD\n"));
    assert_non_null(strstr(g, "$d1 << EOD\n256 14.25\nEOD\n"));
    assert_non_null(strstr(g, "set logscale xy"));
    assert_non_null(strstr(g, "set xtics (256, 1024)\nset xrange [204.8:1280]\n"));
    assert_non_null(strstr(g, "set output 'out.png'"));
    assert_non_null(strstr(g, "title 'knn:4 fp32'"));
    free(g);
    mem_open(&m);
    assert_int_equal(br_write_gnuplot(m.f, c, n, BG_WORKLOAD_LATENT, 3072, "x.png"), 0);
    free(mem_close(&m));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),      cmocka_unit_test(test_every_option),
        cmocka_unit_test(test_all_and_quick), cmocka_unit_test(test_help),
        cmocka_unit_test(test_bad_values),    cmocka_unit_test(test_method_names),
        cmocka_unit_test(test_stat),          cmocka_unit_test(test_csv),
        cmocka_unit_test(test_markdown),      cmocka_unit_test(test_headline),
        cmocka_unit_test(test_gnuplot),       cmocka_unit_test(test_lap_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
