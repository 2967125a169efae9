/* errors.h - keep the happy path readable: bail out with a status, or forward a callee's error
 * (zstd's RETURN_ERROR_IF / FORWARD_IF_ERROR). Shared by the core library and the MPI layer. */
#ifndef IMM_CORE_ERRORS_H
#define IMM_CORE_ERRORS_H

#define RETURN_ERROR_IF(cond, status)                                                              \
    do {                                                                                           \
        if (cond)                                                                                  \
            return (status);                                                                       \
    } while (0)
#define FORWARD_IF_ERROR(expr)                                                                     \
    do {                                                                                           \
        int imi_fwd_status_ = (expr);                                                              \
        if (imi_fwd_status_ != IMM_OK)                                                             \
            return imi_fwd_status_;                                                                \
    } while (0)

#endif
