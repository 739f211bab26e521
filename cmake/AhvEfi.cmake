# The freestanding x86-64 UEFI world (gnu-efi from Debian).
#
# ahv_freestanding(<target> [VECTOR]) - compile a target for UEFI/hypervisor
#   host code: no C library headers (our shims in crypto/freestanding/include),
#   no red zone (interrupts and VM exits push onto the same stack), no stack
#   protector, PIC for the EFI relocations, 2-byte wchar_t for CHAR16 and,
#   unless VECTOR is given, general-purpose registers only: the hypervisor does
#   not save the guest's x87/SSE/AVX state, so host code must not touch it.
# ahv_efi_app(<name> SOURCES ... LIBS ...) - link with gnu-efi's crt0 and
#   linker script, then convert the ELF to a PE/COFF <name>.efi with objcopy.
find_file(AHV_GNUEFI_CRT0 crt0-efi-x86_64.o PATHS /usr/lib /usr/lib/gnuefi NO_DEFAULT_PATH)
find_file(AHV_GNUEFI_LDS elf_x86_64_efi.lds PATHS /usr/lib /usr/lib/gnuefi NO_DEFAULT_PATH)
find_library(AHV_GNUEFI_LIBEFI efi PATHS /usr/lib NO_DEFAULT_PATH)
find_library(AHV_GNUEFI_LIBGNUEFI gnuefi PATHS /usr/lib NO_DEFAULT_PATH)
find_path(AHV_GNUEFI_INCLUDE efi.h PATHS /usr/include/efi NO_DEFAULT_PATH)
find_program(AHV_OBJCOPY objcopy)
foreach(v AHV_GNUEFI_CRT0 AHV_GNUEFI_LDS AHV_GNUEFI_LIBEFI AHV_GNUEFI_LIBGNUEFI AHV_GNUEFI_INCLUDE AHV_OBJCOPY)
  if(NOT ${v})
    message(FATAL_ERROR "gnu-efi not found (${v}): run scripts/setup.sh or pass -DAHV_BUILD_EFI=OFF")
  endif()
endforeach()
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=include
                OUTPUT_VARIABLE AHV_CC_INCLUDE OUTPUT_STRIP_TRAILING_WHITESPACE)

set(AHV_EFI_CFLAGS
  -ffreestanding -nostdinc -fno-stack-protector -fno-stack-check -fshort-wchar
  -mno-red-zone -fpic -fno-strict-aliasing -fno-asynchronous-unwind-tables
  -DAHV_FREESTANDING -DGNU_EFI_USE_MS_ABI)
set(AHV_EFI_INCLUDES
  "${CMAKE_SOURCE_DIR}/crypto/freestanding/include" "${CMAKE_SOURCE_DIR}/include"
  "${AHV_GNUEFI_INCLUDE}" "${AHV_GNUEFI_INCLUDE}/x86_64")

function(ahv_freestanding target)
  cmake_parse_arguments(A "VECTOR" "" "" ${ARGN})
  target_compile_options(${target} PRIVATE ${AHV_EFI_CFLAGS})
  if(NOT A_VECTOR)
    target_compile_options(${target} PRIVATE -mgeneral-regs-only)
  endif()
  # Our shims first, then the compiler's own freestanding headers.
  target_include_directories(${target} BEFORE PRIVATE ${AHV_EFI_INCLUDES})
  target_compile_options(${target} PRIVATE "SHELL:-isystem ${AHV_CC_INCLUDE}")
endfunction()

function(ahv_efi_app name)
  cmake_parse_arguments(A "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name}.so ${A_SOURCES})
  ahv_freestanding(${name}.so)
  target_compile_options(${name}.so PRIVATE -Wall -Wextra -Werror)
  set_target_properties(${name}.so PROPERTIES LINKER_LANGUAGE C)
  target_link_options(${name}.so PRIVATE
    -nostdlib -Wl,-shared -Wl,-Bsymbolic -Wl,-znocombreloc -Wl,--no-undefined
    "-Wl,-T,${AHV_GNUEFI_LDS}" ${AHV_GNUEFI_CRT0})
  target_link_libraries(${name}.so PRIVATE ${A_LIBS} ${AHV_GNUEFI_LIBEFI} ${AHV_GNUEFI_LIBGNUEFI})
  add_custom_command(OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/${name}.efi
    COMMAND ${AHV_OBJCOPY} -j .text -j .sdata -j .data -j .dynamic -j .dynsym
            -j .rel -j .rela -j .rel.* -j .rela.* -j .reloc
            --target=efi-app-x86_64 --subsystem=10
            $<TARGET_FILE:${name}.so> ${CMAKE_CURRENT_BINARY_DIR}/${name}.efi
    DEPENDS ${name}.so
    COMMENT "PE/COFF ${name}.efi")
  add_custom_target(${name} ALL DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/${name}.efi)
endfunction()
