/* layout.h - workspaces carved out of one block: every piece at an aligned offset, every size
 * checked for overflow. The same calls measure a workspace (for imm_ctx_workspace_size and the
 * allocation) and lay it out, so the two cannot drift apart.
 *
 *     imi_layout l = IMI_LAYOUT_INIT;
 *     size_t a = imi_layout_add(&l, n, sizeof(double), 64), b = imi_layout_add(&l, ...);
 *     size_t bytes = imi_layout_total(&l);      // 0: a size overflowed
 *     ... base + a, base + b ...                // base aligned to the largest alignment used
 */
#ifndef IMM_CORE_LAYOUT_H
#define IMM_CORE_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t at;     /* bytes laid out so far */
    bool overflow; /* a size did not fit in size_t (sticky) */
} imi_layout;

#define IMI_LAYOUT_INIT                                                                            \
    { 0, false }

/* Reserves count elements of size bytes at the next multiple of align (a power of two) and
   returns their offset; 0 once a size has overflowed (imi_layout_total() then says so). */
static inline size_t imi_layout_add(imi_layout *l, size_t count, size_t size, size_t align) {
    const size_t start = (l->at + align - 1) & ~(align - 1);
    if (l->overflow || start < l->at || (size != 0 && count > SIZE_MAX / size) ||
        count * size > SIZE_MAX - start) {
        l->overflow = true;
        return 0;
    }
    l->at = start + count * size;
    return start;
}

/* The bytes the pieces need, rounded up to align; 0 when a size overflowed (and when there is
   nothing: check l->overflow where that can happen). */
static inline size_t imi_layout_total(const imi_layout *l, size_t align) {
    const size_t end = (l->at + align - 1) & ~(align - 1);
    return l->overflow || end < l->at ? 0 : end;
}

/* A block of `bytes` aligned to 64 bytes, by hand on top of malloc: glibc hands a large freed
   block back to the next call of the same size, where aligned_alloc's fresh mapping would
   page-fault on every 4 KiB again. *raw receives what free() takes. NULL when it fails. */
void *imi_alloc64(size_t bytes, void **raw);

#endif
