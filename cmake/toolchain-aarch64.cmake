# Cross-compiling for 64-bit ARM Linux with Debian's toolchain (g++-aarch64-linux-gnu) against the
# arm64 multiarch packages (dpkg --add-architecture arm64; libopenblas-dev:arm64, libfmt-dev:arm64,
# libhwy-dev:arm64, libgtest-dev:arm64, ...), whose libraries and config files live in
# /usr/lib/aarch64-linux-gnu and arch-specific headers in /usr/include/aarch64-linux-gnu.
# ctest runs the built programs under qemu-aarch64 (qemu-user). scripts/cross-test-aarch64.sh does
# it all:
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(RECUR_CROSS_TRIPLE aarch64-linux-gnu)

set(CMAKE_C_COMPILER ${RECUR_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${RECUR_CROSS_TRIPLE}-g++)
# Multiarch: find_library and find_package look in <prefix>/lib/aarch64-linux-gnu (and never in
# the host's x86_64-linux-gnu folders).
set(CMAKE_LIBRARY_ARCHITECTURE ${RECUR_CROSS_TRIPLE})

# The cross toolchain's own sysroot (libc, libstdc++) and the multiarch packages under /usr.
set(CMAKE_FIND_ROOT_PATH /usr/${RECUR_CROSS_TRIPLE} /)
list(APPEND CMAKE_SYSTEM_LIBRARY_PATH /usr/lib/${RECUR_CROSS_TRIPLE})
list(APPEND CMAKE_SYSTEM_INCLUDE_PATH /usr/include/${RECUR_CROSS_TRIPLE})
# Host programs (e.g. pkg-config) from the host; libraries, headers and packages for the target.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Keep the host's arch-specific folders out of every search: with the root "/" above they would
# otherwise still be reachable through a project's explicit PATHS hints.
set(CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /usr/include/x86_64-linux-gnu
                      /usr/include/x86_64-linux-gnu/openblas-pthread)

# pkg-config (if anything asks it) reports the arm64 packages.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${RECUR_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig)

# ctest (and gtest_discover_tests, at build time) run the tests under user-mode QEMU. With the arm64
# multiarch libc6 installed (the arm64 -dev packages bring it) the programs run on the multiarch
# loader and libraries (/lib/ld-linux-aarch64.so.1, /usr/lib/aarch64-linux-gnu), and QEMU must not
# be given the cross toolchain's sysroot: its loader (libc6-arm64-cross) would load the multiarch
# libc.so.6 of another Debian revision, and the first pthread_create (e.g. OpenBLAS's thread pool,
# before main) then spins for ever. Without the multiarch libc, the sysroot is the only one there.
find_program(RECUR_QEMU_AARCH64 qemu-aarch64)
if(NOT RECUR_QEMU_AARCH64)
  set(RECUR_QEMU_AARCH64 qemu-aarch64)
endif()
if(EXISTS /lib/ld-linux-aarch64.so.1)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${RECUR_QEMU_AARCH64})
else()
  set(CMAKE_CROSSCOMPILING_EMULATOR ${RECUR_QEMU_AARCH64} -L /usr/${RECUR_CROSS_TRIPLE})
endif()
