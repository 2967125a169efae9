# check_soname.cmake - the versioning rules of issue 9, checked on the built files (CTest
# test_abi_soname):
#   cmake -DLIB=<libimmiscible.so file> -DHEADER=<include/immiscible.h>
#         -DCONFIG_VERSION=<immiscibleConfigVersion.cmake> -DOBJDUMP=<objdump or readelf> -P ...
# 1. The SONAME read from the file (objdump -p, or readelf -d) is libimmiscible.so.0.MINOR while
#    the major version in the header is 0, libimmiscible.so.MAJOR after.
# 2. The CMake package accepts the same minor only while the major is 0 (the same major after):
#    the version file is evaluated for a few requested versions, as find_package would.
# Prints "SKIPPED: ..." (CTest SKIP_REGULAR_EXPRESSION) when no ELF tool is available.
foreach(_v LIB HEADER CONFIG_VERSION)
  if(NOT DEFINED ${_v})
    message(FATAL_ERROR "check_soname.cmake: -D${_v}=... is required")
  endif()
endforeach()

file(STRINGS "${HEADER}" _lines REGEX "^#define IMM_VERSION_(MAJOR|MINOR|PATCH) [0-9]+$")
foreach(_part MAJOR MINOR PATCH)
  string(REGEX REPLACE ".*#define IMM_VERSION_${_part} ([0-9]+).*" "\\1" _${_part} "${_lines}")
endforeach()
if(_MAJOR EQUAL 0)
  set(_want "libimmiscible.so.0.${_MINOR}")
else()
  set(_want "libimmiscible.so.${_MAJOR}")
endif()

# --- 1. SONAME -----------------------------------------------------------------------------------
if(NOT OBJDUMP OR NOT EXISTS "${OBJDUMP}")
  message("SKIPPED: no objdump/readelf to read the SONAME of ${LIB}")
  return()
endif()
get_filename_component(_tool "${OBJDUMP}" NAME)
if(_tool MATCHES "readelf")
  execute_process(COMMAND "${OBJDUMP}" -d "${LIB}" OUTPUT_VARIABLE _out RESULT_VARIABLE _rc)
  string(REGEX MATCH "\\(SONAME\\)[^\n]*\\[([^]\n]*)\\]" _m "${_out}")
else()
  execute_process(COMMAND "${OBJDUMP}" -p "${LIB}" OUTPUT_VARIABLE _out RESULT_VARIABLE _rc)
  string(REGEX MATCH "SONAME[ \t]+([^ \t\n]+)" _m "${_out}")
endif()
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "${_tool} failed on ${LIB} (${_rc})")
endif()
set(_soname "${CMAKE_MATCH_1}")
if(NOT _soname STREQUAL _want)
  message(FATAL_ERROR "SONAME of ${LIB} is '${_soname}', expected '${_want}' "
                      "(version ${_MAJOR}.${_MINOR}.${_PATCH})")
endif()
message(STATUS "SONAME ${_soname} (version ${_MAJOR}.${_MINOR}.${_PATCH})")

# --- 2. find_package compatibility ---------------------------------------------------------------
# Each entry: requested version, expected PACKAGE_VERSION_COMPATIBLE.
math(EXPR _next_minor "${_MINOR} + 1")
math(EXPR _next_major "${_MAJOR} + 1")
set(_cases "${_MAJOR}.${_MINOR}=TRUE" "${_MAJOR}.${_MINOR}.0=TRUE" "${_next_major}.0=FALSE")
if(_MAJOR EQUAL 0)
  list(APPEND _cases "0.${_next_minor}=FALSE")
  if(_MINOR GREATER 0)
    math(EXPR _prev_minor "${_MINOR} - 1")
    list(APPEND _cases "0.${_prev_minor}=FALSE")
  endif()
elseif(_MINOR GREATER 0)
  list(APPEND _cases "${_MAJOR}.0=TRUE")
endif()
foreach(_case IN LISTS _cases)
  string(REPLACE "=" ";" _case "${_case}")
  list(GET _case 0 _req)
  list(GET _case 1 _expect)
  set(PACKAGE_FIND_VERSION "${_req}")
  string(REPLACE "." ";" _parts "${_req}")
  list(LENGTH _parts PACKAGE_FIND_VERSION_COUNT)
  list(GET _parts 0 PACKAGE_FIND_VERSION_MAJOR)
  list(GET _parts 1 PACKAGE_FIND_VERSION_MINOR)
  set(PACKAGE_FIND_VERSION_PATCH 0)
  if(PACKAGE_FIND_VERSION_COUNT GREATER 2)
    list(GET _parts 2 PACKAGE_FIND_VERSION_PATCH)
  endif()
  set(PACKAGE_FIND_VERSION_RANGE FALSE)
  unset(PACKAGE_VERSION_COMPATIBLE)
  unset(PACKAGE_VERSION_UNSUITABLE)
  include("${CONFIG_VERSION}")
  if(PACKAGE_VERSION_UNSUITABLE)
    message(FATAL_ERROR "${CONFIG_VERSION}: unsuitable (${PACKAGE_VERSION})")
  endif()
  if(PACKAGE_VERSION_COMPATIBLE)
    set(_got TRUE)
  else()
    set(_got FALSE)
  endif()
  if(NOT _got STREQUAL _expect)
    message(FATAL_ERROR "find_package(immiscible ${_req}) with package version "
                        "${PACKAGE_VERSION}: compatible = '${PACKAGE_VERSION_COMPATIBLE}', "
                        "expected ${_expect}")
  endif()
  message(STATUS "find_package(immiscible ${_req}): compatible = ${_expect}")
endforeach()
