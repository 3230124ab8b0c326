# CMake toolchain for cross-compiling to 64-bit Windows with Debian's mingw-w64, finding the
# libraries that scripts/windows-deps.sh built into KZ_WIN_PREFIX. Programs built for Windows
# run through wine when CMake or CTest needs to run them (CMAKE_CROSSCOMPILING_EMULATOR).
#
#   cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=cmake/mingw64.cmake -DKZ_WIN_PREFIX=DIR
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)

if(NOT KZ_WIN_PREFIX)
    if(DEFINED ENV{KZ_WIN_PREFIX})
        set(KZ_WIN_PREFIX $ENV{KZ_WIN_PREFIX})
    else()
        set(KZ_WIN_PREFIX $ENV{HOME}/.cache/karpacz/win64)
    endif()
endif()
set(KZ_WIN_PREFIX ${KZ_WIN_PREFIX} CACHE PATH "Where scripts/windows-deps.sh installed the libraries")
# try_compile projects see the toolchain file again, without the cache: pass the prefix on.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES KZ_WIN_PREFIX)

set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32 ${KZ_WIN_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(KZ_WINE NAMES wine wine64)
if(KZ_WINE)
    set(CMAKE_CROSSCOMPILING_EMULATOR ${KZ_WINE})
endif()
