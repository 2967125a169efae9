/*
 * test_header.cpp - <immiscible.h> compiles on its own as C++11 (included first) and its
 * functions link from C++ (extern "C").
 */
#include <immiscible.h>

#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstring>

extern "C" {
#include <cmocka.h>
}

#include "tu_arch.h"

static_assert(sizeof(imm_options) == 128, "imm_options is 128 bytes for the major version");
static_assert(IMM_ERR_UNSUPPORTED == -5, "status values are stable");
static_assert(IMM_ERR_INFEASIBLE == -6, "status values are stable");

static void test_cxx_linkage(void **) {
    imm_options o;
    imm_options_init(&o);
    o.metric = IMM_METRIC_SQL2;
    assert_int_equal(imm_version_number(), IMM_VERSION_NUMBER);
    assert_string_equal(imm_strerror(IMM_OK), imm_strerror(0));

    const float x[2] = {0.0f, 1.0f}, y[2] = {3.0f, 1.0f};
    float out[1] = {-1.0f};
    assert_int_equal(imm_distance(x, 1, y, 1, 2, &o, out), IMM_OK);
    assert_true(out[0] == 9.0f);

    imm_ctx *ctx = nullptr;
    assert_int_equal(imm_ctx_create(&ctx, &o), IMM_OK);
    float noise[4] = {3.0f, 1.0f, 0.0f, 1.0f};
    const float images[4] = {0.0f, 1.0f, 3.0f, 1.0f};
    int32_t perm[2] = {-1, -1};
    assert_int_equal(imm_ctx_assign_noise(ctx, images, noise, 2, 2, perm), IMM_OK);
    assert_true(perm[0] == 1 && perm[1] == 0);
    assert_true(std::memcmp(noise, images, sizeof noise) == 0);
    imm_ctx_free(ctx);
}

int main() {
    tu_arch_start("test_header_cxx");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cxx_linkage),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
