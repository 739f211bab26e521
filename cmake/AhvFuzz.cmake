# libFuzzer targets, built with Debian's clang inside this (gcc) build.
#
# ahv_clang_archive(<name> SOURCES ... [INCLUDES ...] [DEFINES ...] [FLAGS ...])
#   compiles sources with clang and -fsanitize=fuzzer-no-link,address,undefined
#   into lib<name>.a (the variable <name>_ARCHIVE in the caller's scope holds it).
# ahv_fuzz_target(<name> SOURCES ... [ARCHIVES ...] [INCLUDES ...] [DEFINES ...]
#                 [SEEDS dir] [RUNS n])
#   links a libFuzzer binary and registers the ctest smoke run `fuzz-<name>`
#   (label fuzz): RUNS inputs (default 20000) starting from the SEEDS corpus.
find_program(AHV_CLANG NAMES clang clang-14)
find_program(AHV_LLVM_AR NAMES llvm-ar llvm-ar-14 ar)
set(AHV_FUZZ_SAN -fsanitize=address,undefined -fno-sanitize-recover=undefined)
set(AHV_FUZZ_CFLAGS -std=gnu11 -g -O1 -fno-omit-frame-pointer -msse4.1 -msha
    -Wall -Wno-unused-command-line-argument)

function(_ahv_clang_flags out)
  cmake_parse_arguments(A "" "" "INCLUDES;DEFINES;FLAGS" ${ARGN})
  set(f ${AHV_FUZZ_CFLAGS} ${AHV_FUZZ_SAN} ${A_FLAGS})
  foreach(i ${A_INCLUDES})
    list(APPEND f "-I${i}")
  endforeach()
  foreach(d ${A_DEFINES})
    list(APPEND f "-D${d}")
  endforeach()
  set(${out} ${f} PARENT_SCOPE)
endfunction()

function(ahv_clang_archive name)
  cmake_parse_arguments(A "" "" "SOURCES;INCLUDES;DEFINES;FLAGS" ${ARGN})
  _ahv_clang_flags(flags INCLUDES ${A_INCLUDES} DEFINES ${A_DEFINES}
                   FLAGS -fsanitize=fuzzer-no-link ${A_FLAGS})
  set(objs)
  set(dir ${CMAKE_CURRENT_BINARY_DIR}/${name}.objs)
  foreach(s ${A_SOURCES})
    get_filename_component(abs ${s} ABSOLUTE)
    string(MD5 h ${abs})
    get_filename_component(base ${s} NAME_WE)
    set(o ${dir}/${base}-${h}.o)
    add_custom_command(OUTPUT ${o}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
      COMMAND ${AHV_CLANG} ${flags} -c ${abs} -o ${o}
      DEPENDS ${abs} IMPLICIT_DEPENDS C ${abs} VERBATIM)
    list(APPEND objs ${o})
  endforeach()
  set(lib ${CMAKE_CURRENT_BINARY_DIR}/lib${name}.a)
  add_custom_command(OUTPUT ${lib}
    COMMAND ${CMAKE_COMMAND} -E rm -f ${lib}
    COMMAND ${AHV_LLVM_AR} rcs ${lib} ${objs}
    DEPENDS ${objs} VERBATIM)
  add_custom_target(${name} ALL DEPENDS ${lib})
  set(${name}_ARCHIVE ${lib} PARENT_SCOPE)
endfunction()

function(ahv_fuzz_target name)
  cmake_parse_arguments(A "" "SEEDS;RUNS" "SOURCES;ARCHIVES;INCLUDES;DEFINES;LINK" ${ARGN})
  _ahv_clang_flags(flags INCLUDES ${A_INCLUDES} DEFINES ${A_DEFINES} FLAGS -fsanitize=fuzzer)
  set(abs_srcs)
  foreach(s ${A_SOURCES})
    get_filename_component(abs ${s} ABSOLUTE)
    list(APPEND abs_srcs ${abs})
  endforeach()
  set(bin ${CMAKE_CURRENT_BINARY_DIR}/${name})
  add_custom_command(OUTPUT ${bin}
    COMMAND ${AHV_CLANG} ${flags} ${abs_srcs} ${A_ARCHIVES} ${A_LINK} -o ${bin}
    DEPENDS ${abs_srcs} ${A_ARCHIVES} VERBATIM)
  add_custom_target(${name}_fuzzer ALL DEPENDS ${bin})
  if(NOT A_RUNS)
    set(A_RUNS 20000)
  endif()
  set(corpus ${CMAKE_CURRENT_BINARY_DIR}/${name}.corpus)
  # Smoke run: a scratch corpus seeded from the committed seeds.
  add_test(NAME fuzz-${name}
    COMMAND sh -c "rm -rf '${corpus}' && mkdir -p '${corpus}' && cp -r '${A_SEEDS}'/. '${corpus}'/ 2>/dev/null; exec '${bin}' -runs=${A_RUNS} -max_total_time=120 -timeout=10 -rss_limit_mb=2048 '${corpus}'")
  set_tests_properties(fuzz-${name} PROPERTIES LABELS fuzz TIMEOUT 300)
endfunction()
