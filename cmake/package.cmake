# Packages through CPack: a .deb (Debian layout: /usr/sbin/karpacz, /etc/karpacz, /var/www/karpacz,
# /var/log/karpacz, the systemd unit and the logrotate file, a `karpacz` system user made by the
# maintainer scripts) and a .tar.gz of the installed tree. Build them in a build directory
# configured for the system layout, so that the compiled-in module directory is the packaged one:
#   cmake -S . -B build-pkg -DCMAKE_BUILD_TYPE=Release -DKZ_TESTS=OFF \
#         -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_LIBDIR=lib
#   cmake --build build-pkg -j2 && (cd build-pkg && cpack -G DEB && cpack -G TGZ)
# The Windows installer (NSIS) has its own file, included from here when building for Windows.

# Files every installation gets: the unit, the logrotate file and the package configuration,
# for an administrator installing from source to copy; the .deb moves them into place.
install(FILES ${CMAKE_SOURCE_DIR}/installer/karpacz.service
              ${CMAKE_SOURCE_DIR}/installer/karpacz.logrotate
              ${CMAKE_SOURCE_DIR}/conf/karpacz-package.yaml
        DESTINATION ${CMAKE_INSTALL_DATADIR}/karpacz/installer)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_PACKAGE_NAME karpacz)
set(CPACK_PACKAGE_VENDOR "Karpacz")
set(CPACK_PACKAGE_CONTACT "Karpacz maintainers <karpacz@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Karpacz web server")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_RESOURCE_FILE_README ${CMAKE_SOURCE_DIR}/README.md)
set(CPACK_STRIP_FILES ON)
if(NOT CPACK_GENERATOR)
    set(CPACK_GENERATOR "TGZ")
    if(NOT WIN32)
        list(APPEND CPACK_GENERATOR "DEB")
    endif()
endif()
if(NOT WIN32 AND NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    message(STATUS "karpacz: the .deb expects -DCMAKE_INSTALL_PREFIX=/usr (now "
                   "${CMAKE_INSTALL_PREFIX}): the server looks for modules where it was configured")
endif()

# ---- .deb ----
set(CPACK_DEBIAN_PACKAGE_NAME karpacz)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION httpd)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The extended description; the summary above is its first line.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "A small, fast HTTP server on the Apache Portable Runtime: static files, virtual hosts, \
rewrites, compression and loadable modules, run by systemd as a supervised daemon with \
zero-downtime reload.")
# The runtime libraries: computed by dpkg-shlibdeps (dpkg-dev) where present, else named.
find_program(KZ_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(KZ_DPKG_SHLIBDEPS)
    set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
    set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
else()
    set(CPACK_DEBIAN_PACKAGE_DEPENDS
        "adduser, libc6, libapr1, libaprutil1, libssl3, libyaml-0-2, zlib1g, libbrotli1, \
libzstd1, libpcre2-8-0, libargon2-1")
endif()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/installer/debian/postinst ${CMAKE_SOURCE_DIR}/installer/debian/prerm
    ${CMAKE_SOURCE_DIR}/installer/debian/postrm ${CMAKE_SOURCE_DIR}/installer/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
# Moves the staged files into the Debian layout before the .deb is made (see that script).
set(CPACK_PRE_BUILD_SCRIPTS ${CMAKE_SOURCE_DIR}/cmake/package_deb_layout.cmake)

if(WIN32 AND EXISTS ${CMAKE_SOURCE_DIR}/cmake/package_nsis.cmake)
    include(${CMAKE_SOURCE_DIR}/cmake/package_nsis.cmake)
endif()

include(CPack)
