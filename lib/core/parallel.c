/* parallel.c - thread counts and the library's one generic parallel loop (see parallel.h). */
#include <omp.h>

#include "core/fpenv.h"
#include "core/parallel.h"

int imi_threads(const imm_options *opts) {
    int want = opts->num_threads > 0 ? opts->num_threads : omp_get_max_threads();
    const int limit = omp_get_thread_limit(), procs = omp_get_num_procs();
    if (want > limit)
        want = limit;
    if (want > procs)
        want = procs;
    return want > 1 ? want : 1;
}

void imi_parallel_for(int threads, long count, long chunk, void (*body)(long i, int tid, void *arg),
                      void *arg) {
    if (threads < 2 || count < 2) {
        for (long i = 0; i < count; i++)
            body(i, 0, arg);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        imi_fpenv fe;
        imi_fpenv_enter(&fe);
        const int tid = omp_get_thread_num();
#pragma omp for schedule(dynamic, chunk)
        for (long i = 0; i < count; i++)
            body(i, tid, arg);
        imi_fpenv_leave(&fe);
    }
}
