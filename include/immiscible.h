/*
 * immiscible.h - noise assignment for diffusion training.
 *
 * libimmiscible pairs every image of a training batch with the Gaussian noise row nearest to it,
 * as in "Immiscible Diffusion" (Li et al., NeurIPS 2024): it computes the batch's image-noise
 * distance matrix, solves the linear assignment problem on it exactly, and permutes the noise
 * rows. The noise set is unchanged (only its order changes), so the noise stays Gaussian.
 *
 * Two levels of API, as in zstd:
 *   - one-shot calls (imm_assign_noise, imm_lap_solve, imm_distance), which allocate what they
 *     need and free it before returning;
 *   - an explicit context (imm_ctx_*) that owns its workspaces and reuses them across calls:
 *     once it has seen a batch size and dim, a call allocates nothing (the OpenMP runtime
 *     included, outside nested parallel regions: convention 9).
 *
 * Conventions shared by every function:
 *   1. Matrices are row-major and dense; a cost / distance matrix has images as rows and noise
 *      as columns.
 *   2. Every function returns an imm_status (IMM_OK == 0, errors < 0). Arguments are checked
 *      first, then the data (NaN / Inf), then the work is done and the outputs are written last:
 *      on any error, nothing the caller passed in has been modified.
 *   3. Buffers: an output must not share a byte with an input or with another output (a buffer
 *      that is both, like imm_assign_noise's noise, counts as an output). Any overlap is
 *      IMM_ERR_INVALID_ARG, found by comparing address ranges, before anything is read. Inputs
 *      may overlap each other.
 *   4. `opts == NULL` means the defaults of imm_options_init().
 *   5. Nothing is cached between calls: every call computes from its inputs alone.
 *   6. Results never depend on the number of threads, on the SIMD variant, or on the caller's
 *      floating-point state: every computation, on the calling thread and on every OpenMP
 *      thread the library uses, runs in round-to-nearest with flush-to-zero and
 *      denormals-are-zero off and all exceptions masked; each thread's own environment
 *      (rounding mode, FTZ / DAZ, flags) is restored before the call returns. The library
 *      cannot be built with -ffast-math.
 *   7. Threads: OpenMP is used through clauses only (num_threads), never by changing global
 *      OpenMP state; calling from inside an OpenMP parallel region is fine. A call uses
 *      imm_options.num_threads threads (0: omp_get_max_threads()), but never more than
 *      omp_get_thread_limit() or omp_get_num_procs(), and sizes its workspaces for that number.
 *      Problems too small to gain from threads run on the calling thread without starting an
 *      OpenMP team.
 *   8. Thread safety: one-shot calls are always safe to run concurrently; context calls are
 *      safe when each thread uses its own context.
 *   9. The library never prints, never aborts and never exits. The exception is the OpenMP
 *      runtime itself: libgomp prints and exits the process when it cannot create a thread or
 *      allocate a team. The library starts at most one team per phase of a call (distance
 *      pre-pass, distances, each auction phase), none for small problems, and libgomp reuses a
 *      team of the same size, so a warm context call outside any parallel region makes no
 *      runtime allocation at all with 1 or 2 threads (tests/test_alloc.c); called from inside
 *      a parallel region, libgomp allocates each nested team.
 *  10. Versions: while IMM_VERSION_MAJOR is 0, every minor version may change the ABI. The
 *      shared library's SONAME is libimmiscible.so.0.MINOR and the CMake package accepts the
 *      same minor version only. imm_options and imm_lap_info keep their size and field offsets
 *      within a minor version (tests/test_abi.c).
 */
#ifndef IMMISCIBLE_H
#define IMMISCIBLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IMM_VERSION_MAJOR 0
#define IMM_VERSION_MINOR 1
#define IMM_VERSION_PATCH 1
#define IMM_VERSION_NUMBER (IMM_VERSION_MAJOR * 10000 + IMM_VERSION_MINOR * 100 + IMM_VERSION_PATCH)

#if defined(IMM_STATIC_DEFINE)
#define IMM_API
#elif defined(_WIN32)
#if defined(IMM_BUILDING)
#define IMM_API __declspec(dllexport)
#else
#define IMM_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#define IMM_API __attribute__((visibility("default")))
#else
#define IMM_API
#endif

#if defined(__GNUC__) && __GNUC__ >= 4
#define IMM_NODISCARD __attribute__((warn_unused_result))
#else
#define IMM_NODISCARD
#endif

/*-*********************************************************************************************
 *  Version and errors
 ***********************************************************************************************/

/*! imm_version_string() :
 *  @return the library's version as "MAJOR.MINOR.PATCH" (a static string). */
IMM_API const char *imm_version_string(void);

/*! imm_version_number() :
 *  @return IMM_VERSION_NUMBER of the library actually linked (may differ from the header's). */
IMM_API unsigned imm_version_number(void);

/*! imm_status : every function returns one of these. The values are stable across versions. */
typedef enum imm_status {
    IMM_OK = 0,
    IMM_ERR_INVALID_ARG = -1, /* NULL where data is required, rows > cols, bad enum, bad perm... */
    IMM_ERR_NONFINITE = -2,   /* NaN or +-Inf in an input (or a distance overflowing float) */
    IMM_ERR_NOMEM = -3,       /* an allocation failed */
    IMM_ERR_TOO_LARGE = -4,   /* a size product overflows size_t, or more than INT32_MAX rows */
    IMM_ERR_UNSUPPORTED = -5, /* a valid request this build cannot serve (the auction on a
                                 matrix with forbidden pairs) */
    IMM_ERR_INFEASIBLE = -6   /* no complete assignment avoids the forbidden (+Inf) pairs */
} imm_status;

/*! imm_strerror() :
 *  @return a static, human-readable description of `status` ("unknown status" for values that
 *          are not an imm_status). Never NULL. */
IMM_API const char *imm_strerror(int status);

/*! imm_simd_arch() :
 *  @return the SIMD variant the library's kernels run: "scalar", "avx2", "avx512" or "amx" (a
 *          static string). Chosen once per process from the CPU (cpuid and xgetbv) and the build;
 *          the environment variable IMM_ARCH=scalar|avx2|avx512|amx, read at that moment, forces
 *          a variant when it is available (otherwise the best available one is used, and
 *          reported here). Without IMM_ARCH the best of scalar, avx2 and avx512 is used.
 *          "amx" is opt-in: the avx512 variant whose INT8 dot products run on AMX-INT8 tiles
 *          (tdpbusd). It is available where the CPU has AMX-TILE and AMX-INT8, the OS enables
 *          the tile state (XCR0) and grants it to the process: on Linux the library then asks
 *          for it once, at this choice, with arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA), which
 *          applies to the whole process (every thread's signal frame grows by the 8 KiB of tile
 *          data). Each thread that computes tiles (the caller's or an OpenMP worker) loads the
 *          tile configuration itself per block of work and releases it (TILERELEASE) after, so
 *          no thread keeps tile state between calls. Every variant returns bitwise the same
 *          results. */
IMM_API const char *imm_simd_arch(void);

/*-*********************************************************************************************
 *  Options
 ***********************************************************************************************/

typedef enum imm_solver {
    IMM_SOLVER_EXACT = 0,  /* provably optimal assignment (shortest augmenting paths) */
    IMM_SOLVER_AUCTION = 1 /* epsilon-scaling auction: approximate, parallel, bounded gap */
} imm_solver;

/* Precision of the distance kernels; see imm_distance() for the arithmetic and safe ranges. */
typedef enum imm_precision {
    IMM_PRECISION_FP32 = 0, /* fp32 inputs and products, fp32 sums over blocks of 256, in double */
    IMM_PRECISION_FP16 = 1, /* inputs rounded to IEEE half, products summed in fp32 */
    IMM_PRECISION_INT8 = 2, /* per-row symmetric int8 quantization, exact integer dot products */
    IMM_PRECISION_BF16 = 3  /* inputs rounded to bfloat16, products summed in fp32 */
} imm_precision;

typedef enum imm_metric {
    IMM_METRIC_L2 = 0,  /* Euclidean distance ||x - y|| */
    IMM_METRIC_SQL2 = 1 /* squared Euclidean distance ||x - y||^2 */
} imm_metric;

/*! imm_options :
 *  Always initialise with imm_options_init(), then set the fields you need.
 *  The struct has a fixed size (128 bytes) for the life of the major version: new fields are
 *  carved out of `reserved_`, which must stay zero (a non-zero reserved word is rejected with
 *  IMM_ERR_INVALID_ARG, which also catches options that were never initialised). */
typedef struct imm_options {
    int32_t solver;      /* an imm_solver; default IMM_SOLVER_EXACT */
    int32_t precision;   /* an imm_precision; default IMM_PRECISION_FP32: the distance kernels */
    int32_t metric;      /* an imm_metric; default IMM_METRIC_L2 */
    int32_t num_threads; /* >= 0; 0 = the OpenMP default (omp_get_max_threads()); any value is
                            clamped to what can run (convention 7) */
    /* IMM_SOLVER_AUCTION: relative accuracy target. The auction stops at the epsilon with
       rows * epsilon <= accuracy * (max cost - min cost), which bounds the gap to the optimum
       by that amount. 0 = IMM_AUCTION_DEFAULT_ACCURACY; otherwise in (0, IMM_AUCTION_MAX_ACCURACY]
       (anything else, NaN included, is IMM_ERR_INVALID_ARG).
       Rectangular problems with many extra columns ((cols - rows) * 8 > cols) are always
       solved exactly (the auction would fight price wars there); imm_lap_info.exact says so. */
    double accuracy;
    /* IMM_SOLVER_AUCTION: non-zero = finish exactly, seeding the exact solver with the auction's
       prices (the result is then optimal, like IMM_SOLVER_EXACT). Default 0. */
    int32_t exact_finish;
    int32_t reserved_int_;  /* must be zero */
    uint64_t reserved_[12]; /* must be zero */
} imm_options;

/* The auction's default relative accuracy (see imm_options.accuracy). */
#define IMM_AUCTION_DEFAULT_ACCURACY 1e-4
/* The largest accepted accuracy: a gap bound of the whole cost range, which every assignment
   meets. */
#define IMM_AUCTION_MAX_ACCURACY 1.0

/*! imm_options_init() :
 *  Sets every field of *opts (including the reserved space) to the defaults:
 *  EXACT solver, FP32 precision, L2 metric, num_threads 0. `opts == NULL` is a no-op. */
IMM_API void imm_options_init(imm_options *opts);

/*-*********************************************************************************************
 *  Linear assignment
 ***********************************************************************************************/

/*! imm_lap_solve() :
 *  Solves the (rectangular) linear assignment problem: gives every row r a distinct column
 *  assign[r] so that the sum of cost[r * cols + assign[r]] is minimal.
 *  @param cost   rows x cols floats, row-major, row stride = cols. Read in place, never copied.
 *  @param rows   number of rows, rows <= cols, rows <= INT32_MAX.
 *  @param cols   number of columns, cols <= INT32_MAX.
 *  @param opts   solver options or NULL; `solver`, `num_threads` (the auction solver's bids;
 *                the exact solver's passes over the matrix -- validation, column means,
 *                candidate lists, certification -- while its assignment phases are
 *                sequential), `accuracy` and `exact_finish` matter here (`precision` and
 *                `metric` do not).
 *  @param assign out: rows int32 column indices, all distinct.
 *  @param total  out (may be NULL): the sum of the float costs of the assignment, in double.
 *  @return IMM_OK, IMM_ERR_INVALID_ARG (NULL data, rows > cols, bad options, overlapping
 *          buffers), IMM_ERR_TOO_LARGE, IMM_ERR_NONFINITE, IMM_ERR_NOMEM.
 *  Notes:
 *   1. rows == 0 is valid and does nothing but set *total = 0 (cost and assign may be NULL).
 *   2. Exactness: the exact solver's result (and the auction's with exact_finish) satisfies a
 *      dual certificate (see imm_lap_certify) with tau = 1e-9 * max|cost| per entry, so its
 *      total is within 2 rows tau of the optimum (3 rows tau when rows < cols): optimal up to
 *      the double rounding of the potentials. Costs of very different magnitudes in one matrix
 *      (1e30 next to 1) can use that room.
 *   3. Determinism: every minimum search breaks ties by the lowest column index (the shortest
 *      augmenting path search first takes a free column among those at the smallest distance,
 *      the lowest such), so the same input gives the same assignment on every run, for every
 *      thread count and every CPU. When several assignments are optimal, which one is returned
 *      is fixed by the input alone.
 *   4. Costs may be negative; any finite float is accepted. +Inf marks a forbidden pair: the
 *      exact solver never assigns one, and returns IMM_ERR_INFEASIBLE (outputs untouched) when
 *      every complete assignment needs one; the auction returns IMM_ERR_UNSUPPORTED for such a
 *      matrix. NaN and -Inf are IMM_ERR_NONFINITE. Forbidden pairs skip the auction warm start
 *      of the exact solver (slower on large flat matrices, still exact).
 *   5. Memory: beyond the cost matrix, one block of 76 bytes per column (rounded up to a
 *      multiple of 8) plus 8 + 8 min(32, cols) bytes per row (tests/test_alloc.c). */
IMM_API IMM_NODISCARD int imm_lap_solve(const float *cost, size_t rows, size_t cols,
                                        const imm_options *opts, int32_t *assign, double *total);

/*! imm_lap_solve_dual() :
 *  imm_lap_solve() that also returns the optimal dual potentials.
 *  @param u out: rows doubles (may be NULL).  @param v out: cols doubles (may be NULL).
 *  On success with the exact solver, cost[i][j] - u[i] - v[j] >= -tau for every i, j, == 0
 *  (within tau) on the assignment, and for rows < cols every unassigned column has
 *  v[j] == max(v) (complementary slackness of the rectangular problem); with the auction, see
 *  imm_lap_solve_ex(). u, v must not overlap each other, assign or cost. Same errors as
 *  imm_lap_solve(). */
IMM_API IMM_NODISCARD int imm_lap_solve_dual(const float *cost, size_t rows, size_t cols,
                                             const imm_options *opts, int32_t *assign, double *u,
                                             double *v, double *total);

/*! imm_lap_info : what a solve did and how good its result provably is. */
typedef struct imm_lap_info {
    double total;       /* sum of the assigned float costs, in double */
    double lower_bound; /* a dual lower bound, always finite: the optimal total (in exact
                           arithmetic) is >= lower_bound, rounding included */
    double gap_bound;   /* max(0, total - lower_bound): the result is at most this far from
                           optimal (up to the rounding of total itself, a double sum) */
    double final_eps;   /* epsilon of the auction's last phase (0 if no auction ran) */
    int64_t bids;       /* auction bids (the auction solver's, or the exact solver's warm
                           start) */
    int64_t augmentations; /* shortest augmenting path searches */
    int32_t phases;     /* auction phases */
    int32_t exact;      /* 1 when the result is optimal (exact solver or exact finish) */
    /* Where the work went (since 0.1.1, carved out of the reserved space; what a solve
       measured, not part of its result): */
    double passes;      /* cost rows read in full, divided by rows: the validation scan, the
                           column means, candidate list builds, certification passes, dense
                           row scans and the lower bound's pass each count */
    double seconds[4];  /* wall time of: [0] validation and column means, [1] the auction (warm
                           start or solver), [2] the exact phases (ARR, Dijkstra) or the
                           auction's completion, [3] the exact solver's certification passes on
                           the full matrix (the lower bound's pass is not timed) */
    int32_t sparse;     /* 1 when the exact solver's sparse mode proved the result */
    int32_t rounds;     /* certification passes of the sparse mode */
    uint64_t reserved_[2];
} imm_lap_info;

/*! imm_lap_solve_ex() :
 *  imm_lap_solve() with everything it can report. Any of u, v, info may be NULL.
 *  @param u out: rows doubles, v out: cols doubles: dual potentials. With the exact solver they
 *         certify optimality (see imm_lap_solve_dual); with the auction, u[i] = min over j of
 *         cost[i][j] - v[j], lowered by a bound on its rounding, so that u[i] + v[j] <= cost[i][j]
 *         holds in exact arithmetic and they prove info->lower_bound.
 *  @param info out: totals, bound and counters (see imm_lap_info).
 *  The auction's potentials never leave a band of 2^10 max|cost| around zero: if a run would
 *  leave them outside, the exact finish (or the completion of a partial assignment) starts from
 *  the column means instead, so that the exact finish is optimal from any auction state.
 *  No two of assign, u, v, info may overlap, nor any of them cost. Same errors as
 *  imm_lap_solve(). */
IMM_API IMM_NODISCARD int imm_lap_solve_ex(const float *cost, size_t rows, size_t cols,
                                           const imm_options *opts, int32_t *assign, double *u,
                                           double *v, imm_lap_info *info);

/*! imm_lap_solve_batch() :
 *  Solves `count` independent problems of one shape in one call, in parallel over problems
 *  (each on one thread): problem p has its costs at cost + p * rows * cols (row-major, rows <= cols)
 *  and gets assign[p * rows ...] (rows entries) and, when not NULL, u[p * rows ...],
 *  v[p * cols ...] and totals[p]. Each problem's result is bitwise what imm_lap_solve_dual()
 *  gives it alone, whatever the thread count.
 *  @return as imm_lap_solve(); IMM_ERR_INFEASIBLE if any problem is (nothing written then).
 *  Memory: a state of imm_lap_solve's size (note 5) per thread, and count x (rows int32 +
 *  rows and cols doubles + 1 double) to hold the results until all problems are solved. */
IMM_API IMM_NODISCARD int imm_lap_solve_batch(const float *cost, size_t count, size_t rows,
                                              size_t cols, const imm_options *opts,
                                              int32_t *assign, double *u, double *v,
                                              double *totals);

/*! imm_lap_certify() :
 *  Checks an assignment against dual potentials, recomputing everything from the costs.
 *  @param violation out: an upper bound, in exact arithmetic, of the largest of
 *         - max over i, j of (u[i] + v[j] - cost[i][j])          (dual infeasibility),
 *         - max over i of |cost[i][assign[i]] - u[i] - v[assign[i]]| (complementary slackness),
 *         - for rows < cols, max over unassigned j of (max(v) - v[j]);
 *         computed in double, plus 2^-50 (max|u| + max|v| + max|cost|) for the rounding of that
 *         computation, so that potentials whose sums round the costs away cannot hide a
 *         violation: it never reports less than the true violation.
 *  If *violation <= tau, the assignment's exact total is within 2 rows tau of the optimum
 *  (3 rows tau when rows < cols). The solver's own results satisfy tau = 1e-9 * max|cost| (plus
 *  1e-30 so that all-zero costs work).
 *  @return IMM_OK (and *violation), IMM_ERR_INVALID_ARG if assign is not a set of distinct
 *          columns in range, a pointer is NULL or violation overlaps an input,
 *          IMM_ERR_NONFINITE for NaN or -Inf in cost (+Inf is a forbidden pair: assigning one
 *          is an infinite violation), NaN/Inf in u or v, or potentials whose sums overflow
 *          (max|u| + max|v| + FLT_MAX not finite), IMM_ERR_TOO_LARGE, IMM_ERR_NOMEM. */
IMM_API IMM_NODISCARD int imm_lap_certify(const float *cost, size_t rows, size_t cols,
                                          const int32_t *assign, const double *u,
                                          const double *v, double *violation);

/*-*********************************************************************************************
 *  Distances
 ***********************************************************************************************/

/*! imm_distance() :
 *  out[i * m + j] = metric(x_i, y_j) for the n rows of x and the m rows of y, in the precision
 *  opts->precision (default FP32).
 *  @param x n x dim floats, row-major (any alignment).  @param y m x dim floats, row-major.
 *  @param opts `metric`, `precision` and `num_threads`.
 *  @param out n x m floats, row-major. Must not overlap x or y (it holds the dot products while
 *         they are summed): IMM_ERR_INVALID_ARG.
 *  @return IMM_OK, IMM_ERR_INVALID_ARG (NULL data, dim == 0 with n, m > 0, overlap), IMM_ERR_TOO_LARGE,
 *          IMM_ERR_NONFINITE (NaN/Inf in x or y, a value outside the precision's range, or a
 *          distance that overflows float), IMM_ERR_NOMEM.
 *  Notes:
 *   1. n == 0 or m == 0 is valid and writes nothing. On any error out is not written at all.
 *   2. Arithmetic. Each row is first represented in the precision (x~, see 4), its squared norm
 *      computed once in double, and d^2 = (|x~|^2 + |y~|^2) - 2 x~.y~ is formed in double. The
 *      dot product is taken in blocks of 256 dimensions: within a block, one fp32 accumulator
 *      per output adds the products in increasing k with one FMA each (BF16: per pair of k, the
 *      odd product, rounded, then the even one, as vdpbf16ps); the block sums are then added in
 *      fp32, in block order. INT8 dot products are exact integers. Where cancellation ruins
 *      that formula (d^2 below 1/16 of |x~|^2 + |y~|^2: nearly equal rows), for the pairs of
 *      huge rows whose distance might not fit in a float, for FP32 / BF16 pairs so small that
 *      fp32 products could underflow (|x~|^2 + |y~|^2 < dim 2^-100), and, in a call scaled by a
 *      power of two (note 4), for BF16 pairs with a row whose largest |v| the scaling takes
 *      below 1, the output is the sum of (x~_k - y~_k)^2 in double instead. d^2 is clamped at 0
 *      and rounded to float (SQL2); L2 is the float square root of that float (sqrtf, within
 *      one ulp of the exact root of the double), unless it is subnormal or d^2 exceeds FLT_MAX:
 *      then the square root of the clamped double, rounded to float.
 *   3. Determinism: every SIMD variant (see imm_simd_arch()) and every thread count returns
 *      bitwise the same out, for every precision.
 *   4. Precisions, the rows the kernels see, and the inputs they are safe for:
 *      - FP32: x~ = x. Any finite input: when max |v| sqrt(dim) exceeds 2^60, x and y are
 *        scaled by an exact power of two first (and d^2 back), so fp32 sums cannot overflow.
 *      - FP16: x~ = x rounded to IEEE half (ties to even; the numerics of the reference
 *        Immiscible Diffusion code, products summed in fp32). No input scale is needed: the
 *        products of two halves are exact in fp32 and nothing is accumulated in half, so the
 *        0.1 factor that code applies only costs precision here. Safe for |v| < 65520 (larger
 *        values round to Inf: IMM_ERR_NONFINITE); |x~_k - x_k| <= 2^-11 |x_k| for
 *        |x_k| >= 2^-14, <= 2^-25 below (half subnormals).
 *      - BF16: x~ = x rounded to bfloat16 (ties to even), |v| < 2^-40 flushed to 0. Any finite
 *        input; |x~_k - x_k| <= 2^-8 |x_k| (2^-40 below the flush).
 *      - INT8: per row, with a = max_k |x_k|: q_k = rint(x_k * (127 / a)) (in double, ties to
 *        even), x~_k = q_k * a / 127; |x~_k - x_k| <= a / 254. Any finite input. The dot
 *        products are int32 sums of q_x (q_y + 128) (the u8 x s8 form of vpdpbusd; AMX's
 *        tdpbusd sums (q_x + 128) q_y), the offset removed in double: the exact integer
 *        q_x.q_y for dim <= 66311 (66311 * 255 * 127 < 2^31); a larger dim is
 *        IMM_ERR_TOO_LARGE.
 *   5. Accuracy against the exact distance d~ of the rows x~, y~ (tested): everywhere
 *      |out^2 - d~^2| <= 1e-6 (|x~|^2 + |y~|^2) (L2; SQL2 likewise on out), and the relative
 *      error is <= 1e-5 wherever d~ >= 0.1 sqrt(|x~|^2 + |y~|^2). Against the unrounded rows
 *      (triangle inequality, L2): |out - d| <= |x~ - x| + |y~ - y| + the bounds above, with
 *      |x~ - x| <= 2^-11 |x| + 2^-25 sqrt(dim) (FP16), 2^-8 |x| + 2^-40 sqrt(dim) (BF16),
 *      max_k |x_k| sqrt(dim) / 254 (INT8), 0 (FP32).
 *   6. Speed: AVX-512 (with VNNI for INT8 and BF16 for BF16 where the CPU has them; AMX-INT8
 *      tiles for INT8 with IMM_ARCH=amx, see imm_simd_arch()) or AVX2 kernels, chosen once per
 *      process; OpenMP over blocks of the output, one team per call.
 *   7. Memory (allocated per call): O(n + m) for row norms and scales, and packing buffers for
 *      a block of y's rows and, per thread, of x's (INT8: all of x, about n * dim bytes up to a
 *      fixed cap, instead), which do not grow with n * m and never shrink as n, m or dim grow
 *      (the README gives the sizes and the cap). out holds the dot products while they are summed. */
IMM_API IMM_NODISCARD int imm_distance(const float *x, size_t n, const float *y, size_t m,
                                       size_t dim, const imm_options *opts, float *out);

/*-*********************************************************************************************
 *  Noise assignment
 ***********************************************************************************************/

/*! imm_permute_rows() :
 *  In place: afterwards row i holds what was row perm[i] (bitwise copies).
 *  @param rows n x dim floats.  @param perm a permutation of 0..n-1.
 *  @return IMM_OK, IMM_ERR_INVALID_ARG (NULL, or perm not a permutation; rows untouched),
 *          IMM_ERR_TOO_LARGE, IMM_ERR_NOMEM. n == 0 or dim == 0 does nothing.
 *  Note: uses O(n + dim) temporary memory; the context path provides it without allocating. */
IMM_API IMM_NODISCARD int imm_permute_rows(float *rows, size_t n, size_t dim,
                                           const int32_t *perm);

/*! imm_assign_noise() :
 *  The per-batch primitive. Reorders the batch x dim noise rows so that the total distance
 *  (opts->metric) between image x_i and noise_i is minimal, and (if perm != NULL) stores the
 *  permutation applied: afterwards noise[i] == old noise[perm[i]], and perm[i] is the column
 *  the solver gave to row i of the image-noise distance matrix.
 *  @param x     batch x dim image rows (read only).
 *  @param noise batch x dim noise rows, permuted in place.
 *  @param perm  out (may be NULL): batch int32.
 *  @return IMM_OK, IMM_ERR_INVALID_ARG (NULL data, dim == 0 with batch > 0, overlap),
 *          IMM_ERR_TOO_LARGE, IMM_ERR_NONFINITE, IMM_ERR_NOMEM.
 *  Notes: 1. batch == 0 is valid and does nothing. dim == 0 with batch > 0 is invalid.
 *         2. The multiset of noise rows is preserved bitwise: only their order changes.
 *         3. x, noise and perm must not overlap.
 *         4. Memory: the batch x batch float distance matrix (batch^2 * 4 bytes), the distance
 *            kernels' workspace (imm_distance note 7) and O(batch + dim);
 *            imm_ctx_workspace_size() gives the exact figure. */
IMM_API IMM_NODISCARD int imm_assign_noise(const float *x, float *noise, size_t batch, size_t dim,
                                           const imm_options *opts, int32_t *perm);

/*! imm_assign_noise_pool() :
 *  Pool assignment: from pool_size >= batch noise rows, choose batch distinct rows minimising the
 *  total distance (opts->metric, opts->precision, opts->solver) to the images, and write them in
 *  image order: out[i] = pool[index[i]].
 *  @param x     batch x dim image rows.  @param pool pool_size x dim noise rows (read only).
 *  @param out   out: batch x dim rows; must not overlap x or pool.
 *  @param index out (may be NULL): batch int32 distinct pool rows.
 *  @return IMM_OK, IMM_ERR_INVALID_ARG (NULL data, pool_size < batch, dim == 0 with batch > 0,
 *          out or index overlapping x, pool or each other), IMM_ERR_TOO_LARGE,
 *          IMM_ERR_NONFINITE, IMM_ERR_NOMEM.
 *  Notes: 1. pool_size == batch gives the same rows as imm_assign_noise (out = permuted noise).
 *         2. Unlike the batch permutation, choosing from a larger pool biases the noise toward
 *            the images: the kept rows are the pool's nearest, not a reordering of Gaussian
 *            draws, so the noise a model is trained on is no longer N(0, I) given the batch.
 *         3. Memory: the batch x pool_size float distance matrix, the distance kernels'
 *            workspace (imm_distance note 7) and O(pool_size + dim). */
IMM_API IMM_NODISCARD int imm_assign_noise_pool(const float *x, size_t batch, const float *pool,
                                                size_t pool_size, size_t dim,
                                                const imm_options *opts, float *out,
                                                int32_t *index);

/*! imm_select_noise_knn() :
 *  Nearest-of-k selection ("Improved Immiscible Diffusion"): image i has its own k candidate
 *  noise rows; out[i] receives the candidate nearest to x_i (opts->metric, opts->precision).
 *  @param x          batch x dim image rows.
 *  @param candidates batch x k x dim rows, image-major: candidate t of image i is row i * k + t.
 *  @param k          candidates per image, >= 1 (k == 1 copies the first candidate, after the
 *                    same checks as any k: the distances are computed all the same).
 *  @param out        out: batch x dim rows; must not overlap candidates or x.
 *  @param index      out (may be NULL): batch int32, the candidate t chosen for each image; must
 *                    not overlap out, candidates or x.
 *  @return IMM_OK, IMM_ERR_INVALID_ARG (NULL data, k == 0 or dim == 0 with batch > 0,
 *          overlap), IMM_ERR_TOO_LARGE (as imm_distance), IMM_ERR_NONFINITE (NaN / Inf, a value
 *          outside the precision's range, a distance from an image to one of its own
 *          candidates that overflows float), IMM_ERR_NOMEM.
 *  Notes: 1. "Nearest" is by the distances imm_distance(x_i, 1, candidates_i, k, ...) gives,
 *            bitwise, whatever the other images hold; ties go to the lowest t. Images are
 *            processed in parallel; results do not depend on the thread count.
 *         2. This is NOT a permutation: two images may keep equally distributed but different
 *            draws, and each kept row is the minimum-distance one of k Gaussian draws, so the
 *            selected noise is no longer N(0, I) given the image: it is biased toward x_i (its
 *            norm and direction), the more so the larger k. The batch permutation of
 *            imm_assign_noise keeps the exact set of Gaussian draws instead.
 *         3. Memory: per thread, the larger of the fused kernel's scratch (with
 *            b = ceil(dim / 256): 4096 ceil(b / 16) + 2048 ceil(b / 4) floats, about 3.3 dim,
 *            plus 24 bytes per candidate) and the distance workspace of one image
 *            against its k candidates, then k floats; plus batch int32. */
IMM_API IMM_NODISCARD int imm_select_noise_knn(const float *x, size_t batch,
                                               const float *candidates, size_t k, size_t dim,
                                               const imm_options *opts, float *out,
                                               int32_t *index);

/*-*********************************************************************************************
 *  Explicit context
 ***********************************************************************************************/

typedef struct imm_ctx imm_ctx;

/*! imm_ctx_create() :
 *  Creates a context holding a copy of *opts (NULL = defaults) and, lazily, the workspaces.
 *  @return IMM_OK (and *ctx), IMM_ERR_INVALID_ARG (ctx NULL or bad options; *ctx untouched),
 *          IMM_ERR_NOMEM. */
IMM_API IMM_NODISCARD int imm_ctx_create(imm_ctx **ctx, const imm_options *opts);

/*! imm_ctx_free() : releases the context and its workspaces. NULL is a no-op. */
IMM_API void imm_ctx_free(imm_ctx *ctx);

/*! imm_ctx_assign_noise() :
 *  Same result as imm_assign_noise() with the context's options, bitwise. Workspaces grow to the
 *  largest batch / dim seen and are reused: once warm, a call allocates nothing
 *  (convention 9).
 *  Not safe to call concurrently on the same context. */
IMM_API IMM_NODISCARD int imm_ctx_assign_noise(imm_ctx *ctx, const float *x, float *noise,
                                               size_t batch, size_t dim, int32_t *perm);

/*! imm_ctx_assign_noise_pool() : imm_assign_noise_pool() with the context's options and
 *  workspace (bitwise the same result; no allocation once warm). */
IMM_API IMM_NODISCARD int imm_ctx_assign_noise_pool(imm_ctx *ctx, const float *x, size_t batch,
                                                    const float *pool, size_t pool_size,
                                                    size_t dim, float *out, int32_t *index);

/*! imm_ctx_select_noise_knn() : imm_select_noise_knn() with the context's options and
 *  workspace (bitwise the same result; no allocation once warm). */
IMM_API IMM_NODISCARD int imm_ctx_select_noise_knn(imm_ctx *ctx, const float *x, size_t batch,
                                                   const float *candidates, size_t k, size_t dim,
                                                   float *out, int32_t *index);

/*! imm_ctx_distance() : imm_distance() with the context's options (metric, precision,
 *  num_threads) and workspace: bitwise the same out, the same errors (IMM_ERR_INVALID_ARG also
 *  for ctx NULL); once the workspace has grown to the largest (n, m, dim) seen, a call
 *  allocates nothing (convention 9). */
IMM_API IMM_NODISCARD int imm_ctx_distance(imm_ctx *ctx, const float *x, size_t n, const float *y,
                                           size_t m, size_t dim, float *out);

/*! imm_ctx_lap_solve() : imm_lap_solve_dual() with the context's options (solver, accuracy,
 *  exact_finish, num_threads) and workspace: bitwise the same assign, u, v, total, the same
 *  errors (IMM_ERR_INVALID_ARG also for ctx NULL); no allocation once warm. */
IMM_API IMM_NODISCARD int imm_ctx_lap_solve(imm_ctx *ctx, const float *cost, size_t rows,
                                            size_t cols, int32_t *assign, double *u, double *v,
                                            double *total);

/*! imm_ctx_workspace_size() :
 *  @param bytes out: the workspace a context needs for (batch, dim) with *opts (NULL = defaults),
 *         in bytes: the batch x batch float distance matrix, the distance kernels' workspace
 *         (imm_distance note 7) and O(batch + dim): exactly what a context allocates for that
 *         call (tests/test_alloc.c). It depends on the thread count the options resolve to
 *         (convention 7); the README lists measured figures.
 *  @return IMM_OK, IMM_ERR_INVALID_ARG, IMM_ERR_TOO_LARGE. */
IMM_API IMM_NODISCARD int imm_ctx_workspace_size(const imm_options *opts, size_t batch, size_t dim,
                                                 size_t *bytes);

#ifdef __cplusplus
}
#endif

#endif /* IMMISCIBLE_H */
