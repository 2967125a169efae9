/* status.c - version and error strings. */
#include "core/internal.h"

#define IMM_STR2(x) #x
#define IMM_STR(x) IMM_STR2(x)

const char *imm_version_string(void) {
    return IMM_STR(IMM_VERSION_MAJOR) "." IMM_STR(IMM_VERSION_MINOR) "." IMM_STR(IMM_VERSION_PATCH);
}

unsigned imm_version_number(void) { return IMM_VERSION_NUMBER; }

const char *imm_strerror(int status) {
    switch (status) {
    case IMM_OK: return "success";
    case IMM_ERR_INVALID_ARG: return "invalid argument";
    case IMM_ERR_NONFINITE: return "input contains NaN or infinity";
    case IMM_ERR_NOMEM: return "out of memory";
    case IMM_ERR_TOO_LARGE: return "size too large";
    case IMM_ERR_UNSUPPORTED: return "not supported by this version";
    case IMM_ERR_INFEASIBLE: return "cost matrix is infeasible";
    default: return "unknown status";
    }
}
