/* permute.c - in-place row permutation by cycle following. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "noise/noise.h"

bool imi_is_permutation(const int32_t *perm, size_t n, unsigned char *marks) {
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        int32_t p = perm[i];
        ok = p >= 0 && (size_t)p < n && !marks[p];
        if (ok)
            marks[p] = 1;
    }
    memset(marks, 0, n);
    return ok;
}

void imi_permute_apply(float *rows, size_t n, size_t dim, const int32_t *perm, unsigned char *marks,
                       float *tmp) {
    const size_t row_bytes = dim * sizeof(float);
    for (size_t s = 0; s < n; s++) {
        if (marks[s] || (size_t)perm[s] == s)
            continue;
        /* Cycle s -> perm[s] -> ...: row s is overwritten first, so save it. */
        memcpy(tmp, rows + s * dim, row_bytes);
        size_t cur = s;
        for (;;) {
            size_t next = (size_t)perm[cur];
            marks[cur] = 1;
            if (next == s) {
                memcpy(rows + cur * dim, tmp, row_bytes);
                break;
            }
            memcpy(rows + cur * dim, rows + next * dim, row_bytes);
            cur = next;
        }
    }
    memset(marks, 0, n);
}

int imm_permute_rows(float *rows, size_t n, size_t dim, const int32_t *perm) {
    size_t cells, tmp_bytes;
    RETURN_ERROR_IF(n > (size_t)INT32_MAX, IMM_ERR_TOO_LARGE);
    RETURN_ERROR_IF(!imi_mul_size(n, dim, &cells) || !imi_mul_size(cells, sizeof(float), &cells) ||
                        !imi_mul_size(dim, sizeof(float), &tmp_bytes),
                    IMM_ERR_TOO_LARGE);
    if (n == 0)
        return IMM_OK;
    RETURN_ERROR_IF(perm == NULL || (rows == NULL && dim > 0), IMM_ERR_INVALID_ARG);
    RETURN_ERROR_IF(imi_overlap(rows, cells, perm, n * sizeof(int32_t)), IMM_ERR_INVALID_ARG);
    unsigned char *marks = calloc(n, 1);
    float *tmp = malloc(tmp_bytes > 0 ? tmp_bytes : 1);
    if (marks == NULL || tmp == NULL) {
        free(marks);
        free(tmp);
        return IMM_ERR_NOMEM;
    }
    int status = IMM_ERR_INVALID_ARG;
    if (imi_is_permutation(perm, n, marks)) {
        if (dim > 0)
            imi_permute_apply(rows, n, dim, perm, marks, tmp);
        status = IMM_OK;
    }
    free(marks);
    free(tmp);
    return status;
}
