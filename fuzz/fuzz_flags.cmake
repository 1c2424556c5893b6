# Compiler flags of a fuzz build (FWRESCUE_FUZZ, included from the top-level CMakeLists.txt
# before any library is defined, so the project's own libraries get them too).
#
# Every object is compiled with libFuzzer's coverage instrumentation (`fuzzer-no-link`) and
# with AddressSanitizer and UndefinedBehaviorSanitizer: a decoder bug the harness reaches is
# found only if the decoder's own code is instrumented, not just the harness. Only the
# harnesses link libFuzzer's main() (`-fsanitize=fuzzer`, fuzz/CMakeLists.txt).
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "FWRESCUE_FUZZ needs clang (libFuzzer is part of its runtime); configure "
                      "with CC=clang-14 CXX=clang++-14")
endif()

# UBSan findings abort instead of printing and carrying on, so libFuzzer records a crash.
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                    -fno-omit-frame-pointer -g)
add_link_options(-fsanitize=address,undefined)
