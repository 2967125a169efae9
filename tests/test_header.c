/*
 * test_header.c - <immiscible.h> compiles on its own as C11 (it is included first, and twice),
 * and its fixed-size promises hold.
 */
#include <immiscible.h>
/* again: the include guard must make this harmless */
#include <immiscible.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tu_arch.h"

_Static_assert(sizeof(imm_options) == 128, "imm_options is 128 bytes for the major version");
_Static_assert(IMM_OK == 0 && IMM_ERR_INVALID_ARG == -1 && IMM_ERR_NONFINITE == -2 &&
                   IMM_ERR_NOMEM == -3 && IMM_ERR_TOO_LARGE == -4 && IMM_ERR_UNSUPPORTED == -5 &&
                   IMM_ERR_INFEASIBLE == -6,
               "status values are stable");
_Static_assert(IMM_VERSION_NUMBER ==
                   IMM_VERSION_MAJOR * 10000 + IMM_VERSION_MINOR * 100 + IMM_VERSION_PATCH,
               "version number");

static void test_header_links(void **state) {
    (void)state;
    imm_options o;
    imm_options_init(&o);
    assert_int_equal(o.solver, IMM_SOLVER_EXACT);
    assert_int_equal(imm_version_number(), IMM_VERSION_NUMBER);
    assert_non_null(imm_strerror(IMM_ERR_NOMEM));
    float c[4] = {1, 0, 0, 1};
    int32_t a[2];
    double total = -1;
    assert_int_equal(imm_lap_solve(c, 2, 2, &o, a, &total), IMM_OK);
    assert_true(total == 0.0 && a[0] == 1 && a[1] == 0);
}

int main(void) {
    tu_arch_start("test_header");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_links),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
