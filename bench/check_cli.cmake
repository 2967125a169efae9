# check_cli.cmake - runs imm-bench once and checks how it ended (a CTest helper).
#   cmake -DEXE=imm-bench -DEXPECT=usage|help|ok|noplot -DARGS=a|b -DWORKDIR=dir -P check_cli.cmake
# usage   bad arguments: exit status exactly 2 (a crash gives a signal name, not 2), a reason and
#         the usage text on stderr.
# help    exit 0 and the usage text on stdout.
# ok      a tiny real run with --csv, --markdown and --plot: exit 0, every method / workload /
#         section in the CSV, no failed cell, the headline printed, and either a PNG or the
#         message that gnuplot is missing. Speed ratios only between figures of this run: the
#         solver section's "vs exact" (the exact row itself is 1), nothing about scipy.
# noplot  --plot with an empty PATH: exit 0 and the clear "gnuplot is not installed" message.
string(REPLACE "|" ";" args "${ARGS}")
file(REMOVE_RECURSE "${WORKDIR}")
file(MAKE_DIRECTORY "${WORKDIR}")

set(prefix "")
if(EXPECT STREQUAL "ok")
  list(APPEND args --csv "${WORKDIR}/out.csv" --markdown "${WORKDIR}/out.md"
       --plot "${WORKDIR}/out.png")
elseif(EXPECT STREQUAL "noplot")
  file(MAKE_DIRECTORY "${WORKDIR}/empty-path")
  set(prefix ${CMAKE_COMMAND} -E env "PATH=${WORKDIR}/empty-path")
  list(APPEND args --plot "${WORKDIR}/out.png")
endif()

execute_process(COMMAND ${prefix} "${EXE}" ${args}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "imm-bench ${args}: exit ${rc}")

macro(fail why)
  message(FATAL_ERROR "${why}\n--- stdout ---\n${out}\n--- stderr ---\n${err}")
endmacro()

if(EXPECT STREQUAL "usage")
  if(NOT rc STREQUAL "2")
    fail("expected exit status 2 for bad arguments, got '${rc}'")
  endif()
  if(NOT err MATCHES "usage: " OR NOT err MATCHES "imm-bench: ")
    fail("expected a reason and the usage text on stderr")
  endif()
elseif(EXPECT STREQUAL "help")
  if(NOT rc STREQUAL "0" OR NOT out MATCHES "usage: ")
    fail("--help: expected exit 0 and the usage text on stdout")
  endif()
elseif(EXPECT STREQUAL "ok")
  if(NOT rc STREQUAL "0")
    fail("expected exit 0, got '${rc}'")
  endif()
  file(READ "${WORKDIR}/out.csv" csv)
  foreach(want "^section,workload,batch" "\ngrid,image," "\ngrid,latent," "\ngrid,uniform,"
               "\nlap,image,64," ",exact,fp32," ",auction,fp16," ",auction\\+exact,bf16,"
               ",knn:4,int8," ",pool:2,fp32,")
    if(NOT csv MATCHES "${want}")
      fail("the CSV lacks '${want}':\n${csv}")
    endif()
  endforeach()
  if(csv MATCHES ",failed,")
    fail("a cell failed:\n${csv}")
  endif()
  if(NOT csv MATCHES ",quality,vs_exact,note\n" OR
     NOT csv MATCHES "\nlap,image,64,3072,exact,fp32,[0-9]+,[0-9]+,ok,[^\n]*,1,\"\"\n")
    fail("the CSV lacks the same-run vs_exact column (1 on the exact row):\n${csv}")
  endif()
  foreach(_text IN ITEMS csv out)
    if(${_text} MATCHES "scipy ref|LAP-NOTES|scipy_ref")
      fail("a ratio against figures from another run (scipy reference) is back")
    endif()
  endforeach()
  file(READ "${WORKDIR}/out.md" md)
  if(NOT md MATCHES "\\| workload \\| B \\| D \\|" OR NOT md MATCHES "\\| B \\| solver \\|")
    fail("the Markdown lacks the grid or the solver table:\n${md}")
  endif()
  if(NOT md MATCHES "\\| vs exact \\(same run\\) \\|" OR md MATCHES "scipy")
    fail("the Markdown solver table should compare with exact, this run, only:\n${md}")
  endif()
  if(NOT out MATCHES "Per-batch overhead")
    fail("no headline in the output")
  endif()
  if(NOT EXISTS "${WORKDIR}/out.png" AND NOT out MATCHES "gnuplot is not installed")
    fail("--plot: neither a PNG nor the message that gnuplot is missing")
  endif()
elseif(EXPECT STREQUAL "noplot")
  if(NOT rc STREQUAL "0")
    fail("expected exit 0 without gnuplot, got '${rc}'")
  endif()
  if(NOT out MATCHES "gnuplot is not installed" OR EXISTS "${WORKDIR}/out.png")
    fail("expected the message that gnuplot is not installed and no PNG")
  endif()
else()
  message(FATAL_ERROR "check_cli.cmake: unknown EXPECT '${EXPECT}'")
endif()
