#!/bin/sh
# Installed-package tests, driven by CTest (see examples/CMakeLists.txt):
#   run.sh install BUILD_DIR [CONFIG]   cmake --install BUILD_DIR into $IMM_PREFIX (fresh)
#   run.sh exports                      libimmiscible.so exports imm_* symbols only
#   run.sh pkgconfig SOURCE.c           cc $(pkg-config --cflags --libs immiscible), then run it
#   run.sh find_package PROJECT_DIR     configure + build a find_package(immiscible) project, run it
# Environment (set by CTest): IMM_PREFIX, IMM_LIBDIR (the GNUInstallDirs libdir, e.g. lib or
# lib/x86_64-linux-gnu), IMM_VERSION, IMM_WORK (scratch dir), IMM_EXTRA_CFLAGS (sanitizer flags),
# CC, CMAKE, PKG_CONFIG. Exit status 77 means "skipped" (a tool is missing).
set -eu

: "${IMM_PREFIX:?}" "${IMM_LIBDIR:?}" "${IMM_VERSION:?}" "${IMM_WORK:?}"
: "${IMM_EXTRA_CFLAGS:=}" "${CC:=cc}" "${CMAKE:=cmake}" "${PKG_CONFIG:=pkg-config}"
libdir="$IMM_PREFIX/$IMM_LIBDIR"

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
run() { echo "+ $*"; "$@"; }

mode=${1:?usage: run.sh install|exports|pkgconfig|find_package ARGS}
shift
case $mode in
install)
    build_dir=${1:?build dir}
    config=${2:-}
    case $IMM_PREFIX in "" | / | "$build_dir") fail "refusing to wipe prefix '$IMM_PREFIX'" ;; esac
    rm -rf "$IMM_PREFIX"
    if [ -n "$config" ]; then
        run "$CMAKE" --install "$build_dir" --prefix "$IMM_PREFIX" --config "$config"
    else
        run "$CMAKE" --install "$build_dir" --prefix "$IMM_PREFIX"
    fi
    for f in "$IMM_PREFIX/include/immiscible.h" "$libdir/libimmiscible.so" \
        "$libdir/pkgconfig/immiscible.pc" "$libdir/cmake/immiscible/immiscibleConfig.cmake" \
        "$libdir/cmake/immiscible/immiscibleConfigVersion.cmake" \
        "$libdir/cmake/immiscible/immiscibleTargets.cmake"; do
        [ -e "$f" ] || fail "not installed: $f"
    done
    ;;

exports)
    command -v nm >/dev/null 2>&1 || skip "nm not found"
    # Defined dynamic symbols, minus the linker's own (_init, _fini, _edata, __bss_start, ...).
    syms=$(nm -D --defined-only "$libdir/libimmiscible.so" | awk '{ print $NF }' |
        grep -v -E '^(_init|_fini|_edata|_end|__bss_start)$' || true)
    [ -n "$syms" ] || fail "libimmiscible.so exports no symbols"
    bad=$(printf '%s\n' "$syms" | grep -v '^imm_' || true)
    [ -z "$bad" ] || fail "symbols exported without the imm_ prefix:
$bad"
    echo "exported: $(printf '%s\n' "$syms" | wc -l) symbols, all imm_*"
    ;;

pkgconfig)
    src=${1:?source file}
    command -v "$PKG_CONFIG" >/dev/null 2>&1 || skip "pkg-config not found"
    PKG_CONFIG_PATH="$libdir/pkgconfig"
    export PKG_CONFIG_PATH
    version=$("$PKG_CONFIG" --modversion immiscible)
    [ "$version" = "$IMM_VERSION" ] || fail "pkg-config says version $version, expected $IMM_VERSION"
    flags=$("$PKG_CONFIG" --cflags --libs immiscible)
    case $flags in *"-I$IMM_PREFIX/include"*) ;; *) fail "no -I into the prefix in: $flags" ;; esac
    out="$IMM_WORK/pkgconfig"
    rm -rf "$out" && mkdir -p "$out"
    # shellcheck disable=SC2086 # flags are meant to be split
    run "$CC" -std=c11 -Wall -Wextra -Werror $IMM_EXTRA_CFLAGS -o "$out/minimal" "$src" $flags -lm
    LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export LD_LIBRARY_PATH
    run "$out/minimal"
    ;;

find_package)
    project=${1:?project dir}
    out="$IMM_WORK/find_package"
    rm -rf "$out"
    # The same compiler as this build; no LD_LIBRARY_PATH: CMake gives the program an RPATH.
    run "$CMAKE" -S "$project" -B "$out" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS="$IMM_EXTRA_CFLAGS" \
        -DCMAKE_PREFIX_PATH="$IMM_PREFIX" \
        -DIMM_EXPECT_PREFIX="$IMM_PREFIX" -DIMM_EXPECT_VERSION="$IMM_VERSION"
    run "$CMAKE" --build "$out"
    run "$out/minimal"
    if [ -x "$out/minimal_static" ]; then
        run "$out/minimal_static"
    fi
    ;;

*)
    fail "unknown mode '$mode'"
    ;;
esac
