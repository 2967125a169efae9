/*
 * test_abi.c - the binary interface of the public structs and the library's version identity.
 *
 * The layouts of imm_options and imm_lap_info are part of the ABI: every field's type, offset and
 * the total size are written out here as literals (not computed from the header), checked at
 * compile time and again at run time, so that any change to them is a deliberate edit of this
 * file too. While the major version is 0 every minor release may change the ABI, so the SONAME
 * is libimmiscible.so.0.MINOR; the loaded library must answer to that name (the SONAME itself is
 * also read from the file by check_soname.cmake, test_abi_soname).
 */
#define _GNU_SOURCE /* dlopen's RTLD_NOLOAD */
#include <immiscible.h>

#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tu_arch.h"

/* A field: its offset, its size, and its exact type (int32_t, not merely 4 bytes). */
#define TU_OFFSET(type, field, off) _Static_assert(offsetof(type, field) == (off), #type "." #field)
#define TU_TYPE(type, field, ftype)                                                                \
    _Static_assert(_Generic(((type *)0)->field, ftype : 1, default : 0) &&                         \
                       sizeof(((type *)0)->field) == sizeof(ftype),                                \
                   #type "." #field " is " #ftype)

/* imm_options: fixed-width fields only, 128 bytes. */
TU_OFFSET(imm_options, solver, 0);
TU_OFFSET(imm_options, precision, 4);
TU_OFFSET(imm_options, metric, 8);
TU_OFFSET(imm_options, num_threads, 12);
TU_OFFSET(imm_options, accuracy, 16);
TU_OFFSET(imm_options, exact_finish, 24);
TU_OFFSET(imm_options, reserved_int_, 28);
TU_OFFSET(imm_options, reserved_, 32);
TU_TYPE(imm_options, solver, int32_t);
TU_TYPE(imm_options, precision, int32_t);
TU_TYPE(imm_options, metric, int32_t);
TU_TYPE(imm_options, num_threads, int32_t);
TU_TYPE(imm_options, accuracy, double);
TU_TYPE(imm_options, exact_finish, int32_t);
TU_TYPE(imm_options, reserved_int_, int32_t);
TU_TYPE(imm_options, reserved_[0], uint64_t);
_Static_assert(sizeof(((imm_options *)0)->reserved_) == 12 * 8, "imm_options.reserved_[12]");
_Static_assert(sizeof(imm_options) == 128, "sizeof(imm_options)");
_Static_assert(_Alignof(imm_options) == 8, "alignof(imm_options)");

/* imm_lap_info: 120 bytes. */
TU_OFFSET(imm_lap_info, total, 0);
TU_OFFSET(imm_lap_info, lower_bound, 8);
TU_OFFSET(imm_lap_info, gap_bound, 16);
TU_OFFSET(imm_lap_info, final_eps, 24);
TU_OFFSET(imm_lap_info, bids, 32);
TU_OFFSET(imm_lap_info, augmentations, 40);
TU_OFFSET(imm_lap_info, phases, 48);
TU_OFFSET(imm_lap_info, exact, 52);
TU_OFFSET(imm_lap_info, passes, 56);
TU_OFFSET(imm_lap_info, seconds, 64);
TU_OFFSET(imm_lap_info, sparse, 96);
TU_OFFSET(imm_lap_info, rounds, 100);
TU_OFFSET(imm_lap_info, reserved_, 104);
TU_TYPE(imm_lap_info, total, double);
TU_TYPE(imm_lap_info, lower_bound, double);
TU_TYPE(imm_lap_info, gap_bound, double);
TU_TYPE(imm_lap_info, final_eps, double);
TU_TYPE(imm_lap_info, bids, int64_t);
TU_TYPE(imm_lap_info, augmentations, int64_t);
TU_TYPE(imm_lap_info, phases, int32_t);
TU_TYPE(imm_lap_info, exact, int32_t);
TU_TYPE(imm_lap_info, passes, double);
TU_TYPE(imm_lap_info, seconds[0], double);
TU_TYPE(imm_lap_info, sparse, int32_t);
TU_TYPE(imm_lap_info, rounds, int32_t);
TU_TYPE(imm_lap_info, reserved_[0], uint64_t);
_Static_assert(sizeof(((imm_lap_info *)0)->seconds) == 4 * 8, "imm_lap_info.seconds[4]");
_Static_assert(sizeof(((imm_lap_info *)0)->reserved_) == 2 * 8, "imm_lap_info.reserved_[2]");
_Static_assert(sizeof(imm_lap_info) == 120, "sizeof(imm_lap_info)");
_Static_assert(_Alignof(imm_lap_info) == 8, "alignof(imm_lap_info)");

/* The same at run time (a compiler that got the static checks wrong would not get these too). */
typedef struct {
    const char *name;
    size_t offset, size, want_offset, want_size;
} field;

#define FIELD(type, f, off, sz)                                                                    \
    { #type "." #f, offsetof(type, f), sizeof(((type *)0)->f), off, sz }

static void check_fields(const field *fs, size_t count) {
    for (size_t i = 0; i < count; i++) {
        if (fs[i].offset != fs[i].want_offset || fs[i].size != fs[i].want_size)
            fail_msg("%s: offset %zu, size %zu; the ABI says offset %zu, size %zu", fs[i].name,
                     fs[i].offset, fs[i].size, fs[i].want_offset, fs[i].want_size);
        /* contiguous: no padding anywhere (the next field starts where this one ends) */
        if (i + 1 < count && fs[i].want_offset + fs[i].want_size != fs[i + 1].want_offset)
            fail_msg("%s: a hole after it", fs[i].name);
    }
}

static void test_options_layout(void **state) {
    (void)state;
    static const field fs[] = {
        FIELD(imm_options, solver, 0, 4),         FIELD(imm_options, precision, 4, 4),
        FIELD(imm_options, metric, 8, 4),         FIELD(imm_options, num_threads, 12, 4),
        FIELD(imm_options, accuracy, 16, 8),      FIELD(imm_options, exact_finish, 24, 4),
        FIELD(imm_options, reserved_int_, 28, 4), FIELD(imm_options, reserved_, 32, 96),
    };
    check_fields(fs, sizeof fs / sizeof fs[0]);
    assert_int_equal(sizeof(imm_options), 128);
    assert_int_equal(fs[7].want_offset + fs[7].want_size, 128);

    /* imm_options_init writes every byte of the 128: defaults, and zeros in the reserved space */
    imm_options o;
    memset(&o, 0xA5, sizeof o);
    imm_options_init(&o);
    assert_int_equal(o.reserved_int_, 0);
    for (size_t i = 0; i < 12; i++)
        assert_true(o.reserved_[i] == 0);
}

static void test_lap_info_layout(void **state) {
    (void)state;
    static const field fs[] = {
        FIELD(imm_lap_info, total, 0, 8),       FIELD(imm_lap_info, lower_bound, 8, 8),
        FIELD(imm_lap_info, gap_bound, 16, 8),  FIELD(imm_lap_info, final_eps, 24, 8),
        FIELD(imm_lap_info, bids, 32, 8),       FIELD(imm_lap_info, augmentations, 40, 8),
        FIELD(imm_lap_info, phases, 48, 4),     FIELD(imm_lap_info, exact, 52, 4),
        FIELD(imm_lap_info, passes, 56, 8),     FIELD(imm_lap_info, seconds, 64, 32),
        FIELD(imm_lap_info, sparse, 96, 4),     FIELD(imm_lap_info, rounds, 100, 4),
        FIELD(imm_lap_info, reserved_, 104, 16),
    };
    check_fields(fs, sizeof fs / sizeof fs[0]);
    assert_int_equal(sizeof(imm_lap_info), 120);
    assert_int_equal(fs[12].want_offset + fs[12].want_size, 120);
}

/* The library linked is the one the header describes. */
static void test_version(void **state) {
    (void)state;
    char want[48];
    snprintf(want, sizeof want, "%d.%d.%d", IMM_VERSION_MAJOR, IMM_VERSION_MINOR,
             IMM_VERSION_PATCH);
    assert_non_null(imm_version_string());
    assert_string_equal(imm_version_string(), want);
    assert_int_equal(imm_version_number(), IMM_VERSION_NUMBER);
    assert_int_equal(IMM_VERSION_NUMBER,
                     IMM_VERSION_MAJOR * 10000 + IMM_VERSION_MINOR * 100 + IMM_VERSION_PATCH);
    assert_true(IMM_VERSION_MINOR < 100 && IMM_VERSION_PATCH < 100);
}

/* The loaded shared library answers to libimmiscible.so.0.MINOR (major 0) or .so.MAJOR: the
 * dynamic loader matches a name against a loaded object's SONAME, and RTLD_NOLOAD loads nothing
 * new. The SONAME one minor off must not match. */
static void test_soname(void **state) {
    (void)state;
#if defined(IMM_TEST_SHARED) && defined(__ELF__)
    char name[64], other[64];
    if (IMM_VERSION_MAJOR == 0) {
        snprintf(name, sizeof name, "libimmiscible.so.0.%d", IMM_VERSION_MINOR);
        snprintf(other, sizeof other, "libimmiscible.so.0.%d", IMM_VERSION_MINOR + 1);
    } else {
        snprintf(name, sizeof name, "libimmiscible.so.%d", IMM_VERSION_MAJOR);
        snprintf(other, sizeof other, "libimmiscible.so.%d", IMM_VERSION_MAJOR + 1);
    }
    void *h = dlopen(name, RTLD_LAZY | RTLD_NOLOAD);
    if (h == NULL)
        fail_msg("the loaded libimmiscible does not answer to its SONAME %s (%s)", name, dlerror());
    print_message("loaded library answers to %s\n", name);
    dlclose(h);
    h = dlopen(other, RTLD_LAZY | RTLD_NOLOAD);
    if (h != NULL) {
        dlclose(h);
        fail_msg("the loaded libimmiscible also answers to %s", other);
    }
#else
    print_message("not a shared ELF build: SONAME not checked here\n");
    skip();
#endif
}

int main(void) {
    tu_arch_start("test_abi");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_layout),
        cmocka_unit_test(test_lap_info_layout),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_soname),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
