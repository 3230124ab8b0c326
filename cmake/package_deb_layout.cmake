# CPack pre-build script: turns the staged installation (prefix /usr) into the Debian layout
# before the .deb is made; other generators keep the installed tree as it is.
#   usr/etc/karpacz/mime.types          -> etc/karpacz/mime.types
#   .../installer/karpacz-package.yaml  -> etc/karpacz/karpacz.yaml (a conffile)
#   .../installer/karpacz.service       -> lib/systemd/system/karpacz.service
#   .../installer/karpacz.logrotate     -> etc/logrotate.d/karpacz
#   usr/share/karpacz/www/              -> var/www/karpacz/ (the sample site)
#   (new)                               -> var/log/karpacz/ (owned by karpacz in postinst)

if(NOT CPACK_TEMPORARY_INSTALL_DIRECTORY MATCHES "/DEB/")
    return()
endif()
set(root ${CPACK_TEMPORARY_INSTALL_DIRECTORY})
set(prefix ${root}${CPACK_PACKAGING_INSTALL_PREFIX})
set(inst ${prefix}/share/karpacz/installer)
if(NOT EXISTS ${inst}/karpacz.service)
    message(FATAL_ERROR "package_deb_layout: ${inst}/karpacz.service is not staged")
endif()

file(MAKE_DIRECTORY ${root}/etc/karpacz ${root}/etc/logrotate.d ${root}/lib/systemd/system
     ${root}/var/www ${root}/var/log/karpacz)
file(RENAME ${inst}/karpacz-package.yaml ${root}/etc/karpacz/karpacz.yaml)
file(RENAME ${inst}/karpacz.service ${root}/lib/systemd/system/karpacz.service)
file(RENAME ${inst}/karpacz.logrotate ${root}/etc/logrotate.d/karpacz)
file(REMOVE_RECURSE ${inst})
if(EXISTS ${prefix}/etc/karpacz/mime.types)
    file(RENAME ${prefix}/etc/karpacz/mime.types ${root}/etc/karpacz/mime.types)
endif()
# The sample configuration of a source install points at conf/www; the package has its own.
file(REMOVE_RECURSE ${prefix}/etc)
if(EXISTS ${prefix}/share/karpacz/www)
    file(RENAME ${prefix}/share/karpacz/www ${root}/var/www/karpacz)
endif()
file(GLOB leftover ${prefix}/share/karpacz/*)
if(NOT leftover)
    file(REMOVE_RECURSE ${prefix}/share/karpacz)
endif()
