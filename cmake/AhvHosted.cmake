# Flags of the hosted world, carried by an interface library so that the
# freestanding targets in the same build never inherit them.
add_library(ahv_hosted_flags INTERFACE)
target_compile_options(ahv_hosted_flags INTERFACE -Wall -Wextra -Werror -fno-strict-aliasing)
# The project-wide headers (include/attest/wire.h, include/ahv/hex.h).
target_include_directories(ahv_hosted_flags INTERFACE "${CMAKE_SOURCE_DIR}/include")
# Third-party code in the hosted world: warnings shown, never fatal.
add_library(ahv_hosted_base INTERFACE)
if(AHV_SANITIZE)
  set(_san -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_compile_options(ahv_hosted_base INTERFACE ${_san})
  target_link_options(ahv_hosted_base INTERFACE ${_san})
endif()
target_link_libraries(ahv_hosted_flags INTERFACE ahv_hosted_base)
