# The Windows side of the build (64-bit, mingw-w64 through cmake/mingw64.cmake), included by
# CMakeLists.txt when WIN32 before anything is found or built:
# - the libraries come from scripts/windows-deps.sh's prefix, through the pkg-config files it
#   writes there (so the top-level pkg_check_modules calls stay as they are);
# - the core is a DLL (karpacz-core.dll): a Windows DLL cannot take its imports from "whichever
#   executable loaded it" as an ELF module does, so modules import from the core DLL, which the
#   server and the unit-test runner both load; it exports every symbol (the tests use internal
#   ones; KZ_API marks what modules may use);
# - the prefix's DLLs are copied beside the binaries, so the build tree runs under wine as is;
# - the NSIS installer (cmake/package_nsis.cmake) installs its own Windows layout.
if(NOT KZ_WIN_PREFIX OR NOT EXISTS ${KZ_WIN_PREFIX}/lib/pkgconfig/apr-1.pc)
    message(FATAL_ERROR "No Windows libraries in '${KZ_WIN_PREFIX}': run scripts/windows-deps.sh "
                        "and configure with -DCMAKE_TOOLCHAIN_FILE=cmake/mingw64.cmake")
endif()
if(KZ_SANITIZE)
    message(FATAL_ERROR "KZ_SANITIZE: mingw-w64 has no AddressSanitizer; build without it")
endif()

set(ENV{PKG_CONFIG_LIBDIR} ${KZ_WIN_PREFIX}/lib/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
set(KZ_CORE_TYPE SHARED)

# Windows 7 API level; C99 printf formats (%zu, %lld) instead of msvcrt's.
add_compile_definitions(_WIN32_WINNT=0x0601 __USE_MINGW_ANSI_STDIO=1)
# GNU string functions mingw-w64 lacks (stpcpy), for every file.
add_compile_options(-include ${CMAKE_SOURCE_DIR}/win32/kz_compat.h)
# No libgcc DLL to ship; threads are APR's (Win32), not winpthread's.
add_link_options(-static-libgcc)
set(CMAKE_HAVE_LIBC_PTHREAD 1 CACHE INTERNAL "threads come with the C runtime here")

file(GLOB KZ_WIN_DLLS ${KZ_WIN_PREFIX}/bin/*.dll)
file(COPY ${KZ_WIN_DLLS} DESTINATION ${CMAKE_BINARY_DIR})

# Unit-test files left out of the Windows runner: "file|reason".
set(KZ_WIN_UNIT_SKIPS
    "test/unit/unix/test_fs.c|builds its trees with mkdtemp and symlink (POSIX) - \
test/unit/runtime/test_fs_root.c covers win32/fs.c"
    "test/unit/unix/test_daemon.c|tests unix/daemon.c and the supervisor (fork, POSIX sockets) - \
Windows has the service instead, tested by scripts/test-windows.sh"
    "test/unit/server/test_dirlist.c|builds its fixtures with mkdtemp, symlink and utimes (POSIX)"
    "test/unit/server/test_filecache.c|builds its fixtures with mkdtemp and mkdir(path, mode) (POSIX)"
    "test/unit/server/test_log.c|sets the time zone with setenv/unsetenv (POSIX)"
    "test/unit/server/test_config.c|expects Unix absolute paths (/srv/www, the source path) where \
Windows resolves them with a drive letter (Z:/srv/www)"
    "test/unit/modules/test_rp_maint.c|its fake backend stops by apr_socket_accept timing out \
(20 ms), which APR on Windows never does (SO_RCVTIMEO does not apply to accept): it hangs")

# Runs once the top-level file has defined every target.
function(kz_windows_finish)
    set_target_properties(kzcore PROPERTIES PREFIX "" OUTPUT_NAME karpacz-core)
    # Export the core's own functions, not those of the static libraries linked into it (CMake
    # hands mingw the core's objects as an archive too, so "ALL" would exclude them as well).
    target_link_options(kzcore PRIVATE -Wl,--export-all-symbols
                        -Wl,--exclude-libs,libyaml.a:libz.a:libargon2.a)
    target_link_libraries(kzcore PRIVATE ws2_32 mswsock advapi32)

    # Every module DLL resolves the server's functions from the core DLL's import library.
    get_property(targets DIRECTORY ${CMAKE_SOURCE_DIR} PROPERTY BUILDSYSTEM_TARGETS)
    foreach(t IN LISTS targets)
        get_target_property(type ${t} TYPE)
        if(type STREQUAL "MODULE_LIBRARY")
            target_link_libraries(${t} PRIVATE $<TARGET_LINKER_FILE:kzcore>)
            add_dependencies(${t} kzcore)
        endif()
    endforeach()

    # Unit-test files that cannot build for Windows are left out of kz_unit.exe; their reasons
    # go to kz_unit_skipped.txt, which scripts/test-windows.sh prints.
    if(TARGET kz_unit)
        get_target_property(sources kz_unit SOURCES)
        set(skipped "")
        foreach(entry IN LISTS KZ_WIN_UNIT_SKIPS)
            string(REPLACE "|" ";" entry "${entry}")
            list(GET entry 0 file)
            list(GET entry 1 why)
            if(EXISTS ${CMAKE_SOURCE_DIR}/${file})
                list(REMOVE_ITEM sources ${CMAKE_SOURCE_DIR}/${file})
                string(APPEND skipped "SKIP: ${file}: ${why}\n")
            endif()
        endforeach()
        set_property(TARGET kz_unit PROPERTY SOURCES ${sources})
        file(WRITE ${CMAKE_BINARY_DIR}/kz_unit_skipped.txt "${skipped}")
    endif()

    include(${CMAKE_SOURCE_DIR}/cmake/package_nsis.cmake)
    if(NOT CPack_CMake_INCLUDED)
        include(CPack)
    endif()
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL kz_windows_finish)
