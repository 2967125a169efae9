/*
 * test_alloc.c - what the library allocates, and what it does when an allocation fails.
 *
 * Mechanism. This program defines malloc, calloc, realloc, reallocarray, free, aligned_alloc,
 * posix_memalign, memalign, valloc and pvalloc itself and forwards them to glibc's exported
 * __libc_* functions. The dynamic linker binds every object's calls to the executable's
 * definitions (symbol interposition; the target is linked with ENABLE_EXPORTS), so these see the
 * allocations of the whole process: libimmiscible.so, libgomp, libc, ld.so. Each call is
 * attributed to its caller with __builtin_return_address(0): a return address inside the text
 * segments of libimmiscible.so (found once with dl_iterate_phdr, before anything is counted) is
 * a library allocation, anything else a runtime one.
 *
 *   - Library blocks are always tracked (a small open-addressing table under a spin lock), so
 *     live_blocks() says how many library blocks are alive: a call that returns with more than
 *     it started with leaked.
 *   - While armed (arm() ... disarm()), allocations are counted, library and runtime apart.
 *   - arm(k) with k > 0 also makes the k-th library allocation while armed return NULL with
 *     errno = ENOMEM. Runtime allocations never fail: libgomp exits when its own fail (a known,
 *     documented exception), and the library cannot do anything about it.
 *
 * Limits: an allocation the library reaches through a tail call (a wrapper that ends in
 * `jmp malloc`) would be attributed to the wrapper's caller; and glibc's internal calls that
 * bypass the PLT are not seen at all. Neither happens in the library today. Not built with
 * IMM_SANITIZE, since ASan interposes malloc itself.
 *
 * The tests:
 *   1. test_nomem_sweep_*: for every public function that can allocate, count its library
 *      allocations N, then make each of them fail in turn: the call must return IMM_ERR_NOMEM,
 *      leave every buffer it was given bitwise untouched, leak nothing, and the next call must
 *      succeed.
 *   2. test_warm_context: a warm context allocates nothing in the library; the OpenMP runtime's
 *      allocations per call are printed and bounded by MAX_RUNTIME_ALLOCS_PER_CALL.
 *   3. test_small_one_shot: a one-shot 8x8 imm_lap_solve, its runtime allocations printed.
 */
#define _GNU_SOURCE
#include <immiscible.h>

#include <errno.h>
#include <link.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

/* The most allocations the OpenMP runtime (libgomp) may make during one warm context call.
 * libgomp mallocs a team for every parallel region that runs with one thread (num_threads(1), a
 * false if() clause, or nested) and frees it at the region's end, so this counts such regions.
 * Measured: up to 1856 per call at commit 6236c08 (imm_ctx_assign_noise, auction, B 1024, one
 * thread: a region per augmentation), 0 with the thread rules of issue 9 (core/parallel.h). */
#define MAX_RUNTIME_ALLOCS_PER_CALL 0

/*-----------------------------------------------------------------------------------------------
 *  The allocation hooks.
 *---------------------------------------------------------------------------------------------*/
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

#define MAX_TEXT_RANGES 8
static struct { uintptr_t lo, hi; } lib_text[MAX_TEXT_RANGES];
static int lib_text_count;

static atomic_int armed;
static atomic_long lib_allocs, runtime_allocs, injected; /* counted while armed */
static atomic_long fail_at;                              /* 0: no failure */
static atomic_long live_lib;                             /* library blocks alive, always */
static atomic_long lib_largest; /* largest library malloc() while armed, in bytes */

#define TABLE_SLOTS 4096 /* a power of two */
#define TOMBSTONE ((void *)1)
static void *table[TABLE_SLOTS];
static atomic_flag table_lock = ATOMIC_FLAG_INIT;
static atomic_int table_full;

static void table_acquire(void) {
    while (atomic_flag_test_and_set_explicit(&table_lock, memory_order_acquire))
        ;
}

static void table_release(void) { atomic_flag_clear_explicit(&table_lock, memory_order_release); }

static size_t slot_of(const void *p) {
    return (size_t)((((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull) >> 52) & (TABLE_SLOTS - 1);
}

/* Remembers p, a block the library got. */
static void track(void *p) {
    table_acquire();
    size_t i = slot_of(p), n = 0;
    while (n < TABLE_SLOTS && table[i] != NULL && table[i] != TOMBSTONE) {
        i = (i + 1) & (TABLE_SLOTS - 1);
        n++;
    }
    if (n == TABLE_SLOTS) {
        atomic_store(&table_full, 1);
    } else {
        table[i] = p;
        atomic_fetch_add(&live_lib, 1);
    }
    table_release();
}

/* Forgets p; returns 1 if it was a library block. */
static int untrack(void *p) {
    if (p == NULL || atomic_load(&live_lib) == 0)
        return 0;
    int found = 0;
    table_acquire();
    for (size_t i = slot_of(p), n = 0; n < TABLE_SLOTS && table[i] != NULL;
         i = (i + 1) & (TABLE_SLOTS - 1), n++) {
        if (table[i] == p) {
            table[i] = TOMBSTONE;
            found = 1;
            break;
        }
    }
    if (found && atomic_fetch_sub(&live_lib, 1) == 1)
        memset(table, 0, sizeof table); /* empty again: drop the tombstones */
    table_release();
    return found;
}

static int from_library(const void *caller) {
    for (int i = 0; i < lib_text_count; i++)
        if ((uintptr_t)caller >= lib_text[i].lo && (uintptr_t)caller < lib_text[i].hi)
            return 1;
    return 0;
}

/* Counts an allocation by `caller` and decides whether it may proceed; *lib says whether the
   block is the library's (to be tracked). */
static int admit(const void *caller, int *lib) {
    *lib = from_library(caller);
    if (!atomic_load(&armed))
        return 1;
    if (!*lib) {
        atomic_fetch_add(&runtime_allocs, 1);
        return 1;
    }
    long nth = atomic_fetch_add(&lib_allocs, 1) + 1;
    if (nth != atomic_load(&fail_at))
        return 1;
    atomic_fetch_add(&injected, 1);
    errno = ENOMEM;
    return 0;
}

static void *tracked(void *p, int lib) {
    if (p != NULL && lib)
        track(p);
    return p;
}

#define CALLER __builtin_return_address(0)

void *malloc(size_t size) {
    int lib;
    if (!admit(CALLER, &lib))
        return NULL;
    if (lib && atomic_load(&armed) && (long)size > atomic_load(&lib_largest))
        atomic_store(&lib_largest, (long)size);
    return tracked(__libc_malloc(size), lib);
}

void *calloc(size_t count, size_t size) {
    int lib;
    return admit(CALLER, &lib) ? tracked(__libc_calloc(count, size), lib) : NULL;
}

void *memalign(size_t align, size_t size) {
    int lib;
    return admit(CALLER, &lib) ? tracked(__libc_memalign(align, size), lib) : NULL;
}

void *aligned_alloc(size_t align, size_t size) {
    int lib;
    return admit(CALLER, &lib) ? tracked(__libc_memalign(align, size), lib) : NULL;
}

void *valloc(size_t size) {
    int lib;
    return admit(CALLER, &lib) ? tracked(__libc_valloc(size), lib) : NULL;
}

void *pvalloc(size_t size) {
    int lib;
    return admit(CALLER, &lib) ? tracked(__libc_pvalloc(size), lib) : NULL;
}

int posix_memalign(void **out, size_t align, size_t size) {
    int lib;
    if (align == 0 || (align & (align - 1)) != 0 || align % sizeof(void *) != 0)
        return EINVAL;
    if (!admit(CALLER, &lib))
        return ENOMEM;
    void *p = tracked(__libc_memalign(align, size), lib);
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

void free(void *p) {
    untrack(p);
    __libc_free(p);
}

static void *realloc_from(const void *caller, void *p, size_t size) {
    int lib;
    if (p != NULL && size == 0) { /* glibc: frees p, returns NULL */
        free(p);
        return NULL;
    }
    if (!admit(caller, &lib))
        return NULL;
    if (p == NULL)
        return tracked(__libc_malloc(size), lib);
    int was_lib = untrack(p); /* before p can be freed and handed to another thread */
    void *q = __libc_realloc(p, size);
    if (q == NULL && was_lib)
        track(p); /* still the library's */
    return tracked(q, lib || was_lib);
}

void *realloc(void *p, size_t size) { return realloc_from(CALLER, p, size); }

void *reallocarray(void *p, size_t count, size_t size) {
    size_t bytes;
    if (__builtin_mul_overflow(count, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc_from(CALLER, p, bytes);
}

/*-----------------------------------------------------------------------------------------------
 *  Controlling and reading the hooks.
 *---------------------------------------------------------------------------------------------*/
static int find_library_text(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    (void)data;
    if (info->dlpi_name == NULL || strstr(info->dlpi_name, "libimmiscible") == NULL)
        return 0;
    for (int i = 0; i < info->dlpi_phnum && lib_text_count < MAX_TEXT_RANGES; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            lib_text[lib_text_count].lo = info->dlpi_addr + ph->p_vaddr;
            lib_text[lib_text_count].hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
            lib_text_count++;
        }
    }
    return 1;
}

typedef struct alloc_counts {
    long lib;      /* library allocations (including the one made to fail) */
    long runtime;  /* everything else: libgomp, libc, ld.so */
    long injected; /* failures injected */
} alloc_counts;

/* Starts counting; the fail_k-th library allocation from now on fails (0: none does). */
static void arm(long fail_k) {
    atomic_store(&lib_allocs, 0);
    atomic_store(&runtime_allocs, 0);
    atomic_store(&injected, 0);
    atomic_store(&fail_at, fail_k);
    atomic_store(&armed, 1);
}

static alloc_counts disarm(void) {
    atomic_store(&armed, 0);
    atomic_store(&fail_at, 0);
    alloc_counts c = {atomic_load(&lib_allocs), atomic_load(&runtime_allocs),
                      atomic_load(&injected)};
    return c;
}

static long live_blocks(void) {
    assert_false(atomic_load(&table_full));
    return atomic_load(&live_lib);
}

/*-----------------------------------------------------------------------------------------------
 *  Test 1: the allocation-failure sweep, on small problems.
 *---------------------------------------------------------------------------------------------*/
enum { SB = 40, SD = 24, SPOOL = 2 * SB, SK = 4, SWIDE = 2048, MAX_REGIONS = 24 };
#define CANARY 0xA5

/* A buffer a call is given, and the bytes it must hold after a failed call. */
typedef struct region {
    const char *name;
    void *data, *pristine;
    size_t bytes;
} region;

typedef struct fixture {
    imm_options opts;
    imm_ctx *ctx; /* the context of the ctx cases (created cold before each call) */
    float *x, *noise, *pool, *cand, *cost, *wide, *out, *dist;
    int32_t *assign, *index, *shuffle, *cert_assign;
    double *u, *v, *scalar, *cert_u, *cert_v;
    imm_lap_info *info;
    imm_ctx **made; /* imm_ctx_create's output */
    region regions[MAX_REGIONS];
    int count;
} fixture;

/* A checked buffer of `bytes`, holding init (NULL: the canary) before every call. */
static void *add_region(fixture *f, const char *name, size_t bytes, const void *init) {
    assert_true(f->count < MAX_REGIONS);
    region *r = &f->regions[f->count++];
    r->name = name;
    r->bytes = bytes;
    r->data = malloc(bytes);
    r->pristine = malloc(bytes);
    assert_non_null(r->data);
    assert_non_null(r->pristine);
    if (init != NULL)
        memcpy(r->pristine, init, bytes);
    else
        memset(r->pristine, CANARY, bytes);
    memcpy(r->data, r->pristine, bytes);
    return r->data;
}

static void fixture_reset(fixture *f) {
    for (int i = 0; i < f->count; i++)
        memcpy(f->regions[i].data, f->regions[i].pristine, f->regions[i].bytes);
}

/* The first region that differs from what it held before the call, or NULL. */
static const region *fixture_modified(const fixture *f) {
    for (int i = 0; i < f->count; i++)
        if (memcmp(f->regions[i].data, f->regions[i].pristine, f->regions[i].bytes) != 0)
            return &f->regions[i];
    return NULL;
}

static float *random_rows(size_t n, int images, tu_rng *r) {
    float *p = malloc(n * SD * sizeof(float));
    assert_non_null(p);
    if (images)
        tu_images(p, n, SD, r);
    else
        tu_noise(p, n, SD, r);
    return p;
}

/* The inputs: images, noise, pool, candidates, two cost matrices, a certificate, a shuffle. */
static void add_inputs(fixture *f, tu_rng *r) {
    float *x = random_rows(SB, 1, r), *pool = random_rows(SPOOL, 0, r);
    float *cand = random_rows(SB * SK, 0, r), *wide_noise = random_rows(SWIDE, 0, r);
    float *cost = malloc(SB * SB * sizeof(float)), *wide = malloc(SB * SWIDE * sizeof(float));
    int32_t assign[SB], shuffle[SB];
    double u[SB], v[SB];
    assert_true(cost != NULL && wide != NULL);
    tu_l2_costs(x, SB, pool, SB, SD, cost);
    tu_l2_costs(x, SB, wide_noise, SWIDE, SD, wide);
    assert_int_equal(imm_lap_solve_dual(cost, SB, SB, NULL, assign, u, v, NULL), IMM_OK);
    for (int i = 0; i < SB; i++)
        shuffle[i] = (i * 7 + 3) % SB; /* 7 and 40 are coprime */
    f->x = add_region(f, "x", SB * SD * sizeof(float), x);
    f->noise = add_region(f, "noise", SB * SD * sizeof(float), pool + SB * SD);
    f->pool = add_region(f, "pool", SPOOL * SD * sizeof(float), pool);
    f->cand = add_region(f, "candidates", SB * SK * SD * sizeof(float), cand);
    f->cost = add_region(f, "cost", SB * SB * sizeof(float), cost);
    f->wide = add_region(f, "wide cost", SB * SWIDE * sizeof(float), wide);
    f->cert_assign = add_region(f, "certified assign", sizeof assign, assign);
    f->cert_u = add_region(f, "certified u", sizeof u, u);
    f->cert_v = add_region(f, "certified v", sizeof v, v);
    f->shuffle = add_region(f, "shuffle", sizeof shuffle, shuffle);
    free(x);
    free(pool);
    free(cand);
    free(wide_noise);
    free(cost);
    free(wide);
}

static int fixture_setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    tu_rng r = tu_rng_make(9);
    add_inputs(f, &r);
    f->out = add_region(f, "out", SB * SD * sizeof(float), NULL);
    f->dist = add_region(f, "distances", SB * SPOOL * sizeof(float), NULL);
    f->assign = add_region(f, "assign / perm", SB * sizeof(int32_t), NULL);
    f->index = add_region(f, "index", SB * sizeof(int32_t), NULL);
    f->u = add_region(f, "u", SB * sizeof(double), NULL);
    f->v = add_region(f, "v", SWIDE * sizeof(double), NULL);
    f->scalar = add_region(f, "total / violation", sizeof(double), NULL);
    f->info = add_region(f, "info", sizeof(imm_lap_info), NULL);
    f->made = add_region(f, "*ctx", sizeof(imm_ctx *), NULL);
    *state = f;
    return 0;
}

static int fixture_teardown(void **state) {
    fixture *f = *state;
    for (int i = 0; i < f->count; i++) {
        free(f->regions[i].data);
        free(f->regions[i].pristine);
    }
    free(f);
    return 0;
}

/* The calls under test. */
static int lap_square(fixture *f) {
    return imm_lap_solve(f->cost, SB, SB, &f->opts, f->assign, f->scalar);
}
static int lap_wide(fixture *f) {
    return imm_lap_solve(f->wide, SB, SWIDE, &f->opts, f->assign, f->scalar);
}
static int lap_dual(fixture *f) {
    return imm_lap_solve_dual(f->cost, SB, SB, &f->opts, f->assign, f->u, f->v, f->scalar);
}
static int lap_ex(fixture *f) {
    return imm_lap_solve_ex(f->cost, SB, SB, &f->opts, f->assign, f->u, f->v, f->info);
}
static int lap_certify(fixture *f) {
    return imm_lap_certify(f->cost, SB, SB, f->cert_assign, f->cert_u, f->cert_v, f->scalar);
}
static int lap_batch(fixture *f) {
    return imm_lap_solve_batch(f->cost, 1, SB, SB, &f->opts, f->assign, f->u, f->v, f->scalar);
}
static int distance(fixture *f) {
    return imm_distance(f->x, SB, f->pool, SPOOL, SD, &f->opts, f->dist);
}
static int permute(fixture *f) { return imm_permute_rows(f->noise, SB, SD, f->shuffle); }
static int assign(fixture *f) {
    return imm_assign_noise(f->x, f->noise, SB, SD, &f->opts, f->assign);
}
static int pool(fixture *f) {
    return imm_assign_noise_pool(f->x, SB, f->pool, SPOOL, SD, &f->opts, f->out, f->index);
}
static int knn1(fixture *f) {
    return imm_select_noise_knn(f->x, SB, f->cand, 1, SD, &f->opts, f->out, f->index);
}
static int knn4(fixture *f) {
    return imm_select_noise_knn(f->x, SB, f->cand, SK, SD, &f->opts, f->out, f->index);
}
static int ctx_create(fixture *f) {
    int st = imm_ctx_create(f->made, &f->opts);
    if (st == IMM_OK)
        f->ctx = *f->made; /* freed by the driver */
    return st;
}
static int ctx_assign(fixture *f) {
    return imm_ctx_assign_noise(f->ctx, f->x, f->noise, SB, SD, f->assign);
}
static int ctx_pool(fixture *f) {
    return imm_ctx_assign_noise_pool(f->ctx, f->x, SB, f->pool, SPOOL, SD, f->out, f->index);
}
static int ctx_knn1(fixture *f) {
    return imm_ctx_select_noise_knn(f->ctx, f->x, SB, f->cand, 1, SD, f->out, f->index);
}
static int ctx_distance(fixture *f) {
    return imm_ctx_distance(f->ctx, f->x, SB, f->pool, SPOOL, SD, f->dist);
}
static int ctx_lap(fixture *f) {
    return imm_ctx_lap_solve(f->ctx, f->cost, SB, SB, f->assign, f->u, f->v, f->scalar);
}
static int ctx_knn4(fixture *f) {
    return imm_ctx_select_noise_knn(f->ctx, f->x, SB, f->cand, SK, SD, f->out, f->index);
}

typedef struct sweep_case {
    const char *name;
    int (*call)(fixture *f);
    int32_t solver, exact_finish, precision;
    int cold_ctx; /* the call gets a fresh context, created just before it */
} sweep_case;

#define EXACT IMM_SOLVER_EXACT
#define AUCTION IMM_SOLVER_AUCTION
#define CASE(name, fn)                                                                             \
    { name, fn, EXACT, 0, IMM_PRECISION_FP32, 0 }
#define CASE_CTX(name, fn)                                                                         \
    { name, fn, EXACT, 0, IMM_PRECISION_FP32, 1 }
static const sweep_case sweep_cases[] = {
    CASE("imm_lap_solve 40x40", lap_square),
    CASE("imm_lap_solve 40x2048", lap_wide),
    CASE("imm_lap_solve_dual", lap_dual),
    CASE("imm_lap_solve_ex exact", lap_ex),
    {"imm_lap_solve_ex auction", lap_ex, AUCTION, 0, IMM_PRECISION_FP32, 0},
    {"imm_lap_solve_ex auction + exact_finish", lap_ex, AUCTION, 1, IMM_PRECISION_FP32, 0},
    CASE("imm_lap_certify", lap_certify),
    CASE("imm_lap_solve_batch", lap_batch),
    CASE("imm_distance fp32", distance),
    {"imm_distance fp16", distance, EXACT, 0, IMM_PRECISION_FP16, 0},
    {"imm_distance int8", distance, EXACT, 0, IMM_PRECISION_INT8, 0},
    {"imm_distance bf16", distance, EXACT, 0, IMM_PRECISION_BF16, 0},
    CASE("imm_permute_rows", permute),
    CASE("imm_assign_noise", assign),
    CASE("imm_assign_noise_pool", pool),
    CASE("imm_select_noise_knn k=1", knn1),
    CASE("imm_select_noise_knn k=4", knn4),
    CASE("imm_ctx_create", ctx_create),
    CASE_CTX("imm_ctx_assign_noise (cold)", ctx_assign),
    CASE_CTX("imm_ctx_assign_noise_pool (cold)", ctx_pool),
    CASE_CTX("imm_ctx_select_noise_knn k=1 (cold)", ctx_knn1),
    CASE_CTX("imm_ctx_select_noise_knn k=4 (cold)", ctx_knn4),
    CASE_CTX("imm_ctx_distance (cold)", ctx_distance),
    CASE_CTX("imm_ctx_lap_solve (cold)", ctx_lap),
};
#undef CASE
#undef CASE_CTX
#undef EXACT
#undef AUCTION

static int violations; /* contract violations found by the sweep (each one printed) */

#define VIOLATION(...)                                                                             \
    do {                                                                                           \
        print_error("VIOLATION: " __VA_ARGS__);                                                    \
        violations++;                                                                              \
    } while (0)

/* Resets the buffers, creates the cold context if the case wants one, and runs the call with
   the fail_k-th library allocation failing (0: none). The context is left to release_ctx(). */
static int run_case(const sweep_case *c, fixture *f, long fail_k, alloc_counts *counts) {
    fixture_reset(f);
    f->ctx = NULL;
    if (c->cold_ctx) {
        long live = live_blocks();
        assert_int_equal(imm_ctx_create(&f->ctx, &f->opts), IMM_OK);
        assert_true(live_blocks() > live); /* self-check: the context's block is tracked */
    }
    arm(fail_k);
    int st = c->call(f);
    *counts = disarm();
    return st;
}

static void release_ctx(fixture *f) {
    imm_ctx_free(f->ctx);
    f->ctx = NULL;
}

/* Runs the case without failures; returns its library allocations. */
static long count_case(const sweep_case *c, fixture *f, int threads) {
    alloc_counts n;
    long live = live_blocks();
    int st = run_case(c, f, 0, &n);
    const region *changed = fixture_modified(f);
    release_ctx(f);
    if (st != IMM_OK)
        fail_msg("%s (threads %d): status %d (%s)", c->name, threads, st, imm_strerror(st));
    if (changed == NULL) /* self-check: the comparison does see what a call writes */
        fail_msg("%s (threads %d): a successful call changed no buffer", c->name, threads);
    if (live_blocks() != live)
        VIOLATION("%s (threads %d): %ld library blocks leaked by a successful call\n", c->name,
                  threads, live_blocks() - live);
    return n.lib;
}

/* Makes the k-th library allocation of the case fail and checks the contract. */
static void fail_case(const sweep_case *c, fixture *f, int threads, long k) {
    alloc_counts n;
    long live = live_blocks();
    int st = run_case(c, f, k, &n);
    const region *changed = fixture_modified(f);
    release_ctx(f);
    if (n.injected != 1)
        VIOLATION("%s (threads %d), k = %ld: only %ld library allocations this time\n", c->name,
                  threads, k, n.lib);
    if (st != IMM_ERR_NOMEM)
        VIOLATION("%s (threads %d), k = %ld: status %d (%s), not IMM_ERR_NOMEM\n", c->name, threads,
                  k, st, imm_strerror(st));
    if (changed != NULL)
        VIOLATION("%s (threads %d), k = %ld: '%s' modified by the failed call\n", c->name, threads,
                  k, changed->name);
    if (live_blocks() != live)
        VIOLATION("%s (threads %d), k = %ld: %ld library blocks leaked\n", c->name, threads, k,
                  live_blocks() - live);
    st = run_case(c, f, 0, &n);
    release_ctx(f);
    if (st != IMM_OK)
        VIOLATION("%s (threads %d), k = %ld: the next call failed: %d (%s)\n", c->name, threads, k,
                  st, imm_strerror(st));
}

static void sweep(fixture *f, int threads) {
    violations = 0;
    for (size_t i = 0; i < sizeof sweep_cases / sizeof sweep_cases[0]; i++) {
        const sweep_case *c = &sweep_cases[i];
        imm_options_init(&f->opts);
        f->opts.num_threads = threads;
        f->opts.solver = c->solver;
        f->opts.exact_finish = c->exact_finish;
        f->opts.precision = c->precision;
        long n = count_case(c, f, threads);
        print_message("  %-42s threads %d: N = %ld library allocations\n", c->name, threads, n);
        if (n < 1)
            VIOLATION("%s (threads %d): no library allocation seen\n", c->name, threads);
        for (long k = 1; k <= n; k++)
            fail_case(c, f, threads, k);
    }
    if (violations != 0)
        fail_msg("%d contract violations (printed above)", violations);
}

static void test_nomem_sweep_1thread(void **state) { sweep(*state, 1); }
static void test_nomem_sweep_2threads(void **state) { sweep(*state, 2); }

/*-----------------------------------------------------------------------------------------------
 *  Test 2: a warm context allocates nothing (the library), and the runtime little.
 *---------------------------------------------------------------------------------------------*/
enum { WD = 3072, WMAX = 1024, WK = 4, WCALLS = 2 };

typedef struct warm_data {
    float *x, *noise, *pool, *cand, *out;
    int32_t *index;
} warm_data;

typedef enum { WARM_ASSIGN, WARM_POOL, WARM_KNN } warm_kind;
static const char *const warm_names[] = {"imm_ctx_assign_noise", "imm_ctx_assign_noise_pool",
                                         "imm_ctx_select_noise_knn"};

static void warm_data_make(warm_data *w) {
    tu_rng r = tu_rng_make(2024);
    w->x = malloc((size_t)WMAX * WD * sizeof(float));
    w->noise = malloc((size_t)WMAX * WD * sizeof(float));
    w->pool = malloc((size_t)2 * WMAX * WD * sizeof(float));
    w->cand = malloc((size_t)WK * WMAX * WD * sizeof(float));
    w->out = malloc((size_t)WMAX * WD * sizeof(float));
    w->index = malloc(WMAX * sizeof(int32_t));
    assert_true(w->x && w->noise && w->pool && w->cand && w->out && w->index);
    tu_images(w->x, WMAX, WD, &r);
    tu_noise(w->noise, WMAX, WD, &r);
    tu_noise(w->pool, 2 * WMAX, WD, &r);
    tu_noise(w->cand, WK * WMAX, WD, &r);
}

static void warm_data_free(warm_data *w) {
    free(w->x);
    free(w->noise);
    free(w->pool);
    free(w->cand);
    free(w->out);
    free(w->index);
}

static int warm_call(const warm_data *w, imm_ctx *ctx, warm_kind kind, size_t b) {
    switch (kind) {
    case WARM_ASSIGN: return imm_ctx_assign_noise(ctx, w->x, w->noise, b, WD, w->index);
    case WARM_POOL:
        return imm_ctx_assign_noise_pool(ctx, w->x, b, w->pool, 2 * b, WD, w->out, w->index);
    default: return imm_ctx_select_noise_knn(ctx, w->x, b, w->cand, WK, WD, w->out, w->index);
    }
}

/* One warm-up call, then WCALLS counted ones; returns the most runtime allocations of a call. */
static long warm_case(const warm_data *w, warm_kind kind, int32_t solver, int threads, size_t b) {
    imm_options o;
    imm_ctx *ctx = NULL;
    long most = 0;
    imm_options_init(&o);
    o.solver = solver;
    o.num_threads = threads;
    assert_int_equal(imm_ctx_create(&ctx, &o), IMM_OK);
    assert_int_equal(warm_call(w, ctx, kind, b), IMM_OK);
    print_message("  %-26s %-7s B %4zu threads %d: runtime allocations per call:", warm_names[kind],
                  solver == IMM_SOLVER_EXACT ? "exact" : "auction", b, threads);
    for (int i = 0; i < WCALLS; i++) {
        arm(0);
        int st = warm_call(w, ctx, kind, b);
        alloc_counts n = disarm();
        assert_int_equal(st, IMM_OK);
        if (n.lib != 0)
            fail_msg("%s: %ld library allocations in a warm call", warm_names[kind], n.lib);
        print_message(" %ld", n.runtime);
        most = n.runtime > most ? n.runtime : most;
    }
    print_message("\n");
    imm_ctx_free(ctx);
    return most;
}

static void test_warm_context(void **state) {
    (void)state;
    static const size_t batches[] = {64, 256, 1024};
    static const int32_t solvers[] = {IMM_SOLVER_EXACT, IMM_SOLVER_AUCTION};
    warm_data w;
    long most = 0;
    warm_data_make(&w);
    for (int kind = WARM_ASSIGN; kind <= WARM_KNN; kind++)
        for (int s = 0; s < 2; s++)
            for (int threads = 1; threads <= 2; threads++)
                for (size_t i = 0; i < 3; i++) {
                    long n = warm_case(&w, (warm_kind)kind, solvers[s], threads, batches[i]);
                    most = n > most ? n : most;
                }
    warm_data_free(&w);
    print_message(
        "  most runtime allocations in a warm call: %ld (MAX_RUNTIME_ALLOCS_PER_CALL %d)\n", most,
        MAX_RUNTIME_ALLOCS_PER_CALL);
    assert_true(most <= MAX_RUNTIME_ALLOCS_PER_CALL);
}

/* imm_ctx_distance and imm_ctx_lap_solve: bitwise the one-shot results, and once warm no
   allocation at all (library or runtime), with 1 and 2 threads. */
static void test_warm_distance_and_solve(void **state) {
    (void)state;
    enum { N = 300, M = 320, D = 96 };
    float *x = malloc(N * D * sizeof(float)), *y = malloc(M * D * sizeof(float));
    float *d1 = malloc(N * M * sizeof(float)), *d2 = malloc(N * M * sizeof(float));
    int32_t a1[N], a2[N];
    double u1[N], u2[N], v1[M], v2[M], t1, t2;
    tu_rng r = tu_rng_make(77);
    tu_images(x, N, D, &r);
    tu_noise(y, M, D, &r);
    for (int threads = 1; threads <= 2; threads++)
        for (int32_t solver = IMM_SOLVER_EXACT; solver <= IMM_SOLVER_AUCTION; solver++) {
            imm_options o = tu_opts(solver, IMM_PRECISION_FP32, IMM_METRIC_L2, threads);
            imm_ctx *ctx;
            assert_int_equal(imm_ctx_create(&ctx, &o), IMM_OK);
            assert_int_equal(imm_distance(x, N, y, M, D, &o, d1), IMM_OK);
            assert_int_equal(imm_ctx_distance(ctx, x, N, y, M, D, d2), IMM_OK); /* warms */
            assert_memory_equal(d1, d2, N * M * sizeof(float));
            assert_int_equal(imm_lap_solve_dual(d1, N, M, &o, a1, u1, v1, &t1), IMM_OK);
            assert_int_equal(imm_ctx_lap_solve(ctx, d2, N, M, a2, u2, v2, &t2), IMM_OK);
            assert_memory_equal(a1, a2, sizeof a1);
            assert_memory_equal(u1, u2, sizeof u1);
            assert_memory_equal(v1, v2, sizeof v1);
            assert_memory_equal(&t1, &t2, sizeof t1);
            arm(0);
            int st1 = imm_ctx_distance(ctx, x, N, y, M, D, d2);
            int st2 = imm_ctx_lap_solve(ctx, d2, N, M, a2, u2, v2, &t2);
            alloc_counts n = disarm();
            assert_int_equal(st1, IMM_OK);
            assert_int_equal(st2, IMM_OK);
            print_message("  warm imm_ctx_distance + imm_ctx_lap_solve, %d thread(s), solver %d: "
                          "%ld library, %ld runtime allocations\n",
                          threads, (int)solver, n.lib, n.runtime);
            assert_int_equal(n.lib, 0);
            assert_true(n.runtime <= MAX_RUNTIME_ALLOCS_PER_CALL);
            imm_ctx_free(ctx);
        }
    free(x);
    free(y);
    free(d1);
    free(d2);
}

/* A context warmed on a call allocates nothing for any call no larger in n, m and dim: the
   workspace grows with each of them, across the distance kernels' packing regimes (INT8: y in
   one round or several, x packed in the pre-pass; rounds of 256 / 1024 dimensions). Also
   imm_ctx_workspace_size() never shrinks as batch or dim grow. */
static void test_warm_smaller_shapes(void **state) {
    (void)state;
    static const size_t shapes[][3] = {
        {64, 4200, 5000}, {64, 1000, 5000}, {64, 1000, 3000}, {64, 4200, 3000},
        {20, 1000, 3000}, {64, 1000, 784},  {1, 33, 4097},    {64, 4200, 1}};
    const size_t N = 64, M = 4200, D = 5000;
    float *x = malloc(N * D * sizeof(float)), *y = malloc(M * D * sizeof(float));
    float *out = malloc(N * M * sizeof(float));
    assert_true(x && y && out);
    tu_rng r = tu_rng_make(78);
    tu_images(x, N, D, &r);
    tu_noise(y, M, D, &r);
    for (int p = 0; p < 4; p++)
        for (int threads = 1; threads <= 2; threads++) {
            imm_options o = tu_opts(IMM_SOLVER_EXACT, (imm_precision)p, IMM_METRIC_L2, threads);
            imm_ctx *ctx;
            assert_int_equal(imm_ctx_create(&ctx, &o), IMM_OK);
            assert_int_equal(imm_ctx_distance(ctx, x, N, y, M, D, out), IMM_OK); /* warms */
            for (size_t s = 1; s < sizeof shapes / sizeof shapes[0]; s++) {
                const size_t n = shapes[s][0], m = shapes[s][1], dim = shapes[s][2];
                arm(0);
                int st = imm_ctx_distance(ctx, x, n, y, m, dim, out);
                alloc_counts c = disarm();
                assert_int_equal(st, IMM_OK);
                if (c.lib != 0)
                    print_message("  precision %d, %d thread(s): %zu x %zu x %zu allocated after "
                                  "%zu x %zu x %zu\n", p, threads, n, m, dim, N, M, D);
                assert_int_equal(c.lib, 0);
            }
            imm_ctx_free(ctx);
            static const size_t batches[] = {1, 13, 64, 1000, 1100, 4200};
            static const size_t dims[] = {1, 7, 784, 1024, 3000, 4096, 4097, 5000, 9000};
            for (size_t b = 0; b < 6; b++)
                for (size_t d = 0; d < 9; d++) {
                    size_t ws, wb = 0, wd = 0;
                    assert_int_equal(imm_ctx_workspace_size(&o, batches[b], dims[d], &ws), IMM_OK);
                    if (b > 0)
                        assert_int_equal(imm_ctx_workspace_size(&o, batches[b - 1], dims[d], &wb),
                                         IMM_OK);
                    if (d > 0)
                        assert_int_equal(imm_ctx_workspace_size(&o, batches[b], dims[d - 1], &wd),
                                         IMM_OK);
                    assert_true(ws >= wb && ws >= wd);
                }
        }
    free(x);
    free(y);
    free(out);
}

/*-----------------------------------------------------------------------------------------------
 *  Test 3: a small one-shot solve (printed only, for now).
 *---------------------------------------------------------------------------------------------*/
static void test_small_one_shot(void **state) {
    (void)state;
    float cost[8 * 8];
    int32_t perm[8];
    tu_rng r = tu_rng_make(8);
    for (int i = 0; i < 8 * 8; i++)
        cost[i] = (float)tu_unif(&r);
    assert_int_equal(imm_lap_solve(cost, 8, 8, NULL, perm, NULL), IMM_OK); /* warm-up */
    arm(0);
    int st = imm_lap_solve(cost, 8, 8, NULL, perm, NULL);
    alloc_counts n = disarm();
    assert_int_equal(st, IMM_OK);
    assert_true(tu_is_injection(perm, 8, 8));
    print_message("  imm_lap_solve 8x8, default options: %ld library, %ld runtime allocations\n",
                  n.lib, n.runtime);
    /* small problems start no OpenMP team (lib/core/parallel.h), so the runtime allocates nothing
     */
    assert_int_equal(n.runtime, 0);
}

/* The memory figures the header states: imm_lap_solve allocates one block of 76 bytes per column
   (rounded up to a multiple of 8) plus 8 + 8 min(32, cols) bytes per row (note 5); a context's
   workspace is imm_ctx_workspace_size() (plus 63 bytes of alignment slack). */
static void test_memory_figures(void **state) {
    (void)state;
    static const size_t shapes[][2] = {{5, 7}, {40, 40}, {40, 2048}, {300, 310}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const size_t rows = shapes[s][0], cols = shapes[s][1];
        float *cost = malloc(rows * cols * sizeof(float));
        int32_t *assign = malloc(rows * sizeof(int32_t));
        tu_rng r = tu_rng_make(s + 1);
        for (size_t t = 0; t < rows * cols; t++)
            cost[t] = (float)tu_unif(&r);
        atomic_store(&lib_largest, 0);
        arm(0);
        int st = imm_lap_solve(cost, rows, cols, NULL, assign, NULL);
        alloc_counts n = disarm();
        assert_int_equal(st, IMM_OK);
        const size_t k = cols < 32 ? cols : 32;
        const size_t want = (76 * cols + 7) / 8 * 8 + rows * (8 + 8 * k);
        print_message(
            "  imm_lap_solve %zu x %zu: %ld allocation(s), largest %ld bytes (header: %zu)\n", rows,
            cols, n.lib, atomic_load(&lib_largest), want);
        assert_int_equal(n.lib, 1);
        assert_int_equal((size_t)atomic_load(&lib_largest), want);
        free(cost);
        free(assign);
    }
    enum { B = 96, D = 48 };
    float *x = calloc(B * D, sizeof(float)), *noise = calloc(B * D, sizeof(float));
    tu_rng r = tu_rng_make(3);
    tu_images(x, B, D, &r);
    tu_noise(noise, B, D, &r);
    for (int threads = 1; threads <= 2; threads++) {
        imm_options o;
        imm_options_init(&o);
        o.num_threads = threads;
        size_t ws;
        imm_ctx *ctx;
        assert_int_equal(imm_ctx_workspace_size(&o, B, D, &ws), IMM_OK);
        assert_int_equal(imm_ctx_create(&ctx, &o), IMM_OK);
        atomic_store(&lib_largest, 0);
        arm(0);
        int st = imm_ctx_assign_noise(ctx, x, noise, B, D, NULL);
        disarm();
        assert_int_equal(st, IMM_OK);
        assert_int_equal((size_t)atomic_load(&lib_largest), ws + 63);
        imm_ctx_free(ctx);
    }
    free(x);
    free(noise);
}

int main(void) {
    dl_iterate_phdr(find_library_text, NULL);
    if (lib_text_count == 0) {
        fprintf(stderr, "test_alloc: libimmiscible's text segment not found\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nomem_sweep_1thread, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_nomem_sweep_2threads, fixture_setup, fixture_teardown),
        cmocka_unit_test(test_warm_context),
        cmocka_unit_test(test_warm_distance_and_solve),
        cmocka_unit_test(test_warm_smaller_shapes),
        cmocka_unit_test(test_small_one_shot),
        cmocka_unit_test(test_memory_figures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
